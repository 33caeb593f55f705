"""`run --background` / `stop`, a busy port, and POST /moto-api/reset."""

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest

from conftest import HOOK_HEADERS, KEY, SANDBOX, wait_for


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


def test_background_reset_and_stop(tmp_path):
    pidfile = tmp_path / "sandbox.pid"
    out = subprocess.run(
        [
            str(SANDBOX / "run"),
            "--background",
            "--pidfile",
            str(pidfile),
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.returncode == 0, out.stderr
    line = out.stdout.splitlines()[0]
    assert line.startswith("EASYTDV_SANDBOX_ENDPOINT=http://127.0.0.1:")
    endpoint = line.split("=", 1)[1]
    # The key it was given (conftest's): on stdout for the caller, never in its log.
    assert out.stdout.splitlines()[1] == f"EASYTDV_SANDBOX_ACCESS_KEY={KEY}"
    assert KEY not in (tmp_path / "data" / "sandbox.log").read_text()
    pid = int(pidfile.read_text())
    try:
        ec2 = boto3.client(
            "ec2", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key="x"
        )
        ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        user_data = '#!/bin/bash\necho $$ > "$EASYTDV_HOME/pid"\nexec sleep 60\n'
        iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, UserData=user_data)["Instances"][0]["InstanceId"]
        pid_file = tmp_path / "data" / "instances" / iid / "pid"
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="user data pid")
        sleeper = int(pid_file.read_text())
        assert alive(sleeper)
        urllib.request.urlopen(
            urllib.request.Request(f"{endpoint}/moto-api/reset", headers=HOOK_HEADERS, method="POST")
        )
        wait_for(lambda: not alive(sleeper), timeout=5, what="reset to kill user data")
        assert ec2.describe_instances()["Reservations"] == []

        # a second sandbox on the same port fails clearly
        port = endpoint.rsplit(":", 1)[1]
        busy = subprocess.run(
            [
                str(SANDBOX / "run"),
                "--background",
                "--pidfile",
                str(tmp_path / "other.pid"),
                "--port",
                port,
                "--data-dir",
                str(tmp_path / "other"),
            ],
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert busy.returncode != 0 and "cannot listen" in busy.stderr

        iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, UserData=user_data)["Instances"][0]["InstanceId"]
        pid_file = tmp_path / "data" / "instances" / iid / "pid"
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="user data pid")
        sleeper = int(pid_file.read_text())
    finally:
        stopped = subprocess.run([str(SANDBOX / "stop"), "--pidfile", str(pidfile)], timeout=30)
    assert stopped.returncode == 0
    wait_for(lambda: not alive(pid), timeout=10, what="sandbox to exit")
    assert not alive(sleeper), "stop kills instance processes"
    assert not pidfile.exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", int(port))) != 0


def test_shutdown_request_stops_and_saves(tmp_path):
    """The app's way to stop its practice cloud without signals: only with the key, and it saves S3."""
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "easytdv_sandbox.cli", "run", "--port", "0", "--data-dir", str(data)],
        cwd=SANDBOX,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        endpoint = proc.stdout.readline().strip().split("=", 1)[1]
        s3 = boto3.client(
            "s3", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id=KEY, aws_secret_access_key="x"
        )
        s3.create_bucket(Bucket="kept-across-stop")
        s3.put_object(Bucket="kept-across-stop", Key="k", Body=b"v")
        url = f"{endpoint}/easytdv-api/shutdown"
        for headers in (
            {},
            {"X-Easytdv-Sandbox-Key": "ETDV" + "0" * 32},
            {**HOOK_HEADERS, "Origin": "https://x.example"},
        ):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(url, headers=headers, method="POST"))
            assert refused.value.code == 403
        assert proc.poll() is None, "a request without the key must not stop it"
        with pytest.raises(urllib.error.HTTPError) as wrong:
            urllib.request.urlopen(urllib.request.Request(url, headers=HOOK_HEADERS, method="GET"))
        assert wrong.value.code == 405
        with urllib.request.urlopen(urllib.request.Request(url, headers=HOOK_HEADERS, method="POST")) as r:
            assert json.loads(r.read()) == {"stopping": True}
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "kept-across-stop" in (data / "s3-state" / "manifest.json").read_text(), "it saved S3 as on SIGTERM"
