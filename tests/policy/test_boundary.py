"""The permissions boundary (templates/iam/easytdv-boundary.json) closes the
paths from easyTDV's policies to account admin (issue 20, item 1).

Each test is an attack a holder of the easyTDV keys could try, evaluated with
IAM's documented semantics (evaluator.py): the identity policies, plus the
boundary where the principal is a role that carries it.
"""

import json
import re

import evaluator
import policy_check
import pytest

ACCOUNT = "123456789012"
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/easytdv-boundary"
RUN = "20261206-101500-a1b2c3"
SECRET_ARN = f"arn:aws:ssm:eu-west-3:{ACCOUNT}:parameter/easytdv/runs/{RUN}/secrets/HF_TOKEN"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def user_context(**extra) -> dict:
    """The request context of the easyTDV IAM user calling IAM itself."""
    return {"aws:PrincipalAccount": ACCOUNT, "aws:username": "easytdv", **extra}


def user(action: str, resource: str, **context) -> str:
    return evaluator.evaluate(policy_check.load_user_policies(), action, resource, user_context(**context))


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


# --- the user policies cannot make a role without the boundary -------------------------


@pytest.mark.parametrize("action", ["iam:CreateRole", "iam:PutRolePolicy"])
def test_roles_only_with_the_boundary(action):
    arn = role_arn(f"easytdv-{RUN}-launcher")
    assert user(action, arn) == "ImplicitDeny", "no boundary in the request"
    other = f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess"
    assert user(action, arn, **{"iam:PermissionsBoundary": other}) == "ImplicitDeny", "another boundary"
    assert user(action, arn, **{"iam:PermissionsBoundary": BOUNDARY_ARN}) == "Allow"
    assert user(action, role_arn("admin"), **{"iam:PermissionsBoundary": BOUNDARY_ARN}) == "ImplicitDeny"


@pytest.mark.parametrize(
    "action",
    [
        "iam:DeleteRolePermissionsBoundary",
        "iam:PutRolePermissionsBoundary",
    ],
)
def test_the_boundary_cannot_be_removed_or_replaced(action):
    for ctx in ({}, {"iam:PermissionsBoundary": BOUNDARY_ARN}):
        assert user(action, role_arn(f"easytdv-{RUN}-instance"), **ctx) == "Deny"


@pytest.mark.parametrize(
    "action", ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"]
)
def test_the_boundary_policy_itself_cannot_change(action):
    assert user(action, BOUNDARY_ARN) == "Deny"
    assert user(action, f"arn:aws:iam::{ACCOUNT}:policy/easytdv-user-policy") == "Deny"


@pytest.mark.parametrize(
    "action",
    [
        "iam:AttachRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "iam:CreateUser",
        "iam:CreateAccessKey",
        "iam:AttachUserPolicy",
        "iam:PutUserPolicy",
        "iam:CreatePolicy",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "sts:AssumeRole",
    ],
)
def test_no_other_way_to_more_permissions(action):
    for resource in (role_arn(f"easytdv-{RUN}-launcher"), f"arn:aws:lambda:eu-west-3:{ACCOUNT}:function:easytdv-x"):
        assert user(action, resource, **{"iam:PermissionsBoundary": BOUNDARY_ARN}) != "Allow"


@pytest.mark.parametrize(
    "action", ["s3:PutBucketPublicAccessBlock", "s3:PutEncryptionConfiguration", "s3:PutBucketAcl"]
)
def test_a_buckets_protection_cannot_be_turned_off(action):
    """Block Public Access stays as S3 made it: no public bucket policy can go on an easyTDV bucket."""
    assert user(action, "arn:aws:s3:::easytdv-123456789012-eu-west-3", **{"s3:ResourceAccount": ACCOUNT}) != "Allow"


def test_easytdv_files_of_another_accounts_bucket_are_out_of_reach():
    key = "arn:aws:s3:::their-bucket/easytdv/runs/x/train.py"
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert user(action, key, **{"s3:ResourceAccount": "111111111111"}) == "ImplicitDeny", action
        assert user(action, key, **{"s3:ResourceAccount": ACCOUNT}) == "Allow", action


def test_only_easytdv_roles_are_passed_and_only_to_their_service():
    lam, ec2, sm = "lambda.amazonaws.com", "ec2.amazonaws.com", "sagemaker.amazonaws.com"
    cases = [
        (f"easytdv-{RUN}-launcher", lam, "Allow"),
        (f"easytdv-{RUN}-instance", ec2, "Allow"),
        (f"easytdv-{RUN}-sagemaker", sm, "Allow"),
        (f"easytdv-{RUN}-launcher", ec2, "ImplicitDeny"),
        (f"easytdv-{RUN}-instance", lam, "ImplicitDeny"),
        ("OrganizationAccountAccessRole", lam, "ImplicitDeny"),
        ("admin", ec2, "ImplicitDeny"),
    ]
    for name, service, want in cases:
        assert user("iam:PassRole", role_arn(name), **{"iam:PassedToService": service}) == want, (name, service)


# --- the boundary caps any role the policies can create ---------------------------------


def role(action: str, resource: str, policy: dict = ADMIN, **context) -> str:
    """A role with `policy` (by default `*:*`, the worst one could write) and the boundary."""
    ctx = {"aws:PrincipalAccount": ACCOUNT, **context}
    return evaluator.evaluate([policy], action, resource, ctx, boundary=policy_check.load_boundary())


@pytest.mark.parametrize(
    "action,resource",
    [
        ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x"),
        ("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/easytdv"),
        ("iam:CreateRole", role_arn("x")),
        ("iam:AttachRolePolicy", role_arn(f"easytdv-{RUN}-instance")),
        ("iam:PutRolePolicy", role_arn(f"easytdv-{RUN}-instance")),
        ("iam:DeleteRolePermissionsBoundary", role_arn(f"easytdv-{RUN}-instance")),
        ("iam:UpdateAssumeRolePolicy", role_arn(f"easytdv-{RUN}-instance")),
        ("iam:CreatePolicyVersion", BOUNDARY_ARN),
        ("iam:PassRole", role_arn("admin")),
        ("sts:AssumeRole", role_arn("admin")),
        ("organizations:LeaveOrganization", "*"),
        ("organizations:CreateAccount", "*"),
        ("account:CloseAccount", "*"),
        ("kms:CreateKey", "*"),
        ("kms:PutKeyPolicy", f"arn:aws:kms:eu-west-3:{ACCOUNT}:key/k"),
        ("kms:ScheduleKeyDeletion", f"arn:aws:kms:eu-west-3:{ACCOUNT}:key/k"),
        ("kms:Decrypt", f"arn:aws:kms:eu-west-3:{ACCOUNT}:key/k"),
        ("lambda:CreateFunction", f"arn:aws:lambda:eu-west-3:{ACCOUNT}:function:x"),
        ("cloudformation:CreateStack", f"arn:aws:cloudformation:eu-west-3:{ACCOUNT}:stack/x/1"),
        ("ssm:SendCommand", f"arn:aws:ec2:eu-west-3:{ACCOUNT}:instance/i-1"),
        ("ssm:GetParameter", f"arn:aws:ssm:eu-west-3:{ACCOUNT}:parameter/db-password"),
        ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:eu-west-3:{ACCOUNT}:secret:x"),
        ("s3:GetObject", "arn:aws:s3:::company-data/payroll.csv"),
        ("s3:PutBucketPolicy", "arn:aws:s3:::easytdv-bucket"),
        ("ec2:TerminateInstances", f"arn:aws:ec2:eu-west-3:{ACCOUNT}:instance/i-1"),
    ],
)
def test_a_bounded_role_with_every_permission_still_cannot(action, resource):
    assert role(action, resource, **{"s3:ResourceAccount": ACCOUNT}) != "Allow", action


def test_a_bounded_role_reads_only_its_own_accounts_easytdv_files():
    key = "arn:aws:s3:::b/easytdv/runs/x/train.py"
    assert role("s3:GetObject", key, **{"s3:ResourceAccount": ACCOUNT}) == "Allow"
    assert role("s3:GetObject", key, **{"s3:ResourceAccount": "111111111111"}) == "ImplicitDeny"
    assert role("s3:GetObject", key) == "ImplicitDeny", "no s3:ResourceAccount: not this account's bucket"


def test_kms_only_through_ec2_for_disks():
    key = f"arn:aws:kms:eu-west-3:{ACCOUNT}:key/k"
    assert role("kms:CreateGrant", key, **{"kms:GrantIsForAWSResource": "true"}) == "Allow"
    assert role("kms:CreateGrant", key) == "ImplicitDeny"
    assert role("kms:Decrypt", key, **{"kms:ViaService": "ec2.eu-west-3.amazonaws.com"}) == "Allow"
    assert role("kms:Decrypt", key, **{"kms:ViaService": "s3.eu-west-3.amazonaws.com"}) == "ImplicitDeny"


def test_parameters_only_easytdvs_runs_secrets_and_only_through_parameter_store():
    """A run's secrets (issue 21): a bounded role reads and decrypts parameters
    under /easytdv/runs/ only, never the account's other parameters."""
    ours = SECRET_ARN
    theirs = f"arn:aws:ssm:eu-west-3:{ACCOUNT}:parameter/prod/db-password"
    assert role("ssm:GetParameters", ours) == "Allow"
    assert role("ssm:GetParameters", theirs) == "ImplicitDeny"
    for action in ("ssm:GetParameter", "ssm:GetParametersByPath", "ssm:PutParameter", "ssm:DeleteParameters"):
        assert role(action, ours) == "ImplicitDeny", action
    key = f"arn:aws:kms:eu-west-3:{ACCOUNT}:key/k"
    via_ssm = {"kms:ViaService": "ssm.eu-west-3.amazonaws.com"}
    assert role("kms:Decrypt", key, **via_ssm, **{"kms:EncryptionContext:PARAMETER_ARN": ours}) == "Allow"
    assert role("kms:Decrypt", key, **via_ssm, **{"kms:EncryptionContext:PARAMETER_ARN": theirs}) == "ImplicitDeny"
    assert role("kms:Decrypt", key, **via_ssm) == "ImplicitDeny", "no parameter named: not a run's secret"
    other_service = {"kms:ViaService": "secretsmanager.eu-west-3.amazonaws.com"}
    assert role("kms:Decrypt", key, **other_service, **{"kms:EncryptionContext:PARAMETER_ARN": ours}) == "ImplicitDeny"


# --- every role of the stack carries the boundary and trusts only its service ------------


def test_every_role_in_the_stack_sets_the_boundary_and_trusts_one_service():
    stack = policy_check.load_stack()
    roles = {k: r for k, r in stack["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert roles
    services = {"InstanceRole": "ec2.amazonaws.com", "LaunchFunctionRole": "lambda.amazonaws.com",
                "SageMakerRole": "sagemaker.amazonaws.com"}  # fmt: skip
    assert set(roles) == set(services)
    for name, r in roles.items():
        props = r["Properties"]
        boundary = props.get("PermissionsBoundary")
        assert boundary == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/easytdv-boundary"}, name
        for st in props["AssumeRolePolicyDocument"]["Statement"]:
            assert st["Effect"] == "Allow" and st["Action"] == "sts:AssumeRole", name
            assert st["Principal"] == {"Service": services[name]}, f"{name} must trust only {services[name]}"


def test_the_stack_roles_fit_inside_the_boundary():
    """What each role's own policy allows for a real run is still allowed with the boundary."""
    stack = policy_check.load_stack()
    # A SageMaker run's data in another bucket of the account, under easytdv/ (issue 21).
    params = {"RunId": RUN, "Bucket": "easytdv-b", "RunPrefix": f"easytdv/runs/{RUN}", "AmiId": "ami-0123456789abcdef0",
              "VpcId": "vpc-01234567", "FrameworkImageAccount": "763104351884", "DataBucket": "team-lake",
              "DataPrefix": "easytdv/datasets/points/"}  # fmt: skip
    variables = policy_check.stack_variables(params, "eu-west-3", ACCOUNT)
    boundary = policy_check.load_boundary()
    data_prefix = params["DataPrefix"] + "x"
    for logical in ("InstanceRole", "LaunchFunctionRole", "SageMakerRole"):
        statements = policy_check.role_statements(stack, logical, variables)
        for st in statements:
            for action in evaluator.as_list(st["Action"]):
                for resource in st["Resource"]:
                    sample = resource.replace("*", "x")
                    if action == "iam:PassRole":  # !GetAtt InstanceRole.Arn
                        sample = role_arn(f"easytdv-{RUN}-instance")
                    via = ((st.get("Condition") or {}).get("StringEquals") or {}).get("kms:ViaService")
                    ctx = {
                        "aws:PrincipalAccount": ACCOUNT,
                        "s3:ResourceAccount": ACCOUNT,
                        "s3:prefix": data_prefix if st["Sid"] == "ListRunDataOnly" else f"easytdv/runs/{RUN}/x",
                        "ec2:CreateAction": "RunInstances",
                        "iam:PassedToService": "ec2.amazonaws.com",
                        "cloudwatch:namespace": "/aws/sagemaker/TrainingJobs",
                        "ec2:Vpc": f"arn:aws:ec2:eu-west-3:{ACCOUNT}:vpc/vpc-01234567",
                        "kms:ViaService": via or "ec2.eu-west-3.amazonaws.com",
                        "kms:GrantIsForAWSResource": "true",
                        "kms:EncryptionContext:PARAMETER_ARN": SECRET_ARN,
                    }
                    got = evaluator.evaluate([{"Statement": [st]}], action, sample, ctx, boundary=boundary)
                    assert got == "Allow", f"{logical} {st['Sid']}: {action} on {sample} is {got} under the boundary"


def test_boundary_is_valid_iam_json():
    doc = policy_check.load_boundary()
    assert set(doc) == {"Version", "Statement"} and doc["Version"] == "2012-10-17"
    assert len(json.dumps(doc, separators=(",", ":"))) <= 6144
    sids = [st["Sid"] for st in doc["Statement"]]
    assert len(sids) == len(set(sids))


def test_the_sandbox_account_has_the_shipped_boundary():
    """The practice cloud starts "set up": with this very boundary (its copy ships with the sandbox)."""
    copy = policy_check.ROOT / "tests" / "sandbox" / "easytdv_sandbox" / "data" / "easytdv-boundary.json"
    assert json.loads(copy.read_text()) == policy_check.load_boundary()


def test_a_sagemaker_jobs_data_outside_easytdv_is_beyond_the_boundary():
    """Issue 21: SageMaker reads an input channel with the job's role, so the
    role's ReadRunData names the data's folder. The boundary keeps run roles
    to easytdv/ of the account's buckets: a folder elsewhere (the core refuses
    it before launch, data_not_for_sagemaker) would be denied anyway, and the
    stack's DataPrefix pattern refuses it too."""
    stack = policy_check.load_stack()
    boundary = policy_check.load_boundary()
    pattern = re.compile(stack["Parameters"]["DataPrefix"]["AllowedPattern"])
    for prefix, verdict in (("easytdv/datasets/points/", "Allow"), ("datasets/points/", "ImplicitDeny")):
        variables = policy_check.stack_variables(
            {"RunId": RUN, "Bucket": "easytdv-b", "RunPrefix": f"easytdv/runs/{RUN}", "DataBucket": "team-lake",
             "DataPrefix": prefix}, "eu-west-3", ACCOUNT)  # fmt: skip
        read = next(st for st in policy_check.role_statements(stack, "SageMakerRole", variables)
                    if st["Sid"] == "ReadRunData")  # fmt: skip
        ctx = {"aws:PrincipalAccount": ACCOUNT, "s3:ResourceAccount": ACCOUNT}
        got = evaluator.evaluate([{"Statement": [read]}], "s3:GetObject", f"arn:aws:s3:::team-lake/{prefix}a.csv", ctx,
                                 boundary=boundary)  # fmt: skip
        assert got == verdict, prefix
        assert bool(pattern.fullmatch(prefix)) == (verdict == "Allow"), prefix


def test_a_sagemaker_job_with_a_data_folder_reads_its_blobs_by_name_but_never_lists_them():
    """A data folder's channel is a SageMaker manifest of blobs: the job's role
    reads each by its SHA-256, as an EC2 machine does, but a listing of
    easytdv/blobs/ would show every project and dataset sent to the bucket."""
    stack = policy_check.load_stack()
    variables = policy_check.stack_variables(
        {"RunId": RUN, "Bucket": "easytdv-b", "RunPrefix": f"easytdv/runs/{RUN}", "DataBucket": "easytdv-b",
         "DataPrefix": "easytdv/blobs/"}, "eu-west-3", ACCOUNT)  # fmt: skip
    role = [{"Statement": policy_check.role_statements(stack, "SageMakerRole", variables)}]
    ctx = {"aws:PrincipalAccount": ACCOUNT, "s3:ResourceAccount": ACCOUNT}
    blob = "arn:aws:s3:::easytdv-b/easytdv/blobs/" + "ab" * 32
    assert evaluator.evaluate(role, "s3:GetObject", blob, ctx) == "Allow"
    for prefix in ("easytdv/blobs/", "easytdv/blobs/ab", ""):
        got = evaluator.evaluate(role, "s3:ListBucket", "arn:aws:s3:::easytdv-b", {**ctx, "s3:prefix": prefix})
        assert got != "Allow", prefix
    # An S3 location's own folder is still listed (SageMaker lists an S3Prefix channel).
    variables["DataPrefix"] = "easytdv/datasets/points/"
    role = [{"Statement": policy_check.role_statements(stack, "SageMakerRole", variables)}]
    got = evaluator.evaluate(
        role, "s3:ListBucket", "arn:aws:s3:::easytdv-b", {**ctx, "s3:prefix": "easytdv/datasets/points/"}
    )
    assert got == "Allow"
