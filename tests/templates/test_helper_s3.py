"""The helper's own S3 client: Signature Version 4 (AWS's documented example,
botocore's signer), addresses, the instance role's credentials through IMDSv2,
and the AWS CLI taking over when the helper cannot (big files, a failure)."""

import importlib.util
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import s3_server
from tpl_helpers import BUCKET, DEAD_URL, HELPER_PY, INSTALL, PREFIX, TRAIN, TRAIN_OK, Instance

spec = importlib.util.spec_from_file_location("easytdv_helper", HELPER_PY)
helper = importlib.util.module_from_spec(spec)
spec.loader.exec_module(helper)


def test_the_signature_of_awss_documented_example():
    # "Signature Calculations for the Authorization Header: Transferring Payload
    # in a Single Chunk", example GET Object (Amazon S3 API Reference).
    keys = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None)
    when = time.strptime("20130524T000000Z", "%Y%m%dT%H%M%SZ")
    added = helper.sign(
        "GET",
        "examplebucket.s3.amazonaws.com",
        "/test.txt",
        {"Range": "bytes=0-9"},
        helper.EMPTY_SHA256,
        keys,
        "us-east-1",
        when,
    )
    assert added["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )
    assert added["x-amz-date"] == "20130524T000000Z"
    assert "Range" not in added and "range" not in added  # the caller sends its own headers


@pytest.mark.parametrize(
    "method,host,key,token",
    [
        ("GET", "my-bucket.s3.eu-west-3.amazonaws.com", "easytdv/runs/r/train.py", None),
        ("PUT", "127.0.0.1:4566", "a dir/é+x (1).txt", "session-token/with+chars=="),
        ("PUT", "s3.us-east-1.amazonaws.com", "outputs/~tilde/*star*/semi;colon", "t"),
    ],
)
def test_the_signature_is_botocores(method, host, key, token):
    from urllib.parse import quote

    path = "/" + quote(key, safe="/~")
    body = b"some bytes"
    sha = helper.hashlib.sha256(body).hexdigest() if method == "PUT" else helper.EMPTY_SHA256
    keys = ("AKIDEXAMPLE", s3_server.SECRET, token)
    added = helper.sign(method, host, path, {}, sha, keys, "eu-west-3", time.gmtime())
    headers = {k.lower(): v for k, v in added.items()}
    headers["host"] = host
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    expected = ["host", "x-amz-content-sha256", "x-amz-date"] + (["x-amz-security-token"] if token else [])
    assert signed == sorted(expected)
    want = s3_server.expected_signature(method, f"http://{host}{path}", headers, signed, "eu-west-3")
    assert headers["authorization"].endswith("Signature=" + want)


def test_addresses(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    assert helper.s3_url("b", "k/x y", "eu-west-3") == ("https://b.s3.eu-west-3.amazonaws.com", "/k/x%20y")
    # A dotted name would not match the virtual host's certificate: path-style.
    assert helper.s3_url("my.data", "k", "us-east-1") == ("https://s3.us-east-1.amazonaws.com", "/my.data/k")
    assert helper.s3_url("b", "k", "cn-north-1")[0] == "https://b.s3.cn-north-1.amazonaws.com.cn"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566/")
    assert helper.s3_url("b", "k", "eu-west-3") == ("http://127.0.0.1:4566", "/b/k")


class FakeImds(BaseHTTPRequestHandler):
    """IMDSv2: a token first (PUT), then the role's name and credentials."""

    token = "imds-token"
    access = ""
    seen: list = []

    def log_message(self, *args):
        pass

    def _send(self, status, text):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        FakeImds.seen.append(("PUT", self.path))
        ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        self._send(200 if ok else 400, self.token if ok else "")

    def do_GET(self):
        FakeImds.seen.append(("GET", self.path))
        if self.headers.get("X-aws-ec2-metadata-token") != self.token:
            self._send(401, "")
        elif self.path == "/latest/meta-data/iam/security-credentials/":
            self._send(200, "easytdv-role\n")
        elif self.path == "/latest/meta-data/iam/security-credentials/easytdv-role":
            expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            doc = {"AccessKeyId": self.access, "SecretAccessKey": s3_server.SECRET, "Token": "role-token"}
            self._send(200, json.dumps({"Code": "Success", "Expiration": expires, **doc}))
        elif self.path == "/latest/meta-data/placement/region":
            self._send(200, "eu-west-3")
        else:
            self._send(404, "")


def test_the_instance_roles_credentials_and_region_come_from_imdsv2(tmp_path):
    inst = Instance(tmp_path / "m")
    FakeImds.access, FakeImds.seen = inst.access_key, []
    imds = ThreadingHTTPServer(("127.0.0.1", 0), FakeImds)
    threading.Thread(target=imds.serve_forever, daemon=True).start()
    try:
        (inst.inputs / "train.py").write_text("print(1)\n")
        env = inst.env(AWS_EC2_METADATA_SERVICE_ENDPOINT=f"http://127.0.0.1:{imds.server_address[1]}")
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
            env.pop(name)
        url = f"s3://{BUCKET}/{PREFIX}/train.py"
        done = subprocess.run(
            [sys.executable, str(HELPER_PY), "get", url, str(tmp_path / "got.py")], env=env, capture_output=True
        )
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "got.py").read_text() == "print(1)\n"
        assert ("PUT", "/latest/api/token") in FakeImds.seen
        assert ("GET", "/latest/meta-data/iam/security-credentials/easytdv-role") in FakeImds.seen
        # No credentials anywhere: a clear error, not a hang.
        env["AWS_EC2_METADATA_DISABLED"] = "true"
        done = subprocess.run(
            [sys.executable, str(HELPER_PY), "get", url, str(tmp_path / "x")], env=env, capture_output=True, text=True
        )
        assert done.returncode == 1
        assert "no AWS region" in done.stderr or "no AWS credentials" in done.stderr
    finally:
        imds.shutdown()


def test_a_refused_signature_is_an_error_not_a_file_and_the_aws_cli_gets_a_try(tmp_path):
    inst = Instance(tmp_path / "m")
    (inst.inputs / "train.py").write_text("x")
    env = inst.env(AWS_SECRET_ACCESS_KEY="not-the-secret")
    done = subprocess.run(
        [sys.executable, str(HELPER_PY), "get", f"s3://{BUCKET}/{PREFIX}/train.py", str(tmp_path / "got")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr  # not "missing": the scripts then try the AWS CLI
    assert "HTTP 403 SignatureDoesNotMatch" in done.stderr
    assert not (tmp_path / "got").exists()
    # The same run's download on the machine: the helper is refused, the CLI gets it.
    inst.upload_inputs("print(1)\n", "")
    result = inst.run(INSTALL, AWS_SECRET_ACCESS_KEY="not-the-secret")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [c for c in inst.calls() if c.startswith("aws s3 cp") and c.endswith("/run/train.py")]


def test_a_missing_object_is_missing_for_both_answers_s3_gives(tmp_path):
    # 404 NoSuchKey; 403 AccessDenied is what a role without s3:ListBucket gets
    # for a key that does not exist (the instance role on easytdv/cache/).
    inst = Instance(tmp_path / "m")
    url = f"s3://{BUCKET}/{PREFIX}/nothing-here"
    for fail in ("", f"get {PREFIX}/nothing-here"):
        (inst.s3 / ".fail").write_text(fail + "\n")
        done = subprocess.run(
            [sys.executable, str(HELPER_PY), "get", url, str(tmp_path / "x")], env=inst.env(), capture_output=True
        )
        assert done.returncode == 4, done.stderr


def test_big_outputs_go_through_the_aws_cli_and_small_ones_through_the_helper(tmp_path):
    inst = Instance(tmp_path / "m")
    inst.upload_inputs(TRAIN_OK.replace('"weights"', '"w" * 5000'), "")
    assert inst.run(INSTALL).returncode == 0
    inst.reset_records()
    result = inst.run(TRAIN, EASYTDV_S3_SMALL_BYTES="1000")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (inst.outputs / "model.txt").read_text() == "w" * 5000
    assert (inst.outputs / "checkpoints" / "epoch1.txt").read_text() == "1"
    calls = inst.calls()
    assert f"helper PUT s3://{BUCKET}/{PREFIX}/outputs/checkpoints/epoch1.txt" in calls
    assert not [c for c in calls if c.startswith("helper PUT") and c.endswith("/model.txt")]
    assert [c for c in calls if c.startswith("aws s3 sync")], calls
    assert "is over 1000 bytes: left to the AWS CLI" in result.stderr


def test_the_aws_cli_takes_over_when_the_helper_cannot_reach_s3(tmp_path):
    inst = Instance(tmp_path / "m")
    inst.upload_inputs(TRAIN_OK, "")
    result = inst.run(INSTALL, AWS_ENDPOINT_URL=DEAD_URL)
    assert result.returncode == 0, result.stdout + result.stderr
    result = inst.run(TRAIN, AWS_ENDPOINT_URL=DEAD_URL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (inst.outputs / "model.txt").read_text() == "weights"
    verbs = [c.split()[2] for c in inst.calls() if c.startswith("aws s3") and "/_logs/" not in c]
    assert verbs == ["cp", "cp", "cp", "sync"], inst.calls()
    assert "trying the upload again with the AWS CLI" in result.stderr
    # The live log too: each chunk the helper could not send went through the CLI.
    assert [c for c in inst.calls() if c.startswith("aws s3 cp --only-show-errors - ") and "/_logs/train/" in c]
    assert (inst.outputs / "_logs" / "train" / "000000.log").exists()


def test_the_log_is_shipped_often_at_first_then_every_10_s_at_most():
    assert helper.ship_gap(2, 0) == 2
    assert helper.ship_gap(2, 60) == 2
    assert helper.ship_gap(2, 300) == 5
    assert helper.ship_gap(2, 600) == 10
    assert helper.ship_gap(2, 36_000) == 10
    assert helper.ship_gap(0.1, 1) == 0.1  # the tests' fast log
