"""The latency model (`run --latency aws[:SCALE]`, latency.py): each modelled delay happens, a new
role or instance profile is refused in AWS's words until it has propagated, and with the model off
(the session sandbox, every other test, the practice cloud) nothing waits."""

from __future__ import annotations

import io
import json
import subprocess
import time
import urllib.request
import uuid
import zipfile
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from conftest import AL2023, HOOK_HEADERS, REGION, SANDBOX, Clients, online, start_sandbox, stop_sandbox, wait_for
from easytdv_sandbox import latency

SCALE = 0.2  # a fifth of AWS's time: each delay is measurable, the module runs in about 20 s
F = {key: figure.seconds * SCALE for key, figure in latency.FIGURES.items()}
EC2_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
)
LAMBDA_TRUST = EC2_TRUST.replace("ec2.amazonaws.com", "lambda.amazonaws.com")
SAGEMAKER_TRUST = EC2_TRUST.replace("ec2.amazonaws.com", "sagemaker.amazonaws.com")
QUICK = "def handler(event, context):\n    return {'ok': True}\n"


@pytest.fixture(scope="module")
def slow(tmp_path_factory):
    """A sandbox of its own with the model at SCALE: (clients, endpoint)."""
    proc, url = start_sandbox(tmp_path_factory.mktemp("latency-data"), "--latency", f"aws:{SCALE}")
    yield Clients(url), url
    stop_sandbox(proc)


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("q.py", source)
    return buf.getvalue()


def _profile(aws, name: str) -> tuple[str, float]:
    """A new role in a new instance profile: (profile ARN, when the role was added)."""
    aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=EC2_TRUST)
    arn = aws.iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    aws.iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return arn, time.monotonic()


def _run(aws, ami: str, **extra) -> str:
    return aws.ec2.run_instances(ImageId=ami, InstanceType="t3.medium", MinCount=1, MaxCount=1, **extra)["Instances"][
        0
    ]["InstanceId"]


def _hook(endpoint: str, path: str) -> dict:
    req = urllib.request.Request(f"{endpoint}/easytdv-api/{path}", headers=HOOK_HEADERS, method="GET")
    with urllib.request.urlopen(req) as answer:
        return json.loads(answer.read())


# --- the model itself ---------------------------------------------------------------------------


def test_the_option_reads_aws_and_a_scale():
    assert latency.parse("aws") == 1.0
    assert latency.parse("aws:0.1") == 0.1
    assert latency.parse("AWS:2") == 2.0
    for off in ("", "off", "0", None):
        assert latency.parse(off) == 0.0
    for bad in ("gcp", "aws:", "aws:-1", "aws:0", "aws:fast", "aws:100"):
        with pytest.raises(ValueError, match="--latency"):
            latency.parse(bad)


def test_every_figure_says_where_it_comes_from():
    for key, figure in latency.FIGURES.items():
        assert figure.seconds > 0, key
        assert figure.source.startswith(("https://", "http://", "estimate")), key


def test_a_stack_takes_its_longest_chain_of_resources():
    """CloudFormation creates what does not depend on each other at once: the stack's time is its
    start plus the longest chain (role, then its instance profile), not the sum."""
    resources = {
        "InstanceRole": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Profile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "InstanceRole"}]}},
        "LauncherRole": {"Type": "AWS::IAM::Role", "Properties": {}},
        "Launcher": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Role": {"Fn::GetAtt": ["LauncherRole", "Arn"]},
                "Environment": {"Variables": {"PROFILE": {"Fn::Sub": "${Profile.Arn}"}}},
            },
        },
        "Skipped": {"Type": "AWS::IAM::Role", "Properties": {}},  # its condition is false: not created
    }
    created = {k: object() for k in resources if k != "Skipped"}
    stack = SimpleNamespace(
        template_dict={"Resources": resources}, resource_map=SimpleNamespace(_parsed_resources=created)
    )
    try:
        latency.configure(1.0)
        want = sum(latency.FIGURES[k].seconds for k in ("cfn.stack", "cfn.AWS::IAM::Role"))
        want += latency.FIGURES["cfn.AWS::IAM::InstanceProfile"].seconds
        want += latency.FIGURES["cfn.AWS::Lambda::Function"].seconds  # it references the profile
        assert latency.stack_seconds(stack, "create") == pytest.approx(want)
        latency.configure(0.5)
        assert latency.stack_seconds(stack, "create") == pytest.approx(want / 2)
    finally:
        latency.configure(0.0)
    assert latency.stack_seconds(stack, "create") == 0.0


def test_a_cold_start_then_a_warm_environment():
    fn = SimpleNamespace(state="Active", function_arn="arn:aws:lambda:eu-west-3:123456789012:function:f")
    try:
        latency.configure(1.0)
        t0 = time.monotonic()
        latency.before_invoke(fn)
        cold = time.monotonic() - t0
        t0 = time.monotonic()
        latency.before_invoke(fn)
        warm = time.monotonic() - t0
    finally:
        latency.configure(0.0)
        latency.reset()
    assert cold >= latency.FIGURES["lambda.cold_start"].seconds * 0.95
    assert warm < 0.05


def test_the_deep_learning_ami_boots_slower_than_al2023():
    images = {"ami-al": "al2023-ami-2023.9.20261101.0-kernel-6.1-x86_64", "ami-dl": "Deep Learning Base OSS Nvidia"}
    backend = SimpleNamespace(describe_images=lambda ami_ids: [SimpleNamespace(name=images[ami_ids[0]])])
    try:
        latency.configure(1.0)
        al = latency.boot_seconds(backend, SimpleNamespace(image_id="ami-al"))
        dl = latency.boot_seconds(backend, SimpleNamespace(image_id="ami-dl"))
    finally:
        latency.configure(0.0)
    assert al == (latency.FIGURES["ec2.running"].seconds, latency.FIGURES["ec2.boot.al2023"].seconds)
    assert dl == (latency.FIGURES["ec2.running"].seconds, latency.FIGURES["ec2.boot.dlami"].seconds)
    assert dl[1] > al[1]


# --- a sandbox with the model on ----------------------------------------------------------------


def test_a_new_instance_profile_is_refused_until_it_has_propagated(slow):
    aws, _ = slow
    ami = aws.ssm.get_parameter(Name=AL2023)["Parameter"]["Value"]
    name = f"p-{uuid.uuid4().hex[:8]}"
    arn, added = _profile(aws, name)
    for spec, by, what in (({"Name": name}, "name", "name"), ({"Arn": arn}, "arn", "ARN")):
        with pytest.raises(ClientError) as e:
            _run(aws, ami, IamInstanceProfile=spec)
        assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
        value = spec.get("Name") or spec.get("Arn")
        assert e.value.response["Error"]["Message"] == (
            f"Value ({value}) for parameter iamInstanceProfile.{by} is invalid. Invalid IAM Instance Profile {what}"
        )

    def usable():
        try:
            return _run(aws, ami, IamInstanceProfile={"Name": name})
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidParameterValue"
            return None

    iid = wait_for(usable, timeout=F["iam.instance_profile"] + 10, interval=0.2, what="the profile to propagate")
    assert time.monotonic() - added >= F["iam.instance_profile"] * 0.9
    aws.ec2.terminate_instances(InstanceIds=[iid])


def test_an_instance_is_pending_then_running_then_online(slow):
    aws, _ = slow
    ami = aws.ssm.get_parameter(Name=AL2023)["Parameter"]["Value"]
    t0 = time.monotonic()
    iid = _run(aws, ami)

    def state() -> str:
        return aws.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]

    assert state() == "pending"
    wait_for(lambda: state() == "running", timeout=F["ec2.running"] + 10, what="running")
    running = time.monotonic() - t0
    assert running >= F["ec2.running"] * 0.9
    assert not online(aws, iid)  # booting: the agent is not there yet
    wait_for(lambda: online(aws, iid), timeout=F["ec2.boot.al2023"] + 10, what="Online")
    assert time.monotonic() - t0 >= (F["ec2.running"] + F["ec2.boot.al2023"]) * 0.9

    # SSM: a command starts on the machine only after the dispatch time.
    sent = time.time()
    command = aws.ssm.send_command(
        InstanceIds=[iid], DocumentName="AWS-RunShellScript", Parameters={"commands": ["date +%s.%N"]}
    )["Command"]["CommandId"]
    done = wait_for(
        lambda: (i := aws.ssm.get_command_invocation(CommandId=command, InstanceId=iid))["Status"] == "Success" and i,
        what="the command",
    )
    assert float(done["StandardOutputContent"]) - sent >= F["ssm.dispatch"] * 0.9
    aws.ec2.terminate_instances(InstanceIds=[iid])


def test_a_new_role_cannot_be_given_to_a_lambda_until_it_has_propagated(slow):
    aws, _ = slow
    name = f"l-{uuid.uuid4().hex[:8]}"
    role = aws.iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    created = time.monotonic()
    spec = dict(FunctionName=name, Runtime="python3.12", Role=role, Handler="q.handler", Code={"ZipFile": _zip(QUICK)})
    with pytest.raises(ClientError) as e:
        aws("lambda").create_function(**spec)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert e.value.response["Error"]["Message"] == "The role defined for the function cannot be assumed by Lambda."

    def create():
        try:
            return aws("lambda").create_function(**spec)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "InvalidParameterValueException"
            return None

    answer = wait_for(create, timeout=F["iam.role"] + 10, interval=0.2, what="the role to propagate")
    assert time.monotonic() - created >= F["iam.role"] * 0.9
    # Created Pending: Invoke is refused (AWS's words) until it is Active.
    assert answer["State"] == "Pending"
    with pytest.raises(ClientError) as e:
        aws("lambda").invoke(FunctionName=name, Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceConflictException"
    assert e.value.response["Error"]["Message"] == (
        "The operation cannot be performed at this time. The function is currently in the following state: Pending"
    )
    wait_for(
        lambda: aws("lambda").get_function_configuration(FunctionName=name)["State"] == "Active",
        timeout=F["lambda.create"] + 5,
        what="Active",
    )
    assert json.loads(aws("lambda").invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == {"ok": True}


def test_a_stack_reports_complete_after_its_resources_time(slow):
    aws, _ = slow
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": json.loads(EC2_TRUST)}},
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
        }
    }
    name = f"s-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    aws.cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])

    def status() -> str:
        return aws.cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]

    assert status() == "CREATE_IN_PROGRESS"
    want = F["cfn.stack"] + F["cfn.AWS::IAM::Role"]  # the log group is made beside the role
    wait_for(lambda: status() == "CREATE_COMPLETE", timeout=want + 10, interval=0.2, what="CREATE_COMPLETE")
    # (that the log group is not added to the role is test_a_stack_takes_its_longest_chain_of_resources's)
    assert want * 0.9 <= time.monotonic() - t0 < want * 2
    aws.cloudformation.delete_stack(StackName=name)
    assert status() == "DELETE_IN_PROGRESS"


def test_s3_takes_its_first_byte_and_bandwidth(slow):
    aws, _ = slow
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    aws.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    body = b"x" * 3_000_000
    t0 = time.monotonic()
    aws.s3.put_object(Bucket=bucket, Key="k", Body=body)
    put = time.monotonic() - t0
    t0 = time.monotonic()
    assert aws.s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    got = time.monotonic() - t0
    # From the user's computer (the test's key is the app's principal): the internet's bandwidth.
    want = F["s3.first_byte"] + len(body) / (latency.FIGURES["s3.mbps.internet"].seconds * 1e6) * SCALE
    assert put >= want * 0.9 and got >= want * 0.9


def test_sagemaker_waits_for_the_role_and_its_phases_take_the_models_time(slow):
    from test_sagemaker import TRAIN, create_job

    aws, url = slow
    assert _hook(url, "sagemaker-delay")["seconds"] == pytest.approx(F["sagemaker.phase"])
    bucket = f"sm-{uuid.uuid4().hex[:8]}"
    aws.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    aws.s3.put_object(Bucket=bucket, Key="data/rows.csv", Body=b"1,2,3\n")
    role = aws.iam.create_role(RoleName=bucket, AssumeRolePolicyDocument=SAGEMAKER_TRUST)["Role"]["Arn"]
    with pytest.raises(ClientError) as e:
        create_job(aws, (bucket, role), TRAIN)
    assert e.value.response["Error"]["Message"] == (
        f"Could not assume role {role}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role."
    )

    def create():
        try:
            return create_job(aws, (bucket, role), TRAIN)
        except ClientError:
            return None

    job = wait_for(create, timeout=F["iam.role"] + 10, interval=0.3, what="the role to propagate")
    aws.sagemaker.stop_training_job(TrainingJobName=job)


# --- off: nothing waits ---------------------------------------------------------------------------


def test_with_the_model_off_nothing_waits(aws, ami):
    """The session sandbox (no --latency): a new profile and role are usable at once, an instance is
    running at once, a function is Active at once."""
    name = f"off-{uuid.uuid4().hex[:8]}"
    _profile(aws, name)
    iid = _run(aws, ami, IamInstanceProfile={"Name": name})
    state = aws.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"
    aws.ec2.terminate_instances(InstanceIds=[iid])
    role = aws.iam.create_role(RoleName=f"{name}-l", AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    answer = aws("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="q.handler", Code={"ZipFile": _zip(QUICK)}
    )
    assert answer["State"] == "Active"
    t0 = time.monotonic()
    aws("lambda").invoke(FunctionName=name, Payload=b"{}")
    aws.s3.list_buckets()
    assert time.monotonic() - t0 < 5  # (a Python start; nothing of the model's)


def test_the_variable_is_read_by_the_run_script_only(tmp_path):
    """EASYTDV_SANDBOX_LATENCY reaches a sandbox started with tests/sandbox/run; the app's practice
    cloud starts `python -m easytdv_sandbox.cli run` itself and so stays without the model."""
    import os

    env = {**os.environ, "EASYTDV_SANDBOX_LATENCY": "aws:0.5"}
    proc = subprocess.Popen(
        [str(SANDBOX / "run"), "--port", "0", "--data-dir", str(tmp_path / "a")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        assert proc.stdout.readline().startswith("EASYTDV_SANDBOX_ENDPOINT=")
        assert "AWS latencies x0.5" in proc.stderr.readline()
    finally:
        stop_sandbox(proc)
    proc = subprocess.Popen(
        [str(SANDBOX / ".venv/bin/python"), "-m", "easytdv_sandbox.cli", "run", "--port", "0", "--data-dir"]
        + [str(tmp_path / "b")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONPATH": str(SANDBOX)},
        cwd=SANDBOX,
        start_new_session=True,
    )
    try:
        assert proc.stdout.readline().startswith("EASYTDV_SANDBOX_ENDPOINT=")
        assert "no latency model" in proc.stderr.readline()
    finally:
        stop_sandbox(proc)
