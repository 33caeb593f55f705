"""What the base (templates/base.yaml; issue 22, item 2) saves each run, on a sandbox that keeps
AWS's time (`tests/sandbox/run --latency aws[:SCALE]`). Prints figures, asserts nothing.

Side by side, with the app's key and boto3, as the core calls them:
(a) a run's own stack today (templates/stack.yaml, EC2): CreateStack to CREATE_COMPLETE;
(b) the base's first use in a region (templates/base.yaml): CreateStack to CREATE_COMPLETE;
(c) the base's later use: the DescribeStacks that finds it ready (`pipeline::base::ensure`).
Times are divided by SCALE to read in AWS's seconds. Runs do not use the base yet: (c) is
what a later run's CloudFormation part will be once they do.

    base_bench.py --endpoint URL [--scale S] [--region R]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import time
import uuid
import zipfile
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"


def launcher_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.write(TEMPLATES / "lambda" / "launch.py", "launch.py")
        z.write(TEMPLATES / "instance" / "bootstrap.sh", "bootstrap.sh")
    return out.getvalue()


def wait_complete(cfn, name: str) -> str:
    while True:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            return status
        time.sleep(0.2)


def timed(label: str, fn, scale: float) -> float:
    started = time.monotonic()
    result = fn()
    seconds = (time.monotonic() - started) / scale
    print(f"  {label}: {seconds:.1f} s ({result})", file=sys.stderr)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--region", default="eu-west-1")
    args = parser.parse_args()
    session = boto3.Session(
        aws_access_key_id=os.environ["EASYTDV_SANDBOX_ACCESS_KEY"],
        aws_secret_access_key="sandbox",
        region_name=args.region,
    )
    conf = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2})

    def client(name):
        return session.client(name, endpoint_url=args.endpoint, config=conf)

    s3, ec2, cfn = client("s3"), client("ec2"), client("cloudformation")
    bucket = f"bench-base-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": args.region})
    code = launcher_zip()
    code_key = f"easytdv/lambda/{hashlib.sha256(code).hexdigest()}.zip"
    s3.put_object(Bucket=bucket, Key=code_key, Body=code)
    vpc = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"])
    ami = next(i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"] if i.get("RootDeviceName"))
    run = f"20261206-190000-{uuid.uuid4().hex[:6]}"
    prefix = f"easytdv/runs/{run}"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/launch.zip", Body=code)

    def params(values):
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]

    def per_run_stack():
        cfn.create_stack(
            StackName=f"easytdv-{run}",
            TemplateBody=(TEMPLATES / "stack.yaml").read_text(),
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Parameters=params(
                {
                    "RunId": run,
                    "Bucket": bucket,
                    "RunPrefix": prefix,
                    "LambdaCodeKey": f"{prefix}/launch.zip",
                    "InstanceType": "t3.medium",
                    "AmiId": ami,
                    "VpcId": vpc,
                }
            ),
        )
        return wait_complete(cfn, f"easytdv-{run}")

    def base_first():
        cfn.create_stack(
            StackName="easytdv-base",
            TemplateBody=(TEMPLATES / "base.yaml").read_text(),
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Parameters=params(
                {
                    "Version": "1",
                    "VpcId": vpc,
                    "LambdaCodeBucket": bucket,
                    "LambdaCodeKey": code_key,
                    "LauncherName": "easytdv-base-launch-000000000000",
                }
            ),
        )
        return wait_complete(cfn, "easytdv-base")

    def base_later():
        return cfn.describe_stacks(StackName="easytdv-base")["Stacks"][0]["StackStatus"]

    print(f"On AWS's time (latency model x{args.scale}), seconds as AWS would take them:", file=sys.stderr)
    a = timed("(a) a run's own stack (stack.yaml)", per_run_stack, args.scale)
    b = timed("(b) the base's first use (base.yaml)", base_first, args.scale)
    c = timed("(c) the base's later use (DescribeStacks)", base_later, args.scale)
    print(f"AWS latency model x{args.scale}: what a run's CloudFormation part waits for")
    print(f"{'case':<40} {'s':>8} {'vs (a)':>8}")
    for label, value in (("(a) a run's own stack, today", a), ("(b) the base, first use in a region", b),
                         ("(c) the base, every later run", c)):  # fmt: skip
        print(f"{label:<40} {value:8.2f} {value / a:8.3f}")
    cfn.delete_stack(StackName=f"easytdv-{run}")
    cfn.delete_stack(StackName="easytdv-base")
    return 0


if __name__ == "__main__":
    sys.exit(main())
