"""Template structure, least privilege and cfn-lint of templates/stack.yaml."""

import importlib.util
import re
import shutil
import subprocess
import sys

import pytest
from tpl_helpers import BUCKET, PREFIX, REPO, RUN_ID, STACK, _actions, _as_list, _roles, _statements


# --------------------------------------------------------------------------
# Template: structure and least privilege
# --------------------------------------------------------------------------
def test_parameters_and_outputs(template):
    params = template["Parameters"]
    assert set(params) == {
        "Engine",
        "FrameworkImageAccount",
        "DataBucket",
        "DataPrefix",
        "RunId",
        "Bucket",
        "RunPrefix",
        "LambdaCodeKey",
        "InstanceType",
        "DiskSizeGb",
        "AmiId",
        "VpcId",
        "MaxRuntimeHours",
        "CacheKey",
        "EbsKmsKeyArn",
    }
    # Put into the instance role's ARNs: a key or nothing, never a wildcard.
    key = re.compile(params["CacheKey"]["AllowedPattern"])
    assert key.match("a" * 64) and key.match("") and not key.match("*") and not key.match("a" * 63 + "*")
    key = re.compile(params["EbsKmsKeyArn"]["AllowedPattern"])
    assert key.match("arn:aws:kms:eu-west-3:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert key.match("") and params["EbsKmsKeyArn"]["Default"] == ""
    for bad in (
        "alias/aws/ebs",
        "arn:aws:kms:eu-west-3:123456789012:alias/mine",
        "arn:aws:kms:eu-west-3:123456789012:key/*",
    ):
        assert not key.match(bad), bad
    # String (a SageMaker run names no VPC), still only a VPC id or empty
    assert params["VpcId"]["Type"] == "String"
    vpc = re.compile(params["VpcId"]["AllowedPattern"])
    assert vpc.match("vpc-0123456789abcdef0") and vpc.match("") and not vpc.match("vpc-*")
    assert params["Engine"]["AllowedValues"] == ["ec2", "sagemaker"] and params["Engine"]["Default"] == "ec2"
    assert params["DiskSizeGb"]["Type"] == "Number"
    assert (params["DiskSizeGb"]["MinValue"], params["DiskSizeGb"]["MaxValue"]) == (8, 16384)
    assert params["MaxRuntimeHours"]["Default"] == 24
    assert params["RunId"]["AllowedPattern"] == "^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$"
    assert set(template["Outputs"]) == {
        "LaunchFunctionName",
        "InstanceProfileArn",
        "InstanceRoleArn",
        "SecurityGroupId",
        "SageMakerRoleArn",
    }


def test_run_prefix_pattern_rejects_wildcards_and_policy_variables(template):
    pattern = re.compile(template["Parameters"]["RunPrefix"]["AllowedPattern"])
    assert pattern.match(PREFIX)
    for bad in ("easytdv/runs/*", "easytdv/${aws:username}", "/easytdv/runs/x", "easytdv/runs/x/", "a?b"):
        assert not pattern.match(bad), bad


def test_no_wildcard_actions_anywhere(template):
    roles = _roles(template)
    assert set(roles) == {"InstanceRole", "LaunchFunctionRole", "SageMakerRole"}
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


OWN_ACCOUNT = {"s3:ResourceAccount": {"Ref": "AWS::AccountId"}}


RUN_SECRETS = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/easytdv/runs/${RunId}/secrets/*"


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
        if statement.get("Sid") in ("ReadRunSecrets", "DecryptRunSecrets"):
            continue  # the run's own secrets: test_instance_role_reads_only_its_own_runs_secrets
        for action in _actions(statement):
            assert not action.startswith(("ec2:", "iam:", "lambda:", "sts:", "cloudformation:")), action
            assert action in ("s3:GetObject", "s3:PutObject", "s3:ListBucket"), action
            # Only this account's bucket, whatever its name (item 5 of issue 20).
            assert statement["Condition"]["StringEquals"] == OWN_ACCOUNT, statement.get("Sid")
            if action == "s3:ListBucket":
                assert _as_list(statement["Resource"]) == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}"}]
                prefixes += [_text(p) for p in _as_list(statement["Condition"]["StringLike"]["s3:prefix"])]
                assert sorted(statement["Condition"]) == ["StringEquals", "StringLike"]
            else:
                objects |= {(action, _text(r)) for r in _as_list(statement["Resource"])}
    bucket = "arn:${AWS::Partition}:s3:::${Bucket}/"
    run = {("s3:GetObject", bucket + "${RunPrefix}/*"), ("s3:PutObject", bucket + "${RunPrefix}/outputs/*")}
    # The environment cache (install.sh): every saved environment may be read,
    # only the run's own key written.
    cache = {("s3:GetObject", bucket + "easytdv/cache/*")} | {
        ("s3:PutObject", bucket + "easytdv/cache/${CacheKey}" + ext) for ext in (".tar.zst", ".tar.gz", ".json")
    }
    # The project's files (content-addressed, shared by the bucket's runs): read only.
    blobs = {("s3:GetObject", bucket + "easytdv/blobs/*")}
    assert objects == run | cache | blobs, objects
    assert "${RunPrefix}/*" in prefixes and set(prefixes) <= {"${RunPrefix}/*", "easytdv/cache/*"}, prefixes


def test_the_run_roles_read_only_their_own_runs_secrets(template):
    """Issue 21: the instance role and the SageMaker job's role have
    GetParameters on the run's own path only; kms:Decrypt only through
    Parameter Store in the run's region, for those parameters."""
    reads = []
    for role in ("InstanceRole", "SageMakerRole"):
        by_sid = {s.get("Sid"): s for s in _statements(template["Resources"][role])}
        read = by_sid["ReadRunSecrets"]
        reads.append(read)
        assert _actions(read) == ["ssm:GetParameters"] and "Condition" not in read, role
        assert [_text(r) for r in _as_list(read["Resource"])] == [RUN_SECRETS], role
        decrypt = by_sid["DecryptRunSecrets"]
        assert _actions(decrypt) == ["kms:Decrypt"], role
        assert decrypt["Condition"] == {
            "StringEquals": {"kms:ViaService": {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}},
            "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": {"Fn::Sub": RUN_SECRETS}},
        }, role
    # No other statement of any role reads parameters (the launcher's Lambda none).
    for name, res in template["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        for statement in _statements(res):
            if any(statement is r for r in reads):
                continue
            assert not any(a.startswith("ssm:GetParameter") for a in _actions(statement)), (name, statement)


def test_a_run_may_write_only_its_own_environment_cache():
    # The instance role's statements as IAM would hold them for a run with
    # CacheKey = key, evaluated with the sandbox's matcher (tests/policy's
    # recorded-call check applies the same to every call a sandbox run makes).
    sys.path.insert(0, str(REPO / "tests" / "policy"))
    import policy_check

    from easytdv_sandbox.iam_match import decide as iam_decide

    key, other = "a" * 64, "b" * 64
    params = {"RunId": RUN_ID, "Bucket": BUCKET, "RunPrefix": PREFIX, "CacheKey": key}
    variables = policy_check.stack_variables(params, "eu-west-3", "123456789012")
    statements = policy_check.role_statements(policy_check.load_stack(), "InstanceRole", variables)

    def decide(action, name):
        return iam_decide(statements, action, f"arn:aws:s3:::{BUCKET}/easytdv/cache/{name}")

    for ext in (".tar.zst", ".tar.gz", ".json"):
        assert decide("s3:PutObject", key + ext) == "Allow"
        assert decide("s3:PutObject", other + ext) == "ImplicitDeny"
        assert decide("s3:GetObject", other + ext) == "Allow"
    assert decide("s3:PutObject", key + ".tar.zst.more") == "ImplicitDeny"
    assert decide("s3:PutObject", f"{key}/x") == "ImplicitDeny"


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
    actions, kms = set(), []
    for statement in _statements(template["Resources"]["LaunchFunctionRole"]):
        actions.update(_actions(statement))
        if statement.get("Resource") == "*":
            # Only read-only Describe calls (no resource-level support) get "*".
            assert _actions(statement) in (["ec2:DescribeImages"], ["ec2:DescribeInstances"])
        if "ec2:CreateTags" in _actions(statement):
            assert statement["Condition"] == {"StringEquals": {"ec2:CreateAction": "RunInstances"}}
        if "ec2:RunInstances" in _actions(statement):
            assert "*" != statement["Resource"]
        if any(a.startswith("kms:") for a in _actions(statement)):
            kms.append(statement)
    assert actions == {
        "ec2:RunInstances",
        "ec2:CreateTags",
        "ec2:DescribeImages",
        "ec2:DescribeInstances",
        "iam:PassRole",
        "s3:GetObject",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        # EBS encryption with a customer-managed default key (AWS's documented list)
        "kms:CreateGrant",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    }
    # Exactly the default EBS key the app passes (or a key id that cannot
    # exist), only through EC2 in this region; grants only for AWS resources.
    no_key = {"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/no-customer-managed-key"}
    via_ec2 = {"kms:ViaService": {"Fn::Sub": "ec2.${AWS::Region}.amazonaws.com"}}
    assert len(kms) == 2
    for statement in kms:
        assert statement["Resource"] == {"Fn::If": ["UseCustomerEbsKey", {"Ref": "EbsKmsKeyArn"}, no_key]}
        assert statement["Condition"]["StringEquals"] == via_ec2
        if "kms:CreateGrant" in _actions(statement):
            assert _actions(statement) == ["kms:CreateGrant"]
            assert statement["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}
    assert template["Conditions"]["UseCustomerEbsKey"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "EbsKmsKeyArn"}, ""]}]}


def test_each_engine_creates_only_its_own_resources(template):
    assert {k: v for k, v in template["Conditions"].items() if k != "UseCustomerEbsKey"} == {
        "UseEc2": {"Fn::Equals": [{"Ref": "Engine"}, "ec2"]},
        "UseSageMaker": {"Fn::Equals": [{"Ref": "Engine"}, "sagemaker"]},
    }
    for name, res in template["Resources"].items():
        want = "UseSageMaker" if name == "SageMakerRole" else "UseEc2"
        assert res.get("Condition") == want, name
    for name, out in template["Outputs"].items():
        assert out.get("Condition") == ("UseSageMaker" if name == "SageMakerRoleArn" else "UseEc2"), name


def test_sagemaker_role_is_scoped_to_the_run_its_logs_and_the_framework_images(template):
    role = template["Resources"]["SageMakerRole"]["Properties"]
    assert role["RoleName"] == {"Fn::Sub": "easytdv-${RunId}-sagemaker"}
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "sagemaker.amazonaws.com"}]
    assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role
    grants = {}
    secrets = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/easytdv/runs/${RunId}/secrets/*"
    for statement in _statements(template["Resources"]["SageMakerRole"]):
        for action in _actions(statement):
            grants.setdefault(action, []).extend(_text(r) for r in _as_list(statement["Resource"]))
            if action.startswith("s3:"):
                assert statement["Condition"]["StringEquals"] == OWN_ACCOUNT, statement.get("Sid")
            if action == "s3:ListBucket":
                # The run's prefix, and the data's folder (issue 21) only.
                prefix = "${DataPrefix}*" if statement["Sid"] == "ListRunDataOnly" else "${RunPrefix}/*"
                want = {"StringEquals": OWN_ACCOUNT, "StringLike": {"s3:prefix": {"Fn::Sub": prefix}}}
                if statement["Sid"] == "ListRunDataOnly":
                    # A data folder's blobs are read by name, never listed.
                    want["StringNotLike"] = {"s3:prefix": "easytdv/blobs/*"}
                assert statement["Condition"] == want
            if action == "cloudwatch:PutMetricData":
                assert statement["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}
            if action == "kms:Decrypt":  # only through Parameter Store, only this run's secrets
                assert statement["Condition"] == {
                    "StringEquals": {"kms:ViaService": {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"}},
                    "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": {"Fn::Sub": secrets}},
                }
    bucket = "arn:${AWS::Partition}:s3:::${Bucket}"
    logs = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/sagemaker/TrainingJobs:"
    ecr = "arn:${AWS::Partition}:ecr:${AWS::Region}:${FrameworkImageAccount}:repository/pytorch-training"
    assert grants == {
        "s3:GetObject": [bucket + "/${RunPrefix}/*", "arn:${AWS::Partition}:s3:::${DataBucket}/${DataPrefix}*"],
        "s3:PutObject": [bucket + "/${RunPrefix}/outputs/*"],
        "s3:ListBucket": [bucket, "arn:${AWS::Partition}:s3:::${DataBucket}"],
        "logs:CreateLogGroup": [logs + "*"],
        "logs:DescribeLogStreams": [logs + "*"],
        "logs:CreateLogStream": [logs + "log-stream:easytdv-${RunId}-*"],
        "logs:PutLogEvents": [logs + "log-stream:easytdv-${RunId}-*"],
        "ecr:BatchCheckLayerAvailability": [ecr],
        "ecr:BatchGetImage": [ecr],
        "ecr:GetDownloadUrlForLayer": [ecr],
        # these two take no resource-level restriction
        "ecr:GetAuthorizationToken": ["*"],
        "cloudwatch:PutMetricData": ["*"],
        # the run's secrets (issue 21): this run's parameters only
        "ssm:GetParameters": [secrets],
        "kms:Decrypt": ["arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"],
    }


def test_the_data_prefix_is_a_folder_under_easytdv_with_no_wildcard_or_variable(template):
    """Issue 21: DataPrefix goes into the SageMaker role's policy: only a folder
    under easytdv/ (where the boundary lets run roles read), S3's safe
    characters, never `*`, `?` or `${...}` (IAM would read them)."""
    pattern = re.compile(template["Parameters"]["DataPrefix"]["AllowedPattern"])
    for ok in ("easytdv/blobs/", f"{PREFIX}/", "easytdv/datasets/points v2/", "easytdv/a/(b)!/"):
        assert pattern.fullmatch(ok), ok
    for bad in ("", "datasets/", "easytdv/", "easytdv/*/", "easytdv/a?/", "easytdv/${aws:username}/", "easytdv/a",
                "easytdv//a/", "/easytdv/a/"):  # fmt: skip
        assert not pattern.fullmatch(bad), bad


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
        "BUCKET_OWNER",
    }
    assert fn["Environment"]["Variables"]["BUCKET_OWNER"] == {"Ref": "AWS::AccountId"}
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
