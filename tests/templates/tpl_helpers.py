"""Shared constants, loaders and the fake instance for tests/templates.

Needs: pytest, PyYAML, boto3 (botocore). Optional: cfn-lint (used when
installed: tests/sandbox/.venv/bin/cfn-lint, on PATH, or importable) and moto
(whole stack + launcher in the emulator); those tests are skipped without them.
Run: tests/sandbox/.venv/bin/python -m pytest tests/templates
"""

import base64
import hashlib
import http.server
import json
import os
import platform
import re
import stat
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
STACK = TEMPLATES / "stack.yaml"
LAUNCH_PY = TEMPLATES / "lambda" / "launch.py"
BOOTSTRAP = TEMPLATES / "instance" / "bootstrap.sh"
INSTALL = TEMPLATES / "instance" / "install.sh"
TRAIN = TEMPLATES / "instance" / "train.sh"
COMMON = TEMPLATES / "instance" / "common.sh"
FETCH = TEMPLATES / "instance" / "fetch.sh"
SCRIPTS = [BOOTSTRAP, INSTALL, TRAIN, COMMON]
# What the core uploads under <prefix>/scripts/ and names in the SSM command, in
# that order (the helper first: it fetches the others). pipeline/scripts.rs.
MACHINE_FILES = ["easytdv_helper.py", "common.sh", "install.sh", "train.sh"]

RUN_ID = "20261126-142700-a1b2c3"
BUCKET = "easytdv-test-bucket"
PREFIX = f"easytdv/runs/{RUN_ID}"
OWNER = "123456789012"  # the fake buckets' account
# The app computes the cache key (environments/key.rs); the tests give one.
CACHE_KEY = hashlib.sha256(b"easytdv tests: the environment cache key").hexdigest()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fetch_command(run: str, sums: dict[str, str] | None = None, files: dict[str, bytes] | None = None) -> str:
    """The SSM command's script part, as the core builds it (pipeline/scripts.rs):
    fetch.sh with the files' SHA-256 (the scripts, then the run's own `files`,
    e.g. the script's arguments) and the script to run."""
    sums = sums or {name: sha256_of(TEMPLATES / "instance" / name) for name in MACHINE_FILES}
    lines = "\n".join(
        [f"{sums[name]} {name}" for name in MACHINE_FILES]
        + [f"{hashlib.sha256(body).hexdigest()} {name}" for name, body in (files or {}).items()]
    )
    return FETCH.read_text().replace("__SUMS__", lines).replace("__RUN__", run)


def saved_cache(stdout: str) -> dict[str, str]:
    """What the app records of a "cache saved" line and passes to the next install."""
    m = re.search(r"^easytdv: cache saved ([0-9a-f]{64}) (\d+) ([0-9a-f]{64}) (\S+)$", stdout, re.M)
    assert m, stdout
    return {"EASYTDV_CACHE_KEY": m.group(1), "EASYTDV_CACHE_SHA256": m.group(3), "EASYTDV_CACHE_ARCHIVE": m.group(4)}


# --------------------------------------------------------------------------
# Template loading: plain PyYAML with the CloudFormation short-form tags.
# --------------------------------------------------------------------------
class _CfnLoader(yaml.SafeLoader):
    pass


def _cfn_tag(loader, tag_suffix, node):
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _statements(role):
    for policy in role["Properties"].get("Policies", []):
        yield from _as_list(policy["PolicyDocument"]["Statement"])


def _actions(statement):
    return _as_list(statement.get("Action", []))


def _roles(template):
    return {name: res for name, res in template["Resources"].items() if res["Type"] == "AWS::IAM::Role"}


FAKES = Path(__file__).resolve().parent / "fakes"
sys.path.insert(0, str(FAKES))
import s3_server  # noqa: E402 - the fake S3 endpoint lives beside the fake aws

HELPER_PY = TEMPLATES / "instance" / "easytdv_helper.py"
UV_PIN = re.search(r'^UV_PIN="([^"]+)"', INSTALL.read_text(), re.M).group(1)
# The pinned uv, as the sandbox venv has it (tests/sandbox/requirements.txt).
REAL_UV = Path(sys.executable).parent / "uv"
DEAD_URL = "http://127.0.0.1:9"  # nothing listens: no test ever reaches the network

# `shutdown` on the fake instance: records its arguments, one call a line.
FAKE_SHUTDOWN = '#!/bin/bash\necho "$*" >>"$FAKE_SHUTDOWN_LOG"\n'


def _executable(path: Path, text: str):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class Instance:
    """A fake instance: a base dir, a fake bucket, a small PATH with a fake aws,
    a recording `shutdown`, `python3` = the tests' interpreter, optionally uv."""

    def __init__(self, root: Path, uv: bool = False):
        self.root = root
        self.home = root / "home"
        self.s3 = root / "s3"
        self.bin = root / "bin"
        for d in (self.home, self.s3, self.bin):
            d.mkdir(parents=True)
        _executable(self.bin / "aws", f'#!/bin/bash\nexec "{sys.executable}" "{FAKES / "aws.py"}" "$@"\n')
        _executable(self.bin / "shutdown", FAKE_SHUTDOWN)
        # The instance's python3 is the interpreter running the tests.
        (self.bin / "python3").symlink_to(sys.executable)
        if uv:
            (self.bin / "uv").symlink_to(REAL_UV)
        self.shutdown_log = root / "shutdown-calls"
        self.inputs = self.s3 / BUCKET / PREFIX
        self.outputs = self.inputs / "outputs"
        self.inputs.mkdir(parents=True)
        self.access_key = s3_server.register(str(self.s3))

    def env(self, **extra):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "AWS_", "EASYTDV_", "UV_"))
        }
        env.update(
            {
                # Only the system's directories: no pyenv, no cargo, no sandbox venv.
                "PATH": f"{self.bin}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
                "FAKE_S3_ROOT": str(self.s3),
                # The helper's S3 client: the fake endpoint, keys naming this instance.
                "AWS_ENDPOINT_URL": s3_server.endpoint(),
                "AWS_ACCESS_KEY_ID": self.access_key,
                "AWS_SECRET_ACCESS_KEY": s3_server.SECRET,
                "AWS_SESSION_TOKEN": s3_server.TOKEN,
                "FAKE_SHUTDOWN_LOG": str(self.shutdown_log),
                "EASYTDV_HOME": str(self.home),
                # The SSM prelude:
                "EASYTDV_BUCKET": BUCKET,
                "EASYTDV_PREFIX": PREFIX,
                "EASYTDV_BUCKET_OWNER": OWNER,
                "AWS_DEFAULT_REGION": "us-east-1",
                "EASYTDV_IMAGE_ID": "ami-0123456789abcdef0",
                "EASYTDV_CACHE_KEY": CACHE_KEY,
                # Test settings: a fast log, the fake shutdown, no Deep Learning
                # AMI probe, and every index pointed at a dead address.
                "EASYTDV_LOG_INTERVAL": "1",
                "EASYTDV_SELF_SHUTDOWN": "1",
                "EASYTDV_DLAMI_PYTHON": "",
                "EASYTDV_PYPI_URL": DEAD_URL,
                "UV_INDEX_URL": f"{DEAD_URL}/simple",
                "UV_HTTP_RETRIES": "0",
                "UV_HTTP_TIMEOUT": "5",
                "PIP_INDEX_URL": f"{DEAD_URL}/simple",
                "PIP_RETRIES": "0",
                "PIP_TIMEOUT": "5",
                "PIP_CONFIG_FILE": os.devnull,
            }
        )
        env.update(extra)
        return env

    def run(self, script: Path, timeout=300, **extra):
        # The fake S3 endpoint's failure switches (the fake aws reads the variables).
        rules = []
        if extra.get("FAKE_AWS_FAIL_PUT"):
            rules.append(f"put {extra['FAKE_AWS_FAIL_PUT']}")
        if extra.get("FAKE_AWS_FAIL_SYNC"):
            rules.append("sync")
        (self.s3 / ".fail").write_text("".join(r + "\n" for r in rules))
        # Like SSM: the prelude and the script run as one bash script file.
        return subprocess.run(
            ["bash", str(script)],
            env=self.env(**extra),
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def upload_scripts(self):
        """What the core uploads before each command: the machine's files under <prefix>/scripts/."""
        scripts = self.inputs / "scripts"
        scripts.mkdir(exist_ok=True)
        for name in MACHINE_FILES:
            (scripts / name).write_bytes((TEMPLATES / "instance" / name).read_bytes())

    def command(self, run: str, sums=None, timeout=300, files=None, **extra):
        """The SSM command as the core sends it: the exports (the environment
        here), then fetch.sh, run with sh like AWS-RunShellScript may. `files`:
        the run's own files, uploaded beside the scripts and named in the sums."""
        script = self.root / "_script.sh"
        for name, body in (files or {}).items():
            (self.inputs / "scripts").mkdir(exist_ok=True)
            (self.inputs / "scripts" / name).write_bytes(body)
        script.write_text(fetch_command(run, sums, files))
        return subprocess.run(
            ["sh", str(script)], env=self.env(**extra), cwd=self.home, capture_output=True, text=True, timeout=timeout
        )

    def start(self, script: Path, **extra):
        """The script running, its output piped (for tests that stop it)."""
        return subprocess.Popen(
            ["bash", str(script)],
            env=self.env(**extra),
            cwd=self.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def upload_inputs(self, train_py: str, requirements: str):
        (self.inputs / "train.py").write_text(train_py)
        (self.inputs / "requirements.txt").write_text(requirements)

    def calls(self):
        path = self.s3 / ".calls"
        return path.read_text().splitlines() if path.exists() else []

    def puts(self):
        path = self.s3 / ".puts"
        return (
            [(k, int(n)) for k, n in (line.rsplit(" ", 1) for line in path.read_text().splitlines())]
            if path.exists()
            else []
        )

    def shutdowns(self):
        return self.shutdown_log.read_text().splitlines() if self.shutdown_log.exists() else []

    def owners(self):
        """The expected bucket owner of each request the helper made: "<verb> <key> <owner or ->"."""
        path = self.s3 / ".owners"
        return path.read_text().splitlines() if path.exists() else []

    def reset_records(self):
        for name in (".calls", ".puts", ".gets", ".owners"):
            (self.s3 / name).unlink(missing_ok=True)
        self.shutdown_log.unlink(missing_ok=True)


TRAIN_OK = """\
import os, pathlib
out = pathlib.Path(os.environ["OUTPUT_DIR"])
(out / "model.txt").write_text("weights")
(out / "checkpoints").mkdir()
(out / "checkpoints" / "epoch1.txt").write_text("1")
print("trained in", os.getcwd())
"""

TRAIN_FAILS = """\
import os, pathlib
out = pathlib.Path(os.environ["OUTPUT_DIR"])
(out / "partial.ckpt").write_text("half")
print("epoch 1 done")
raise RuntimeError("easytdv-test: loss is NaN")
"""


LAMBDA_ENV = {
    "RUN_ID": RUN_ID,
    "AMI_ID": "ami-0123456789abcdef0",
    "INSTANCE_TYPE": "t3.large",
    "DISK_SIZE_GB": "64",
    "INSTANCE_PROFILE_ARN": f"arn:aws:iam::123456789012:instance-profile/easytdv-{RUN_ID}",
    "SECURITY_GROUP_ID": "sg-0123456789abcdef0",
    "MAX_RUNTIME_HOURS": "24",
    "BUCKET": BUCKET,
    "RUN_PREFIX": PREFIX,
    "BUCKET_OWNER": "123456789012",
}

IAM_NOT_YET = (
    "InvalidParameterValue",
    f"Value (arn:aws:iam::123456789012:instance-profile/easytdv-{RUN_ID}) for parameter "
    "iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN",
)


# --------------------------------------------------------------------------
# A local package index (PEP 503 pages + PyPI's JSON API for uv), on 127.0.0.1
# --------------------------------------------------------------------------
def make_wheel(directory: Path, name: str, version: str, requires=(), files=None) -> Path:
    """A minimal pure-Python wheel; `files` adds {path: text} to it."""
    module = re.sub(r"[-.]+", "_", name).lower()
    dist = f"{module}-{version}"
    content = {f"{module}/__init__.py": f'__version__ = "{version}"\n'}
    content.update(files or {})
    content[f"{dist}.dist-info/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    content[f"{dist}.dist-info/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: easytdv-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for path, text in content.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    content[f"{dist}.dist-info/RECORD"] = "\n".join(record + [f"{dist}.dist-info/RECORD,,"]) + "\n"
    wheel = directory / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in content.items():
            archive.writestr(path, text)
    return wheel


class PackageIndex:
    """Serves `root` over HTTP; `down = True` answers 503 to everything, like
    an unreachable PyPI. `requests` counts what was asked."""

    def __init__(self, root: Path):
        self.root = root
        self.down = False
        self.requests = []
        index = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                index.requests.append(self.path)
                if index.down:
                    self.send_error(503, "index down (test)")
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, name, version, requires=(), files=None):
        page = self.root / "simple" / name
        page.mkdir(parents=True, exist_ok=True)
        make_wheel(page, name, version, requires, files)
        links = "".join(f'<a href="{w.name}">{w.name}</a>\n' for w in sorted(page.glob("*.whl")))
        (page / "index.html").write_text(f"<html><body>\n{links}</body></html>\n")

    def add_uv(self, real_uv: Path, version: str = UV_PIN):
        """PyPI's JSON API for uv, with a wheel whose `uv` runs the real one."""
        arch = platform.machine()
        files = self.root / "files"
        files.mkdir(exist_ok=True)
        wheel = files / f"uv-{version}-py3-none-manylinux_2_17_{arch}.manylinux2014_{arch}.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            info = zipfile.ZipInfo(f"uv-{version}.data/scripts/uv")
            info.external_attr = 0o755 << 16
            archive.writestr(info, f'#!/bin/sh\nexec "{real_uv}" "$@"\n')
        other = files / f"uv-{version}-py3-none-musllinux_1_1_{arch}.whl"
        other.write_bytes(b"not this one")
        # Not uv's real wheel: install.sh accepts it only with this test switch.
        self.uv_wheel_sha256 = hashlib.sha256(wheel.read_bytes()).hexdigest()
        api = self.root / "pypi" / "uv" / version
        api.mkdir(parents=True, exist_ok=True)
        urls = [
            {
                "filename": w.name,
                "url": f"{self.url}/files/{w.name}",
                "packagetype": "bdist_wheel",
                "digests": {"sha256": hashlib.sha256(w.read_bytes()).hexdigest()},
            }
            for w in (other, wheel)
        ]
        (api / "json").write_text(json.dumps({"info": {"name": "uv", "version": version}, "urls": urls}))

    def close(self):
        self.server.shutdown()


def index_env(index):
    """The installers' settings for the local index."""
    return {"UV_INDEX_URL": f"{index.url}/simple", "PIP_INDEX_URL": f"{index.url}/simple"}


def read_until(proc, marker):
    """The lines `proc` printed up to and with the first one holding `marker`."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if marker in line:
            break
    return lines
