"""Launcher Lambda (templates/lambda/launch.py) unit tests and the whole stack in moto."""

import importlib.util
import io
import os
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from tpl_helpers import (
    BOOTSTRAP,
    BUCKET,
    IAM_NOT_YET,
    LAMBDA_ENV,
    LAUNCH_PY,
    PREFIX,
    RUN_ID,
    STACK,
)

BASE_TEMPLATE = STACK.parent / "base.yaml"


# --------------------------------------------------------------------------
# Launcher Lambda
# --------------------------------------------------------------------------
def _client_error(code, message, operation="RunInstances"):
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FakeEc2:
    def __init__(self, run_results, root_device="/dev/xvda", live=(), describe_error=None):
        self.run_results = list(run_results)
        self.root_device = root_device
        self.run_calls = []
        self.describe_calls = []
        self.live = list(live)
        self.describe_error = describe_error
        self.instance_filters = []

    def get_paginator(self, name):
        assert name == "describe_instances"
        fake = self

        class Paginator:
            def paginate(self, **kwargs):
                fake.instance_filters.append(kwargs["Filters"])
                if fake.describe_error:
                    raise fake.describe_error
                return [{"Reservations": [{"Instances": fake.live}] if fake.live else []}]

        return Paginator()

    def describe_images(self, **kwargs):
        self.describe_calls.append(kwargs)
        return {"Images": [{"ImageId": kwargs["ImageIds"][0], "RootDeviceName": self.root_device}]}

    def run_instances(self, **kwargs):
        self.run_calls.append(kwargs)
        result = self.run_results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def _ok(instance_id="i-0abc1234def567890", zone="eu-west-3a", subnet="subnet-0aaa"):
    return {"Instances": [{"InstanceId": instance_id, "Placement": {"AvailabilityZone": zone}, "SubnetId": subnet}]}


SUBNETS = [
    {"subnet_id": "subnet-0aaa", "zone": "eu-west-3a"},
    {"subnet_id": "subnet-0bbb", "zone": "eu-west-3b"},
    {"subnet_id": "subnet-0ccc", "zone": "eu-west-3c"},
]


def test_run_instances_request(launch, monkeypatch):
    ec2 = FakeEc2([_ok()], root_device="/dev/sda1")
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    assert launch.handler({}, None) == {
        "instance_id": "i-0abc1234def567890",
        "zone": "eu-west-3a",
        "subnet_id": "subnet-0aaa",
        "tried": [],
        "reused": False,
        "market": "on-demand",
        "spot_refused": None,
    }
    assert ec2.describe_calls == [{"ImageIds": ["ami-0123456789abcdef0"]}]
    (req,) = ec2.run_calls
    assert req["ImageId"] == "ami-0123456789abcdef0"
    assert req["InstanceType"] == "t3.large"
    assert (req["MinCount"], req["MaxCount"]) == (1, 1)
    assert req["MetadataOptions"]["HttpTokens"] == "required"
    assert req["MetadataOptions"]["HttpEndpoint"] == "enabled"
    assert req["InstanceInitiatedShutdownBehavior"] == "terminate"
    assert req["IamInstanceProfile"] == {"Arn": LAMBDA_ENV["INSTANCE_PROFILE_ARN"]}
    assert req["SecurityGroupIds"] == ["sg-0123456789abcdef0"]
    assert req["BlockDeviceMappings"] == [
        {
            "DeviceName": "/dev/sda1",
            "Ebs": {"VolumeSize": 64, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True},
        }
    ]
    expected_tags = [
        {"Key": "Name", "Value": f"easytdv-{RUN_ID}"},
        {"Key": "easytdv:run-id", "Value": RUN_ID},
        {"Key": "easytdv:app", "Value": "easytdv"},
        {"Key": "easytdv:launch", "Value": "1"},
    ]
    specs = {s["ResourceType"]: s["Tags"] for s in req["TagSpecifications"]}
    assert specs == {"instance": expected_tags, "volume": expected_tags}
    assert req["UserData"].startswith("#!/bin/bash\n")
    assert "__MAX_RUNTIME_MINUTES__" not in req["UserData"]
    assert 'MAX_RUNTIME_MINUTES="1440"' in req["UserData"]
    assert req["ClientToken"] == f"easytdv-{RUN_ID}-1"
    assert "SubnetId" not in req  # no subnets in the event: EC2 chooses
    assert launch.slept == []


def test_a_relaunch_gets_its_own_idempotency_token(launch, monkeypatch):
    ec2 = FakeEc2([_ok()], root_device="/dev/xvda")
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    launch.handler({"launch": 2}, None)
    assert ec2.run_calls[0]["ClientToken"] == f"easytdv-{RUN_ID}-2"
    for bad in ({"launch": 0}, {"launch": "2"}, {"launch": True}):
        with pytest.raises(launch.LaunchError):
            launch.handler(bad, None)


def test_capacity_errors_move_on_to_the_next_zone(launch, monkeypatch):
    ec2 = FakeEc2(
        [
            _client_error("InsufficientInstanceCapacity", "We currently do not have sufficient g5.xlarge capacity"),
            _client_error("Unsupported", "Your requested instance type (g5.xlarge) is not supported in eu-west-3b"),
            _ok("i-0ccc", zone="eu-west-3c", subnet="subnet-0ccc"),
        ]
    )
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    answer = launch.handler({"launch": 2, "subnets": SUBNETS}, None)
    assert answer == {
        "instance_id": "i-0ccc",
        "zone": "eu-west-3c",
        "subnet_id": "subnet-0ccc",
        "tried": [
            {
                "zone": "eu-west-3a",
                "subnet_id": "subnet-0aaa",
                "code": "InsufficientInstanceCapacity",
                "market": "on-demand",
            },
            {"zone": "eu-west-3b", "subnet_id": "subnet-0bbb", "code": "Unsupported", "market": "on-demand"},
        ],
        "reused": False,
        "market": "on-demand",
        "spot_refused": None,
    }
    assert [c["SubnetId"] for c in ec2.run_calls] == ["subnet-0aaa", "subnet-0bbb", "subnet-0ccc"]
    # one idempotency token per (launch, subnet): a repeat in one zone never launches twice
    assert [c["ClientToken"] for c in ec2.run_calls] == [f"easytdv-{RUN_ID}-2-{i}" for i in range(3)]
    assert launch.slept == []


def test_spot_capacity_codes_also_move_on(launch, monkeypatch):
    ec2 = FakeEc2(
        [_client_error("SpotMaxPriceTooLow", "price"), _client_error("MaxSpotInstanceCountExceeded", "n"), _ok()]
    )
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    answer = launch.handler({"subnets": SUBNETS}, None)
    assert [t["code"] for t in answer["tried"]] == ["SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded"]


def test_every_zone_out_of_capacity_keeps_the_error_format(launch, monkeypatch):
    ec2 = FakeEc2(
        [
            _client_error("InsufficientInstanceCapacity", "no g5 in a"),
            _client_error("InsufficientInstanceCapacity", "no g5 in b"),
            _client_error("Unsupported", "not in c"),
        ]
    )
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    with pytest.raises(launch.LaunchError) as info:
        launch.handler({"subnets": SUBNETS}, None)
    message = str(info.value)
    assert message.startswith("easytdv launcher: RunInstances failed (Unsupported: not in c)")
    assert (
        "eu-west-3a: InsufficientInstanceCapacity; eu-west-3b: InsufficientInstanceCapacity; eu-west-3c: Unsupported"
        in message
    )
    # one subnet only: exactly the plain format
    ec2 = FakeEc2([_client_error("InsufficientInstanceCapacity", "no g5 in a")])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    with pytest.raises(launch.LaunchError) as info:
        launch.handler({"subnets": SUBNETS[:1]}, None)
    assert str(info.value) == "easytdv launcher: RunInstances failed (InsufficientInstanceCapacity: no g5 in a)"


def test_a_quota_error_does_not_try_other_zones(launch, monkeypatch):
    ec2 = FakeEc2(
        [_client_error("VcpuLimitExceeded", "You have requested more vCPU capacity than your current vCPU limit of 0")]
    )
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    with pytest.raises(launch.LaunchError) as info:
        launch.handler({"subnets": SUBNETS}, None)
    assert str(info.value).startswith("easytdv launcher: RunInstances failed (VcpuLimitExceeded: ")
    assert len(ec2.run_calls) == 1


def _launched_here(**changes):
    instance = {
        "InstanceId": "i-0live",
        "Placement": {"AvailabilityZone": "eu-west-3b"},
        "SubnetId": "subnet-0bbb",
        "IamInstanceProfile": {"Arn": LAMBDA_ENV["INSTANCE_PROFILE_ARN"]},
        "SecurityGroups": [{"GroupId": LAMBDA_ENV["SECURITY_GROUP_ID"]}],
    }
    instance.update(changes)
    return instance


def test_a_live_instance_of_this_launch_is_returned_not_duplicated(launch, monkeypatch):
    live = _launched_here()
    ec2 = FakeEc2([], live=[live])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    answer = launch.handler({"launch": 3, "subnets": SUBNETS}, None)
    assert answer == {
        "instance_id": "i-0live",
        "zone": "eu-west-3b",
        "subnet_id": "subnet-0bbb",
        "tried": [],
        "reused": True,
        "market": "on-demand",
        "spot_refused": None,
    }
    assert ec2.run_calls == []
    assert ec2.instance_filters == [
        [
            {"Name": "tag:easytdv:run-id", "Values": [RUN_ID]},
            {"Name": "tag:easytdv:launch", "Values": ["3"]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"IamInstanceProfile": {"Arn": "arn:aws:iam::123456789012:instance-profile/admin"}},
        {"IamInstanceProfile": None},
        {"SecurityGroups": [{"GroupId": "sg-0open000000000000"}]},
        {"SecurityGroups": [{"GroupId": LAMBDA_ENV["SECURITY_GROUP_ID"]}, {"GroupId": "sg-0open000000000000"}]},
    ],
)
def test_an_instance_with_the_runs_tags_but_not_launched_here_is_not_reused(launch, monkeypatch, changes):
    """Anyone who may tag an instance could tag theirs for the run: the app would send the run's inputs,
    secrets and commands to it. Only a machine with the launcher's profile and security group is reused."""
    ec2 = FakeEc2([_ok()], live=[_launched_here(**changes)])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    answer = launch.handler({"launch": 1}, None)
    assert answer["instance_id"] == "i-0abc1234def567890" and answer["reused"] is False
    assert len(ec2.run_calls) == 1


def test_without_describe_permission_it_still_launches(launch, monkeypatch):
    denied = _client_error("UnauthorizedOperation", "not authorized", "DescribeInstances")
    ec2 = FakeEc2([_ok()], describe_error=denied)
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    assert launch.handler({}, None)["instance_id"] == "i-0abc1234def567890"
    assert len(ec2.run_calls) == 1


def test_bad_subnets_are_refused(launch, monkeypatch):
    ec2 = FakeEc2([])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    for bad in ([], "subnet-0aaa", [{"zone": "eu-west-3a"}], [{"subnet_id": "sg-0"}], [SUBNETS[0]] * 33):
        with pytest.raises(launch.LaunchError, match="bad subnet"):
            launch.handler({"subnets": bad}, None)
    assert ec2.run_calls == []


def test_retries_on_iam_propagation_then_succeeds(launch, monkeypatch):
    """Against botocore's real EC2 model (Stubber validates every request)."""
    client = boto3.client(
        "ec2",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stub = Stubber(client)
    stub.add_response(
        "describe_instances",
        {"Reservations": []},
        {
            "Filters": [
                {"Name": "tag:easytdv:run-id", "Values": [RUN_ID]},
                {"Name": "tag:easytdv:launch", "Values": ["1"]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        },
    )
    stub.add_response(
        "describe_images",
        {"Images": [{"ImageId": "ami-0123456789abcdef0", "RootDeviceName": "/dev/xvda"}]},
        {"ImageIds": ["ami-0123456789abcdef0"]},
    )
    stub.add_client_error("run_instances", *IAM_NOT_YET)
    stub.add_client_error("run_instances", "InvalidParameterValue", "Invalid IAM Instance Profile name easytdv-x")
    stub.add_response("run_instances", {"Instances": [{"InstanceId": "i-0fedcba9876543210"}]})
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: client if service == "ec2" else None)
    with stub:
        assert launch.handler({}, None)["instance_id"] == "i-0fedcba9876543210"
        stub.assert_no_pending_responses()
    assert len(launch.slept) == 2
    assert launch.slept[1] > launch.slept[0] > 0


def test_other_errors_fail_at_once_with_a_clear_message(launch, monkeypatch):
    ec2 = FakeEc2(
        [
            _client_error(
                "InsufficientInstanceCapacity",
                "We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested",
            )
        ]
    )
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    with pytest.raises(launch.LaunchError) as info:
        launch.handler({}, None)
    assert "InsufficientInstanceCapacity" in str(info.value)
    assert "sufficient g5.xlarge capacity" in str(info.value)
    assert len(ec2.run_calls) == 1
    assert launch.slept == []


def test_gives_up_after_the_retry_budget(launch, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(launch, "_monotonic", lambda: clock[0])

    def fake_sleep(seconds):
        launch.slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(launch, "_sleep", fake_sleep)
    ec2 = FakeEc2([_client_error(*IAM_NOT_YET) for _ in range(100)])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    with pytest.raises(launch.LaunchError) as info:
        launch.handler({}, None)
    assert "IAM" in str(info.value)
    assert sum(launch.slept) <= launch.RETRY_BUDGET_SECONDS
    assert 3 <= len(ec2.run_calls) < 20


def test_missing_ami_is_reported(launch, monkeypatch):
    class NoImage(FakeEc2):
        def describe_images(self, **kwargs):
            return {"Images": []}

    ec2 = NoImage([])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    with pytest.raises(launch.LaunchError, match="ami-0123456789abcdef0 was not found"):
        launch.handler({}, None)
    assert ec2.run_calls == []


def test_missing_setting_is_reported(launch, monkeypatch):
    monkeypatch.delenv("INSTANCE_PROFILE_ARN")
    with pytest.raises(launch.LaunchError, match="INSTANCE_PROFILE_ARN is not set"):
        launch.handler({}, None)


# --------------------------------------------------------------------------
# Whole stack + launcher against moto (the emulator behind tests/sandbox)
# --------------------------------------------------------------------------
def _moto_account(monkeypatch) -> io.BytesIO:
    """moto's account in us-east-1 (no AWS_* of the machine's), and the launcher's zip as the core builds it."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(LAUNCH_PY, "launch.py")
        archive.write(BOOTSTRAP, "bootstrap.sh")
    return zipped


def test_stack_and_launcher_work_in_moto(monkeypatch, tmp_path):
    moto = pytest.importorskip("moto")
    zipped = _moto_account(monkeypatch)

    with moto.mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/launcher.zip", Body=zipped.getvalue())
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/stack.yaml", Body=STACK.read_bytes())
        ec2 = boto3.client("ec2")
        vpc = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"])
        ami = next(i for i in ec2.describe_images(Owners=["amazon"])["Images"] if i.get("RootDeviceName"))
        params = {
            "RunId": RUN_ID,
            "Bucket": BUCKET,
            "RunPrefix": PREFIX,
            "LambdaCodeKey": f"{PREFIX}/launcher.zip",
            "InstanceType": "t3.large",
            "DiskSizeGb": "30",
            "AmiId": ami["ImageId"],
            "VpcId": vpc,
            "MaxRuntimeHours": "2",
        }
        cfn = boto3.client("cloudformation")
        stack_name = f"easytdv-{RUN_ID}"
        cfn.create_stack(
            StackName=stack_name,
            TemplateURL=f"https://{BUCKET}.s3.us-east-1.amazonaws.com/{PREFIX}/stack.yaml",
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs["LaunchFunctionName"] == f"easytdv-{RUN_ID}-launch"
        assert outputs["InstanceProfileArn"].endswith(f":instance-profile/easytdv-{RUN_ID}")
        assert outputs["InstanceRoleArn"].endswith(f":role/easytdv-{RUN_ID}-instance")
        assert outputs["SecurityGroupId"].startswith("sg-")

        function = boto3.client("lambda").get_function_configuration(FunctionName=outputs["LaunchFunctionName"])
        variables = function["Environment"]["Variables"]
        assert all(isinstance(v, str) for v in variables.values()), variables
        assert variables["BUCKET_OWNER"] == boto3.client("sts").get_caller_identity()["Account"]

        # Run the handler as the sandbox would: unpacked zip, function env.
        package = tmp_path / "package"
        zipfile.ZipFile(io.BytesIO(zipped.getvalue())).extractall(package)
        for key, value in variables.items():
            monkeypatch.setenv(key, value)
        spec = importlib.util.spec_from_file_location("easytdv_launch_in_moto", package / "launch.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        instance_id = module.handler({}, None)["instance_id"]

        instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        assert instance["MetadataOptions"]["HttpTokens"] == "required"
        assert instance["IamInstanceProfile"]["Arn"] == outputs["InstanceProfileArn"]
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [outputs["SecurityGroupId"]]
        assert {"Key": "easytdv:run-id", "Value": RUN_ID} in instance["Tags"]
        behaviour = ec2.describe_instance_attribute(
            InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior"
        )
        assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
        volume_id = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
        assert (volume["Size"], volume["VolumeType"], volume["Encrypted"]) == (30, "gp3", True)

        cfn.delete_stack(StackName=stack_name)
        assert not [
            r for r in boto3.client("iam").list_roles()["Roles"] if r["RoleName"].startswith(f"easytdv-{RUN_ID}")
        ]


class FakeS3:
    def __init__(self, stopped):
        self.stopped, self.heads = stopped, []

    def head_object(self, **kwargs):
        self.heads.append(kwargs)
        if not self.stopped:
            raise _client_error("404", "Not Found", "HeadObject")
        return {}


def test_a_stopped_run_launches_nothing(launch, monkeypatch):
    # The core writes <prefix>/stop before it deletes a run it stopped; a
    # launcher still running (e.g. retrying IAM propagation) must not start
    # a machine nobody will delete.
    ec2 = FakeEc2([_ok()])
    s3 = FakeS3(stopped=True)
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: {"ec2": ec2, "s3": s3}[service])
    with pytest.raises(launch.LaunchError, match="the run was stopped"):
        launch.handler({"launch": 1, "subnets": SUBNETS}, None)
    assert ec2.run_calls == []
    # The bucket's owner is checked, as on every call the core makes to it.
    assert s3.heads == [
        {
            "Bucket": LAMBDA_ENV["BUCKET"],
            "Key": f"{LAMBDA_ENV['RUN_PREFIX']}/stop",
            "ExpectedBucketOwner": "123456789012",
        }
    ]
    s3.stopped = False
    assert launch.handler({"launch": 1, "subnets": SUBNETS}, None)["instance_id"] == "i-0abc1234def567890"


def test_the_bucket_owner_is_required_with_a_bucket(launch, monkeypatch):
    monkeypatch.delenv("BUCKET_OWNER")
    ec2 = FakeEc2([_ok()])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: {"ec2": ec2, "s3": FakeS3(False)}[service])
    with pytest.raises(launch.LaunchError, match="BUCKET_OWNER is not set"):
        launch.handler({"launch": 1, "subnets": SUBNETS}, None)
    assert ec2.run_calls == []


# --------------------------------------------------------------------------
# The base's launcher (templates/base.yaml): the run comes in the event
# --------------------------------------------------------------------------
BASE_PROFILE = "arn:aws:iam::123456789012:instance-profile/easytdv-base-eu-west-3"
BASE_SG = "sg-0base0000000000000"


def _base_env(monkeypatch):
    """Only what templates/base.yaml puts in the function's environment."""
    for key in LAMBDA_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("INSTANCE_PROFILE_ARN", BASE_PROFILE)
    monkeypatch.setenv("SECURITY_GROUP_ID", BASE_SG)
    monkeypatch.setenv("BUCKET_OWNER", "123456789012")


def _base_run(**changes):
    run = {
        "run_id": RUN_ID,
        "ami_id": "ami-0123456789abcdef0",
        "instance_type": "g5.xlarge",
        "disk_size_gb": 100,
        "max_runtime_hours": 0.5,
        "bucket": BUCKET,
        "run_prefix": PREFIX,
    }
    run.update(changes)
    return run


def test_the_base_launcher_launches_the_run_its_event_names(launch, monkeypatch):
    _base_env(monkeypatch)
    ec2, s3 = FakeEc2([_ok()]), FakeS3(stopped=False)
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: {"ec2": ec2, "s3": s3}[service])
    answer = launch.handler({"run": _base_run(), "launch": 2, "subnets": SUBNETS[:1]}, None)
    assert answer["instance_id"] == "i-0abc1234def567890"
    (request,) = ec2.run_calls
    assert request["ImageId"] == "ami-0123456789abcdef0"
    assert request["InstanceType"] == "g5.xlarge"
    assert request["IamInstanceProfile"] == {"Arn": BASE_PROFILE}
    assert request["SecurityGroupIds"] == [BASE_SG]
    assert request["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 100
    assert request["ClientToken"] == f"easytdv-{RUN_ID}-2-0"
    tags = {t["Key"]: t["Value"] for t in request["TagSpecifications"][0]["Tags"]}
    assert tags["easytdv:run-id"] == RUN_ID and tags["easytdv:launch"] == "2"
    # Half an hour: the machine powers itself off after 30 minutes.
    assert "__MAX_RUNTIME_MINUTES__" not in request["UserData"] and "30" in request["UserData"]
    # The stop marker is the event's run's, in its bucket, with the account as the owner.
    assert s3.heads == [{"Bucket": BUCKET, "Key": f"{PREFIX}/stop", "ExpectedBucketOwner": "123456789012"}]


@pytest.mark.parametrize(
    "changes, words",
    [
        ({"run_id": "../../etc"}, "bad run_id"),
        ({"run_id": None}, "bad run_id"),
        ({"ami_id": "ami-1; rm -rf /"}, "bad ami_id"),
        ({"instance_type": "t3.large --x"}, "bad instance_type"),
        ({"bucket": "Other_Bucket"}, "bad bucket"),
        ({"run_prefix": "easytdv/runs/20261206-101600-d4e5f6"}, "the run prefix must be"),
        ({"run_prefix": "easytdv/blobs"}, "the run prefix must be"),
        ({"disk_size_gb": 4}, "DISK_SIZE_GB must be between"),
        ({"disk_size_gb": True}, "DISK_SIZE_GB is not a number"),
        ({"max_runtime_hours": 49}, "MAX_RUNTIME_HOURS must be between"),
        ({"max_runtime_hours": "soon"}, "MAX_RUNTIME_HOURS is not a number"),
        ({"spot": "yes"}, "bad spot"),
    ],
)
def test_the_base_launcher_refuses_a_bad_run_and_launches_nothing(launch, monkeypatch, changes, words):
    _base_env(monkeypatch)
    ec2 = FakeEc2([_ok()])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: {"ec2": ec2, "s3": FakeS3(False)}[service])
    with pytest.raises(launch.LaunchError, match=words):
        launch.handler({"run": _base_run(**changes)}, None)
    assert ec2.run_calls == []


SPOT_MESSAGE = "There is no Spot capacity available that matches your request."


def _spot(ok):
    ok["Instances"][0]["InstanceLifecycle"] = "spot"
    return ok


def test_a_spot_run_asks_for_spot_first_and_says_it_got_it(launch, monkeypatch):
    _base_env(monkeypatch)
    ec2 = FakeEc2([_client_error("InsufficientInstanceCapacity", SPOT_MESSAGE), _spot(_ok(zone="eu-west-3b"))])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: {"ec2": ec2, "s3": FakeS3(False)}[service])
    answer = launch.handler({"run": _base_run(spot=True), "subnets": SUBNETS}, None)
    assert answer["market"] == "spot" and answer["spot_refused"] is None
    assert [c["InstanceMarketOptions"]["MarketType"] for c in ec2.run_calls] == ["spot", "spot"]
    assert ec2.run_calls[0]["InstanceMarketOptions"]["SpotOptions"] == {
        "SpotInstanceType": "one-time",
        "InstanceInterruptionBehavior": "terminate",
    }
    assert [c["ClientToken"] for c in ec2.run_calls] == [f"easytdv-{RUN_ID}-1-{i}-spot" for i in range(2)]
    assert answer["tried"] == [
        {"zone": "eu-west-3a", "subnet_id": "subnet-0aaa", "code": "InsufficientInstanceCapacity", "market": "spot"}
    ]


@pytest.mark.parametrize(
    "code",
    [
        "InsufficientInstanceCapacity",
        "SpotMaxPriceTooLow",
        "MaxSpotInstanceCountExceeded",
        "AuthFailure.ServiceLinkedRoleCreationNotPermitted",
        "UnauthorizedOperation",
    ],
)
def test_no_spot_anywhere_falls_back_to_on_demand_and_says_why(launch, monkeypatch, code):
    _base_env(monkeypatch)
    refusals = [_client_error(code, SPOT_MESSAGE) for _ in SUBNETS[:2]]
    ec2 = FakeEc2([*refusals, _ok()])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: {"ec2": ec2, "s3": FakeS3(False)}[service])
    answer = launch.handler({"run": _base_run(spot=True), "subnets": SUBNETS[:2]}, None)
    assert answer["market"] == "on-demand"
    assert answer["spot_refused"] == code
    markets = [c.get("InstanceMarketOptions", {}).get("MarketType", "on-demand") for c in ec2.run_calls]
    assert markets == ["spot", "spot", "on-demand"]
    # The on-demand request is another request: its own token.
    assert ec2.run_calls[2]["ClientToken"] == f"easytdv-{RUN_ID}-1-0"


def test_an_on_demand_run_never_asks_for_spot_and_other_spot_errors_fail(launch, monkeypatch):
    _base_env(monkeypatch)
    ec2 = FakeEc2([_ok()])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: {"ec2": ec2, "s3": FakeS3(False)}[service])
    assert launch.handler({"run": _base_run(), "subnets": SUBNETS[:1]}, None)["market"] == "on-demand"
    assert "InstanceMarketOptions" not in ec2.run_calls[0]
    ec2 = FakeEc2([_client_error("VcpuLimitExceeded", "You have requested more vCPU capacity")])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: {"ec2": ec2, "s3": FakeS3(False)}[service])
    with pytest.raises(launch.LaunchError, match="VcpuLimitExceeded"):
        launch.handler({"run": _base_run(spot=True), "subnets": SUBNETS[:1]}, None)
    assert len(ec2.run_calls) == 1


def test_the_base_launcher_without_a_run_in_its_event_launches_nothing(launch, monkeypatch):
    _base_env(monkeypatch)
    ec2 = FakeEc2([_ok()])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: {"ec2": ec2, "s3": FakeS3(False)}[service])
    with pytest.raises(launch.LaunchError, match="RUN_ID is not set"):
        launch.handler({"launch": 1}, None)
    with pytest.raises(launch.LaunchError, match="bad run in the event"):
        launch.handler({"run": "20261206-101500-a1b2c3"}, None)
    assert ec2.run_calls == []


def test_the_base_launcher_does_not_wait_for_the_instance_profile():
    """CloudFormation waits about two minutes for an instance profile to propagate: the launcher
    must not name it through !GetAtt/!Ref (an implicit dependency), so both are created side by side."""
    template = BASE_TEMPLATE.read_text()
    function = template.split("  LaunchFunction:\n", 1)[1].split("\nOutputs:", 1)[0]
    assert "InstanceProfile" not in function.replace("INSTANCE_PROFILE_ARN", "").replace("instance-profile/", "")
    assert "instance-profile/easytdv-base-${AWS::Region}" in function
    assert "InstanceProfileName: !Sub easytdv-base-${AWS::Region}" in template


def test_the_base_stack_and_its_launcher_work_in_moto(monkeypatch, tmp_path):
    """templates/base.yaml created once; two runs launched by its one function, each tagged for its run."""
    moto = pytest.importorskip("moto")
    zipped = _moto_account(monkeypatch)
    for key in LAMBDA_ENV:
        monkeypatch.delenv(key, raising=False)

    with moto.mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="easytdv/lambda/" + "0" * 64 + ".zip", Body=zipped.getvalue())
        ec2 = boto3.client("ec2")
        vpc = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"])
        ami = next(i for i in ec2.describe_images(Owners=["amazon"])["Images"] if i.get("RootDeviceName"))
        params = {
            "Version": "1",
            "VpcId": vpc,
            "LambdaCodeBucket": BUCKET,
            "LambdaCodeKey": "easytdv/lambda/" + "0" * 64 + ".zip",
            "LauncherName": "easytdv-base-launch-0123456789ab",
        }
        cfn = boto3.client("cloudformation")
        cfn.create_stack(
            StackName="easytdv-base",
            TemplateBody=BASE_TEMPLATE.read_text(),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        stack = cfn.describe_stacks(StackName="easytdv-base")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs["Version"] == "1"
        assert outputs["LaunchFunctionName"] == "easytdv-base-launch-0123456789ab"
        assert outputs["InstanceProfileArn"].endswith(":instance-profile/easytdv-base-us-east-1")
        role = boto3.client("iam").get_role(RoleName="easytdv-base-us-east-1-instance")["Role"]
        assert outputs["MachineRoleId"] == role["RoleId"]
        assert outputs["SecurityGroupId"].startswith("sg-") and outputs["VpcId"] == vpc

        variables = boto3.client("lambda").get_function_configuration(FunctionName="easytdv-base-launch-0123456789ab")[
            "Environment"
        ]["Variables"]
        assert set(variables) == {"INSTANCE_PROFILE_ARN", "SECURITY_GROUP_ID", "BUCKET_OWNER", "EASYTDV_BASE_VERSION"}
        # The ARN is spelled out in the template (so the function does not wait for the
        # profile): it must be the profile's own.
        assert variables["INSTANCE_PROFILE_ARN"] == outputs["InstanceProfileArn"]
        package = tmp_path / "package"
        zipfile.ZipFile(io.BytesIO(zipped.getvalue())).extractall(package)
        for key, value in variables.items():
            monkeypatch.setenv(key, value)
        spec = importlib.util.spec_from_file_location("easytdv_base_launch_in_moto", package / "launch.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        other = "20261206-101600-d4e5f6"
        launched = {}
        for run_id in (RUN_ID, other):
            run = {"run_id": run_id, "ami_id": ami["ImageId"], "instance_type": "t3.large", "disk_size_gb": 30,
                   "max_runtime_hours": 2, "bucket": BUCKET, "run_prefix": f"easytdv/runs/{run_id}"}  # fmt: skip
            launched[run_id] = module.handler({"run": run}, None)["instance_id"]
        assert len(set(launched.values())) == 2
        for run_id, instance_id in launched.items():
            instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
            assert instance["IamInstanceProfile"]["Arn"] == outputs["InstanceProfileArn"]
            assert [g["GroupId"] for g in instance["SecurityGroups"]] == [outputs["SecurityGroupId"]]
            assert {"Key": "easytdv:run-id", "Value": run_id} in instance["Tags"]

        cfn.delete_stack(StackName="easytdv-base")
        assert not [r for r in boto3.client("iam").list_roles()["Roles"] if r["RoleName"].startswith("easytdv-base")]
