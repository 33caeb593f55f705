"""The base stack's roles (templates/base.yaml; issue 22, item 2), tried as attacks.

One machine role serves every EC2 run of a region, so the per-run guarantee
comes from IAM policy variables: a machine's instance-profile credentials have
`aws:userid` = "<role id>:<instance id>", and every grant of its own is keyed
by it. Each test is what untrusted code on one machine (a package the training
installs) could try against another run, evaluated with IAM's documented rules
(evaluator.py), with the permissions boundary the role carries.
"""

from pathlib import Path

import evaluator
import policy_check
import pytest

BASE = Path(__file__).resolve().parents[2] / "templates" / "base.yaml"
ACCOUNT = "123456789012"
REGION = "eu-west-3"
ROLE_ID = "AROAEXAMPLEBASEMACHINE"
A = f"{ROLE_ID}:i-0aaaaaaaaaaaaaaaa"
B = f"{ROLE_ID}:i-0bbbbbbbbbbbbbbbb"
VPC = "vpc-01234567"
SG = "sg-0base00000000000"
MACHINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/easytdv-base-{REGION}-instance"
RUN = "20261206-101500-a1b2c3"
OTHER_RUN = "20261206-101600-d4e5f6"


def obj(key: str, bucket: str = "easytdv-b") -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def base() -> dict:
    return policy_check.load_stack(BASE)


def statements(logical: str) -> list[dict]:
    variables = policy_check.stack_variables(
        {
            "VpcId": VPC,
            "EbsKmsKeyArn": "",
            "LauncherName": "easytdv-base-launch-0123456789ab",
            "MachineSecurityGroup.GroupId": SG,
            "InstanceRole.Arn": MACHINE_ROLE,
        },
        REGION,
        ACCOUNT,
    )
    return policy_check.role_statements(base(), logical, variables)


def machine(userid: str, action: str, resource: str, **context) -> str:
    ctx = {"aws:userid": userid, "aws:PrincipalAccount": ACCOUNT, "s3:ResourceAccount": ACCOUNT, **context}
    docs = [{"Statement": statements("InstanceRole")}]
    return evaluator.evaluate(docs, action, resource, ctx, boundary=policy_check.load_boundary())


def launcher(action: str, resource: str, **context) -> str:
    ctx = {"aws:PrincipalAccount": ACCOUNT, "s3:ResourceAccount": ACCOUNT, **context}
    docs = [{"Statement": statements("LaunchFunctionRole")}]
    return evaluator.evaluate(docs, action, resource, ctx, boundary=policy_check.load_boundary())


def own(userid: str, run: str, path: str) -> str:
    return obj(f"easytdv/m/{userid}/{run}/{path}")


# --- a machine and its own folder -------------------------------------------------------


def test_a_machine_reads_its_runs_inputs_and_writes_its_outputs_in_its_own_folder():
    assert machine(A, "s3:GetObject", own(A, RUN, "project.json")) == "Allow"
    assert machine(A, "s3:GetObject", own(A, RUN, "scripts/train.sh")) == "Allow"
    assert machine(A, "s3:PutObject", own(A, RUN, "outputs/model.pt")) == "Allow"
    assert machine(A, "s3:PutObject", own(A, RUN, "outputs/_logs/train/000001.log")) == "Allow"
    assert machine(A, "s3:PutObject", own(A, RUN, "environment/env.tar.zst")) == "Allow"


def test_a_machine_cannot_change_its_own_scripts_or_manifests():
    for path in ("scripts/train.sh", "project.json", "data.json", "scripts/outputs/x"):
        assert machine(A, "s3:PutObject", own(A, RUN, path)) == "ImplicitDeny", path
    # Its outputs are a run's: a folder that is no run id is not written.
    assert machine(A, "s3:PutObject", obj(f"easytdv/m/{A}//outputs/x")) == "ImplicitDeny"


@pytest.mark.parametrize(
    "action, resource",
    [
        ("s3:GetObject", own(B, OTHER_RUN, "project.json")),
        ("s3:GetObject", own(B, OTHER_RUN, "outputs/model.pt")),
        ("s3:PutObject", own(B, OTHER_RUN, "outputs/model.pt")),
        ("s3:PutObject", own(B, OTHER_RUN, "scripts/train.sh")),
        # The app's own copy of every run's request, and the per-run layout of older runs.
        ("s3:GetObject", obj(f"easytdv/runs/{OTHER_RUN}/project.json")),
        ("s3:GetObject", obj(f"easytdv/runs/{OTHER_RUN}/outputs/model.pt")),
        ("s3:PutObject", obj(f"easytdv/runs/{OTHER_RUN}/outputs/model.pt")),
        # The shared folders, written only by the app.
        ("s3:PutObject", obj("easytdv/blobs/" + "0" * 64)),
        ("s3:PutObject", obj("easytdv/cache/" + "0" * 64 + ".tar.zst")),
        ("s3:PutObject", obj("easytdv/cache/" + "0" * 64 + ".json")),
        # Anything else of the account.
        ("s3:GetObject", obj("payroll.csv", bucket="company-data")),
    ],
)
def test_a_machine_cannot_reach_another_runs_folder_or_the_shared_ones(action, resource):
    assert machine(A, action, resource) != "Allow", f"{action} {resource}"


def test_the_bucket_wildcard_cannot_reach_inside_another_machines_folder():
    """`*/easytdv/blobs/*` also matches `<bucket>/easytdv/m/<B>/…/easytdv/blobs/x` (IAM's `*` crosses `/`)."""
    inside_b = f"easytdv/m/{B}/{OTHER_RUN}/outputs/"
    for path in ("easytdv/blobs/x", "easytdv/cache/x.tar.zst", f"easytdv/m/{A}/{RUN}/outputs/x"):
        assert machine(A, "s3:GetObject", obj(inside_b + path)) == "Deny", path
        assert machine(A, "s3:PutObject", obj(inside_b + path)) == "Deny", path
    # What the machine really reads stays allowed.
    assert machine(A, "s3:GetObject", obj("easytdv/blobs/" + "a" * 64)) == "Allow"
    assert machine(A, "s3:GetObject", obj("easytdv/cache/" + "a" * 64 + ".tar.zst")) == "Allow"


def test_another_accounts_bucket_is_out_of_reach():
    assert machine(A, "s3:GetObject", own(A, RUN, "project.json"), **{"s3:ResourceAccount": "111111111111"}) != "Allow"
    assert machine(A, "s3:GetObject", obj("easytdv/blobs/x"), **{"s3:ResourceAccount": "111111111111"}) != "Allow"


def test_a_machine_lists_only_its_own_folder():
    bucket = "arn:aws:s3:::easytdv-b"
    assert machine(A, "s3:ListBucket", bucket, **{"s3:prefix": f"easytdv/m/{A}/{RUN}/outputs/"}) == "Allow"
    for prefix in ("", "easytdv/", "easytdv/m/", f"easytdv/m/{B}/", f"easytdv/m/{ROLE_ID}", "easytdv/runs/"):
        assert machine(A, "s3:ListBucket", bucket, **{"s3:prefix": prefix}) != "Allow", prefix
    assert machine(A, "s3:ListBucket", bucket) != "Allow", "no prefix: the whole bucket"


# --- secrets ------------------------------------------------------------------------------


def secret(run: str, name: str = "HF_TOKEN") -> str:
    return f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/easytdv/runs/{run}/secrets/{name}"


def test_a_machine_reads_only_the_secrets_tagged_with_it():
    assert machine(A, "ssm:GetParameters", secret(RUN), **{"aws:ResourceTag/easytdv-machine": A}) == "Allow"
    assert machine(A, "ssm:GetParameters", secret(OTHER_RUN), **{"aws:ResourceTag/easytdv-machine": B}) != "Allow"
    assert machine(A, "ssm:GetParameters", secret(OTHER_RUN)) != "Allow", "an untagged secret"
    other = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/db-password"
    assert machine(A, "ssm:GetParameters", other, **{"aws:ResourceTag/easytdv-machine": A}) != "Allow"
    for action in ("ssm:GetParameter", "ssm:GetParametersByPath", "ssm:AddTagsToResource", "ssm:PutParameter"):
        assert machine(A, action, secret(RUN), **{"aws:ResourceTag/easytdv-machine": A}) != "Allow", action


def test_secrets_are_decrypted_only_through_parameter_store():
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
    through_ssm = {"kms:ViaService": f"ssm.{REGION}.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": secret(RUN)}
    assert machine(A, "kms:Decrypt", key, **through_ssm) == "Allow"
    assert machine(A, "kms:Decrypt", key) != "Allow"
    assert machine(A, "kms:Decrypt", key, **{**through_ssm, "kms:ViaService": f"s3.{REGION}.amazonaws.com"}) != "Allow"


def test_a_machine_has_no_way_to_more():
    for action, resource in [
        ("ec2:RunInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*"),
        ("iam:PassRole", MACHINE_ROLE),
        ("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:easytdv-base-launch-0123456789ab"),
        ("ssm:SendCommand", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/i-0bbbbbbbbbbbbbbbb"),
        ("sts:AssumeRole", MACHINE_ROLE),
    ]:
        assert machine(A, action, resource) != "Allow", action


# --- the launcher ----------------------------------------------------------------------------


def instance() -> str:
    return f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/*"


def test_the_launcher_starts_only_machines_tagged_for_a_run_with_imdsv2():
    tagged = {"aws:RequestTag/easytdv:run-id": RUN, "ec2:MetadataHttpTokens": "required"}
    assert launcher("ec2:RunInstances", instance(), **tagged) == "Allow"
    assert launcher("ec2:RunInstances", instance(), **{"ec2:MetadataHttpTokens": "required"}) != "Allow", "untagged"
    assert launcher("ec2:RunInstances", instance(), **{**tagged, "ec2:MetadataHttpTokens": "optional"}) != "Allow"


def test_the_launcher_uses_only_the_base_security_group_and_vpc():
    sg = f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/"
    assert launcher("ec2:RunInstances", sg + SG) == "Allow"
    assert launcher("ec2:RunInstances", sg + "sg-0open000000000000") != "Allow"
    subnet = f"arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/subnet-1"
    assert launcher("ec2:RunInstances", subnet, **{"ec2:Vpc": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{VPC}"}) == "Allow"
    other_vpc = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/vpc-0other"
    assert launcher("ec2:RunInstances", subnet, **{"ec2:Vpc": other_vpc}) != "Allow"
    eni = f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/eni-1"
    assert launcher("ec2:RunInstances", eni, **{"ec2:Vpc": f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc/{VPC}"}) == "Allow"
    assert launcher("ec2:RunInstances", eni, **{"ec2:Vpc": other_vpc}) != "Allow", "an interface of another VPC"


def test_the_launcher_may_ask_for_a_spot_machine_but_not_tag_its_request():
    request = f"arn:aws:ec2:{REGION}:{ACCOUNT}:spot-instances-request/sir-0123abcd"
    assert launcher("ec2:RunInstances", request) == "Allow"
    # The request is never tagged, so no tag can be written on one.
    assert launcher("ec2:CreateTags", request, **{"ec2:CreateAction": "RunInstances"}) != "Allow"
    assert launcher("ec2:CancelSpotInstanceRequests", request) != "Allow"
    assert launcher("ec2:RunInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:spot-instances-request/*") == "Allow"


def test_the_launcher_passes_only_the_machine_role_and_only_to_ec2():
    ec2 = {"iam:PassedToService": "ec2.amazonaws.com"}
    assert launcher("iam:PassRole", MACHINE_ROLE, **ec2) == "Allow"
    assert launcher("iam:PassRole", MACHINE_ROLE, **{"iam:PassedToService": "lambda.amazonaws.com"}) != "Allow"
    for role in (f"easytdv-base-{REGION}-launcher", f"easytdv-{RUN}-instance", "admin"):
        assert launcher("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{role}", **ec2) != "Allow", role


def test_the_launcher_tags_only_at_launch_and_reads_no_run_files():
    vol = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-1"
    assert launcher("ec2:CreateTags", vol, **{"ec2:CreateAction": "RunInstances"}) == "Allow"
    assert launcher("ec2:CreateTags", vol) != "Allow", "retagging a machine could move it to another run"
    assert launcher("s3:GetObject", obj(f"easytdv/runs/{RUN}/stop")) == "Allow"
    for key in (f"easytdv/runs/{RUN}/project.json", f"easytdv/m/{A}/{RUN}/project.json", "easytdv/blobs/x"):
        assert launcher("s3:GetObject", obj(key)) != "Allow", key
    for action in ("ec2:TerminateInstances", "ssm:SendCommand", "iam:CreateRole", "ssm:GetParameters"):
        assert launcher(action, "*") != "Allow", action


# --- the shape every role keeps -------------------------------------------------------------


def test_every_base_role_carries_the_boundary_and_trusts_one_service():
    roles = {k: r for k, r in base()["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    services = {"InstanceRole": "ec2.amazonaws.com", "LaunchFunctionRole": "lambda.amazonaws.com"}
    assert set(roles) == set(services)
    for name, r in roles.items():
        props = r["Properties"]
        assert props["PermissionsBoundary"] == {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/easytdv-boundary"
        }, name
        for st in props["AssumeRolePolicyDocument"]["Statement"]:
            assert st["Effect"] == "Allow" and st["Action"] == "sts:AssumeRole", name
            assert st["Principal"] == {"Service": services[name]}, name


def test_no_base_statement_has_a_wildcard_action():
    for logical in ("InstanceRole", "LaunchFunctionRole"):
        for st in statements(logical):
            for action in st["Action"]:
                assert "*" not in action, f"{logical} {st['Sid']}: {action}"
