"""S3 across regions and regions closed by an organisation's SCP, as AWS answers."""

import base64
import hashlib
import json
import urllib.error
import urllib.request
import uuid

import botocore
import pytest

from conftest import HOOK_HEADERS, KEY, REGION


def _name(tag: str) -> str:
    return f"easytdv-test-{tag}-{uuid.uuid4().hex[:8]}"


def _raw_list(endpoint: str, bucket: str, region: str) -> tuple[int, dict, str]:
    """ListObjectsV2 signed for `region`, sent as is (boto3 would follow a 301 by itself)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="GET", url=f"{endpoint}/{bucket}?list-type=2")
    S3SigV4Auth(Credentials(KEY, "sandbox"), "s3", region).add_auth(req)
    prepared = urllib.request.Request(req.url, headers=dict(req.headers.items()), method="GET")
    try:
        with urllib.request.urlopen(prepared) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def test_a_bucket_asked_from_another_region_answers_301_permanent_redirect(aws, endpoint):
    name = _name("region")
    aws("s3", "us-west-2").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    status, headers, body = _raw_list(endpoint, name, REGION)
    assert status == 301
    assert "<Code>PermanentRedirect</Code>" in body
    assert "<Message>The bucket you are attempting to access must be addressed using the specified endpoint." in body
    assert f"<Endpoint>{name}.s3.us-west-2.amazonaws.com</Endpoint>" in body
    assert headers["x-amz-bucket-region"] == "us-west-2"
    # From its own region, and GetBucketLocation from any region, it answers.
    assert _raw_list(endpoint, name, "us-west-2")[0] == 200
    assert aws("s3", REGION).get_bucket_location(Bucket=name)["LocationConstraint"] == "us-west-2"
    # boto3 follows the redirect by itself (the AWS CLI too).
    assert aws("s3", REGION).list_objects_v2(Bucket=name)["KeyCount"] == 0


def test_list_buckets_gives_bucket_region_only_with_a_parameter(aws):
    names = sorted(_name(f"lb{i}") for i in range(3))
    aws("s3", "us-west-2").create_bucket(Bucket=names[0], CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for n in names[1:]:
        aws.s3.create_bucket(Bucket=n, CreateBucketConfiguration={"LocationConstraint": REGION})
    plain = {b["Name"]: b for b in aws.s3.list_buckets()["Buckets"]}
    assert set(names) <= set(plain)
    assert all("BucketRegion" not in plain[n] for n in names)

    pages, token = [], None
    while True:
        kwargs = {"MaxBuckets": 1, "Prefix": "easytdv-test-lb"}
        if token:
            kwargs["ContinuationToken"] = token
        page = aws.s3.list_buckets(**kwargs)
        pages.append(page["Buckets"])
        token = page.get("ContinuationToken")
        if not token:
            break
    listed = {b["Name"]: b["BucketRegion"] for p in pages for b in p}
    assert all(len(p) <= 1 for p in pages)
    assert listed[names[0]] == "us-west-2"
    assert listed[names[1]] == listed[names[2]] == REGION
    only_here = aws.s3.list_buckets(BucketRegion=REGION)["Buckets"]
    assert names[0] not in {b["Name"] for b in only_here}
    assert {b["BucketRegion"] for b in only_here} == {REGION}


def _deny(endpoint: str, region: str, deny: bool = True) -> dict:
    req = urllib.request.Request(
        f"{endpoint}/easytdv-api/deny-region",
        data=json.dumps({"region": region, "deny": deny}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **HOOK_HEADERS},
    )
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def test_a_region_closed_by_an_scp_denies_every_call_in_aws_words(aws, endpoint):
    name = _name("scp")
    aws("s3", "eu-north-1").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-north-1"})
    assert _deny(endpoint, "eu-north-1")["denied"] == ["eu-north-1"]
    try:
        with pytest.raises(botocore.exceptions.ClientError) as err:
            aws("ec2", "eu-north-1").describe_instances()
        e = err.value.response["Error"]
        assert e["Code"] == "UnauthorizedOperation"
        assert "ec2:DescribeInstances with an explicit deny in a service control policy" in e["Message"]
        with pytest.raises(botocore.exceptions.ClientError) as err:
            aws("cloudformation", "eu-north-1").list_stacks()
        assert err.value.response["Error"]["Code"] == "AccessDenied"
        assert "cloudformation:ListStacks with an explicit deny" in err.value.response["Error"]["Message"]
        with pytest.raises(botocore.exceptions.ClientError) as err:
            aws("sagemaker", "eu-north-1").list_training_jobs()
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
        with pytest.raises(botocore.exceptions.ClientError) as err:
            aws("s3", "eu-north-1").list_objects_v2(Bucket=name)
        e = err.value.response["Error"]
        assert e["Code"] == "AccessDenied"
        assert f'on resource: "arn:aws:s3:::{name}" with an explicit deny in a service control policy' in e["Message"]
        # Other regions answer.
        aws("ec2", REGION).describe_instances()
    finally:
        assert _deny(endpoint, "eu-north-1", deny=False)["denied"] == []
    assert aws("ec2", "eu-north-1").describe_instances()["Reservations"] is not None


def test_multipart_checksums_are_the_ones_aws_computes(aws):
    from easytdv_sandbox import s3_regions

    assert s3_regions.crc64nvme(b"123456789") == 0xAE8B14860A799888  # CRC-64/NVME check value
    assert s3_regions.crc32c(b"123456789") == 0xE3069283  # CRC-32C check value
    name = _name("crc")
    aws.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    part = b"x" * (5 * 1024 * 1024)
    up = aws.s3.create_multipart_upload(Bucket=name, Key="k")
    etags = [
        aws.s3.upload_part(Bucket=name, Key="k", UploadId=up["UploadId"], PartNumber=i, Body=part + bytes([i]))["ETag"]
        for i in (1, 2)
    ]
    aws.s3.complete_multipart_upload(
        Bucket=name,
        Key="k",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": i, "ETag": e} for i, e in zip((1, 2), etags, strict=True)]},
    )
    got = aws.s3.get_object(Bucket=name, Key="k", ChecksumMode="ENABLED")
    body = got["Body"].read()
    assert got.get("ChecksumType") == "FULL_OBJECT"
    expected = base64.b64encode(s3_regions.crc64nvme(body).to_bytes(8, "big")).decode()
    assert got["ChecksumCRC64NVME"] == expected
    head = aws.s3.head_object(Bucket=name, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == expected

    # A composite checksum reads <value>-<parts> from HeadObject too, as from GetObject.
    up = aws.s3.create_multipart_upload(Bucket=name, Key="c", ChecksumAlgorithm="SHA256")
    parts = []
    for i in (1, 2):
        got = aws.s3.upload_part(
            Bucket=name, Key="c", UploadId=up["UploadId"], PartNumber=i, Body=part, ChecksumAlgorithm="SHA256"
        )
        parts.append({"PartNumber": i, "ETag": got["ETag"], "ChecksumSHA256": got["ChecksumSHA256"]})
    aws.s3.complete_multipart_upload(Bucket=name, Key="c", UploadId=up["UploadId"], MultipartUpload={"Parts": parts})
    head = aws.s3.head_object(Bucket=name, Key="c", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].endswith("-2"), head
    assert head["ChecksumType"] == "COMPOSITE"
    assert aws.s3.head_object(Bucket=name, Key="c", PartNumber=1)["ContentLength"] == len(part)


def test_new_buckets_block_public_access_like_aws_since_april_2023(aws):
    name = _name("pab")
    aws.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    block = aws.s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    public = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/*"}
            ],
        }
    )
    with pytest.raises(botocore.exceptions.ClientError) as err:
        aws.s3.put_bucket_policy(Bucket=name, Policy=public)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "blocked by the BlockPublicPolicy block public access setting" in err.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError):
        aws.s3.get_bucket_policy_status(Bucket=name)  # NoSuchBucketPolicy, as on AWS
    aws.s3.delete_public_access_block(Bucket=name)
    aws.s3.put_bucket_policy(Bucket=name, Policy=public)
    assert aws.s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"] is True


def test_a_tls_only_policy_leaves_requests_through_the_sandbox_alone(aws):
    """The sandbox's plain HTTP stands in for HTTPS: `aws:SecureTransport` false never holds."""
    name = _name("tls")
    aws.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    tls_only = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    aws.s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls_only]}))
    aws.s3.put_object(Bucket=name, Key="k", Body=b"v")
    assert aws.s3.get_object(Bucket=name, Key="k")["Body"].read() == b"v"
    # Without the condition the same Deny refuses the object calls.
    no_condition = {k: v for k, v in tls_only.items() if k != "Condition"}
    aws.s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [no_condition]}))
    with pytest.raises(botocore.exceptions.ClientError):
        aws.s3.put_object(Bucket=name, Key="k2", Body=b"v")


def test_an_upload_whose_checksum_is_not_its_bytes_is_refused_with_bad_digest(aws):
    s3 = aws("s3", REGION)
    name = _name("digest")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    body = b"the bytes that were hashed"
    right = base64.b64encode(hashlib.sha256(body).digest()).decode()
    wrong = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()
    s3.put_object(Bucket=name, Key="ok", Body=body, ChecksumSHA256=right)
    assert s3.get_object(Bucket=name, Key="ok")["Body"].read() == body
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket=name, Key="bad", Body=body, ChecksumSHA256=wrong)
    err = e.value.response["Error"]
    assert err["Code"] == "BadDigest"
    assert err["Message"] == "The SHA256 you specified did not match the calculated checksum."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "Contents" not in s3.list_objects_v2(Bucket=name, Prefix="bad")
    # A part, too (its upload goes on: the part can be sent again).
    up = s3.create_multipart_upload(Bucket=name, Key="big", ChecksumAlgorithm="SHA256")["UploadId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket=name, Key="big", UploadId=up, PartNumber=1, Body=body, ChecksumSHA256=wrong)
    assert e.value.response["Error"]["Code"] == "BadDigest"
    s3.upload_part(Bucket=name, Key="big", UploadId=up, PartNumber=1, Body=body, ChecksumSHA256=right)
