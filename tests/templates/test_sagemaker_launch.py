"""templates/sagemaker/easytdv_launch.py: SageMaker's entry point of a run whose
train.py has arguments; it becomes `python -u train.py ARG...` (os.execv)."""

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys

from test_run_args import NASTY, args_file
from tpl_helpers import TEMPLATES

LAUNCHER = TEMPLATES / "sagemaker" / "easytdv_launch.py"
SHOW = 'import json, os, sys\nprint(json.dumps([sys.argv, os.getpid(), os.environ.get("SM_X")]))\n'


def launch(code_dir, cwd, **env):
    return subprocess.run(
        [sys.executable, "easytdv_launch.py" if cwd == code_dir else str(code_dir / "easytdv_launch.py")],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SM_X": "kept", **env},
        timeout=60,
    )


def source_dir(tmp_path, body: bytes):
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(LAUNCHER, code / "easytdv_launch.py")
    shutil.copy(LAUNCHER.parent / "easytdv_data.py", code / "easytdv_data.py")
    (code / "train.py").write_text(SHOW)
    (code / "easytdv-run-args.bin").write_bytes(body)
    return code


def test_train_py_gets_the_arguments_exactly_in_the_same_environment(tmp_path):
    code = source_dir(tmp_path, args_file(NASTY, []))
    result = launch(code, code)
    assert result.returncode == 0, result.stderr
    argv, _pid, sm = json.loads(result.stdout)
    assert argv == ["train.py", *NASTY]
    assert sm == "kept"
    # From another folder: train.py runs from the project's root all the same.
    other = launch(code, tmp_path)
    assert json.loads(other.stdout)[0] == ["train.py", *NASTY]


def test_a_script_in_a_subfolder_runs_from_the_project_root_and_never_from_outside(tmp_path):
    code = source_dir(tmp_path, args_file(["--quick"], []))
    (code / "jobs").mkdir()
    (code / "jobs" / "eval.py").write_text("import os, sys\nprint(sys.argv[1:], os.getcwd())\n")
    result = launch(code, tmp_path, EASYTDV_ENTRY="jobs/eval.py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"['--quick'] {code}"
    for evil in ("../x.py", "/etc/x.py", "jobs/../../x.py", "a//b.py"):
        result = launch(code, code, EASYTDV_ENTRY=evil)
        assert result.returncode == 2, evil
        assert "is not a path inside the project" in result.stderr, evil


def test_a_file_that_is_not_easytdvs_stops_before_train_py(tmp_path):
    for i, bad in enumerate(
        (b"", args_file(["a"], [], fmt="other"), b"easytdv-run-args 1\x00n\x003\x00a\x000\x00", b"no nul")
    ):
        (tmp_path / str(i)).mkdir()
        code = source_dir(tmp_path / str(i), bad)
        result = launch(code, code)
        assert result.returncode == 2, result.stdout
        assert "easytdv: cannot read train.py's arguments from easytdv-run-args.bin" in result.stderr
        assert result.stdout == ""


# --- the run's secrets (issue 21) ------------------------------------------------------------------------------

SECRETS = TEMPLATES / "sagemaker" / "easytdv_secrets.py"
PATH = "/easytdv/runs/20261206-101500-a1b2c3/secrets"
SHOW_SECRETS = (
    "import hashlib, json, os, sys\n"
    "print(json.dumps([sys.argv[1:], hashlib.sha256(os.environ.get('HF_TOKEN', '').encode()).hexdigest(),\n"
    "    os.environ.get('WANDB_API_KEY'), sorted(k for k in os.environ if k.startswith('EASYTDV_SECRET'))]))\n"
)


def fake_boto3(tmp_path, parameters: dict, error: str | None = None):
    """A boto3 whose SSM client answers GetParameters from `parameters` (and
    records what it was asked), for the launcher's process."""
    pkg = tmp_path / "fakes"
    (pkg / "boto3").mkdir(parents=True)
    (pkg / "botocore").mkdir()
    (pkg / "botocore" / "__init__.py").write_text("")
    (pkg / "botocore" / "exceptions.py").write_text(
        "class BotoCoreError(Exception):\n    pass\n\n"
        "class ClientError(Exception):\n"
        "    def __init__(self, response, op):\n        super().__init__(op)\n        self.response = response\n"
    )
    (pkg / "boto3" / "__init__.py").write_text(
        "import json, os\nfrom botocore.exceptions import ClientError\n"
        f"PARAMS = {json.dumps(parameters)}\nERROR = {error!r}\n"
        "class _Ssm:\n"
        "    def get_parameters(self, Names, WithDecryption):\n"
        "        with open(os.environ['FAKE_LOG'], 'a') as f:\n"
        "            f.write(json.dumps([Names, WithDecryption]) + '\\n')\n"
        "        if ERROR:\n"
        "            error = {'Error': {'Code': 'AccessDeniedException', 'Message': ERROR}}\n"
        "            raise ClientError(error, 'GetParameters')\n"
        "        return {'Parameters': [{'Name': n, 'Value': PARAMS[n]} for n in Names if n in PARAMS],\n"
        "                'InvalidParameters': [n for n in Names if n not in PARAMS]}\n"
        "def client(name, region_name=None):\n"
        "    assert name == 'ssm' and region_name == 'eu-west-3'\n"
        "    return _Ssm()\n"
    )
    return pkg


def secrets_dir(tmp_path, parameters, error=None, args=("--epochs", "3")):
    code = source_dir(tmp_path, args_file(list(args), []))
    shutil.copy(SECRETS, code / "easytdv_secrets.py")
    (code / "train.py").write_text(SHOW_SECRETS)
    fakes = fake_boto3(tmp_path, parameters, error)
    log = tmp_path / "calls.jsonl"
    env = {"PYTHONPATH": str(fakes), "FAKE_LOG": str(log), "EASYTDV_SECRETS_PATH": PATH, "AWS_REGION": "eu-west-3"}
    return code, env, log


def test_the_secrets_reach_the_script_environment_only(tmp_path):
    value = "hf_" + "v" * 40
    code, env, log = secrets_dir(tmp_path, {f"{PATH}/HF_TOKEN": value, f"{PATH}/WANDB_API_KEY": "w k"})
    result = launch(code, code, EASYTDV_SECRET_NAMES="HF_TOKEN,WANDB_API_KEY", **env)
    assert result.returncode == 0, result.stderr
    told, out = result.stdout.splitlines()
    assert told == "easytdv: the script gets the secrets HF_TOKEN, WANDB_API_KEY as environment variables"
    argv, digest, wandb, names = json.loads(out)
    assert argv == ["--epochs", "3"]
    assert digest == hashlib.sha256(value.encode()).hexdigest() and wandb == "w k"
    assert names == [], "the names' own variables stay out of the script's environment"
    assert value not in result.stdout + result.stderr
    # One call, decrypted, for this run's two parameters.
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        [[f"{PATH}/HF_TOKEN", f"{PATH}/WANDB_API_KEY"], True]
    ]


def test_without_secrets_nothing_is_asked(tmp_path):
    code, env, log = secrets_dir(tmp_path, {})
    result = launch(code, code, **env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[1] == hashlib.sha256(b"").hexdigest()
    assert not log.exists()


def test_ten_names_per_call():
    spec = importlib.util.spec_from_file_location("easytdv_secrets", SECRETS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    asked = []

    def get(names):
        asked.append(list(names))
        return [{"Name": n, "Value": n[-3:]} for n in names]

    names = [f"S{i:02}" for i in range(23)]
    values = mod.read_secrets(PATH + "/", names, get)
    assert [len(a) for a in asked] == [10, 10, 3]
    assert values == {n: n for n in names}


def test_unreadable_secrets_stop_before_the_script_with_81(tmp_path):
    for case, params, error in (
        ("denied", {f"{PATH}/HF_TOKEN": "x"}, "User is not authorized to perform ssm:GetParameters"),
        ("deleted", {}, None),
    ):
        (tmp_path / case).mkdir()
        code, env, _ = secrets_dir(tmp_path / case, params, error)
        result = launch(code, code, EASYTDV_SECRET_NAMES="HF_TOKEN", **env)
        assert result.returncode == 81, (case, result.stderr)
        assert result.stdout == "", "the script did not start"
        assert result.stderr.startswith(
            "easytdv: could not read the run's secrets (HF_TOKEN) from Parameter Store: "
        ), result.stderr
        assert ("AccessDeniedException" if error else "HF_TOKEN: not in Parameter Store") in result.stderr
    # A path that is not a run's is never asked for.
    code, env, log = secrets_dir(tmp_path, {"/prod/db": "x"})
    env["EASYTDV_SECRETS_PATH"] = "/prod"
    result = launch(code, code, EASYTDV_SECRET_NAMES="db", **env)
    assert result.returncode == 81 and not log.exists(), result.stderr


def test_the_region_comes_from_the_sdk_variables_else_the_jobs_hyperparameters(tmp_path):
    spec = importlib.util.spec_from_file_location("easytdv_secrets", SECRETS)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.job_region({"AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-east-1"}) == "eu-west-3"
    assert mod.job_region({"AWS_DEFAULT_REGION": "us-east-1"}) == "us-east-1"
    (tmp_path / "hyperparameters.json").write_text(json.dumps({"sagemaker_region": '"ap-south-1"'}))
    assert mod.job_region({"SM_INPUT_CONFIG_DIR": str(tmp_path)}) == "ap-south-1"
    assert mod.job_region({"SM_INPUT_CONFIG_DIR": str(tmp_path / "none")}) is None
