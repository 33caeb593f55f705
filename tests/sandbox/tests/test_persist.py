"""S3 survives a clean restart of the sandbox (persist.py): the app's practice
cloud keeps a sandbox run's outputs downloadable after the app is reopened."""

import pytest
from botocore.exceptions import ClientError

from conftest import REGION, client, start_sandbox, stop_sandbox


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
