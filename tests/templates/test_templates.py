"""Static and behavioural tests of templates/ (stack, launcher Lambda, instance scripts).

Needs: pytest, PyYAML, boto3 (botocore). Optional: cfn-lint (used when
installed: tests/sandbox/.venv/bin/cfn-lint, on PATH, or importable) and moto
(whole stack + launcher in the emulator); those tests are skipped without them.
Run: tests/sandbox/.venv/bin/python -m pytest tests/templates
"""

import importlib.util
import io
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from botocore.stub import Stubber

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
STACK = TEMPLATES / "stack.yaml"
LAUNCH_PY = TEMPLATES / "lambda" / "launch.py"
BOOTSTRAP = TEMPLATES / "instance" / "bootstrap.sh"
INSTALL = TEMPLATES / "instance" / "install.sh"
TRAIN = TEMPLATES / "instance" / "train.sh"
SCRIPTS = [BOOTSTRAP, INSTALL, TRAIN]

RUN_ID = "20261126-142700-a1b2c3"
BUCKET = "easytdv-test-bucket"
PREFIX = f"easytdv/runs/{RUN_ID}"


# --------------------------------------------------------------------------
# Template loading: plain PyYAML with the CloudFormation short-form tags.
# --------------------------------------------------------------------------
class _CfnLoader(yaml.SafeLoader):
    pass


def _cfn_tag(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


@pytest.fixture(scope="module")
def template():
    return yaml.load(STACK.read_text(encoding="utf-8"), Loader=_CfnLoader)


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _statements(role):
    for policy in role["Properties"].get("Policies", []):
        yield from _as_list(policy["PolicyDocument"]["Statement"])


def _actions(statement):
    return _as_list(statement.get("Action", []))


def _roles(template):
    return {
        name: res
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::IAM::Role"
    }


# --------------------------------------------------------------------------
# Template: structure and least privilege
# --------------------------------------------------------------------------
def test_parameters_and_outputs(template):
    params = template["Parameters"]
    assert set(params) == {
        "RunId", "Bucket", "RunPrefix", "LambdaCodeKey", "InstanceType",
        "DiskSizeGb", "AmiId", "VpcId", "MaxRuntimeHours",
    }
    assert params["VpcId"]["Type"] == "AWS::EC2::VPC::Id"
    assert params["DiskSizeGb"]["Type"] == "Number"
    assert (params["DiskSizeGb"]["MinValue"], params["DiskSizeGb"]["MaxValue"]) == (8, 16384)
    assert params["MaxRuntimeHours"]["Default"] == 24
    assert params["RunId"]["AllowedPattern"] == "^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$"
    assert set(template["Outputs"]) == {
        "LaunchFunctionName", "InstanceProfileArn", "InstanceRoleArn", "SecurityGroupId",
    }


def test_run_prefix_pattern_rejects_wildcards_and_policy_variables(template):
    pattern = re.compile(template["Parameters"]["RunPrefix"]["AllowedPattern"])
    assert pattern.match(PREFIX)
    for bad in ("easytdv/runs/*", "easytdv/${aws:username}", "/easytdv/runs/x", "easytdv/runs/x/", "a?b"):
        assert not pattern.match(bad), bad


def test_no_wildcard_actions_anywhere(template):
    roles = _roles(template)
    assert set(roles) == {"InstanceRole", "LaunchFunctionRole"}
    for name, role in roles.items():
        docs = [role["Properties"]["AssumeRolePolicyDocument"]]
        docs += [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
        for doc in docs:
            for statement in _as_list(doc["Statement"]):
                assert "NotAction" not in statement, name
                assert "NotResource" not in statement, name
                assert statement["Effect"] == "Allow"
                for action in _actions(statement):
                    assert "*" not in action and "?" not in action, f"{name}: {action}"
    for name, res in template["Resources"].items():
        assert res["Type"] != "AWS::IAM::Policy", "policies live inline in their role"
        assert res["Type"] != "AWS::IAM::ManagedPolicy"


def test_instance_role_is_s3_only_and_scoped_to_the_run(template):
    role = template["Resources"]["InstanceRole"]["Properties"]
    assert role["RoleName"] == {"Fn::Sub": "easytdv-${RunId}-instance"}
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "ec2.amazonaws.com"}]
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"}
    ]
    grants = {}
    for statement in _statements(template["Resources"]["InstanceRole"]):
        for action in _actions(statement):
            assert not action.startswith(("ec2:", "iam:", "lambda:", "sts:", "cloudformation:")), action
            assert action.startswith("s3:"), action
            grants[action] = statement
    assert set(grants) == {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}
    assert grants["s3:GetObject"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${RunPrefix}/*"}
    assert grants["s3:PutObject"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${RunPrefix}/outputs/*"}
    assert grants["s3:ListBucket"]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}"}
    assert grants["s3:ListBucket"]["Condition"] == {
        "StringLike": {"s3:prefix": {"Fn::Sub": "${RunPrefix}/*"}}}


def test_launcher_can_only_pass_the_instance_role(template):
    passrole = [
        s for s in _statements(template["Resources"]["LaunchFunctionRole"])
        if "iam:PassRole" in _actions(s)
    ]
    assert len(passrole) == 1
    statement = passrole[0]
    assert _actions(statement) == ["iam:PassRole"]
    assert statement["Resource"] == {"Fn::GetAtt": ["InstanceRole", "Arn"]}
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}


def test_launcher_permissions_are_exactly_what_launch_py_needs(template):
    role = template["Resources"]["LaunchFunctionRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    actions = set()
    for statement in _statements(template["Resources"]["LaunchFunctionRole"]):
        actions.update(_actions(statement))
        if statement.get("Resource") == "*":
            # Only read-only Describe calls (no resource-level support) get "*".
            assert _actions(statement) == ["ec2:DescribeImages"]
        if "ec2:CreateTags" in _actions(statement):
            assert statement["Condition"] == {"StringEquals": {"ec2:CreateAction": "RunInstances"}}
        if "ec2:RunInstances" in _actions(statement):
            assert "*" != statement["Resource"]
    assert actions == {
        "ec2:RunInstances", "ec2:CreateTags", "ec2:DescribeImages", "iam:PassRole",
        "logs:CreateLogStream", "logs:PutLogEvents",
    }


def test_security_group_has_no_ingress(template):
    sg = template["Resources"]["InstanceSecurityGroup"]
    assert sg["Type"] == "AWS::EC2::SecurityGroup"
    assert "SecurityGroupIngress" not in sg["Properties"]
    assert sg["Properties"]["VpcId"] == {"Ref": "VpcId"}
    assert not any(r["Type"] == "AWS::EC2::SecurityGroupIngress" for r in template["Resources"].values())


def test_lambda_function_settings(template):
    fn = template["Resources"]["LaunchFunction"]["Properties"]
    assert fn["FunctionName"] == {"Fn::Sub": "easytdv-${RunId}-launch"}
    assert fn["Runtime"] in ("python3.12", "python3.13")
    assert fn["Handler"] == "launch.handler"
    assert fn["Timeout"] == 120
    assert fn["Code"] == {"S3Bucket": {"Ref": "Bucket"}, "S3Key": {"Ref": "LambdaCodeKey"}}
    assert set(fn["Environment"]["Variables"]) == {
        "RUN_ID", "AMI_ID", "INSTANCE_TYPE", "DISK_SIZE_GB", "INSTANCE_PROFILE_ARN",
        "SECURITY_GROUP_ID", "MAX_RUNTIME_HOURS", "BUCKET", "RUN_PREFIX",
    }
    log_group = template["Resources"]["LaunchFunctionLogGroup"]["Properties"]
    assert log_group["LogGroupName"] == {"Fn::Sub": "/aws/lambda/easytdv-${RunId}-launch"}
    assert log_group["RetentionInDays"] == 7


def _cfn_lint_command():
    local = REPO / "tests" / "sandbox" / ".venv" / "bin" / "cfn-lint"
    if local.exists():
        return [str(local)]
    found = shutil.which("cfn-lint")
    if found:
        return [found]
    if importlib.util.find_spec("cfnlint") is not None:
        return [sys.executable, "-m", "cfnlint"]
    return None


def test_cfn_lint_is_clean():
    command = _cfn_lint_command()
    if command is None:
        pytest.skip("cfn-lint is not installed")
    result = subprocess.run(
        command + ["--", str(STACK)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


# --------------------------------------------------------------------------
# Shell scripts
# --------------------------------------------------------------------------
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_pass_bash_syntax_check(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert script.read_text(encoding="utf-8").startswith("#!/bin/bash\n")


FAKE_AWS = r"""#!/bin/bash
# Fake AWS CLI for tests: "aws s3 cp" and "aws s3 sync" against $FAKE_S3_ROOT/<bucket>/<key>.
echo "aws $*" >>"$FAKE_S3_ROOT/.calls"
args=()
for a in "$@"; do
    case "$a" in --*) ;; *) args+=("$a") ;; esac
done
local_path() { local u="${1#s3://}"; echo "$FAKE_S3_ROOT/$u"; }
[ "${args[0]:-}" = s3 ] || { echo "fake aws: unsupported: $*" >&2; exit 2; }
src="${args[2]:-}"; dst="${args[3]:-}"
case "$src" in s3://*) src="$(local_path "$src")" ;; esac
case "$dst" in s3://*) dst="$(local_path "$dst")" ;; esac
case "${args[1]:-}" in
    cp)
        if [ ! -f "$src" ]; then
            echo "fatal error: An error occurred (404) when calling the HeadObject operation: Key \"$src\" does not exist" >&2
            exit 1
        fi
        mkdir -p "$(dirname "$dst")" && cp "$src" "$dst"
        ;;
    sync)
        if [ -n "${FAKE_AWS_FAIL_SYNC:-}" ]; then
            echo "upload failed: An error occurred (AccessDenied) when calling the PutObject operation" >&2
            exit 1
        fi
        mkdir -p "$dst" && cp -R "$src/." "$dst/"
        ;;
    *) echo "fake aws: unsupported: $*" >&2; exit 2 ;;
esac
"""


class Instance:
    """A fake instance: a base dir, a fake bucket, a PATH with a fake aws."""

    def __init__(self, root: Path):
        self.home = root / "home"
        self.s3 = root / "s3"
        self.bin = root / "bin"
        for d in (self.home, self.s3, self.bin):
            d.mkdir(parents=True)
        aws = self.bin / "aws"
        aws.write_text(FAKE_AWS)
        aws.chmod(aws.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        # The instance's python3 is the interpreter running the tests.
        (self.bin / "python3").symlink_to(sys.executable)
        self.inputs = self.s3 / BUCKET / PREFIX
        self.outputs = self.inputs / "outputs"
        self.inputs.mkdir(parents=True)

    def env(self, **extra):
        env = {
            k: v for k, v in os.environ.items()
            if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "AWS_", "EASYTDV_"))
        }
        env.update({
            "PATH": f"{self.bin}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
            "FAKE_S3_ROOT": str(self.s3),
            "EASYTDV_HOME": str(self.home),
            # The SSM prelude:
            "EASYTDV_BUCKET": BUCKET,
            "EASYTDV_PREFIX": PREFIX,
            "AWS_DEFAULT_REGION": "us-east-1",
            "PIP_CONFIG_FILE": os.devnull,
        })
        env.update(extra)
        return env

    def run(self, script: Path, timeout=300, **extra):
        # Like SSM: the prelude and the script run as one bash script.
        return subprocess.run(
            ["bash", str(script)], env=self.env(**extra), cwd=self.home,
            capture_output=True, text=True, timeout=timeout,
        )

    def upload_inputs(self, train_py: str, requirements: str):
        (self.inputs / "train.py").write_text(train_py)
        (self.inputs / "requirements.txt").write_text(requirements)


TRAIN_OK = """\
import os, pathlib
out = pathlib.Path(os.environ["OUTPUT_DIR"])
(out / "model.txt").write_text("weights")
(out / "checkpoints").mkdir()
(out / "checkpoints" / "epoch1.txt").write_text("1")
print("trained in", os.getcwd())
"""

TRAIN_FAILS = """\
import os, pathlib
out = pathlib.Path(os.environ["OUTPUT_DIR"])
(out / "partial.ckpt").write_text("half")
print("epoch 1 done")
raise RuntimeError("easytdv-test: loss is NaN")
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """One instance with install.sh already run (venv creation takes seconds)."""
    inst = Instance(tmp_path_factory.mktemp("instance"))
    inst.upload_inputs(TRAIN_OK, "# no requirements, so no network\n")
    result = inst.run(INSTALL)
    assert result.returncode == 0, result.stdout + result.stderr
    inst.install_result = result
    return inst


def test_install_downloads_inputs_and_creates_venv(installed):
    home = installed.home
    assert (home / "run" / "train.py").read_text() == TRAIN_OK
    assert (home / "run" / "requirements.txt").exists()
    assert os.access(home / "venv" / "bin" / "python", os.X_OK)
    assert "easytdv: downloading inputs" in installed.install_result.stdout
    assert "easytdv: requirements installed" in installed.install_result.stdout


def test_train_writes_outputs_to_the_bucket(installed):
    (installed.inputs / "train.py").write_text(TRAIN_OK)
    result = installed.run(TRAIN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (installed.outputs / "model.txt").read_text() == "weights"
    assert (installed.outputs / "checkpoints" / "epoch1.txt").exists()
    assert f"trained in {installed.home / 'run'}" in result.stdout
    assert "easytdv: outputs uploaded (2 files)" in result.stdout


def test_failing_training_still_syncs_outputs_and_fails(installed):
    (installed.inputs / "train.py").write_text(TRAIN_FAILS)
    result = installed.run(TRAIN)
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: easytdv-test: loss is NaN" in result.stderr
    assert "epoch 1 done" in result.stdout
    assert (installed.outputs / "partial.ckpt").read_text() == "half"
    assert "easytdv: outputs uploaded (1 files)" in result.stdout


def test_stopping_training_still_uploads_outputs(installed):
    (installed.inputs / "train.py").write_text(
        "import os, pathlib, time\n"
        "pathlib.Path(os.environ['OUTPUT_DIR'], 'checkpoint.txt').write_text('epoch 3')\n"
        "print('training-is-running', flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = subprocess.Popen(
        ["bash", str(TRAIN)], env=installed.env(), cwd=installed.home,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "training-is-running" in line:
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "easytdv: stop requested" in err
    assert "easytdv: outputs uploaded (1 files)" in "".join(lines) + out
    assert (installed.outputs / "checkpoint.txt").read_text() == "epoch 3"


def test_upload_failure_after_successful_training_is_an_error(installed):
    (installed.inputs / "train.py").write_text(TRAIN_OK)
    result = installed.run(TRAIN, FAKE_AWS_FAIL_SYNC="1")
    assert result.returncode == 90
    assert "outputs were not uploaded" in result.stderr


def test_train_without_install_fails_clearly(tmp_path):
    inst = Instance(tmp_path)
    result = inst.run(TRAIN)
    assert result.returncode == 2
    assert "install the requirements first" in result.stderr


def test_install_fails_clearly_when_an_input_is_missing(tmp_path):
    inst = Instance(tmp_path)
    (inst.inputs / "train.py").write_text(TRAIN_OK)
    result = inst.run(INSTALL)
    assert result.returncode == 3
    assert "easytdv: could not download" in result.stderr
    assert "requirements.txt" in result.stderr


def test_install_fails_clearly_on_a_bad_requirement(tmp_path):
    inst = Instance(tmp_path)
    inst.upload_inputs(TRAIN_OK, "this-package-does-not-exist-easytdv==9.9\n")
    result = inst.run(
        INSTALL,
        PIP_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_RETRIES="0",
        PIP_TIMEOUT="2",
    )
    assert result.returncode != 0
    assert "easytdv: pip could not install the requirements" in result.stderr
    # pip's own error is in the stderr tail, before our line.
    assert "this-package-does-not-exist-easytdv" in result.stderr


def test_bootstrap_in_the_sandbox_is_fast_and_harmless(tmp_path):
    inst = Instance(tmp_path)
    spy = tmp_path / "system-calls"
    for tool in ("shutdown", "systemctl", "curl"):
        fake = inst.bin / tool
        fake.write_text(f'#!/bin/bash\necho "{tool} $*" >>"{spy}"\nexit 0\n')
        fake.chmod(0o755)
    script = BOOTSTRAP.read_text().replace("__MAX_RUNTIME_MINUTES__", "1440")
    started = time.monotonic()
    result = subprocess.run(
        ["bash", "-c", script], env=inst.env(), cwd=tmp_path,
        capture_output=True, text=True, timeout=30,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert (inst.home / "bootstrap.done").exists()
    # With EASYTDV_HOME given (the sandbox), the machine is never touched.
    assert not spy.exists(), spy.read_text()
    assert elapsed < 10


FAKE_EC2_TOOLS = {
    # Every call is logged to $SPY; the state lives in $STATE_DIR.
    "shutdown": 'echo "shutdown $*" >>"$SPY"\n',
    "sleep": 'echo "sleep $*" >>"$SPY"\n',
    "systemctl": (
        'echo "systemctl $*" >>"$SPY"\n'
        'if [ "$1" = cat ] && [ "$2" != amazon-ssm-agent.service ]; then exit 1; fi\n'
    ),
    "curl": (
        'echo "curl $*" >>"$SPY"\n'
        'case "$*" in\n'
        '  *"-X PUT"*) [ -n "$IMDS_DOWN" ] && exit 7; echo token-123 ;;\n'
        '  *security-credentials/*)\n'
        '    n=$(( $(cat "$STATE_DIR/polls" 2>/dev/null || echo 0) + 1 )); echo $n >"$STATE_DIR/polls"\n'
        '    [ "$n" -ge "$CREDS_AFTER" ] || exit 22\n'
        '    echo "easytdv-role" ;;\n'
        'esac\n'
    ),
}


def _bootstrap_on_fake_ec2(tmp_path, **extra):
    inst = Instance(tmp_path)
    spy = tmp_path / "system-calls"
    state = tmp_path / "state"
    state.mkdir()
    for tool, body in FAKE_EC2_TOOLS.items():
        fake = inst.bin / tool
        fake.write_text("#!/bin/bash\n" + body + "exit 0\n")
        fake.chmod(0o755)
    script = BOOTSTRAP.read_text().replace("__MAX_RUNTIME_MINUTES__", "90")
    settings = {"CREDS_AFTER": "3", "IMDS_DOWN": "", **extra}
    env = inst.env(EASYTDV_BOOTSTRAP_ASSUME_EC2="1", SPY=str(spy), STATE_DIR=str(state), **settings)
    result = subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (inst.home / "bootstrap.done").exists()
    return result, spy.read_text().splitlines()


def test_bootstrap_on_ec2_waits_for_credentials_then_restarts_the_agent(tmp_path):
    result, calls = _bootstrap_on_fake_ec2(tmp_path)
    assert calls[0].startswith("shutdown -h +90 ")
    polls = [c for c in calls if "security-credentials/" in c]
    assert len(polls) == 3
    assert all("X-aws-ec2-metadata-token: token-123" in c for c in polls)
    assert calls[-1] == "systemctl restart amazon-ssm-agent.service"
    assert "credentials visible (easytdv-role)" in result.stdout


def test_bootstrap_on_ec2_without_metadata_skips_the_agent_restart(tmp_path):
    result, calls = _bootstrap_on_fake_ec2(tmp_path, IMDS_DOWN="1")
    assert calls[0].startswith("shutdown -h +90 ")
    assert not any(c.startswith("systemctl restart") for c in calls)
    assert not any("security-credentials" in c for c in calls)
    assert "not on EC2" in result.stdout


# --------------------------------------------------------------------------
# Launcher Lambda
# --------------------------------------------------------------------------
LAMBDA_ENV = {
    "RUN_ID": RUN_ID,
    "AMI_ID": "ami-0123456789abcdef0",
    "INSTANCE_TYPE": "t3.large",
    "DISK_SIZE_GB": "64",
    "INSTANCE_PROFILE_ARN": f"arn:aws:iam::123456789012:instance-profile/easytdv-{RUN_ID}",
    "SECURITY_GROUP_ID": "sg-0123456789abcdef0",
    "MAX_RUNTIME_HOURS": "24",
    "BUCKET": BUCKET,
    "RUN_PREFIX": PREFIX,
}

IAM_NOT_YET = (
    "InvalidParameterValue",
    f"Value (arn:aws:iam::123456789012:instance-profile/easytdv-{RUN_ID}) for parameter "
    "iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN",
)


@pytest.fixture
def launch(monkeypatch, tmp_path):
    for key, value in LAMBDA_ENV.items():
        monkeypatch.setenv(key, value)
    # The function package, as the core builds it: both files at the zip root.
    package = tmp_path / "package"
    package.mkdir()
    shutil.copy(LAUNCH_PY, package / "launch.py")
    shutil.copy(BOOTSTRAP, package / "bootstrap.sh")
    spec = importlib.util.spec_from_file_location("easytdv_launch_under_test", package / "launch.py")
    module = importlib.util.module_from_spec(spec)
    sys.dont_write_bytecode, saved = True, sys.dont_write_bytecode
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    module.slept = []
    monkeypatch.setattr(module, "_sleep", module.slept.append)
    return module


def _client_error(code, message, operation="RunInstances"):
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class FakeEc2:
    def __init__(self, run_results, root_device="/dev/xvda"):
        self.run_results = list(run_results)
        self.root_device = root_device
        self.run_calls = []
        self.describe_calls = []

    def describe_images(self, **kwargs):
        self.describe_calls.append(kwargs)
        return {"Images": [{"ImageId": kwargs["ImageIds"][0], "RootDeviceName": self.root_device}]}

    def run_instances(self, **kwargs):
        self.run_calls.append(kwargs)
        result = self.run_results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def _ok(instance_id="i-0abc1234def567890"):
    return {"Instances": [{"InstanceId": instance_id}]}


def test_run_instances_request(launch, monkeypatch):
    ec2 = FakeEc2([_ok()], root_device="/dev/sda1")
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    assert launch.handler({}, None) == {"instance_id": "i-0abc1234def567890"}
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
    assert req["BlockDeviceMappings"] == [{
        "DeviceName": "/dev/sda1",
        "Ebs": {"VolumeSize": 64, "VolumeType": "gp3", "Encrypted": True, "DeleteOnTermination": True},
    }]
    expected_tags = [
        {"Key": "Name", "Value": f"easytdv-{RUN_ID}"},
        {"Key": "easytdv:run-id", "Value": RUN_ID},
        {"Key": "easytdv:app", "Value": "easytdv"},
    ]
    specs = {s["ResourceType"]: s["Tags"] for s in req["TagSpecifications"]}
    assert specs == {"instance": expected_tags, "volume": expected_tags}
    assert req["UserData"].startswith("#!/bin/bash\n")
    assert "__MAX_RUNTIME_MINUTES__" not in req["UserData"]
    assert 'MAX_RUNTIME_MINUTES="1440"' in req["UserData"]
    assert req["ClientToken"] == f"easytdv-{RUN_ID}-1"
    assert launch.slept == []


def test_a_relaunch_gets_its_own_idempotency_token(launch, monkeypatch):
    ec2 = FakeEc2([_ok()], root_device="/dev/xvda")
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2 if service == "ec2" else None)
    launch.handler({"launch": 2}, None)
    assert ec2.run_calls[0]["ClientToken"] == f"easytdv-{RUN_ID}-2"
    for bad in ({"launch": 0}, {"launch": "2"}, {"launch": True}):
        with pytest.raises(launch.LaunchError):
            launch.handler(bad, None)


def test_retries_on_iam_propagation_then_succeeds(launch, monkeypatch):
    """Against botocore's real EC2 model (Stubber validates every request)."""
    client = boto3.client(
        "ec2", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    stub = Stubber(client)
    stub.add_response(
        "describe_images",
        {"Images": [{"ImageId": "ami-0123456789abcdef0", "RootDeviceName": "/dev/xvda"}]},
        {"ImageIds": ["ami-0123456789abcdef0"]},
    )
    stub.add_client_error("run_instances", *IAM_NOT_YET)
    stub.add_client_error("run_instances", "InvalidParameterValue",
                          "Invalid IAM Instance Profile name easytdv-x")
    stub.add_response("run_instances", {"Instances": [{"InstanceId": "i-0fedcba9876543210"}]})
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: client)
    with stub:
        assert launch.handler({}, None) == {"instance_id": "i-0fedcba9876543210"}
        stub.assert_no_pending_responses()
    assert len(launch.slept) == 2
    assert launch.slept[1] > launch.slept[0] > 0


def test_other_errors_fail_at_once_with_a_clear_message(launch, monkeypatch):
    ec2 = FakeEc2([_client_error(
        "InsufficientInstanceCapacity",
        "We currently do not have sufficient g5.xlarge capacity in the Availability Zone you requested")])
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2)
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
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2)
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
    monkeypatch.setattr(launch.boto3, "client", lambda service, **kw: ec2)
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
def test_stack_and_launcher_work_in_moto(monkeypatch, tmp_path):
    moto = pytest.importorskip("moto")

    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")

    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(LAUNCH_PY, "launch.py")
        archive.write(BOOTSTRAP, "bootstrap.sh")

    with moto.mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/launcher.zip", Body=zipped.getvalue())
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/stack.yaml", Body=STACK.read_bytes())
        ec2 = boto3.client("ec2")
        vpc = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"])
        ami = next(i for i in ec2.describe_images(Owners=["amazon"])["Images"] if i.get("RootDeviceName"))
        params = {
            "RunId": RUN_ID, "Bucket": BUCKET, "RunPrefix": PREFIX,
            "LambdaCodeKey": f"{PREFIX}/launcher.zip", "InstanceType": "t3.large",
            "DiskSizeGb": "30", "AmiId": ami["ImageId"], "VpcId": vpc, "MaxRuntimeHours": "2",
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

        function = boto3.client("lambda").get_function_configuration(
            FunctionName=outputs["LaunchFunctionName"])
        variables = function["Environment"]["Variables"]
        assert all(isinstance(v, str) for v in variables.values()), variables

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
            InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior")
        assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
        volume_id = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        volume = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]
        assert (volume["Size"], volume["VolumeType"], volume["Encrypted"]) == (30, "gp3", True)

        cfn.delete_stack(StackName=stack_name)
        assert not [r for r in boto3.client("iam").list_roles()["Roles"]
                    if r["RoleName"].startswith(f"easytdv-{RUN_ID}")]
