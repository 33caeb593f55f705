"""`run --background` / `stop`, a busy port, and POST /moto-api/reset."""

import os
import socket
import subprocess
import urllib.request

import boto3

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
        wait_for(pid_file.exists, what="user data pid")
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
        wait_for(pid_file.exists, what="user data pid")
        sleeper = int(pid_file.read_text())
    finally:
        stopped = subprocess.run([str(SANDBOX / "stop"), "--pidfile", str(pidfile)], timeout=30)
    assert stopped.returncode == 0
    wait_for(lambda: not alive(pid), timeout=10, what="sandbox to exit")
    assert not alive(sleeper), "stop kills instance processes"
    assert not pidfile.exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", int(port))) != 0
