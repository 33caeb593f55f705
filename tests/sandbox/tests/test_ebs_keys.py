"""The default EBS key and launches that cannot use it (easytdv_sandbox/ebs_keys.py).
Each test works in a region of its own: the default key is a per-region setting."""

import io
import json
import zipfile

import boto3

from conftest import HOOK_HEADERS, derived, wait_for

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
EBS_ACTIONS = [
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncrypt*",
]


def _hook(endpoint, body):
    import urllib.request

    request = urllib.request.Request(
        f"{endpoint}/easytdv-api/ebs-default-key",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **HOOK_HEADERS},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def _launch(ec2, ami):
    return ec2.run_instances(
        ImageId=ami,
        InstanceType="t3.medium",
        MinCount=1,
        MaxCount=1,
        BlockDeviceMappings=[
            {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 30, "VolumeType": "gp3", "Encrypted": True}}
        ],
    )["Instances"][0]


def _state(ec2, iid):
    found = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    return found["State"]["Name"], found.get("StateReason", {})


def test_the_default_key_is_aws_managed_until_a_customer_key_is_set(aws):
    region = "ap-northeast-2"
    ec2, kms = aws("ec2", region), aws("kms", region)
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"
    arn = kms.create_key(Description="ours")["KeyMetadata"]["Arn"]
    ec2.modify_ebs_default_kms_key_id(KmsKeyId=arn)
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == arn
    ec2.reset_ebs_default_kms_key_id()
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"


def test_a_disabled_default_key_fails_the_launch_like_aws(aws, endpoint):
    region = "ap-northeast-3"
    ec2 = aws("ec2", region)
    ami = aws("ssm", region).get_parameter(Name=AL2023)["Parameter"]["Value"]
    key = _hook(endpoint, {"region": region, "state": "Disabled"})["KmsKeyId"]
    try:
        iid = _launch(ec2, ami)["InstanceId"]
        assert _state(ec2, iid)[0] == "pending"
        state, reason = wait_for(lambda: (s := _state(ec2, iid))[0] == "terminated" and s, what="terminated")
        assert reason == {"Code": "Client.InternalError", "Message": "Client.InternalError: Client error on launch"}
        assert key.startswith(f"arn:aws:kms:{region}:")
    finally:
        _hook(endpoint, {"region": region, "reset": True})
    # AWS's own key again: the launch succeeds.
    iid = _launch(ec2, ami)["InstanceId"]
    assert _state(ec2, iid)[0] == "running"
    ec2.terminate_instances(InstanceIds=[iid])


def _function(aws, region, name, role_arn):
    """A Lambda function whose role the sandbox reads when it launches (it is never invoked)."""
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("noop.py", "def handler(event, context):\n    return None\n")
    aws("lambda", region).create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role_arn,
        Handler="noop.handler",
        Code={"ZipFile": zipped.getvalue()},
    )


def _lambda_client(endpoint, region, function):
    """EC2 as that function calls it (the sandbox names Lambda principals by their access key)."""
    return boto3.client(
        "ec2",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=derived(f"lambda-{function}@{region}"),
        aws_secret_access_key="x",
    )


def test_a_launcher_without_the_kms_permissions_cannot_use_a_customer_key(aws, endpoint):
    region = "ap-southeast-1"
    ec2, iam = aws("ec2", region), aws("iam", region)
    ami = aws("ssm", region).get_parameter(Name=AL2023)["Parameter"]["Value"]
    key = _hook(endpoint, {"region": region})["KmsKeyId"]
    role = iam.create_role(RoleName="ebs-key-launcher", AssumeRolePolicyDocument=TRUST)["Role"]
    _function(aws, region, "ebs-key-launcher", role["Arn"])
    as_launcher = _lambda_client(endpoint, region, "ebs-key-launcher")
    try:
        refused = _launch(as_launcher, ami)["InstanceId"]
        state, reason = wait_for(lambda: (s := _state(ec2, refused))[0] == "terminated" and s, what="terminated")
        assert reason["Code"] == "Client.InternalError"
        # The permissions AWS documents for EBS encryption, on that key, let it launch.
        iam.put_role_policy(
            RoleName="ebs-key-launcher",
            PolicyName="ebs-key",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": EBS_ACTIONS, "Resource": key}]}
            ),
        )
        launched = _launch(as_launcher, ami)
        assert _state(ec2, launched["InstanceId"])[0] == "running"
        volume = launched["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        assert ec2.describe_volumes(VolumeIds=[volume])["Volumes"][0]["KmsKeyId"] == key
        ec2.terminate_instances(InstanceIds=[launched["InstanceId"]])
    finally:
        _hook(endpoint, {"region": region, "reset": True})


def test_a_key_policy_that_does_not_delegate_to_iam_refuses_the_launcher(aws, endpoint):
    region = "sa-east-1"
    ec2, iam = aws("ec2", region), aws("iam", region)
    ami = aws("ssm", region).get_parameter(Name=AL2023)["Parameter"]["Value"]
    admin = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/KeyAdmin"}, "Action": "kms:*"}
        ],
    }
    key = _hook(endpoint, {"region": region, "key_policy": admin})["KmsKeyId"]
    role = iam.create_role(RoleName="ebs-policy-launcher", AssumeRolePolicyDocument=TRUST)["Role"]
    iam.put_role_policy(
        RoleName="ebs-policy-launcher",
        PolicyName="ebs-key",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": EBS_ACTIONS, "Resource": key}]}
        ),
    )
    _function(aws, region, "ebs-policy-launcher", role["Arn"])
    try:
        iid = _launch(_lambda_client(endpoint, region, "ebs-policy-launcher"), ami)["InstanceId"]
        state, reason = wait_for(lambda: (s := _state(ec2, iid))[0] == "terminated" and s, what="terminated")
        assert reason["Code"] == "Client.InternalError"
    finally:
        _hook(endpoint, {"region": region, "reset": True})


def test_a_function_is_judged_by_its_own_regions_role(aws, endpoint):
    """One function name in two regions (as the base's launcher is in every
    region): the launch in the second region is judged by that region's
    function's role, not by the first region's one that holds the grant."""
    granted_region, region = "ap-south-1", "il-central-1"
    ec2, iam = aws("ec2", region), aws("iam", region)
    ami = aws("ssm", region).get_parameter(Name=AL2023)["Parameter"]["Value"]
    key = _hook(endpoint, {"region": region})["KmsKeyId"]
    granted = iam.create_role(RoleName="ebs-granted-launcher", AssumeRolePolicyDocument=TRUST)["Role"]
    iam.put_role_policy(
        RoleName="ebs-granted-launcher",
        PolicyName="ebs-key",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": EBS_ACTIONS, "Resource": key}]}
        ),
    )
    bare = iam.create_role(RoleName="ebs-bare-launcher", AssumeRolePolicyDocument=TRUST)["Role"]
    _function(aws, granted_region, "same-launcher", granted["Arn"])  # looked at first, were regions mixed up
    _function(aws, region, "same-launcher", bare["Arn"])
    try:
        iid = _launch(_lambda_client(endpoint, region, "same-launcher"), ami)["InstanceId"]
        state, reason = wait_for(lambda: (s := _state(ec2, iid))[0] == "terminated" and s, what="terminated")
        assert reason["Code"] == "Client.InternalError"
    finally:
        _hook(endpoint, {"region": region, "reset": True})
