"""The combined, timestamped log of install.sh / train.sh and its chunked upload
to outputs/_logs/<name>/<6-digit index>.log while the script runs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from tpl_helpers import HELPER_PY, INSTALL, PREFIX, TRAIN, TRAIN_OK, Instance

LINE = re.compile(rb"^(\d{13}) ([oe]) (.*)$")
CHUNK = 256

CHATTY = """\
import sys, time
for i in range(40):
    print(f"step {i} loss {1 / (i + 1):.3f}", flush=True)
    if i % 5 == 0:
        print(f"warning {i}", file=sys.stderr, flush=True)
    time.sleep(0.04)
print("done")
"""


@pytest.fixture
def ready(tmp_path):
    inst = Instance(tmp_path, uv=(Path(sys.executable).parent / "uv").exists())
    inst.upload_inputs(TRAIN_OK, "")
    result = inst.run(INSTALL)
    assert result.returncode == 0, result.stdout + result.stderr
    inst.reset_records()
    return inst


def chunks(inst, name):
    folder = inst.outputs / "_logs" / name
    return sorted(folder.glob("*.log"))


def test_train_log_is_chunked_while_it_runs_and_concatenates_to_the_log(ready):
    inst = ready
    inst.upload_inputs(CHATTY, "")
    result = inst.run(TRAIN, EASYTDV_LOG_CHUNK_BYTES=str(CHUNK), EASYTDV_LOG_INTERVAL="0.1")
    assert result.returncode == 0, result.stdout + result.stderr
    log = (inst.home / "logs" / "train.log").read_bytes()

    # One line per output line: "<epoch ms> <o|e> <text>", in order.
    lines = [LINE.match(raw) for raw in log.splitlines()]
    assert all(lines), log
    texts = [(m.group(2).decode(), m.group(3).decode()) for m in lines]
    assert ("o", "step 0 loss 1.000") in texts and ("o", "done") in texts
    assert ("e", "warning 5") in texts
    assert (
        texts.index(("o", "step 5 loss 0.167"))
        < texts.index(("e", "warning 5"))
        < texts.index(("o", "step 6 loss 0.143"))
    )
    stamps = [int(m.group(1)) for m in lines]
    assert stamps == sorted(stamps)
    assert ("o", "easytdv: training started (OUTPUT_DIR=" + str(inst.home / "outputs") + ")") in texts

    # Chunks: exactly CHUNK bytes each but the last; together, the log.
    parts = chunks(inst, "train")
    assert [p.name for p in parts] == [f"{i:06d}.log" for i in range(len(parts))]
    assert len(parts) >= 5
    assert all(p.stat().st_size == CHUNK for p in parts[:-1])
    assert 0 < parts[-1].stat().st_size <= CHUNK
    assert b"".join(p.read_bytes() for p in parts) == log

    # A sealed (full) chunk is never uploaded again; the growing one was.
    puts = [(k, n) for k, n in inst.puts() if "/_logs/train/" in k]
    sealed = set()
    for key, size in puts:
        assert key not in sealed, f"{key} re-uploaded after it was sealed"
        if size == CHUNK:
            sealed.add(key)
    counts = {}
    for key, _ in puts:
        counts[key] = counts.get(key, 0) + 1
    assert max(counts.values()) >= 2  # the last chunk, re-sent while it grew

    # Live: chunks went up before the training's outputs were synced.
    calls = inst.calls()
    first_ship = next(i for i, c in enumerate(calls) if "/_logs/train/" in c)
    upload = next(i for i, c in enumerate(calls) if c.endswith("/outputs/_logs/train-stdout.log"))
    assert first_ship < upload

    # The plain logs, for people, beside the outputs (uploaded with them).
    plain = (inst.outputs / "_logs" / "train-stdout.log").read_text()
    assert "step 39 loss 0.025" in plain and "warning" not in plain
    assert "warning 35" in (inst.outputs / "_logs" / "train-stderr.log").read_text()


def test_train_sh_round_trips_one_download_one_upload_no_aws_cli(ready):
    inst = ready
    result = inst.run(TRAIN)
    assert result.returncode == 0, result.stdout + result.stderr
    work = [c for c in inst.calls() if "/_logs/train/" not in c]
    assert work[0] == f"helper GET s3://easytdv-test-bucket/{PREFIX}/train.py", work
    outputs = ["checkpoints/epoch1.txt", "model.txt", "_logs/train-stderr.log", "_logs/train-stdout.log"]
    assert sorted(c.split("/outputs/")[1] for c in work[1:]) == sorted(outputs), work
    assert all(c.startswith("helper PUT ") for c in work[1:]), work
    phases = re.findall(r"^easytdv: phase (\w+) \d+\.\d{3}$", result.stdout, re.M)
    assert phases == ["download", "train", "upload"]


def test_install_log_is_shipped_too(ready):
    inst = ready
    log = (inst.home / "logs" / "install.log").read_bytes()
    assert b" o easytdv: phase env " in log
    parts = chunks(inst, "install")
    assert parts and b"".join(p.read_bytes() for p in parts) == log


def test_a_retry_appends_to_the_log_and_keeps_sealed_chunks(ready):
    inst = ready
    env = {"EASYTDV_LOG_CHUNK_BYTES": str(CHUNK), "EASYTDV_LOG_INTERVAL": "0.1"}
    inst.upload_inputs("print('first attempt ' * 20)\nraise SystemExit(3)\n", "")
    assert inst.run(TRAIN, **env).returncode == 3
    first = b"".join(p.read_bytes() for p in chunks(inst, "train"))
    inst.upload_inputs("print('second attempt')\n", "")
    assert inst.run(TRAIN, **env).returncode == 0
    log = (inst.home / "logs" / "train.log").read_bytes()
    assert log.startswith(first)
    assert b"".join(p.read_bytes() for p in chunks(inst, "train")) == log
    assert b" o second attempt\n" in log and b"first attempt" in log


def test_a_new_run_on_the_same_machine_starts_its_own_log(ready):
    """A machine kept warm: the next run's folder gets none of the last run's lines."""
    inst = ready
    inst.upload_inputs("print('the first run')\n", "")
    assert inst.run(TRAIN).returncode == 0
    nxt = f"{PREFIX}-next"
    folder = inst.inputs.parent / Path(nxt).name
    folder.mkdir(parents=True)
    (folder / "train.py").write_text("print('the second run')\n")
    result = inst.run(TRAIN, EASYTDV_PREFIX=nxt)
    assert result.returncode == 0, result.stdout + result.stderr
    shipped = b"".join(p.read_bytes() for p in sorted((folder / "outputs" / "_logs" / "train").glob("*.log")))
    assert b" o the second run\n" in shipped
    assert b"the first run" not in shipped
    assert (inst.home / "logs" / "train.log").read_bytes() == shipped
    # The first run's log in its own folder is untouched.
    first = b"".join(p.read_bytes() for p in chunks(inst, "train"))
    assert b"the first run" in first and b"the second run" not in first


def test_line_splitting_carriage_returns_and_partial_lines(tmp_path):
    script = (
        "import sys, time\n"
        "w = sys.stdout.write\n"
        "w('a\\nb'); sys.stdout.flush(); time.sleep(0.05); w('c\\r'); sys.stdout.flush(); time.sleep(0.05)\n"
        "w('\\n 10%\\r 20%\\r'); w('no newline at the end'); sys.stdout.flush()\n"
        "sys.stderr.write('err\\r\\n')\n"
    )
    log = tmp_path / "x.log"
    out = subprocess.run(
        [sys.executable, str(HELPER_PY), "run", "--log", str(log), "--", sys.executable, "-c", script],
        capture_output=True,
    )
    assert out.returncode == 0
    assert out.stdout == b"a\nbc\r\n 10%\r 20%\rno newline at the end"  # tee'd unchanged
    texts = [LINE.match(raw).group(2, 3) for raw in log.read_bytes().splitlines()]
    assert (b"o", b"a") in texts and (b"o", b"bc") in texts and (b"e", b"err") in texts
    assert [t for tag, t in texts if tag == b"o"][-3:] == [b" 10%", b" 20%", b"no newline at the end"]


def test_the_exit_code_and_signals_pass_through_the_helper(tmp_path):
    log = tmp_path / "x.log"
    run = [sys.executable, str(HELPER_PY), "run", "--log", str(log), "--"]
    assert subprocess.run(run + ["bash", "-c", "exit 7"]).returncode == 7
    proc = subprocess.Popen(
        run + ["bash", "-c", "trap 'echo got-term; exit 5' TERM; echo ready; while :; do sleep 0.05; done"],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout.readline() == b"ready\n"
    proc.terminate()
    assert proc.wait(timeout=10) == 5
    assert b" o got-term\n" in log.read_bytes()
