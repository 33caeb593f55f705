"""templates/sagemaker/easytdv_launch.py: SageMaker's entry point of a run whose
train.py has arguments; it becomes `python -u train.py ARG...` (os.execv)."""

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
