"""Behaviour of templates/instance/install.sh and train.sh on a fake instance."""

import os
import signal
import subprocess

import pytest
from tpl_helpers import (
    INSTALL,
    SCRIPTS,
    TRAIN,
    TRAIN_FAILS,
    TRAIN_OK,
    Instance,
    read_until,
)


# --------------------------------------------------------------------------
# Shell scripts
# --------------------------------------------------------------------------
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_pass_bash_syntax_check(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert script.read_text(encoding="utf-8").startswith("#!/bin/bash\n")


def test_install_downloads_inputs_and_creates_venv(installed):
    home = installed.home
    assert (home / "run" / "train.py").read_text() == TRAIN_OK
    assert (home / "run" / "requirements.txt").exists()
    assert os.access(home / "venv" / "bin" / "python", os.X_OK)
    assert "easytdv: downloading inputs" in installed.install_result.stdout
    assert "easytdv: requirements installed" in installed.install_result.stdout


def test_train_writes_outputs_to_the_bucket(installed):
    (installed.inputs / "train.py").write_text(TRAIN_OK)
    result = installed.run(TRAIN)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (installed.outputs / "model.txt").read_text() == "weights"
    assert (installed.outputs / "checkpoints" / "epoch1.txt").exists()
    assert f"trained in {installed.home / 'run'}" in result.stdout
    assert "easytdv: outputs uploaded (2 files)" in result.stdout


def test_failing_training_still_syncs_outputs_and_fails(installed):
    (installed.inputs / "train.py").write_text(TRAIN_FAILS)
    result = installed.run(TRAIN)
    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: easytdv-test: loss is NaN" in result.stderr
    assert "epoch 1 done" in result.stdout
    assert (installed.outputs / "partial.ckpt").read_text() == "half"
    assert "easytdv: outputs uploaded (1 files)" in result.stdout


def test_stopping_training_still_uploads_outputs(installed):
    (installed.inputs / "train.py").write_text(
        "import os, pathlib, time\n"
        "pathlib.Path(os.environ['OUTPUT_DIR'], 'checkpoint.txt').write_text('epoch 3')\n"
        "print('training-is-running', flush=True)\n"
        "time.sleep(120)\n"
    )
    proc = installed.start(TRAIN)
    try:
        lines = read_until(proc, "training-is-running")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "easytdv: stop requested" in err
    assert "easytdv: outputs uploaded (1 files)" in "".join(lines) + out
    assert (installed.outputs / "checkpoint.txt").read_text() == "epoch 3"


def test_upload_failure_after_successful_training_is_an_error(installed):
    (installed.inputs / "train.py").write_text(TRAIN_OK)
    result = installed.run(TRAIN, FAKE_AWS_FAIL_SYNC="1")
    assert result.returncode == 90
    assert "outputs were not uploaded" in result.stderr


def test_train_without_install_fails_clearly(tmp_path):
    inst = Instance(tmp_path)
    result = inst.run(TRAIN)
    assert result.returncode == 2
    assert "install the requirements first" in result.stderr


def test_install_fails_clearly_when_an_input_is_missing(tmp_path):
    inst = Instance(tmp_path)
    (inst.inputs / "train.py").write_text(TRAIN_OK)
    result = inst.run(INSTALL)
    assert result.returncode == 3
    assert "easytdv: could not download" in result.stderr
    assert "requirements.txt" in result.stderr


def test_install_fails_clearly_on_a_bad_requirement(tmp_path):
    inst = Instance(tmp_path)
    inst.upload_inputs(TRAIN_OK, "this-package-does-not-exist-easytdv==9.9\n")
    result = inst.run(
        INSTALL,
        PIP_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_RETRIES="0",
        PIP_TIMEOUT="2",
    )
    assert result.returncode != 0
    assert "easytdv: pip could not install the requirements" in result.stderr
    # pip's own error is in the stderr tail, before our line.
    assert "this-package-does-not-exist-easytdv" in result.stderr
