"""Session sandbox: `tests/sandbox/run` as a subprocess on a free port with a
temp data dir and a short CloudFormation delay, plus boto3 clients for it."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

SANDBOX = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SANDBOX))  # easytdv_sandbox, for tests of its pure helpers
REGION = "eu-west-3"
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
CFN_DELAY = 1.5
# Every sandbox these tests start (as subprocesses) takes its access key from here (access.py).
KEY = os.environ.setdefault("EASYTDV_SANDBOX_ACCESS_KEY", "ETDV" + secrets.token_hex(16).upper())


def derived(base: str) -> str:
    """The key the sandbox gives its principal `base` (access.py): `<base>.<HMAC(KEY, base)>`."""
    tag = hmac.new(KEY.encode(), f"easytdv-principal:{base}".encode(), hashlib.sha256).hexdigest()[:40]
    return f"{base}.{tag}"


OTHER_KEY = derived("other-account")
HOOK_HEADERS = {"X-Easytdv-Sandbox-Key": KEY}


def wait_for(predicate, timeout=20.0, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_sandbox(data_dir: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [str(SANDBOX / "run"), "--port", "0", "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    line = proc.stdout.readline().strip()
    assert line.startswith("EASYTDV_SANDBOX_ENDPOINT=http://127.0.0.1:"), line
    return proc, line.split("=", 1)[1]


def stop_sandbox(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sandbox-data")


@pytest.fixture(scope="session")
def endpoint(data_dir):
    proc, url = start_sandbox(data_dir, "--cfn-delay", str(CFN_DELAY))
    yield url
    stop_sandbox(proc)


class Clients:
    def __init__(self, endpoint: str):
        self.endpoint = endpoint

    def __call__(self, service: str, region: str = REGION):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY,
            aws_secret_access_key="sandbox",
        )

    def __getattr__(self, service: str):
        return self(service)


@pytest.fixture(scope="session")
def aws(endpoint) -> Clients:
    return Clients(endpoint)


@pytest.fixture(scope="session")
def ami(aws) -> str:
    return aws.ssm.get_parameter(Name=AL2023)["Parameter"]["Value"]


def online(aws, instance_id: str) -> bool:
    infos = aws.ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": [instance_id]}])[
        "InstanceInformationList"
    ]
    return bool(infos) and infos[0]["PingStatus"] == "Online"


@pytest.fixture(scope="session")
def launch(aws, ami):
    """launch(user_data=None, wait_online=True) -> instance id; terminated at the end."""
    launched = []

    def _launch(user_data: str | None = None, wait_online: bool = True) -> str:
        # boto3 base64-encodes UserData itself (the Rust SDK does not: encode it there).
        kwargs = {"UserData": user_data} if user_data else {}
        iid = aws.ec2.run_instances(ImageId=ami, InstanceType="t3.medium", MinCount=1, MaxCount=1, **kwargs)[
            "Instances"
        ][0]["InstanceId"]
        launched.append(iid)
        if wait_online:
            wait_for(lambda: online(aws, iid), what=f"{iid} Online")
        return iid

    yield _launch
    if launched:
        aws.ec2.terminate_instances(InstanceIds=launched)


@pytest.fixture(scope="session")
def instance(launch) -> str:
    """A shared Online instance without user data."""
    return launch()


def run_command(aws, instance_id: str, *commands: str, **params):
    parameters = {"commands": list(commands), **{k: [str(v)] for k, v in params.items()}}
    return aws.ssm.send_command(InstanceIds=[instance_id], DocumentName="AWS-RunShellScript", Parameters=parameters)[
        "Command"
    ]["CommandId"]


def invocation(aws, command_id: str, instance_id: str) -> dict:
    return aws.ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)


def wait_done(aws, command_id: str, instance_id: str, timeout: float = 20) -> dict:
    return wait_for(
        lambda: (
            (inv := invocation(aws, command_id, instance_id))["Status"]
            in ("Success", "Failed", "TimedOut", "Cancelled")
            and inv
        ),
        timeout=timeout,
        what=f"command {command_id} to finish",
    )


def calls(data_dir: Path) -> list[dict]:
    """The server's call recording (<data-dir>/calls.jsonl)."""
    import json

    return [json.loads(line) for line in (data_dir / "calls.jsonl").read_text().splitlines()]


def client(endpoint: str, service: str, key: str | None = None, region: str = REGION, config=None):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=key or KEY,
        aws_secret_access_key="any",
        config=config,
    )
