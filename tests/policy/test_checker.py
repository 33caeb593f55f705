"""The checkers themselves: they must fail on a policy that misses something."""

import copy

import policy_check

RUN = "20261126-142700-a1b2c3"
BUCKET = "easytdv-123456789012-eu-west-3"
PREFIX = f"easytdv/runs/{RUN}"
BASE = {"region": "eu-west-3", "account": "123456789012", "status": 200}


def call(principal, action, **extra):
    service = action.split(":")[0]
    entry = {**BASE, "principal": principal, "action": action, "service": service, "operation": action.split(":")[1]}
    if principal.startswith("instance:"):
        entry["role"] = f"easytdv-{RUN}-instance"
    if principal.startswith("lambda:"):
        entry["role"] = f"easytdv-{RUN}-launcher"
    entry.update(extra)
    return entry


def run_recording():
    lam = f"lambda:easytdv-{RUN}-launch"
    inst = "instance:i-0123456789abcdef0"
    return [
        call("app", "s3:ListBucket", operation="HeadBucket", bucket=BUCKET, key=None),
        call("app", "s3:PutObject", bucket=BUCKET, key=f"{PREFIX}/train.py"),
        call(
            "app",
            "cloudformation:CreateStack",
            names={"StackName": f"easytdv-{RUN}"},
            stack_parameters={"RunId": RUN, "Bucket": BUCKET, "RunPrefix": PREFIX},
        ),
        call("app", "lambda:InvokeFunction", names={"FunctionName": f"easytdv-{RUN}-launch"}),
        call(lam, "ec2:DescribeImages"),
        call(lam, "ec2:RunInstances"),
        call(inst, "s3:GetObject", bucket=BUCKET, key=f"{PREFIX}/requirements.txt"),
        call(inst, "s3:ListBucket", operation="ListObjectsV2", bucket=BUCKET, key=None, prefix=f"{PREFIX}/outputs/"),
        call(inst, "s3:PutObject", bucket=BUCKET, key=f"{PREFIX}/outputs/model.pt"),
        call("app", "ssm:PutParameter", names={"Name": f"/{PREFIX}/secrets/HF_TOKEN"}),
        call(inst, "ssm:GetParameters", names={"Names": f"/{PREFIX}/secrets/HF_TOKEN,/{PREFIX}/secrets/W"}),
        call("app", "ssm:DeleteParameters", names={"Names": f"/{PREFIX}/secrets/HF_TOKEN"}),
        call("app", "ssm:SendCommand", names={"DocumentName": "AWS-RunShellScript", "InstanceIds": "i-0123"}),
        call("app", "ec2:TerminateInstances", names={"InstanceIds": "i-0123"}),
        call("app", "cloudformation:DeleteStack", names={"StackName": f"easytdv-{RUN}"}),
        call("key:test-admin", "iam:CreateUser"),  # not a principal the checks cover
    ]


def without(policy, action):
    reduced = copy.deepcopy(policy)
    for st in reduced["Statement"]:
        st["Action"] = [a for a in policy_check.as_list(st["Action"]) if a != action]
    reduced["Statement"] = [st for st in reduced["Statement"] if st["Action"]]
    return reduced


def test_a_whole_run_passes():
    assert policy_check.check_calls(run_recording()) == []


def test_a_user_policy_missing_an_action_fails():
    policy = policy_check.merged_user_policy()
    problems = policy_check.check_calls(run_recording(), user_policy=without(policy, "ssm:SendCommand"))
    assert len(problems) == 1 and "ssm:SendCommand" in problems[0] and "easytdv-{user,read}-policy.json" in problems[0]
    problems = policy_check.check_calls(run_recording(), user_policy=without(policy, "cloudformation:DeleteStack"))
    assert problems and "cloudformation:DeleteStack" in problems[0]


def test_resources_outside_the_policy_fail():
    calls = run_recording() + [
        call("app", "s3:PutObject", bucket=BUCKET, key="not-easytdv/train.py"),
        call("app", "lambda:InvokeFunction", names={"FunctionName": "someone-elses-function"}),
        call("app", "cloudformation:DeleteStack", names={"StackName": "production-db"}),
        call("app", "s3:CreateBucket", bucket="my-data", key=None),
    ]
    problems = "\n".join(policy_check.check_calls(calls))
    for what in ("not-easytdv/train.py", "function:someone-elses-function", "stack/production-db", "my-data"):
        assert what in problems, (what, problems)


def test_instance_and_launcher_are_held_to_their_stack_roles():
    inst = "instance:i-0123456789abcdef0"
    lam = f"lambda:easytdv-{RUN}-launch"
    calls = run_recording() + [
        call(inst, "s3:PutObject", bucket=BUCKET, key=f"{PREFIX}/train.py"),  # inputs are read-only
        call(inst, "s3:GetObject", bucket=BUCKET, key="easytdv/runs/other-run/train.py"),
        call(inst, "s3:ListBucket", operation="ListObjectsV2", bucket=BUCKET, key=None, prefix="easytdv/"),
        call(inst, "ec2:DescribeInstances"),
        call(lam, "ec2:TerminateInstances"),
    ]
    problems = policy_check.check_calls(calls)
    text = "\n".join(problems)
    assert f"{PREFIX}/train.py" in text and "other-run" in text
    assert "prefix 'easytdv/'" in text
    assert "InstanceRole does not allow instance:i-0123456789abcdef0's DescribeInstances" in text
    assert "LaunchFunctionRole does not allow" in text and "ec2:TerminateInstances" in text
    assert len(problems) == 5, text


def test_a_principal_of_no_recorded_run_is_a_problem():
    calls = [c for c in run_recording() if c["action"] != "cloudformation:CreateStack"]
    assert any("no CreateStack" in p for p in policy_check.check_calls(calls))
    stray = [call("lambda:whoami", "s3:PutObject", bucket="b", key="k", role="some-role")]
    assert policy_check.check_calls(stray) == ["lambda:whoami: not an easyTDV run's lambda (role 'some-role')"]


def test_provider_check_fails_on_a_policy_missing_a_handler_permission():
    from test_provider_permissions import EXCLUDED

    policy = policy_check.merged_user_policy()
    assert policy_check.check_provider_permissions(policy, EXCLUDED) == []
    problems = policy_check.check_provider_permissions(without(policy, "iam:TagRole"), EXCLUDED)
    assert "AWS::IAM::Role create needs iam:TagRole: no CreateCloudResources statement grants it" in problems
    assert "AWS::IAM::Role delete needs iam:TagRole: no CleanUp statement grants it" in problems
    problems = policy_check.check_provider_permissions(without(policy, "logs:PutRetentionPolicy"), EXCLUDED)
    assert problems == [
        "AWS::Logs::LogGroup create needs logs:PutRetentionPolicy: no CreateCloudResources statement grants it"
    ]
    problems = policy_check.check_provider_permissions(without(policy, "lambda:TagResource"), EXCLUDED)
    assert problems == [
        "AWS::Lambda::Function create needs lambda:TagResource: no CreateCloudResources statement grants it"
    ]
    assert policy_check.tag_on_create_permissions("AWS::Lambda::Function") == ["lambda:TagResource"]
    assert policy_check.tag_on_create_permissions("AWS::EC2::SecurityGroup") == ["ec2:CreateTags"]


def test_a_training_job_is_held_to_the_sagemaker_role():
    job = f"sagemaker:easytdv-{RUN}-1"

    def sm(action, **extra):
        return call(job, action, role=f"easytdv-{RUN}-sagemaker", **extra)

    stack = call(
        "app",
        "cloudformation:CreateStack",
        names={"StackName": f"easytdv-{RUN}"},
        stack_parameters={"RunId": RUN, "Bucket": BUCKET, "RunPrefix": PREFIX, "Engine": "sagemaker"},
    )
    good = [
        stack,
        call("app", "sagemaker:CreateTrainingJob", names={"TrainingJobName": f"easytdv-{RUN}-1"}),
        sm("s3:GetObject", bucket=BUCKET, key=f"{PREFIX}/sourcedir.tar.gz"),
        sm("s3:PutObject", bucket=BUCKET, key=f"{PREFIX}/outputs/checkpoints/rank-1.txt"),
        sm("logs:PutLogEvents"),
    ]
    assert policy_check.check_calls(good) == []
    other_job = call("app", "sagemaker:StopTrainingJob", names={"TrainingJobName": "someone-elses-job"})
    assert policy_check.check_calls([*good, other_job])
    writes_inputs = sm("s3:PutObject", bucket=BUCKET, key=f"{PREFIX}/train.py")
    assert policy_check.check_calls([*good, writes_inputs])
    foreign = call("sagemaker:sm-job", "s3:GetObject", role="sm-role", bucket=BUCKET, key="x")
    assert policy_check.check_calls([*good, foreign])


def test_secrets_are_read_only_by_their_own_runs_machine():
    """A run's instance role reads its own run's parameters, no other run's and
    no other parameter of the account; the app puts and deletes only runs' ones."""
    inst = "instance:i-0123456789abcdef0"
    calls = run_recording() + [
        call(inst, "ssm:GetParameters", names={"Names": "/easytdv/runs/20261126-142700-ffffff/secrets/HF_TOKEN"}),
        call(inst, "ssm:GetParameters", names={"Names": "/prod/db-password"}),
        call(inst, "ssm:PutParameter", names={"Name": f"/{PREFIX}/secrets/HF_TOKEN"}),
        call("app", "ssm:PutParameter", names={"Name": "/prod/db-password"}),
        call("app", "ssm:DeleteParameters", names={"Names": f"/{PREFIX}/secrets/A,/prod/db-password"}),
    ]
    text = "\n".join(policy_check.check_calls(calls))
    assert "20261126-142700-ffffff/secrets/HF_TOKEN" in text
    assert "GetParameters on arn:aws:ssm:eu-west-3:123456789012:parameter/prod/db-password" in text
    assert "InstanceRole does not allow instance:i-0123456789abcdef0's PutParameter" in text
    assert "PutParameter on arn:aws:ssm:eu-west-3:123456789012:parameter/prod/db-password" in text
    assert "DeleteParameters on arn:aws:ssm:eu-west-3:123456789012:parameter/prod/db-password" in text


def test_a_training_job_reads_only_its_own_runs_secrets():
    """Issue 21 on SageMaker: the job's execution role reads its own run's
    parameters (the launcher, before the script), no other run's and no other
    parameter of the account, and may not change them."""
    job = f"sagemaker:easytdv-{RUN}-1"

    def sm(action, **extra):
        return call(job, action, role=f"easytdv-{RUN}-sagemaker", **extra)

    stack = call(
        "app",
        "cloudformation:CreateStack",
        names={"StackName": f"easytdv-{RUN}"},
        stack_parameters={"RunId": RUN, "Bucket": BUCKET, "RunPrefix": PREFIX, "Engine": "sagemaker"},
    )
    own = sm("ssm:GetParameters", names={"Names": f"/{PREFIX}/secrets/HF_TOKEN,/{PREFIX}/secrets/WANDB_API_KEY"})
    assert policy_check.check_calls([stack, own]) == []
    attacks = [
        sm("ssm:GetParameters", names={"Names": "/easytdv/runs/20261126-142700-ffffff/secrets/HF_TOKEN"}),
        sm("ssm:GetParameters", names={"Names": f"/{PREFIX}/secrets/HF_TOKEN,/prod/db-password"}),
        sm("ssm:GetParameter", names={"Name": f"/{PREFIX}/secrets/HF_TOKEN"}),
        sm("ssm:GetParametersByPath", names={"Path": "/easytdv/runs"}),
        sm("ssm:PutParameter", names={"Name": f"/{PREFIX}/secrets/HF_TOKEN"}),
        sm("ssm:DeleteParameters", names={"Names": f"/{PREFIX}/secrets/HF_TOKEN"}),
    ]
    for attack in attacks:
        assert policy_check.check_calls([stack, own, attack]), attack
    text = "\n".join(policy_check.check_calls([stack, *attacks]))
    assert "20261126-142700-ffffff/secrets/HF_TOKEN" in text
    assert "parameter/prod/db-password" in text


# --- the base's principals (templates/base.yaml) ------------------------------------


ROLE_ID = "AROAEXAMPLEBASEMACHINE"


def base_call(principal, action, **extra):
    kind = "instance" if principal.startswith("instance:") else "launcher"
    entry = call(principal, action, **extra)
    entry["role"] = f"easytdv-base-eu-west-3-{kind}"
    if kind == "instance":
        entry["userid"] = f"{ROLE_ID}:{principal.split(':', 1)[1]}"
    return entry


def base_recording():
    a, lam = "instance:i-0aaaaaaaaaaaaaaaa", "lambda:easytdv-base-launch-0123456789ab"
    folder = f"easytdv/m/{ROLE_ID}:i-0aaaaaaaaaaaaaaaa/{RUN}"
    return [
        call(
            "app",
            "cloudformation:CreateStack",
            names={"StackName": "easytdv-base"},
            stack_parameters={"Version": "1", "VpcId": "vpc-01234567", "LambdaCodeBucket": BUCKET},
        ),
        base_call(lam, "ec2:RunInstances"),
        base_call(lam, "s3:GetObject", bucket=BUCKET, key=f"{PREFIX}/stop"),
        base_call(a, "s3:GetObject", bucket=BUCKET, key=f"{folder}/project.json"),
        base_call(a, "s3:GetObject", bucket=BUCKET, key="easytdv/blobs/" + "a" * 64),
        base_call(a, "s3:PutObject", bucket=BUCKET, key=f"{folder}/outputs/model.pt"),
        base_call(a, "s3:ListBucket", operation="ListObjectsV2", bucket=BUCKET, key=None, prefix=f"{folder}/outputs/"),
    ]


def test_a_run_on_the_base_passes():
    assert policy_check.check_calls(run_recording() + base_recording()) == []


def test_a_base_machine_is_held_to_its_own_folder_by_its_aws_userid():
    a = "instance:i-0aaaaaaaaaaaaaaaa"
    other = f"easytdv/m/{ROLE_ID}:i-0bbbbbbbbbbbbbbbb/{RUN}"
    calls = base_recording() + [
        base_call(a, "s3:GetObject", bucket=BUCKET, key=f"{other}/project.json"),
        base_call(a, "s3:PutObject", bucket=BUCKET, key=f"{other}/outputs/x"),
        # Reached through the bucket wildcard: denied by NoEasytdvFolderInsideAnother.
        base_call(a, "s3:GetObject", bucket=BUCKET, key=f"{other}/outputs/easytdv/blobs/x"),
        base_call(a, "s3:ListBucket", operation="ListObjectsV2", bucket=BUCKET, key=None, prefix="easytdv/m/"),
    ]
    problems = policy_check.check_calls(calls)
    text = "\n".join(problems)
    assert f"key={other}/project.json" in text and f"key={other}/outputs/x" in text, text
    assert "NoEasytdvFolderInsideAnother denies s3:GetObject" in text, text
    assert "prefix 'easytdv/m/'" in text, text
    assert len(problems) == 4, text


def test_a_base_principal_without_its_stack_or_userid_is_a_problem():
    a = "instance:i-0aaaaaaaaaaaaaaaa"
    no_stack = [c for c in base_recording() if c["action"] != "cloudformation:CreateStack"]
    assert any("no CreateStack of easytdv-base recorded in eu-west-3" in p for p in policy_check.check_calls(no_stack))
    anonymous = base_call(a, "s3:GetObject", bucket=BUCKET, key="easytdv/blobs/x")
    del anonymous["userid"]
    problems = policy_check.check_calls(base_recording() + [anonymous])
    assert problems == [f"{a}: no aws:userid recorded for a machine of the base"], problems
