"""A second account owns buckets; S3 refuses what S3 would refuse across accounts."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import OTHER_KEY, REGION, client

OTHER = "111111111111"
ME = "123456789012"


def new_bucket(s3, prefix):
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def status_of(call) -> int:
    try:
        call()
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"]
    return 200


@pytest.fixture(scope="module")
def other_s3(endpoint):
    return client(endpoint, "s3", key=OTHER_KEY)


def test_other_account_key_is_account_111111111111(endpoint, aws):
    assert client(endpoint, "sts", key=OTHER_KEY).get_caller_identity()["Account"] == OTHER
    assert aws.sts.get_caller_identity()["Account"] == ME


def test_head_bucket_of_another_account_is_403_until_its_policy_allows(aws, other_s3):
    theirs = new_bucket(other_s3, "theirs")
    assert status_of(lambda: aws.s3.head_bucket(Bucket=theirs)) == 403
    assert status_of(lambda: aws.s3.put_object(Bucket=theirs, Key="easytdv/x", Body=b"x")) == 403
    assert status_of(lambda: aws.s3.head_bucket(Bucket=f"nobody-{uuid.uuid4().hex[:8]}")) == 404
    # a bucket name is global: ours cannot take it
    with pytest.raises(ClientError) as err:
        aws.s3.create_bucket(Bucket=theirs, CreateBucketConfiguration={"LocationConstraint": REGION})
    assert err.value.response["Error"]["Code"] == "BucketAlreadyExists"
    assert theirs not in [b["Name"] for b in aws.s3.list_buckets()["Buckets"]]

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ME}:root"},
                "Action": ["s3:ListBucket", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{theirs}", f"arn:aws:s3:::{theirs}/*"],
            }
        ],
    }
    other_s3.put_bucket_policy(Bucket=theirs, Policy=json.dumps(policy))
    assert status_of(lambda: aws.s3.head_bucket(Bucket=theirs)) == 200
    aws.s3.put_object(Bucket=theirs, Key="easytdv/x", Body=b"x")
    assert other_s3.get_object(Bucket=theirs, Key="easytdv/x")["Body"].read() == b"x"
    # the policy does not grant GetObject
    assert status_of(lambda: aws.s3.get_object(Bucket=theirs, Key="easytdv/x")) == 403
    # ...and ExpectedBucketOwner catches the foreign owner even where the policy allows
    assert status_of(lambda: aws.s3.head_bucket(Bucket=theirs, ExpectedBucketOwner=ME)) == 403
    assert status_of(lambda: aws.s3.head_bucket(Bucket=theirs, ExpectedBucketOwner=OTHER)) == 200


def test_expected_bucket_owner_mismatch_is_access_denied_on_any_call(aws):
    mine = new_bucket(aws.s3, "mine")
    calls = {
        "PutObject": lambda o: aws.s3.put_object(Bucket=mine, Key="k", Body=b"1", ExpectedBucketOwner=o),
        "GetObject": lambda o: aws.s3.get_object(Bucket=mine, Key="k", ExpectedBucketOwner=o),
        "HeadObject": lambda o: aws.s3.head_object(Bucket=mine, Key="k", ExpectedBucketOwner=o),
        "ListObjectsV2": lambda o: aws.s3.list_objects_v2(Bucket=mine, ExpectedBucketOwner=o),
        "GetBucketLocation": lambda o: aws.s3.get_bucket_location(Bucket=mine, ExpectedBucketOwner=o),
        "PutPublicAccessBlock": lambda o: aws.s3.put_public_access_block(
            Bucket=mine,
            ExpectedBucketOwner=o,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        ),
        "DeleteObject": lambda o: aws.s3.delete_object(Bucket=mine, Key="k", ExpectedBucketOwner=o),
    }
    for name, call in calls.items():
        with pytest.raises(ClientError) as err:
            call(OTHER)
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403, name
        if name != "HeadObject":  # HEAD answers carry no body
            assert err.value.response["Error"]["Code"] == "AccessDenied", name
        call(ME)  # the right owner passes
    assert status_of(lambda: aws.s3.head_bucket(Bucket=mine, ExpectedBucketOwner=OTHER)) == 403
