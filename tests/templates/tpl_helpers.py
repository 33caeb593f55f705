"""Shared constants, loaders and the fake instance for tests/templates.

Needs: pytest, PyYAML, boto3 (botocore). Optional: cfn-lint (used when
installed: tests/sandbox/.venv/bin/cfn-lint, on PATH, or importable) and moto
(whole stack + launcher in the emulator); those tests are skipped without them.
Run: tests/sandbox/.venv/bin/python -m pytest tests/templates
"""

import os
import stat
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "templates"
STACK = TEMPLATES / "stack.yaml"
LAUNCH_PY = TEMPLATES / "lambda" / "launch.py"
BOOTSTRAP = TEMPLATES / "instance" / "bootstrap.sh"
INSTALL = TEMPLATES / "instance" / "install.sh"
TRAIN = TEMPLATES / "instance" / "train.sh"
SCRIPTS = [BOOTSTRAP, INSTALL, TRAIN]

RUN_ID = "20261126-142700-a1b2c3"
BUCKET = "easytdv-test-bucket"
PREFIX = f"easytdv/runs/{RUN_ID}"


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


FAKE_AWS = r"""#!/bin/bash
# Fake AWS CLI for tests: "aws s3 cp" and "aws s3 sync" against $FAKE_S3_ROOT/<bucket>/<key>.
echo "aws $*" >>"$FAKE_S3_ROOT/.calls"
args=()
for a in "$@"; do
    case "$a" in --*) ;; *) args+=("$a") ;; esac
done
local_path() { local u="${1#s3://}"; echo "$FAKE_S3_ROOT/$u"; }
[ "${args[0]:-}" = s3 ] || { echo "fake aws: unsupported: $*" >&2; exit 2; }
src="${args[2]:-}"; dst="${args[3]:-}"
case "$src" in s3://*) src="$(local_path "$src")" ;; esac
case "$dst" in s3://*) dst="$(local_path "$dst")" ;; esac
case "${args[1]:-}" in
    cp)
        if [ ! -f "$src" ]; then
            echo "fatal error: An error occurred (404) when calling the HeadObject operation:" \
                "Key \"$src\" does not exist" >&2
            exit 1
        fi
        mkdir -p "$(dirname "$dst")" && cp "$src" "$dst"
        ;;
    sync)
        if [ -n "${FAKE_AWS_FAIL_SYNC:-}" ]; then
            echo "upload failed: An error occurred (AccessDenied) when calling the PutObject operation" >&2
            exit 1
        fi
        mkdir -p "$dst" && cp -R "$src/." "$dst/"
        ;;
    *) echo "fake aws: unsupported: $*" >&2; exit 2 ;;
esac
"""


class Instance:
    """A fake instance: a base dir, a fake bucket, a PATH with a fake aws."""

    def __init__(self, root: Path):
        self.home = root / "home"
        self.s3 = root / "s3"
        self.bin = root / "bin"
        for d in (self.home, self.s3, self.bin):
            d.mkdir(parents=True)
        aws = self.bin / "aws"
        aws.write_text(FAKE_AWS)
        aws.chmod(aws.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        # The instance's python3 is the interpreter running the tests.
        (self.bin / "python3").symlink_to(sys.executable)
        self.inputs = self.s3 / BUCKET / PREFIX
        self.outputs = self.inputs / "outputs"
        self.inputs.mkdir(parents=True)

    def env(self, **extra):
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV", "AWS_", "EASYTDV_"))
        }
        env.update(
            {
                "PATH": f"{self.bin}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
                "FAKE_S3_ROOT": str(self.s3),
                "EASYTDV_HOME": str(self.home),
                # The SSM prelude:
                "EASYTDV_BUCKET": BUCKET,
                "EASYTDV_PREFIX": PREFIX,
                "AWS_DEFAULT_REGION": "us-east-1",
                "PIP_CONFIG_FILE": os.devnull,
            }
        )
        env.update(extra)
        return env

    def run(self, script: Path, timeout=300, **extra):
        # Like SSM: the prelude and the script run as one bash script.
        return subprocess.run(
            ["bash", str(script)],
            env=self.env(**extra),
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def upload_inputs(self, train_py: str, requirements: str):
        (self.inputs / "train.py").write_text(train_py)
        (self.inputs / "requirements.txt").write_text(requirements)


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
}

IAM_NOT_YET = (
    "InvalidParameterValue",
    f"Value (arn:aws:iam::123456789012:instance-profile/easytdv-{RUN_ID}) for parameter "
    "iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN",
)
