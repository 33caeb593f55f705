"""No idle machine: after a failure the instance schedules its own shutdown
(min(max-runtime deadline, now + EASYTDV_IDLE_AFTER_FAILURE_MIN)); a retry
restores the max-runtime shutdown; after a successful upload it ends in a minute.
`shutdown` is a fake that records its arguments."""

import re
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tpl_helpers import INSTALL, TRAIN, TRAIN_FAILS, TRAIN_OK, Instance

WILL = re.compile(r"^easytdv: machine will shut down at (\S+) unless you retry$", re.M)


@pytest.fixture
def ready(tmp_path):
    inst = Instance(tmp_path, uv=(Path(sys.executable).parent / "uv").exists())
    inst.upload_inputs(TRAIN_OK, "")
    result = inst.run(INSTALL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert inst.shutdowns() == []  # a success of install.sh leaves the machine alone
    inst.reset_records()
    return inst


def minutes(call):
    return int(re.match(r"^-h \+(\d+) ", call).group(1))


def at(stdout):
    return datetime.strptime(WILL.search(stdout).group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_a_failed_training_shuts_the_machine_down_after_an_hour(ready):
    ready.upload_inputs(TRAIN_FAILS, "")
    result = ready.run(TRAIN)
    assert result.returncode == 1
    (call,) = ready.shutdowns()
    assert call.startswith("-h +60 easyTDV: ")
    when = at(result.stdout).timestamp()
    assert abs(when - (time.time() + 3600)) < 120
    assert (ready.outputs / "partial.ckpt").exists()  # outputs first, then the shutdown


def test_the_failure_shutdown_is_never_after_the_deadline(ready):
    (ready.home / "deadline").write_text(f"{int(time.time()) + 10 * 60}\n")
    ready.upload_inputs(TRAIN_FAILS, "")
    assert ready.run(TRAIN).returncode == 1
    assert minutes(ready.shutdowns()[-1]) == 10
    ready.upload_inputs(TRAIN_FAILS, "")
    ready.reset_records()
    ready.run(TRAIN, EASYTDV_IDLE_AFTER_FAILURE_MIN="3")
    # The retry first restored the deadline's shutdown, then the failure set 3 minutes.
    assert [minutes(c) for c in ready.shutdowns()] == [10, 3]


def test_a_retry_restores_the_max_runtime_shutdown(ready):
    (ready.home / "deadline").write_text(f"{int(time.time()) + 300 * 60}\n")
    ready.upload_inputs(TRAIN_FAILS, "")
    ready.run(TRAIN)
    assert minutes(ready.shutdowns()[-1]) == 60
    ready.reset_records()
    ready.upload_inputs(TRAIN_OK, "")
    result = ready.run(TRAIN)
    assert result.returncode == 0
    first, last = ready.shutdowns()
    assert first.startswith("-h +300 easyTDV: maximum run time reached")
    assert "the machine's shutdown is back at the maximum run time" in result.stdout
    assert last == "-h +1 easyTDV: training finished, outputs uploaded"


def test_a_retry_without_a_deadline_cancels_the_failure_shutdown(ready):
    ready.upload_inputs(TRAIN_FAILS, "")
    ready.run(TRAIN)
    ready.reset_records()
    result = ready.run(INSTALL)
    assert result.returncode == 0
    assert ready.shutdowns() == ["-c"]
    assert "the machine's scheduled shutdown was cancelled" in result.stdout


def test_success_ends_the_machine_a_minute_after_the_upload(ready):
    result = ready.run(TRAIN)
    assert result.returncode == 0
    assert ready.shutdowns() == ["-h +1 easyTDV: training finished, outputs uploaded"]
    out = result.stdout
    assert out.index("easytdv: outputs uploaded") < out.index("easytdv: machine will shut down at")
    assert re.search(r"^easytdv: machine will shut down at \S+Z \(training finished, outputs uploaded\)$", out, re.M)


def test_kept_warm_the_machine_ends_itself_that_much_later(ready):
    result = ready.run(TRAIN, EASYTDV_KEEP_WARM_MIN="10")
    assert result.returncode == 0
    assert ready.shutdowns() == ["-h +10 easyTDV: kept warm for a next run that did not come"]
    when = re.search(r"^easytdv: machine kept warm until (\S+) for the next run$", result.stdout, re.M)
    stamp = datetime.strptime(when.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    assert abs(stamp - (time.time() + 600)) < 120
    assert (ready.home / "shutdown.scheduled").read_text().split()[1] == "warm"


@pytest.mark.parametrize("keep", ["0", "121", "ten", ""])
def test_no_or_a_bad_keep_warm_ends_the_machine_a_minute_later(ready, keep):
    assert ready.run(TRAIN, EASYTDV_KEEP_WARM_MIN=keep).returncode == 0
    assert ready.shutdowns() == ["-h +1 easyTDV: training finished, outputs uploaded"]


def test_a_new_run_on_a_warm_machine_has_its_own_deadline(ready):
    (ready.home / "deadline").write_text(f"{int(time.time()) + 5 * 60}\n")  # the first run's
    assert ready.run(TRAIN, EASYTDV_KEEP_WARM_MIN="30").returncode == 0
    ready.reset_records()
    result = ready.run(INSTALL, EASYTDV_DEADLINE_IN=str(200 * 60))
    assert result.returncode == 0, result.stdout + result.stderr
    # The warm stop is replaced by the new run's maximum run time, on the machine's clock.
    assert ready.shutdowns() == ["-h +200 easyTDV: maximum run time reached"]
    assert abs(int((ready.home / "deadline").read_text()) - (time.time() + 200 * 60)) < 30
    assert not (ready.home / "shutdown.scheduled").exists()


@pytest.mark.parametrize("left", ["0", "-5", "soon"])
def test_no_time_left_is_not_a_deadline(ready, left):
    (ready.home / "deadline").write_text("4000000000\n")
    assert ready.run(INSTALL, EASYTDV_DEADLINE_IN=left).returncode == 0
    assert (ready.home / "deadline").read_text().strip() == "4000000000"


def test_a_failed_upload_is_a_failure(ready):
    result = ready.run(TRAIN, FAKE_AWS_FAIL_SYNC="1")
    assert result.returncode == 90
    assert minutes(ready.shutdowns()[-1]) == 60


def test_a_failed_install_shuts_the_machine_down_too(tmp_path):
    inst = Instance(tmp_path)
    (inst.inputs / "train.py").write_text(TRAIN_OK)
    result = inst.run(INSTALL)
    assert result.returncode == 3
    assert minutes(inst.shutdowns()[-1]) == 60
    assert WILL.search(result.stdout)


def test_never_on_a_developers_machine(tmp_path):
    """EASYTDV_HOME given, not root's real instance, not the sandbox: hands off."""
    inst = Instance(tmp_path)
    inst.upload_inputs(TRAIN_FAILS, "")
    result = inst.run(TRAIN, EASYTDV_SELF_SHUTDOWN="")
    assert result.returncode == 2  # not installed
    assert inst.shutdowns() == []
    assert not WILL.search(result.stdout)


def test_in_the_sandbox_the_shim_is_used(tmp_path):
    inst = Instance(tmp_path)
    result = inst.run(TRAIN, EASYTDV_SELF_SHUTDOWN="", EASYTDV_SANDBOX_INSTANCE_ID="i-0123456789abcdef0")
    assert result.returncode == 2
    assert minutes(inst.shutdowns()[-1]) == 60


SAVES_AND_SIGNALS = """\
import os, pathlib, time
ckpt = pathlib.Path(os.environ["EASYTDV_CHECKPOINT_DIR"])
(ckpt / "last.pt").write_text("epoch 3")
notice = pathlib.Path(os.environ["EASYTDV_IMDS_DIR"], "spot", "instance-action")
notice.parent.mkdir(parents=True, exist_ok=True)
notice.write_text('{"action": "terminate", "time": "2026-12-07T10:00:00Z"}')  # AWS's notice
time.sleep(3)
print("still training")
"""


def test_a_spot_machine_saves_its_checkpoints_on_aws_notice(ready, tmp_path):
    ready.upload_inputs(SAVES_AND_SIGNALS, "")
    imds = tmp_path / "imds"
    result = ready.run(TRAIN, EASYTDV_SPOT="1", EASYTDV_IMDS_DIR=str(imds), EASYTDV_SPOT_POLL="0.2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "easytdv: AWS is taking this spot machine back" in result.stdout
    assert "easytdv: checkpoints saved to outputs/checkpoints/ (1 files)" in result.stdout
    assert (ready.outputs / "checkpoints" / "last.pt").read_text() == "epoch 3"


def test_without_spot_no_watch_and_a_resumed_run_gets_its_checkpoints_back(ready, tmp_path):
    ready.upload_inputs(SAVES_AND_SIGNALS, "")
    imds = tmp_path / "imds"
    result = ready.run(TRAIN, EASYTDV_IMDS_DIR=str(imds), EASYTDV_SPOT_POLL="0.2")
    assert result.returncode == 0
    assert "spot machine back" not in result.stdout
    assert not (ready.outputs / "checkpoints").exists()
    # The same machine again (a retry): its own newer checkpoint stays.
    (ready.inputs / "checkpoints").mkdir()
    (ready.inputs / "checkpoints" / "last.pt").write_text("epoch 7")
    reads = "import os\nprint(open(os.path.join(os.environ['EASYTDV_CHECKPOINT_DIR'], 'last.pt')).read())\n"
    ready.upload_inputs(reads, "")
    result = ready.run(TRAIN, EASYTDV_CHECKPOINTS_RESTORE="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "epoch 3" in result.stdout and "restored" not in result.stdout
    # A new machine (its folder empty): the app's copy comes back; another
    # run's folder on the disk (a machine kept warm) is removed.
    shutil.rmtree(ready.home / "checkpoints")
    (ready.home / "checkpoints" / "20261201-000000-aaaaaa").mkdir(parents=True)
    (ready.home / "checkpoints" / "20261201-000000-aaaaaa" / "last.pt").write_text("another run's")
    result = ready.run(TRAIN, EASYTDV_CHECKPOINTS_RESTORE="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "easytdv: checkpoints restored: 1 files in EASYTDV_CHECKPOINT_DIR" in result.stdout
    assert "epoch 7" in result.stdout
    assert not (ready.home / "checkpoints" / "20261201-000000-aaaaaa").exists()
