"""S3 survives a clean restart of the sandbox (persist.py): the app's practice
cloud keeps a sandbox run's outputs downloadable after the app is reopened."""

import os
import signal
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, SANDBOX, client, start_sandbox, stop_sandbox


def test_buckets_and_objects_survive_a_clean_restart(tmp_path):
    data = tmp_path / "data"
    proc, endpoint = start_sandbox(data)
    try:
        s3 = client(endpoint, "s3")
        owner = client(endpoint, "sts").get_caller_identity()["Account"]
        s3.create_bucket(Bucket="kept-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="kept-bucket", Key="runs/r1/outputs/model.bin", Body=b"\x00weights", ContentType="x/y")
        s3.put_object(Bucket="kept-bucket", Key="gone.txt", Body=b"old")
        s3.delete_object(Bucket="kept-bucket", Key="gone.txt")
        before = s3.head_object(Bucket="kept-bucket", Key="runs/r1/outputs/model.bin")["LastModified"]
    finally:
        stop_sandbox(proc)
    assert (data / "s3-state" / "manifest.json").is_file()

    proc, endpoint = start_sandbox(data)
    try:
        s3 = client(endpoint, "s3")
        got = s3.get_object(Bucket="kept-bucket", Key="runs/r1/outputs/model.bin", ExpectedBucketOwner=owner)
        assert got["Body"].read() == b"\x00weights"
        assert got["ContentType"] == "x/y"
        assert got["LastModified"] == before
        assert s3.get_bucket_location(Bucket="kept-bucket")["LocationConstraint"] == REGION
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="kept-bucket")["Contents"]]
        assert keys == ["runs/r1/outputs/model.bin"]  # the deleted object stays deleted
        with pytest.raises(ClientError) as e:  # still the first account's bucket
            s3.get_object(Bucket="kept-bucket", Key="runs/r1/outputs/model.bin", ExpectedBucketOwner="999999999999")
        assert e.value.response["Error"]["Code"] in ("AccessDenied", "403")
    finally:
        stop_sandbox(proc)


def test_a_damaged_state_is_ignored_not_fatal(tmp_path):
    data = tmp_path / "data"
    (data / "s3-state").mkdir(parents=True)
    (data / "s3-state" / "manifest.json").write_text("{not json")
    proc, endpoint = start_sandbox(data)
    try:
        assert client(endpoint, "s3").list_buckets()["Buckets"] == []
    finally:
        stop_sandbox(proc)


def test_stop_with_parent_stops_cleanly_when_its_parent_is_killed(tmp_path):
    """The app's practice cloud outlives no app, even one killed with SIGKILL."""
    data = tmp_path / "data"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)\n"
            "print(p.pid, p.stdout.readline().strip(), flush=True)\n"
            "time.sleep(600)\n",
            str(SANDBOX / "run"),
            "--port",
            "0",
            "--data-dir",
            str(data),
            "--stop-with-parent",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    pid, line = parent.stdout.readline().split()
    endpoint = line.split("=", 1)[1]
    s3 = client(endpoint, "s3")
    s3.create_bucket(Bucket="orphan-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="orphan-bucket", Key="k", Body=b"v")
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:  # gone, or a zombie its new parent has not reaped yet
            if open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].startswith("Z"):
                break
        except FileNotFoundError:
            break
        time.sleep(0.2)
    else:
        os.kill(int(pid), signal.SIGKILL)
        pytest.fail("the sandbox outlived its killed parent")
    assert "orphan-bucket" in (data / "s3-state" / "manifest.json").read_text()
