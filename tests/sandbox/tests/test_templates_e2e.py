"""The whole run of DESIGN.md ("The run, step by step") with the repo's real
templates/: stack from a TemplateURL, launcher Lambda, bootstrap user data,
install.sh and train.sh over SSM, outputs in S3, teardown.

It runs on a sandbox of its own, so that sandbox's call recording holds this
run only, and checks it with tests/policy (every call of the app, the launcher
and the instance is allowed by the policy that governs it)."""

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import AL2023, Clients, calls, online, start_sandbox, stop_sandbox, wait_done, wait_for

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"
RUN = "20261126-142700-a1b2c3"
PREFIX = f"easytdv/runs/{RUN}"
BUCKET = "easytdv-e2e"
TRAIN = b"import os\nprint('training')\nopen(os.environ['OUTPUT_DIR'] + '/model.txt', 'w').write('w')\n"
# What the core uploads under <prefix>/scripts/ and names, with their SHA-256, in each command.
MACHINE_FILES = ["easytdv_helper.py", "common.sh", "install.sh", "train.sh"]


def command(script: str) -> str:
    """The SSM command's script part as pipeline/scripts.rs builds it."""
    sums = "\n".join(
        f"{hashlib.sha256((TEMPLATES / 'instance' / n).read_bytes()).hexdigest()} {n}" for n in MACHINE_FILES
    )
    return (TEMPLATES / "instance" / "fetch.sh").read_text().replace("__SUMS__", sums).replace("__RUN__", script)


sys.path.insert(0, str(TEMPLATES.parent / "tests" / "policy"))
import policy_check  # noqa: E402


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("e2e-sandbox")
    proc, url = start_sandbox(data_dir)
    yield Clients(url), data_dir
    stop_sandbox(proc)


def test_run_with_real_templates(own):
    aws, data_dir = own
    s3, cfn = aws.s3, aws.cloudformation
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.write(TEMPLATES / "lambda" / "launch.py", "launch.py")
        zf.write(TEMPLATES / "instance" / "bootstrap.sh", "bootstrap.sh")
    for key, body in (
        ("launcher.zip", buf.getvalue()),
        ("stack.yaml", (TEMPLATES / "stack.yaml").read_bytes()),
        ("train.py", TRAIN),
        ("requirements.txt", b""),
        *((f"scripts/{n}", (TEMPLATES / "instance" / n).read_bytes()) for n in MACHINE_FILES),
    ):
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}", Body=body)
    params = dict(
        RunId=RUN,
        Bucket=BUCKET,
        RunPrefix=PREFIX,
        LambdaCodeKey=f"{PREFIX}/launcher.zip",
        InstanceType="t3.medium",
        DiskSizeGb="30",
        MaxRuntimeHours="2",
        AmiId=aws.ssm.get_parameter(Name=AL2023)["Parameter"]["Value"],
        VpcId=aws.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"],
        CacheKey="a" * 64,
    )
    stack = f"easytdv-{RUN}"
    cfn.create_stack(
        StackName=stack,
        Capabilities=["CAPABILITY_NAMED_IAM"],
        TemplateURL=f"https://{BUCKET}.s3.eu-west-3.amazonaws.com/{PREFIX}/stack.yaml",
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
    )
    described = lambda: cfn.describe_stacks(StackName=stack)["Stacks"][0]
    wait_for(lambda: described()["StackStatus"] == "CREATE_COMPLETE", what="stack")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described()["Outputs"]}

    resp = aws("lambda").invoke(FunctionName=outputs["LaunchFunctionName"], Payload=b"{}")
    assert "FunctionError" not in resp
    iid = json.loads(resp["Payload"].read())["instance_id"]
    wait_for(lambda: online(aws, iid), what="Online")

    prelude = f"export EASYTDV_BUCKET={BUCKET} EASYTDV_PREFIX={PREFIX} EASYTDV_BUCKET_OWNER=123456789012"
    for script in ("install.sh", "train.sh"):
        cid = aws.ssm.send_command(
            InstanceIds=[iid],
            DocumentName="AWS-RunShellScript",
            Parameters={"commands": [prelude, command(script)]},
        )["Command"]["CommandId"]
        inv = wait_done(aws, cid, iid, timeout=120)
        assert inv["Status"] == "Success", inv["StandardErrorContent"]
    assert "training" in inv["StandardOutputContent"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/outputs/")["Contents"]]
    # The model, plus the training logs train.sh keeps beside the outputs (outputs/_logs/...).
    assert f"{PREFIX}/outputs/model.txt" in keys
    logs = [k for k in keys if k != f"{PREFIX}/outputs/model.txt"]
    assert logs and all(k.startswith(f"{PREFIX}/outputs/_logs/") for k in logs), keys

    aws.ec2.terminate_instances(InstanceIds=[iid])
    cfn.delete_stack(StackName=stack)
    wait_for(lambda: all(s["StackName"] != stack for s in cfn.describe_stacks()["Stacks"]), what="deleted")

    recorded = calls(data_dir)
    principals = {c["principal"] for c in recorded}
    assert {"app", f"lambda:{outputs['LaunchFunctionName']}", f"instance:{iid}"} <= principals, principals
    assert policy_check.check_calls(recorded) == []
