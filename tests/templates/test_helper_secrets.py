"""The run's secrets on the machine: the helper reads them from Parameter Store
(GetParameters with decryption, signed like botocore signs it, ten names a
call, the AWS CLI when its own call fails) and becomes train.py with them in
its environment; train.sh hands them to train.py only, and no value reaches
its output, its logs, the files it uploads or the disk."""

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import s3_server
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from tpl_helpers import HELPER_PY, RUN_ID, TRAIN

spec = importlib.util.spec_from_file_location("easytdv_helper", HELPER_PY)
helper = importlib.util.module_from_spec(spec)
spec.loader.exec_module(helper)

PATH = f"/easytdv/runs/{RUN_ID}/secrets"
VALUE = "hf_FAKEsecretVALUE_0123456789"
SECRET_KEY = s3_server.SECRET  # the fake instance's keys sign for both fakes


def botocore_signature(method, url, headers, signed, region, body):
    request = AWSRequest(method=method, url=url, data=body, headers={n: headers[n] for n in signed if n != "host"})
    request.context["timestamp"] = headers["x-amz-date"]
    auth = SigV4Auth(Credentials("unused", SECRET_KEY, headers.get("x-amz-security-token")), "ssm", region)
    canonical = auth.canonical_request(request)
    return auth.signature(auth.string_to_sign(request, canonical), request)


class FakeSsm(BaseHTTPRequestHandler):
    """GetParameters of Systems Manager's JSON API, every request's signature
    checked against botocore's; `mode`: ok, denied, broken (HTTP 500)."""

    parameters: dict = {}
    mode = "ok"
    calls: list = []
    bad_signatures = 0

    def log_message(self, *args):
        pass

    def _answer(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k.lower(): v for k, v in self.headers.items()}
        auth = headers.get("authorization", "")
        signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";") if "SignedHeaders=" in auth else []
        region = auth.split("/")[2] if auth.count("/") > 3 else ""
        want = botocore_signature("POST", f"http://{headers['host']}{self.path}", headers, signed, region, body)
        if not auth.endswith("Signature=" + want) or "/ssm/aws4_request" not in auth:
            FakeSsm.bad_signatures += 1
            return self._answer(400, {"__type": "InvalidSignatureException", "message": "signature mismatch"})
        request = json.loads(body)
        FakeSsm.calls.append((headers.get("x-amz-target"), request))
        if FakeSsm.mode == "denied":
            return self._answer(
                400,
                {
                    "__type": "AccessDeniedException",
                    "message": "User: arn:aws:sts::123456789012:assumed-role/easytdv-x-instance/i-1 is not "
                    "authorized to perform: ssm:GetParameters",
                },
            )
        if FakeSsm.mode == "broken":
            return self._answer(500, {"__type": "InternalServerError", "message": "try again"})
        if len(request["Names"]) > 10:
            return self._answer(400, {"__type": "ValidationException", "message": "at most 10 names"})
        found = [n for n in request["Names"] if n in FakeSsm.parameters]
        self._answer(
            200,
            {
                "Parameters": [
                    {
                        "Name": n,
                        "Type": "SecureString",
                        "Value": FakeSsm.parameters[n] if request.get("WithDecryption") else "AQICAHencrypted",
                    }
                    for n in found
                ],
                "InvalidParameters": [n for n in request["Names"] if n not in found],
            },
        )


@pytest.fixture
def ssm():
    FakeSsm.parameters, FakeSsm.mode, FakeSsm.calls, FakeSsm.bad_signatures = {}, "ok", [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSsm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def env_for(ssm_url, tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EASYTDV_"))}
    env.update(
        AWS_ENDPOINT_URL_SSM=ssm_url,
        AWS_ACCESS_KEY_ID="AKIDSSMTEST",
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_SESSION_TOKEN="session+token/=",
        AWS_DEFAULT_REGION="eu-west-3",
        AWS_EC2_METADATA_DISABLED="true",
        # The AWS CLI, when the helper asks it: a fake that must not be reached
        # unless a test says so.
        PATH=f"{tmp_path}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


PRINT_ENV = (
    "import hashlib, os, sys; "
    "print('pid', os.getpid()); "
    "[print(n, hashlib.sha256(os.environ[n].encode()).hexdigest() if n in os.environ else 'missing') "
    "for n in sys.argv[1:]]"
)


def exec_helper(env, names, *extra_names):
    return subprocess.run(
        [sys.executable, str(HELPER_PY), "secrets-exec", PATH, ",".join(names), "--", sys.executable, "-c", PRINT_ENV]
        + list(names)
        + list(extra_names),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_the_ssm_signature_is_botocores():
    body = json.dumps({"Names": [f"{PATH}/HF_TOKEN"], "WithDecryption": True}).encode()
    keys = ("AKIDEXAMPLE", SECRET_KEY, "tok/en+=")
    sent = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "AmazonSSM.GetParameters"}
    added = helper.sign(
        "POST",
        "ssm.eu-west-3.amazonaws.com",
        "/",
        sent,
        hashlib.sha256(body).hexdigest(),
        keys,
        "eu-west-3",
        time.gmtime(),
        service="ssm",
    )
    headers = {k.lower(): v for k, v in {**sent, **added}.items()}
    headers["host"] = "ssm.eu-west-3.amazonaws.com"
    signed = headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    # Not S3: no x-amz-content-sha256 header, as botocore's SigV4Auth signs it.
    assert signed == ["content-type", "host", "x-amz-date", "x-amz-security-token", "x-amz-target"]
    want = botocore_signature("POST", "https://ssm.eu-west-3.amazonaws.com/", headers, signed, "eu-west-3", body)
    assert headers["authorization"].endswith("Signature=" + want)
    assert "/eu-west-3/ssm/aws4_request" in headers["authorization"]


def test_the_secrets_reach_the_command_only_in_its_environment(ssm, tmp_path):
    FakeSsm.parameters = {f"{PATH}/HF_TOKEN": VALUE, f"{PATH}/WANDB_API_KEY": "w" * 4096}
    env = env_for(ssm, tmp_path, EASYTDV_SECRETS_PATH=PATH, EASYTDV_SECRET_NAMES="HF_TOKEN,WANDB_API_KEY")
    done = exec_helper(env, ["HF_TOKEN", "WANDB_API_KEY"], "EASYTDV_SECRET_NAMES")
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["HF_TOKEN"] == sha(VALUE)
    assert lines["WANDB_API_KEY"] == sha("w" * 4096)
    # The names' own variables are not passed on.
    assert lines["EASYTDV_SECRET_NAMES"] == "missing"
    assert VALUE not in done.stdout + done.stderr
    assert FakeSsm.bad_signatures == 0
    assert FakeSsm.calls == [
        ("AmazonSSM.GetParameters", {"Names": [f"{PATH}/HF_TOKEN", f"{PATH}/WANDB_API_KEY"], "WithDecryption": True})
    ]


def test_ten_names_a_call(ssm, tmp_path):
    names = [f"S{i}" for i in range(12)]
    FakeSsm.parameters = {f"{PATH}/{n}": f"value-{n}" for n in names}
    done = exec_helper(env_for(ssm, tmp_path), names)
    assert done.returncode == 0, done.stderr
    assert [len(c[1]["Names"]) for c in FakeSsm.calls] == [10, 2]
    assert f"S11 {sha('value-S11')}" in done.stdout


@pytest.mark.parametrize(
    "mode,parameters,said",
    [
        ("denied", {}, "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role"),
        ("ok", {f"{PATH}/HF_TOKEN": VALUE}, "WANDB_API_KEY: not in Parameter Store"),
    ],
)
def test_secrets_not_read_stop_before_the_command(ssm, tmp_path, mode, parameters, said):
    FakeSsm.mode, FakeSsm.parameters = mode, parameters
    done = exec_helper(env_for(ssm, tmp_path), ["HF_TOKEN", "WANDB_API_KEY"])
    assert done.returncode == helper.SECRETS_UNREADABLE == 81
    assert done.stdout == "", "the command did not start"
    assert done.stderr.startswith(
        "easytdv: could not read the run's secrets (HF_TOKEN, WANDB_API_KEY) from Parameter Store: "
    )
    assert said in done.stderr
    assert VALUE not in done.stderr
    # A refusal is the role's: the AWS CLI (same role) is not asked.
    assert not (tmp_path / "aws-called").exists()


def fake_aws_cli(tmp_path, answer):
    script = tmp_path / "aws"
    script.write_text(f'#!/bin/bash\necho "$@" > "{tmp_path}/aws-called"\ncat <<\'EOF\'\n{json.dumps(answer)}\nEOF\n')
    script.chmod(0o755)


def test_the_aws_cli_takes_over_when_the_helpers_call_fails(ssm, tmp_path):
    FakeSsm.mode = "broken"
    fake_aws_cli(tmp_path, {"Parameters": [{"Name": f"{PATH}/HF_TOKEN", "Value": VALUE}], "InvalidParameters": []})
    done = exec_helper(env_for(ssm, tmp_path), ["HF_TOKEN"])
    assert done.returncode == 0, done.stderr
    assert f"HF_TOKEN {sha(VALUE)}" in done.stdout
    asked = (tmp_path / "aws-called").read_text()
    assert asked.startswith("ssm get-parameters --with-decryption --output json --names ")
    assert VALUE not in done.stdout + done.stderr


def test_train_sh_gives_the_secrets_to_train_py_only(installed, ssm, tmp_path):
    FakeSsm.parameters = {f"{PATH}/HF_TOKEN": VALUE}
    (installed.inputs / "train.py").write_text(
        "import hashlib, os\n"
        "token = os.environ['HF_TOKEN']\n"
        "print('token sha256', hashlib.sha256(token.encode()).hexdigest())\n"
        "os.makedirs(os.environ['OUTPUT_DIR'], exist_ok=True)\n"
        "open(os.path.join(os.environ['OUTPUT_DIR'], 'model.txt'), 'w').write('weights')\n"
    )
    result = installed.run(TRAIN, AWS_ENDPOINT_URL_SSM=ssm, EASYTDV_SECRETS_PATH=PATH, EASYTDV_SECRET_NAMES="HF_TOKEN")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"token sha256 {sha(VALUE)}" in result.stdout
    assert "easytdv: train.py gets the secrets HF_TOKEN as environment variables" in result.stdout
    # The value is nowhere: not in the script's output, its logs on the
    # machine, what it uploaded (outputs and _logs), or any file it left.
    for root in (installed.home, installed.s3):
        for dirpath, _, files in os.walk(root):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.islink(path):
                    continue
                with open(path, "rb") as f:
                    assert VALUE.encode() not in f.read(), path
    assert VALUE not in result.stdout + result.stderr
    assert (installed.outputs / "_logs" / "train-stdout.log").exists()
    assert FakeSsm.bad_signatures == 0 and len(FakeSsm.calls) == 1


def test_train_sh_without_secrets_asks_parameter_store_nothing(installed, ssm):
    (installed.inputs / "train.py").write_text("import os\nprint('HF_TOKEN' in os.environ)\n")
    result = installed.run(TRAIN, AWS_ENDPOINT_URL_SSM=ssm)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "False" in result.stdout.splitlines()
    assert FakeSsm.calls == []


def test_train_sh_stops_when_the_secrets_cannot_be_read(installed, ssm):
    FakeSsm.mode = "denied"
    (installed.inputs / "train.py").write_text("print('train.py ran')\n")
    result = installed.run(TRAIN, AWS_ENDPOINT_URL_SSM=ssm, EASYTDV_SECRETS_PATH=PATH, EASYTDV_SECRET_NAMES="HF_TOKEN")
    assert result.returncode == 81, result.stdout + result.stderr
    assert "train.py ran" not in result.stdout
    assert "easytdv: could not read the run's secrets (HF_TOKEN) from Parameter Store: AccessDenied" in result.stderr
    assert "easytdv: training exited with code 81" in result.stdout
