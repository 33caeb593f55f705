"""Template structure, least privilege and cfn-lint of templates/stack.yaml."""

import importlib.util
import re
import shutil
import subprocess
import sys

import pytest
from tpl_helpers import PREFIX, REPO, STACK, _actions, _as_list, _roles, _statements


# --------------------------------------------------------------------------
# Template: structure and least privilege
# --------------------------------------------------------------------------
def test_parameters_and_outputs(template):
    params = template["Parameters"]
    assert set(params) == {
        "RunId",
        "Bucket",
        "RunPrefix",
        "LambdaCodeKey",
        "InstanceType",
        "DiskSizeGb",
        "AmiId",
        "VpcId",
        "MaxRuntimeHours",
    }
    assert params["VpcId"]["Type"] == "AWS::EC2::VPC::Id"
    assert params["DiskSizeGb"]["Type"] == "Number"
    assert (params["DiskSizeGb"]["MinValue"], params["DiskSizeGb"]["MaxValue"]) == (8, 16384)
    assert params["MaxRuntimeHours"]["Default"] == 24
    assert params["RunId"]["AllowedPattern"] == "^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$"
    assert set(template["Outputs"]) == {
        "LaunchFunctionName",
        "InstanceProfileArn",
        "InstanceRoleArn",
        "SecurityGroupId",
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
        assert res["Type"] != "AWS::IAM::Policy", f"{name}: policies live inline in their role"
        assert res["Type"] != "AWS::IAM::ManagedPolicy", name


def test_instance_role_is_s3_only_and_scoped_to_the_run(template):
    role = template["Resources"]["InstanceRole"]["Properties"]
    assert role["RoleName"] == {"Fn::Sub": "easytdv-${RunId}-instance"}
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "ec2.amazonaws.com"}]
    # Not AmazonSSMManagedInstanceCore: it grants ssm:GetParameter(s) on every
    # parameter of the account to whatever runs on the machine.
    assert "ManagedPolicyArns" not in role
    objects, prefixes = set(), []
    for statement in _statements(template["Resources"]["InstanceRole"]):
        if statement.get("Sid") == "SsmAgentRunCommand":
            actions = set(_actions(statement))
            assert actions == SSM_AGENT_ACTIONS, actions
            assert not any(a.startswith("ssm:GetParameter") for a in actions)
            continue
        for action in _actions(statement):
            assert not action.startswith(("ec2:", "iam:", "lambda:", "sts:", "cloudformation:")), action
            assert action in ("s3:GetObject", "s3:PutObject", "s3:ListBucket"), action
            if action == "s3:ListBucket":
                assert _as_list(statement["Resource"]) == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}"}]
                prefixes += [_text(p) for p in _as_list(statement["Condition"]["StringLike"]["s3:prefix"])]
                assert list(statement["Condition"]) == ["StringLike"]
            else:
                objects |= {(action, _text(r)) for r in _as_list(statement["Resource"])}
    bucket = "arn:${AWS::Partition}:s3:::${Bucket}/"
    run = {("s3:GetObject", bucket + "${RunPrefix}/*"), ("s3:PutObject", bucket + "${RunPrefix}/outputs/*")}
    # The environment cache (install.sh): only easytdv/cache/*, when granted.
    cache = {("s3:GetObject", bucket + "easytdv/cache/*"), ("s3:PutObject", bucket + "easytdv/cache/*")}
    assert run <= objects and objects in (run, run | cache), objects
    assert "${RunPrefix}/*" in prefixes and set(prefixes) <= {"${RunPrefix}/*", "easytdv/cache/*"}, prefixes


# What the SSM agent needs to register and take Run Command messages.
SSM_AGENT_ACTIONS = {
    "ssm:UpdateInstanceInformation",
    "ssm:ListInstanceAssociations",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
}


def _text(value):
    """A resource or condition value as text (plain or !Sub)."""
    return value["Fn::Sub"] if isinstance(value, dict) else value


def test_launcher_can_only_pass_the_instance_role(template):
    passrole = [s for s in _statements(template["Resources"]["LaunchFunctionRole"]) if "iam:PassRole" in _actions(s)]
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
            assert _actions(statement) in (["ec2:DescribeImages"], ["ec2:DescribeInstances"])
        if "ec2:CreateTags" in _actions(statement):
            assert statement["Condition"] == {"StringEquals": {"ec2:CreateAction": "RunInstances"}}
        if "ec2:RunInstances" in _actions(statement):
            assert "*" != statement["Resource"]
    assert actions == {
        "ec2:RunInstances",
        "ec2:CreateTags",
        "ec2:DescribeImages",
        "ec2:DescribeInstances",
        "iam:PassRole",
        "s3:GetObject",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
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
        "RUN_ID",
        "AMI_ID",
        "INSTANCE_TYPE",
        "DISK_SIZE_GB",
        "INSTANCE_PROFILE_ARN",
        "SECURITY_GROUP_ID",
        "MAX_RUNTIME_HOURS",
        "BUCKET",
        "RUN_PREFIX",
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
    result = subprocess.run(command + ["--", str(STACK)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
