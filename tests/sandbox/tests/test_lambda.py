"""Lambda invocations really execute the Python handler."""

import io
import json
import time
import zipfile

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import HOOK_HEADERS, REGION, client

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)

LAUNCHER = """
import os
import boto3

def handler(event, context):
    print("noise on stdout that must not break the response")
    ec2 = boto3.client("ec2")
    res = ec2.run_instances(ImageId=event["ami"], InstanceType="t3.medium", MinCount=1,
                            MaxCount=1, TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "easytdv:run-id", "Value": os.environ["RUN_ID"]}]}])
    return {"instance_id": res["Instances"][0]["InstanceId"],
            "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            "region": os.environ["AWS_REGION"],
            "remaining_ms": context.get_remaining_time_in_millis()}
"""

FAILING = """
def helper(x):
    raise ValueError(f"bad input: {x}")

def handler(event, context):
    return helper(event.get("x"))
"""

SLOW = """
import time
def handler(event, context):
    time.sleep(30)
"""


def zip_of(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


@pytest.fixture(scope="module")
def role_arn(aws):
    return aws.iam.create_role(RoleName="lambda-test-role", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]


def create_function(aws, role_arn, name, files, handler, timeout=10, env=None):
    aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler=handler,
        Code={"ZipFile": zip_of(files)},
        Timeout=timeout,
        Environment={"Variables": env or {}},
    )


def test_handler_in_sub_folder_launches_an_instance(aws, role_arn, ami):
    create_function(
        aws, role_arn, "launcher", {"pkg/launch/main.py": LAUNCHER}, "pkg/launch/main.handler", env={"RUN_ID": "run-42"}
    )
    resp = aws("lambda").invoke(FunctionName="launcher", Payload=json.dumps({"ami": ami}), LogType="Tail")
    assert "FunctionError" not in resp
    result = json.loads(resp["Payload"].read())
    assert result["function"] == "launcher" and result["region"] == REGION
    assert 0 < result["remaining_ms"] <= 10_000
    found = aws.ec2.describe_instances(InstanceIds=[result["instance_id"]])
    inst = found["Reservations"][0]["Instances"][0]
    assert inst["State"]["Name"] == "running"
    assert {"Key": "easytdv:run-id", "Value": "run-42"} in inst["Tags"]
    aws.ec2.terminate_instances(InstanceIds=[result["instance_id"]])


def test_exception_is_an_unhandled_function_error(aws, role_arn):
    create_function(aws, role_arn, "failing", {"fail.py": FAILING}, "fail.handler")
    resp = aws("lambda").invoke(FunctionName="failing", Payload=json.dumps({"x": 7}))
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    err = json.loads(resp["Payload"].read())
    assert err["errorType"] == "ValueError"
    assert err["errorMessage"] == "bad input: 7"
    assert any("fail.py" in line and "helper" in line for line in err["stackTrace"])


@pytest.mark.parametrize(
    "extra, constraint",
    [
        ({"MemorySize": 64}, "greater than or equal to 128"),
        ({"MemorySize": 10241}, "less than or equal to 10240"),
        ({"Timeout": 901}, "less than or equal to 900"),
        ({"Timeout": 0}, "greater than or equal to 1"),
    ],
)
def test_memory_and_timeout_limits_are_enforced(endpoint, role_arn, extra, constraint):
    # Without botocore's own checks, as CloudFormation's calls would arrive.
    raw = client(endpoint, "lambda", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as err:
        raw.create_function(
            FunctionName="out-of-range",
            Runtime="python3.12",
            Role=role_arn,
            Handler="ok.handler",
            Code={"ZipFile": zip_of({"ok.py": SLOW})},
            **{"Timeout": 10, **extra},
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert constraint in err.value.response["Error"]["Message"]


def test_timeout_is_honoured(aws, role_arn):
    create_function(aws, role_arn, "slow", {"slow.py": SLOW}, "slow.handler", timeout=1)
    started = time.time()
    resp = aws("lambda").invoke(FunctionName="slow")
    assert time.time() - started < 10
    assert resp["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in json.loads(resp["Payload"].read())["errorMessage"]


QUICK = """
import time
def handler(event, context):
    return {"started": time.time()}
"""


def hook(endpoint, name, body=None):
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{endpoint}/easytdv-api/{name}", data=data, headers=HOOK_HEADERS, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def test_lambda_delay_hook_makes_one_function_slow(aws, role_arn, endpoint):
    create_function(aws, role_arn, "delayed", {"q.py": QUICK}, "q.handler", timeout=10)
    create_function(aws, role_arn, "prompt", {"q.py": QUICK}, "q.handler", timeout=10)
    assert hook(endpoint, "lambda-delay", {"function": "delayed", "seconds": 2})["delays"] == {"delayed": 2.0}
    try:
        sent = time.time()
        resp = aws("lambda").invoke(FunctionName="delayed")
        assert json.loads(resp["Payload"].read())["started"] - sent >= 2, "the handler starts after the delay"
        sent = time.time()
        aws("lambda").invoke(FunctionName="prompt")
        assert time.time() - sent < 2
        # the delay counts against the function's timeout, as a slow handler would
        hook(endpoint, "lambda-delay", {"function": "delayed", "seconds": 15})
        resp = aws("lambda").invoke(FunctionName="delayed")
        assert resp["FunctionError"] == "Unhandled"
        assert "Task timed out after 10.00 seconds" in json.loads(resp["Payload"].read())["errorMessage"]
    finally:
        hook(endpoint, "lambda-delay", {"function": "delayed", "seconds": 0})


def test_lambda_delay_flag(tmp_path):
    from conftest import start_sandbox, stop_sandbox

    proc, url = start_sandbox(tmp_path, "--lambda-delay", "1.5")
    try:
        iam = client(url, "iam")
        arn = iam.create_role(RoleName="r", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
        fn = client(url, "lambda")
        fn.create_function(
            FunctionName="q",
            Runtime="python3.12",
            Role=arn,
            Handler="q.handler",
            Code={"ZipFile": zip_of({"q.py": QUICK})},
        )
        sent = time.time()
        assert json.loads(fn.invoke(FunctionName="q")["Payload"].read())["started"] - sent >= 1.5
        assert hook(url, "lambda-delay")["default"] == 1.5
    finally:
        stop_sandbox(proc)
