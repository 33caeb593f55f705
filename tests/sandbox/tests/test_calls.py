"""Distinct principals and the call recording (<data-dir>/calls.jsonl)."""

import json
import threading
import uuid

import pytest
from test_lambda import TRUST, create_function

from conftest import HOOK_HEADERS, REGION, calls, client, derived, online, wait_done, wait_for
from easytdv_sandbox import s3_ops

WHOAMI = """
import boto3, os

def handler(event, context):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=event["bucket"], Key="from-lambda.txt", Body=b"x")
    return {"key": os.environ["AWS_ACCESS_KEY_ID"]}
"""


@pytest.fixture(scope="module")
def calls_role(aws):
    return aws.iam.create_role(RoleName="calls-test-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def mine(data_dir, **match) -> list[dict]:
    return [c for c in calls(data_dir) if all(c.get(k) == v for k, v in match.items())]


def test_s3_operations_are_recorded_with_their_iam_actions(aws, data_dir):
    bucket = f"rec-{uuid.uuid4().hex[:8]}"
    s3 = aws.s3
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.head_bucket(Bucket=bucket)
    s3.get_bucket_location(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="easytdv/runs/r/train.py", Body=b"print(1)")
    s3.head_object(Bucket=bucket, Key="easytdv/runs/r/train.py")
    s3.get_object(Bucket=bucket, Key="easytdv/runs/r/train.py")
    s3.list_objects_v2(Bucket=bucket, Prefix="easytdv/runs/r/")
    s3.delete_object(Bucket=bucket, Key="easytdv/runs/r/train.py")
    s3.list_buckets()
    got = [(c["operation"], c["action"], c["key"]) for c in mine(data_dir, bucket=bucket, principal="app")]
    key = "easytdv/runs/r/train.py"
    assert got == [
        ("CreateBucket", "s3:CreateBucket", None),
        ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", None),
        ("PutBucketEncryption", "s3:PutEncryptionConfiguration", None),
        ("HeadBucket", "s3:ListBucket", None),
        ("GetBucketLocation", "s3:GetBucketLocation", None),
        ("PutObject", "s3:PutObject", key),
        ("HeadObject", "s3:GetObject", key),
        ("GetObject", "s3:GetObject", key),
        ("ListObjectsV2", "s3:ListBucket", None),
        ("DeleteObject", "s3:DeleteObject", key),
    ]
    listed = mine(data_dir, operation="ListBuckets")[-1]
    assert listed["action"] == "s3:ListAllMyBuckets" and listed["status"] == 200
    assert all(c["account"] == "123456789012" and c["access_key"] == "sandbox" for c in mine(data_dir, bucket=bucket))


def test_s3_mapping_of_other_operations():
    h = {}
    assert s3_ops.parse("POST", "/b", "delete", h).action == "s3:DeleteObject"
    assert s3_ops.parse("POST", "/b/k", "uploads", h).action == "s3:PutObject"
    assert s3_ops.parse("PUT", "/b/k", "partNumber=1&uploadId=u", h).operation == "UploadPart"
    assert s3_ops.parse("DELETE", "/b/k", "uploadId=u", h).action == "s3:AbortMultipartUpload"
    assert s3_ops.parse("GET", "/b", "versions", h).action == "s3:ListBucketVersions"
    assert s3_ops.parse("GET", "/b", "policy", h).action == "s3:GetBucketPolicy"
    assert s3_ops.parse("GET", "/b", "encryption", h).action == "s3:GetEncryptionConfiguration"
    copy = s3_ops.parse("PUT", "/b/dst", "", {"x-amz-copy-source": "/src/a%20b"})
    assert (copy.operation, copy.action, copy.copy_source) == ("CopyObject", "s3:PutObject", "src/a b")
    assert s3_ops.parse("GET", "/b/dir/k%2B1", "", h).resource == "arn:aws:s3:::b/dir/k+1"
    assert s3_ops.parse("HEAD", "/b", "", h).resource == "arn:aws:s3:::b"


def test_query_json_and_rest_services_are_recorded(aws, data_dir, ami):
    iid = aws.ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    wait_for(lambda: online(aws, iid), what="Online")
    aws.ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript", Parameters={"commands": ["true"]})
    aws.ec2.terminate_instances(InstanceIds=[iid])
    run = mine(data_dir, action="ec2:RunInstances", principal="app")[-1]
    assert run["service"] == "ec2" and run["operation"] == "RunInstances" and run["status"] == 200
    send = mine(data_dir, action="ssm:SendCommand")[-1]
    assert send["names"] == {"DocumentName": "AWS-RunShellScript", "InstanceIds": iid}
    terminated = mine(data_dir, action="ec2:TerminateInstances")[-1]
    assert terminated["names"]["InstanceIds"] == iid
    assert mine(data_dir, action="ssm:DescribeInstanceInformation", principal="app")


def test_lambda_and_instance_scripts_have_their_own_principals(aws, data_dir, calls_role, launch):
    bucket = f"who-{uuid.uuid4().hex[:8]}"
    aws.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    create_function(aws, calls_role, "whoami", {"who.py": WHOAMI}, "who.handler")
    resp = aws("lambda").invoke(FunctionName="whoami", Payload=json.dumps({"bucket": bucket}))
    assert json.loads(resp["Payload"].read()) == {"key": derived(f"lambda-whoami@{REGION}")}
    invoke = mine(data_dir, action="lambda:InvokeFunction", principal="app")[-1]
    assert invoke["names"] == {"FunctionName": "whoami"} and invoke["operation"] == "Invoke"
    put = mine(data_dir, principal="lambda:whoami", action="s3:PutObject")[-1]
    assert (put["bucket"], put["key"], put["role"]) == (bucket, "from-lambda.txt", "calls-test-role")

    iid = launch(f"#!/bin/bash\necho hi | aws s3 cp - s3://{bucket}/from-user-data.txt\n")
    cid = aws.ssm.send_command(
        InstanceIds=[iid],
        DocumentName="AWS-RunShellScript",
        Parameters={"commands": [f'echo "$AWS_ACCESS_KEY_ID" && aws s3 ls s3://{bucket}/']},
    )["Command"]["CommandId"]
    assert wait_done(aws, cid, iid)["StandardOutputContent"].startswith(derived(f"instance-{iid}") + "\n")
    by_instance = mine(data_dir, principal=f"instance:{iid}")
    assert {(c["action"], c.get("key")) for c in by_instance} >= {
        ("s3:PutObject", "from-user-data.txt"),
        ("s3:ListBucket", None),
    }
    assert all(c["account"] == "123456789012" for c in by_instance)


def test_recording_is_whole_lines_under_concurrency(endpoint, data_dir):
    bucket = f"conc-{uuid.uuid4().hex[:8]}"
    before = len(calls(data_dir))
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})

    def work():
        c = client(endpoint, "s3")
        for i in range(5):
            c.put_object(Bucket=bucket, Key=f"k{i}-{threading.get_ident()}", Body=b"x" * 1000)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorded = calls(data_dir)  # every line parses
    assert len([c for c in recorded[before:] if c.get("bucket") == bucket and c["action"] == "s3:PutObject"]) == 40


def test_an_instance_keeps_its_role_in_the_recording_after_the_role_is_gone(aws, data_dir, ami):
    iam = aws.iam
    role_id = iam.create_role(RoleName="rec-instance-role", AssumeRolePolicyDocument=TRUST)["Role"]["RoleId"]
    profile = iam.create_instance_profile(InstanceProfileName="rec-profile")["InstanceProfile"]
    iam.add_role_to_instance_profile(InstanceProfileName="rec-profile", RoleName="rec-instance-role")
    iid = aws.ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, IamInstanceProfile={"Arn": profile["Arn"]})[
        "Instances"
    ][0]["InstanceId"]
    wait_for(lambda: online(aws, iid), what="Online")
    iam.remove_role_from_instance_profile(InstanceProfileName="rec-profile", RoleName="rec-instance-role")
    iam.delete_instance_profile(InstanceProfileName="rec-profile")
    iam.delete_role(RoleName="rec-instance-role")
    cid = aws.ssm.send_command(
        InstanceIds=[iid], DocumentName="AWS-RunShellScript", Parameters={"commands": ["aws sts get-caller-identity"]}
    )["Command"]["CommandId"]
    assert wait_done(aws, cid, iid)["Status"] == "Success"
    (who,) = mine(data_dir, principal=f"instance:{iid}", action="sts:GetCallerIdentity")
    assert who["role"] == "rec-instance-role"
    # IAM's ${aws:userid} for instance-profile credentials: "<role id>:<instance id>"
    # (the base's policies are keyed by it; tests/policy reads it from here).
    assert who["userid"] == f"{role_id}:{iid}"
    aws.ec2.terminate_instances(InstanceIds=[iid])


def test_hooks_are_listed_and_not_recorded(endpoint, data_dir):
    import urllib.error
    import urllib.request

    before = len(calls(data_dir))
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint}/easytdv-api/nope", data=b"{}", headers=HOOK_HEADERS, method="POST")
        )
    assert err.value.code == 404
    assert set(json.loads(err.value.read())["hooks"]) >= {
        "capacity",
        "lambda-delay",
        "quotas",
        "pricing",
        "sagemaker-delay",
    }
    bad = urllib.request.Request(
        f"{endpoint}/easytdv-api/quotas", data=b'{"quotas": {"L-XXXX": 1}}', headers=HOOK_HEADERS, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(bad)
    assert err.value.code == 400 and "unknown quota" in json.loads(err.value.read())["error"]
    assert len(calls(data_dir)) == before
