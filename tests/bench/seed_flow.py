"""The original library's flow (easyTDV 1.2.5, ../shared/seed/train-api.md), replayed with boto3
against a sandbox, step by step, for the latency benchmark (`./dev bench-latency`). It prints
figures and asserts nothing.

What it does, as the original did (DESIGN.md "What the original got wrong"):
  prepare_env          uploads train.py, requirements.txt, the stack template and the Lambda's code
  create_clf_stack     a CloudFormation stack: one IAM role (for the Lambda and the machine), its
                       instance profile, the Lambda; waits for CREATE_COMPLETE, polling with sleep(2)
  lunch_train_ec2      invokes the Lambda, which launches the machine with the instance profile and an
                       extra volume; waits (sleep(2)) until the SSM agent is Online
  install_requerments  an SSM command: fetch requirements.txt, pip install; polls with sleep(2)
  lunch_train_script   an SSM command: fetch train.py, run it; polls with sleep(2)
  delete_resources     terminates the machine, deletes the stack; waits for nothing
Replayed with today's runtime (python3.12: AWS no longer accepts python3.6) and the region's current
Amazon Linux 2023 image (the hard-coded AMI is gone); the role keeps the original's wide grants.

    seed_flow.py --endpoint URL [--runs N] [--region R] [--json]   (key: EASYTDV_SANDBOX_ACCESS_KEY)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import uuid
import zipfile

import boto3
from botocore.exceptions import ClientError

STEPS = ("prepare", "stack", "instance", "requirements", "training", "delete")
POLL = 2.0  # the original's sleep(2)
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
TRAIN = 'print("hello from train.py")\n'
LAMBDA = """\
import boto3


def handler(event, context):
    ec2 = boto3.client("ec2")
    answer = ec2.run_instances(
        ImageId=event["ami"],
        InstanceType=event["instance_type"],
        MinCount=1,
        MaxCount=1,
        IamInstanceProfile={"Name": event["profile"]},
        BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": event["device_size"]}}],
    )
    return {"instance_id": answer["Instances"][0]["InstanceId"]}
"""
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


def template(bucket: str, code_key: str, name: str) -> dict:
    wide = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    wide["Statement"][0]["Action"] = ["s3:*", "ec2:*", "iam:*", "lambda:*", "ssm:*"]
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "TrainRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": f"{name}-role",
                    "AssumeRolePolicyDocument": TRUST,
                    "Policies": [{"PolicyName": "train", "PolicyDocument": wide}],
                },
            },
            "TrainProfile": {
                "Type": "AWS::IAM::InstanceProfile",
                "Properties": {"InstanceProfileName": f"{name}-profile", "Roles": [{"Ref": "TrainRole"}]},
            },
            "TrainLambda": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": f"{name}-lambda",
                    "Runtime": "python3.12",
                    "Handler": "lbd_train.handler",
                    "Timeout": 60,
                    "Role": {"Fn::GetAtt": ["TrainRole", "Arn"]},
                    "Code": {"S3Bucket": bucket, "S3Key": code_key},
                },
            },
        },
    }


class Seed:
    def __init__(self, endpoint: str, region: str, key: str):
        def client(service: str):
            return boto3.client(
                service,
                region_name=region,
                endpoint_url=endpoint,
                aws_access_key_id=key,
                aws_secret_access_key="sandbox",
            )

        self.region = region
        self.s3, self.cfn, self.ec2 = client("s3"), client("cloudformation"), client("ec2")
        self.ssm, self.lam = client("ssm"), client("lambda")

    def run(self) -> dict[str, float]:
        name = f"seed-{uuid.uuid4().hex[:8]}"
        bucket = name
        times: dict[str, float] = {}
        t = time.monotonic()
        # prepare_env (the bucket is the user's, made beforehand)
        self.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
        times["setup (bucket)"] = time.monotonic() - t
        t = time.monotonic()
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as zf:
            zf.writestr("lbd_train.py", LAMBDA)
        self.s3.put_object(Bucket=bucket, Key="train/train.py", Body=TRAIN.encode())
        self.s3.put_object(Bucket=bucket, Key="train/requirements.txt", Body=b"")
        self.s3.put_object(Bucket=bucket, Key="train/lbd_train.zip", Body=code.getvalue())
        body = json.dumps(template(bucket, "train/lbd_train.zip", name))
        self.s3.put_object(Bucket=bucket, Key="train/stack_template.json", Body=body.encode())
        times["prepare"] = time.monotonic() - t
        # create_clf_stack, synchronous
        t = time.monotonic()
        self.cfn.create_stack(
            StackName=name,
            TemplateURL=f"https://{bucket}.s3.{self.region}.amazonaws.com/train/stack_template.json",
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        while (status := self.cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]) != "CREATE_COMPLETE":
            if not status.endswith("IN_PROGRESS"):
                raise RuntimeError(f"stack {name}: {status}")
            time.sleep(POLL)
        times["stack"] = time.monotonic() - t
        # lunch_train_ec2, synchronous: the Lambda launches the machine; wait for its agent
        t = time.monotonic()
        ami = self.ssm.get_parameter(Name=AL2023)["Parameter"]["Value"]
        event = {"ami": ami, "instance_type": "t3.medium", "profile": f"{name}-profile", "device_size": 8}
        answer = self.lam.invoke(FunctionName=f"{name}-lambda", Payload=json.dumps(event).encode())
        payload = json.loads(answer["Payload"].read())
        if answer.get("FunctionError"):
            raise RuntimeError(f"the launcher failed: {payload}")
        iid = payload["instance_id"]
        while not self._online(iid):
            time.sleep(POLL)
        times["instance"] = time.monotonic() - t
        try:
            t = time.monotonic()
            prefix = f"s3://{bucket}/train"
            self._command(iid, [f"aws s3 cp {prefix}/requirements.txt .", "pip3 install -r requirements.txt"])
            times["requirements"] = time.monotonic() - t
            t = time.monotonic()
            self._command(iid, [f"aws s3 cp {prefix}/train.py .", "python3 train.py"])
            times["training"] = time.monotonic() - t
        finally:
            # delete_resources: terminate, delete the stack; nothing waited for or checked
            t = time.monotonic()
            self.ec2.terminate_instances(InstanceIds=[iid])
            self.cfn.delete_stack(StackName=name)
            times["delete"] = time.monotonic() - t
        return times

    def _online(self, iid: str) -> bool:
        infos = self.ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [iid]}])
        found = infos["InstanceInformationList"]
        return bool(found) and found[0]["PingStatus"] == "Online"

    def _command(self, iid: str, commands: list[str]) -> None:
        command = self.ssm.send_command(
            InstanceIds=[iid], DocumentName="AWS-RunShellScript", Parameters={"commands": commands}
        )["Command"]["CommandId"]
        while True:
            time.sleep(POLL)
            try:
                found = self.ssm.get_command_invocation(CommandId=command, InstanceId=iid)
            except ClientError as e:
                if e.response["Error"]["Code"] == "InvocationDoesNotExist":
                    continue
                raise
            if found["Status"] in ("Success", "Failed", "Cancelled", "TimedOut"):
                if found["Status"] != "Success":
                    raise RuntimeError(f"command {commands}: {found['Status']}: {found['StandardErrorContent']}")
                return


def _median(values) -> float:
    """The middle value (of an even count, the upper one), as `easytdv bench` reports it."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    out = {step: _median(r[step] for r in runs) for step in STEPS}
    out["total"] = _median(sum(r[s] for s in STEPS) for r in runs)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--region", default="eu-west-3")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seed = Seed(args.endpoint, args.region, os.environ["EASYTDV_SANDBOX_ACCESS_KEY"])
    runs = []
    for i in range(args.runs):
        started = time.monotonic()
        runs.append(seed.run())
        print(f"seed run {i + 1}/{args.runs} done in {time.monotonic() - started:.1f} s", file=sys.stderr)
    figures = medians(runs)
    if args.json:
        print(json.dumps(figures))
    else:
        for step, seconds in figures.items():
            print(f"{step:<14} {seconds:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
