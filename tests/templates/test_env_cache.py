"""install.sh: the Python it picks, uv and the pip fallback, empty requirements,
the environment cache in S3 (hit, miss, corrupt), one-call download, phases,
and the Deep Learning AMI's preinstalled torch. Fake instances, a local index."""

import ast
import hashlib
import json
import random
import re
import signal
import subprocess
import sys
import tarfile
import time
import types
from pathlib import Path

import pytest
from tpl_helpers import (
    BUCKET,
    CACHE_KEY,
    DEAD_URL,
    INSTALL,
    OWNER,
    PREFIX,
    TRAIN,
    TRAIN_FAILS,
    TRAIN_OK,
    UV_PIN,
    Instance,
    index_env,
    read_until,
    saved_cache,
)

REQS = "# the demo package\neasytdv-demo-a   # pulls easytdv-demo-b\n\n"
CACHE = Path(BUCKET) / "easytdv" / "cache"
INSTALL_PHASES = ["download", "python", "env", "cache", "install"]


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def the(pattern, text):
    found = re.findall(pattern, text, re.M)
    assert len(found) == 1, (pattern, text)
    return found[0]


def installed_packages(inst, python=None):
    python = python or inst.home / "venv" / "bin" / "python"
    out = subprocess.run(
        [str(python), "-c", "import easytdv_demo_a, easytdv_demo_b; print(easytdv_demo_a.__version__)"],
        capture_output=True,
        text=True,
    )
    return out.returncode == 0 and out.stdout.strip() == "1.0"


def phases(stdout):
    return [name for name, _ in re.findall(r"^easytdv: phase ([\w-]+) (\d+\.\d{3})$", stdout, re.M)]


def cache_objects(inst):
    root = inst.s3 / CACHE
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def fresh(tmp_path, name, **kw):
    return Instance(tmp_path / name, **kw)


def install_and_train(inst, **env):
    """install.sh then train.sh, as a run does: after a fresh install the
    environment is saved by train.sh, while train.py runs. stdout is both."""
    install = ok(inst.run(INSTALL, **env))
    home = Path(env.get("EASYTDV_HOME", inst.home))
    assert (home / "cache-save.sh").exists() == ("will be saved for next time" in install.stdout)
    train = ok(inst.run(TRAIN, **env))
    assert not (home / "cache-save.sh").exists()
    return types.SimpleNamespace(install=install, train=train, stdout=install.stdout + train.stdout)


# --------------------------------------------------------------------------
# uv, one download call, phases, cache miss then hit
# --------------------------------------------------------------------------
def test_uv_install_then_a_new_machine_reuses_the_cache_offline(tmp_path, online, needs_uv):
    first = fresh(tmp_path, "first", uv=True)
    first.upload_inputs(TRAIN_OK, REQS)
    result = install_and_train(first, **index_env(online))
    out = result.stdout
    assert f"easytdv: installer uv {UV_PIN}" in out
    key = the(r"^easytdv: cache miss ([0-9a-f]{64})$", out)
    assert key == CACHE_KEY  # the app's key, given in the command
    # Nothing recorded for that key: nothing is even asked of S3.
    assert not [c for c in first.calls() if "/cache/" in c and "GET" in c], first.calls()
    assert "tar:" not in result.install.stderr and "zstd:" not in result.install.stderr, result.install.stderr
    # Saved by train.sh, in the background of the training, not by install.sh.
    assert "cache saved" not in result.install.stdout
    size, sha = the(rf"^easytdv: cache saved {key} (\d+) ([0-9a-f]{{64}}) {key}\.tar\.zst$", result.train.stdout)
    size = int(size)
    assert phases(result.install.stdout) == INSTALL_PHASES
    # The save runs beside the training: its phase line comes whenever it ends.
    train_phases = phases(result.train.stdout)
    assert [p for p in train_phases if p != "cache-save"] == ["download", "train", "upload"]
    assert train_phases.count("cache-save") == 1
    assert "easytdv: training finished" in result.train.stdout
    assert installed_packages(first)
    assert result.install.stdout.rstrip().endswith("easytdv: requirements installed")
    # The helper fetched both inputs (one process), and the AWS CLI never started.
    downloads = [c for c in first.calls() if f" s3://{BUCKET}/{PREFIX}/" in c and "/outputs/" not in c]
    # (install.sh: both inputs in one helper call; train.sh: train.py again)
    assert sorted(downloads) == [
        f"helper GET s3://{BUCKET}/{PREFIX}/{n}" for n in ("requirements.txt", "train.py", "train.py")
    ]
    assert not [c for c in first.calls() if c.startswith("aws ")], first.calls()
    assert sorted((first.s3 / ".gets").read_text().split()) == [
        f"{PREFIX}/requirements.txt",
        f"{PREFIX}/train.py",
        f"{PREFIX}/train.py",
    ]
    # The cache object and its description.
    assert cache_objects(first) == [f"{key}.json", f"{key}.tar.zst"]
    archive = first.s3 / CACHE / f"{key}.tar.zst"
    assert archive.stat().st_size == size
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == sha
    # Every request of the helper named the bucket's owner (ExpectedBucketOwner).
    assert first.owners() and all(line.endswith(f" {OWNER}") for line in first.owners()), first.owners()
    meta = json.loads((first.s3 / CACHE / f"{key}.json").read_text())
    assert meta["requirements"] == "easytdv-demo-a\n"
    assert meta["arch"] and meta["image"] == "ami-0123456789abcdef0" and meta["installer"] == "uv"
    assert meta["python"] == ".".join(map(str, sys.version_info[:3]))
    assert meta["size"] == size and meta["archive"] == f"{key}.tar.zst" and meta["sha256"] == sha
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", meta["created"])

    # A new machine, the index unreachable: the cache alone installs.
    online.down = True
    second = tmp_path / "second-machine"
    first.upload_inputs(TRAIN_OK, "easytdv-demo-a\n# same requirements, other comments\n")
    asked = len(online.requests)
    recorded = saved_cache(result.train.stdout)
    result = ok(first.run(INSTALL, EASYTDV_HOME=str(second), **recorded, **index_env(online)))
    assert the(r"^easytdv: cache hit ([0-9a-f]{64}) \S+$", result.stdout) == key
    assert f"easytdv: cache hit {key} {meta['created']}" in result.stdout
    assert "cache saved" not in result.stdout and "cache miss" not in result.stdout
    assert not (second / "cache-save.sh").exists()  # a hit saves nothing
    assert installed_packages(first, second / "venv" / "bin" / "python")
    assert online.requests[asked:] == []  # offline: not even a try
    gets = (first.s3 / ".gets").read_text().split()
    assert [g for g in gets if "/cache/" in g] == [f"easytdv/cache/{key}.tar.zst"]  # one GET on a hit
    assert phases(result.stdout) == INSTALL_PHASES


TRAIN_WAITS_FOR_THE_SAVE = f"""\
import os, pathlib, time
cache = pathlib.Path(os.environ["FAKE_S3_ROOT"]) / "{BUCKET}" / "easytdv" / "cache"
for _ in range(600):
    if list(cache.glob("*.json")):
        print("the cache was saved while train.py ran")
        break
    time.sleep(0.05)
else:
    raise SystemExit("the cache was not saved while train.py ran")
"""


def test_the_environment_is_saved_while_train_py_runs_and_only_once(tmp_path, online, needs_uv):
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_WAITS_FOR_THE_SAVE, REQS)
    install = ok(inst.run(INSTALL, **index_env(online)))
    assert "easytdv: the environment will be saved for next time while train.py runs" in install.stdout
    assert "cache saved" not in install.stdout and cache_objects(inst) == []
    train = ok(inst.run(TRAIN, **index_env(online)))
    # train.py ends only once the save is in S3: the two ran at the same time.
    assert "the cache was saved while train.py ran" in train.stdout, train.stdout + train.stderr
    key = saved_cache(train.stdout)["EASYTDV_CACHE_KEY"]
    assert cache_objects(inst) == [f"{key}.json", f"{key}.tar.zst"]
    # A retried training does not save it again.
    inst.upload_inputs(TRAIN_OK, REQS)
    again = ok(inst.run(TRAIN, **index_env(online)))
    assert "saving the environment" not in again.stdout and "cache saved" not in again.stdout


def test_a_new_environment_is_saved_where_the_command_says_and_only_there(tmp_path, online, needs_uv):
    """A machine of the base writes only its own folder (templates/base.yaml): the save goes to
    EASYTDV_CACHE_SAVE_PREFIX, the app copies it into the cache; the restore still reads the cache."""
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_OK, REQS)
    folder = "easytdv/m/AROAEXAMPLE:i-0abc/20261206-101500-a1b2c3/environment"
    run = install_and_train(inst, EASYTDV_CACHE_SAVE_PREFIX=folder, **index_env(online))
    key = saved_cache(run.stdout)["EASYTDV_CACHE_KEY"]
    assert cache_objects(inst) == []
    saved = sorted(p.name for p in (inst.s3 / BUCKET / folder).iterdir())
    assert saved == [f"{key}.json", f"{key}.tar.zst"]


def test_a_failed_training_still_saves_the_environment(tmp_path, online, needs_uv):
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_FAILS, REQS)
    ok(inst.run(INSTALL, **index_env(online)))
    train = inst.run(TRAIN, **index_env(online))
    assert train.returncode == 1, train.stdout + train.stderr
    assert "easytdv-test: loss is NaN" in train.stderr
    key = saved_cache(train.stdout)["EASYTDV_CACHE_KEY"]
    assert cache_objects(inst) == [f"{key}.json", f"{key}.tar.zst"]


def ended(pid):
    """True once `pid` is gone or a zombie (killed, not reaped yet), within 10 s."""
    for _ in range(200):
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return True
        if re.search(r"^State:\s+Z", state, re.M):
            return True
        time.sleep(0.05)
    return False


def test_a_stop_ends_the_save_with_the_training(tmp_path, online, needs_uv):
    inst = fresh(tmp_path, "m", uv=True)
    # A zstd that packs forever (a very big environment) and notes its pid;
    # it unpacks as the real one (the restore streams into it).
    pidfile = tmp_path / "zstd.pid"
    real = subprocess.run(["bash", "-c", "command -v zstd"], capture_output=True, text=True).stdout.strip()
    (inst.bin / "zstd").write_text(
        f"#!/bin/bash\ncase \"$1\" in -d*) exec '{real}' \"$@\" ;; esac\necho $$ > '{pidfile}'\nexec sleep 300\n"
    )
    (inst.bin / "zstd").chmod(0o755)
    inst.upload_inputs(
        "import time\nprint('training-is-running', flush=True)\ntime.sleep(300)\n",
        REQS,
    )
    ok(inst.run(INSTALL, **index_env(online)))
    proc = inst.start(TRAIN, **index_env(online))
    try:
        lines = read_until(proc, "training-is-running")
        for _ in range(200):  # the save has reached its packing
            if pidfile.exists() and pidfile.read_text().strip():
                break
            time.sleep(0.05)
        zstd_pid = int(pidfile.read_text())
        proc.send_signal(signal.SIGTERM)
        # (communicate returns once nothing holds the script's output open:
        # a save left running would hang it here)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "easytdv: saving the environment for next time, while train.py runs" in "".join(lines)
    assert "easytdv: stop requested" in err
    assert ended(zstd_pid), "the save was left running after the stop"
    assert cache_objects(inst) == []


@pytest.mark.parametrize("why", ["the helper cannot reach S3", "the archive is big"])
def test_the_restore_streams_through_the_aws_cli(tmp_path, online, needs_uv, why):
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_OK, REQS)
    recorded = saved_cache(install_and_train(inst, **index_env(online)).stdout)
    key = recorded["EASYTDV_CACHE_KEY"]
    inst.reset_records()
    online.down = True
    second = tmp_path / "second-machine"
    if why == "the archive is big":  # bigger than what the helper downloads
        env = {"EASYTDV_S3_SMALL_BYTES": "1000", **recorded}
    else:
        env = {"AWS_ENDPOINT_URL": DEAD_URL, **recorded}
    result = ok(inst.run(INSTALL, EASYTDV_HOME=str(second), **env, **index_env(online)))
    assert f"easytdv: cache hit {key} " in result.stdout
    assert installed_packages(inst, second / "venv" / "bin" / "python")
    assert f"aws s3 cp --only-show-errors s3://{BUCKET}/easytdv/cache/{key}.tar.zst -" in inst.calls(), inst.calls()
    assert not list(second.rglob("*.tar.zst*"))  # streamed: no copy of the archive on the disk


def pack(tmp_path, target, members):
    """A .tar.zst of {name: directory or file} at `target`."""
    with tarfile.open(tmp_path / "c.tar", "w") as tar:
        for name, path in members.items():
            tar.add(path, arcname=name)
    subprocess.run(["zstd", "-q", "-f", str(tmp_path / "c.tar"), "-o", str(target)], check=True)


@pytest.mark.parametrize("broken", ["garbage", "big-garbage", "no-description"])
def test_a_corrupt_cache_object_is_replaced(tmp_path, online, needs_uv, broken):
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_OK, REQS)
    recorded = saved_cache(install_and_train(inst, **index_env(online)).stdout)
    key = recorded["EASYTDV_CACHE_KEY"]
    target = inst.s3 / CACHE / f"{key}.tar.zst"
    if broken == "garbage":
        target.write_bytes(b"\x00garbage, not what was saved")
    elif broken == "big-garbage":  # zstd gives up long before the end of the stream
        target.write_bytes(random.Random(7).randbytes(8 << 20))
    else:
        pack(tmp_path, target, {"uv": inst.home / "cache" / "uv"})
    fresh_home = tmp_path / "home2"
    inst.reset_records()
    result = install_and_train(inst, EASYTDV_HOME=str(fresh_home), **recorded, **index_env(online))
    assert f"easytdv: cache corrupt {key}, installing afresh" in result.stdout
    # Not downloaded a second time by the AWS CLI: the archive is bad, not the network.
    assert not [c for c in inst.calls() if c.startswith("aws ") and "/cache/" in c], inst.calls()
    assert f"easytdv: cache saved {key} " in result.stdout
    assert installed_packages(inst, fresh_home / "venv" / "bin" / "python")
    # Replaced: a readable archive with its description again, and a new digest for the app to record.
    meta = json.loads((inst.s3 / CACHE / f"{key}.json").read_text())
    assert meta["key"] == key and meta["size"] == target.stat().st_size
    assert saved_cache(result.stdout)["EASYTDV_CACHE_SHA256"] == hashlib.sha256(target.read_bytes()).hexdigest()
    listing = subprocess.run(
        ["bash", "-c", f"zstd -dc '{target}' | tar -t | sort | head -2"], capture_output=True, text=True
    )
    assert listing.stdout.splitlines() == ["easytdv-cache.json", "uv/"], listing.stdout + listing.stderr


def test_a_tampered_archive_is_not_used(tmp_path, online, needs_uv):
    # Someone who may write the bucket replaced the archive with a working one
    # of their own: well formed, a valid description, a usable uv cache. Only
    # its SHA-256 differs from the one the app recorded when the save ended.
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_OK, REQS)
    recorded = saved_cache(install_and_train(inst, **index_env(online)).stdout)
    key, want = recorded["EASYTDV_CACHE_KEY"], recorded["EASYTDV_CACHE_SHA256"]
    target = inst.s3 / CACHE / f"{key}.tar.zst"
    work = tmp_path / "unpacked"
    work.mkdir()
    subprocess.run(["bash", "-c", f"zstd -dc '{target}' | tar -x -C '{work}'"], check=True)
    (work / "uv" / "planted.txt").write_text("not from the run that saved this environment")
    pack(tmp_path, target, {"easytdv-cache.json": work / "easytdv-cache.json", "uv": work / "uv"})
    home2 = tmp_path / "home2"
    result = install_and_train(inst, EASYTDV_HOME=str(home2), **recorded, **index_env(online))
    assert re.search(
        rf"^easytdv: cache object unusable: {key}\.tar\.zst is not the archive easyTDV recorded "
        rf"\(SHA-256 [0-9a-f]{{64}}, \d+ bytes; expected {want}\): not used$",
        result.stdout,
        re.M,
    ), result.stdout
    assert f"easytdv: cache corrupt {key}, installing afresh" in result.stdout
    assert "cache hit" not in result.stdout
    assert not list(home2.rglob("planted.txt"))  # the unpacked folder was thrown away
    assert installed_packages(inst, home2 / "venv" / "bin" / "python")
    # The fresh install saved it again: the app records the new digest.
    assert saved_cache(result.stdout)["EASYTDV_CACHE_SHA256"] == hashlib.sha256(target.read_bytes()).hexdigest()


def test_without_a_recorded_digest_nothing_is_restored(tmp_path, online, needs_uv):
    # An archive the app has no record of (saved from another computer, or
    # put there by someone else) is not even downloaded.
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_OK, REQS)
    install_and_train(inst, **index_env(online))
    inst.reset_records()
    result = ok(inst.run(INSTALL, EASYTDV_HOME=str(tmp_path / "h2"), **index_env(online)))
    assert f"easytdv: cache miss {CACHE_KEY}" in result.stdout
    assert not [c for c in inst.calls() if "/cache/" in c and "GET" in c], inst.calls()
    # A run whose role may write another key (its requirements changed) saves nothing.
    assert "will be saved" in result.stdout
    again = ok(inst.run(INSTALL, EASYTDV_HOME=str(tmp_path / "h3"), EASYTDV_CACHE_SAVE="0", **index_env(online)))
    assert "easytdv: cache not saved (the requirements changed since this run's machine was set up" in again.stdout
    assert not (tmp_path / "h3" / "cache-save.sh").exists()


def test_an_offline_install_that_fails_falls_back_to_a_fresh_install(tmp_path, online, needs_uv):
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_OK, REQS)
    recorded = saved_cache(install_and_train(inst, **index_env(online)).stdout)
    key = recorded["EASYTDV_CACHE_KEY"]
    # A well-formed archive whose uv cache is empty (and which the app
    # recorded as such, as if the machine had saved it): the offline install fails.
    (tmp_path / "empty-uv").mkdir()
    target = inst.s3 / CACHE / f"{key}.tar.zst"
    pack(tmp_path, target, {"easytdv-cache.json": inst.s3 / CACHE / f"{key}.json", "uv": tmp_path / "empty-uv"})
    recorded["EASYTDV_CACHE_SHA256"] = hashlib.sha256(target.read_bytes()).hexdigest()
    result = install_and_train(inst, EASYTDV_HOME=str(tmp_path / "home2"), **recorded, **index_env(online))
    out = result.stdout
    assert f"easytdv: cache hit {key} " in out
    assert "cache object unusable: the offline install from it failed" in out
    assert f"easytdv: cache corrupt {key}, installing afresh" in out
    assert f"easytdv: cache saved {key} " in out


def test_without_zstd_the_cache_is_a_tar_gz(tmp_path, online, needs_uv):
    inst = fresh(tmp_path, "m", uv=True)
    # A PATH without zstd: the system dirs through a filtered copy.
    nozstd = tmp_path / "sysbin"
    nozstd.mkdir()
    for d in ("/usr/bin", "/bin"):
        for tool in Path(d).iterdir():
            if tool.name != "zstd" and not (nozstd / tool.name).exists():
                (nozstd / tool.name).symlink_to(tool)
    inst.upload_inputs(TRAIN_OK, REQS)
    result = install_and_train(inst, PATH=f"{inst.bin}:{nozstd}", **index_env(online))
    assert "easytdv: zstd is not installed: the cache is stored as .tar.gz" in result.stdout
    recorded = saved_cache(result.stdout)
    key = recorded["EASYTDV_CACHE_KEY"]
    assert recorded["EASYTDV_CACHE_ARCHIVE"] == f"{key}.tar.gz"
    assert cache_objects(inst) == [f"{key}.json", f"{key}.tar.gz"]
    online.down = True
    h2 = str(tmp_path / "h2")
    result = ok(inst.run(INSTALL, EASYTDV_HOME=h2, PATH=f"{inst.bin}:{nozstd}", **recorded, **index_env(online)))
    assert f"easytdv: cache hit {key} " in result.stdout
    assert not [g for g in (inst.s3 / ".gets").read_text().split() if g.endswith(".tar.zst")]


def test_empty_requirements_create_the_environment_and_install_nothing(tmp_path, needs_uv):
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_OK, "# nothing here\n\n   \n# really nothing\n")
    out = ok(inst.run(INSTALL)).stdout
    assert "easytdv: no requirements" in out
    assert "cache" not in out.replace("easytdv: phase cache 0.000", "")
    assert phases(out) == INSTALL_PHASES
    assert (inst.home / "venv" / "bin" / "python").exists()
    assert cache_objects(inst) == []
    # Nothing but the inputs' download and the log's upload.
    assert [c.split()[1] for c in inst.calls() if "_logs/" not in c] == ["GET", "GET"], inst.calls()
    assert not [c for c in inst.calls() if "/cache/" in c]


def test_a_machine_kept_warm_reuses_its_environment_in_place(tmp_path, online, needs_uv):
    inst = fresh(tmp_path, "warm", uv=True)
    inst.upload_inputs(TRAIN_OK, REQS)
    install_and_train(inst, **index_env(online))
    inst.reset_records()
    # The next run, same requirements (same key): nothing is created or installed.
    again = ok(inst.run(INSTALL, EASYTDV_PYPI_URL=DEAD_URL))
    assert f"easytdv: environment reused in place {CACHE_KEY}" in again.stdout
    for absent in ("installing requirements", "cache hit", "cache miss", "will be saved"):
        assert absent not in again.stdout, again.stdout
    assert phases(again.stdout) == INSTALL_PHASES
    assert installed_packages(inst)
    assert not [c for c in inst.calls() if "/cache/" in c], inst.calls()
    assert ok(inst.run(TRAIN)).returncode == 0
    # Other requirements (another key): a fresh environment, as on a new machine.
    other = "f" * 64
    inst.upload_inputs(TRAIN_OK, "easytdv-demo-b\n")
    changed = ok(inst.run(INSTALL, EASYTDV_CACHE_KEY=other, **index_env(online)))
    assert "environment reused in place" not in changed.stdout
    assert f"easytdv: cache miss {other}" in changed.stdout
    assert not installed_packages(inst)  # easytdv-demo-a went with the old environment
    assert (inst.home / "venv.ready").read_text().split()[0] == other


def test_a_failed_install_leaves_nothing_to_reuse(tmp_path, online, needs_uv):
    inst = fresh(tmp_path, "warm", uv=True)
    inst.upload_inputs(TRAIN_OK, REQS)
    install_and_train(inst, **index_env(online))
    inst.upload_inputs(TRAIN_OK, "easytdv-no-such-package\n")
    bad = inst.run(INSTALL, EASYTDV_CACHE_KEY="e" * 64, **index_env(online))
    assert bad.returncode == 5
    assert not (inst.home / "venv.ready").exists()
    inst.upload_inputs(TRAIN_OK, REQS)
    back = ok(inst.run(INSTALL, **index_env(online)))
    assert "environment reused in place" not in back.stdout


def test_the_description_holds_the_requirements_as_the_apps_key_sees_them(tmp_path):
    # The same normalisation as the app's key (environments/key.rs, whose unit
    # tests use the same file): comments, blank lines and spacing dropped,
    # continuation lines joined, the order kept.
    helper = Path(__file__).resolve().parents[2] / "templates" / "instance" / "easytdv_helper.py"
    (tmp_path / "r.txt").write_text("# deps\nnumpy==2.1  # pinned\n\n  requests\\\n>=2\ntorch   >= 2.0\n")
    subprocess.run([sys.executable, str(helper), "reqs", tmp_path / "r.txt", tmp_path / "n"], check=True)
    assert (tmp_path / "n").read_text() == "numpy==2.1\nrequests>=2\ntorch >= 2.0\n"


# --------------------------------------------------------------------------
# Getting uv, and pip when uv cannot be had or cannot install
# --------------------------------------------------------------------------
def test_uv_is_fetched_from_pypi_when_not_on_the_machine(tmp_path, online, needs_uv):
    inst = fresh(tmp_path, "m")
    inst.upload_inputs(TRAIN_OK, REQS)
    env = {"EASYTDV_UV_WHEEL_SHA256": online.uv_wheel_sha256, **index_env(online)}
    result = ok(inst.run(INSTALL, EASYTDV_PYPI_URL=online.url, **env))
    assert f"easytdv: fetching uv {UV_PIN} from {online.url}" in result.stdout
    assert f"easytdv: installer uv {UV_PIN}" in result.stdout
    assert (inst.home / "tools" / f"uv-{UV_PIN}" / "uv").exists()
    assert f"/pypi/uv/{UV_PIN}/json" in online.requests
    assert not any("musllinux" in r for r in online.requests)
    assert installed_packages(inst)


def test_a_uv_wheel_that_is_not_the_one_easytdv_ships_is_not_used(tmp_path, online, needs_uv):
    # The index serves a wheel of its own with a matching checksum in its JSON
    # answer: that vouches for nothing. Only the SHA-256 in install.sh counts.
    inst = fresh(tmp_path, "m")
    inst.upload_inputs(TRAIN_OK, REQS)
    result = ok(inst.run(INSTALL, EASYTDV_PYPI_URL=online.url, **index_env(online)))
    wheel = f"uv-{UV_PIN}-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    assert re.search(
        rf"^easytdv: installer pip \(uv {UV_PIN} could not be fetched: {re.escape(wheel)} is not the uv wheel easyTDV "
        rf"knows \(SHA-256 {online.uv_wheel_sha256}, expected [0-9a-f]{{64}}\): not used\)$",
        result.stdout,
        re.M,
    ), result.stdout
    assert not (inst.home / "tools" / f"uv-{UV_PIN}" / "uv").exists()
    assert installed_packages(inst)


def test_pip_when_uv_cannot_be_fetched_with_its_wheelhouse_cache(tmp_path, online):
    inst = fresh(tmp_path, "m")
    inst.upload_inputs(TRAIN_OK, REQS)
    result = install_and_train(inst, **index_env(online))
    out = result.stdout
    assert re.search(rf"^easytdv: installer pip \(uv {UV_PIN} could not be fetched: .+\)$", out, re.M), out
    assert "installer uv" not in out
    assert installed_packages(inst)
    recorded = saved_cache(out)
    key = recorded["EASYTDV_CACHE_KEY"]
    assert "/simple/pip/" in online.requests  # pip was upgraded (asked for) in the venv
    # The pip cache is a wheelhouse, usable offline by pip on the next machine.
    online.down = True
    result = ok(inst.run(INSTALL, EASYTDV_HOME=str(tmp_path / "h2"), **recorded, **index_env(online)))
    assert f"easytdv: cache hit {key} " in result.stdout
    assert installed_packages(inst, tmp_path / "h2" / "venv" / "bin" / "python")


def test_pip_when_uv_cannot_install(tmp_path, online):
    inst = fresh(tmp_path, "m")
    # A uv of the pinned version whose installs fail.
    (inst.bin / "uv").write_text(
        "#!/bin/bash\n"
        f'if [ "$1" = --version ]; then echo "uv {UV_PIN}"; exit 0; fi\n'
        'if [ "$1" = pip ]; then echo "error: simulated uv failure" >&2; exit 2; fi\n'
        f'exec "{sys.executable}" -m venv --without-pip "${{@: -1}}"\n'
    )
    (inst.bin / "uv").chmod(0o755)
    inst.upload_inputs(TRAIN_OK, REQS)
    result = ok(inst.run(INSTALL, **index_env(online)))
    out = result.stdout
    assert out.index(f"easytdv: installer uv {UV_PIN}") < out.index(
        "easytdv: installer pip (uv could not install the requirements)"
    )
    assert "simulated uv failure" in result.stderr
    assert installed_packages(inst)


def test_a_bad_requirement_fails_with_the_installers_error(tmp_path, online, needs_uv):
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_OK, "easytdv-no-such-package==9.9\n")
    result = inst.run(INSTALL, **index_env(online))
    assert result.returncode == 5
    assert "easytdv: installer pip (uv could not install the requirements)" in result.stdout
    assert "easytdv: pip could not install the requirements" in result.stderr
    assert "easytdv-no-such-package" in result.stderr
    assert "cache saved" not in result.stdout


# --------------------------------------------------------------------------
# Which Python
# --------------------------------------------------------------------------
def fake_python(path: Path, version=None):
    """A python that logs its use; with `version`, it says it is that version."""
    lie = (
        f'case "$*" in *version_info*) echo "{version}"; exit 0 ;; esac\n'  # the scripts' version probe
        if version
        else ""
    )
    path.write_text(f'#!/bin/bash\necho "$0 $*" >>"{path}.calls"\n{lie}exec "{sys.executable}" "$@"\n')
    path.chmod(0o755)


def test_python312_is_preferred(tmp_path, needs_uv):
    inst = fresh(tmp_path, "m", uv=True)
    fake_python(inst.bin / "python3.12")
    inst.upload_inputs(TRAIN_OK, "")
    out = ok(inst.run(INSTALL)).stdout
    assert f"easytdv: interpreter {inst.bin / 'python3.12'} (python3.12)" in out
    assert re.search(r"^easytdv: python 3\.\d+\.\d+$", out, re.M)


def test_python312_is_installed_with_dnf_when_missing(tmp_path, needs_uv):
    inst = fresh(tmp_path, "m", uv=True)
    (inst.bin / "dnf").write_text(
        f'#!/bin/bash\necho "$*" >>"{tmp_path}/dnf.calls"\n'
        f'ln -s "{sys.executable}" "{inst.bin}/python3.12"\necho "Complete!"\n'
    )
    (inst.bin / "dnf").chmod(0o755)
    inst.upload_inputs(TRAIN_OK, "")
    out = ok(inst.run(INSTALL)).stdout
    assert (tmp_path / "dnf.calls").read_text().splitlines() == [
        "install -y python3.12 python3.12-pip python3.12-pip-wheel"
    ]
    assert "easytdv: installing Python 3.12 with dnf" in out
    assert f"easytdv: interpreter {inst.bin / 'python3.12'} (python3.12, installed with dnf)" in out
    assert "Complete!" in (inst.home / "logs" / "install.log").read_text()


def test_no_recent_python_fails_clearly(tmp_path):
    inst = fresh(tmp_path, "m")
    (inst.bin / "python3").unlink()
    fake_python(inst.bin / "python3", version="3.9.16")
    (inst.bin / "dnf").write_text("#!/bin/bash\necho 'No match for argument: python3.12' >&2\nexit 1\n")
    (inst.bin / "dnf").chmod(0o755)
    inst.upload_inputs(TRAIN_OK, "")
    result = inst.run(INSTALL)
    assert result.returncode == 6
    assert "easytdv: dnf could not install python3.12" in result.stderr
    assert "easytdv: no Python 3.10 or newer on this machine (python3 is 3.9.16" in result.stderr
    # The failure still schedules the machine's shutdown.
    assert inst.shutdowns() and inst.shutdowns()[-1].startswith("-h +60 ")


# --------------------------------------------------------------------------
# Deep Learning AMI: its PyTorch environment, torch not reinstalled
# --------------------------------------------------------------------------
@pytest.fixture
def dlami(tmp_path):
    """A stand-in for /opt/pytorch: a venv with a preinstalled torch 2.6.0+cu126."""
    env = tmp_path / "opt-pytorch"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    site = next((env / "lib").glob("python3*/site-packages"))
    (site / "torch").mkdir()
    (site / "torch" / "__init__.py").write_text('__version__ = "2.6.0+cu126"\n')
    info = site / "torch-2.6.0+cu126.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: torch\nVersion: 2.6.0+cu126\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("torch/__init__.py,,\n")
    return env


def test_deep_learning_ami_keeps_its_torch(tmp_path, online, needs_uv, dlami):
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(
        "import torch, easytdv_demo_a\nprint('torch', torch.__version__, 'demo', easytdv_demo_a.__version__)\n",
        "torch>=2.0\neasytdv-demo-a\n",
    )
    env = {"EASYTDV_DLAMI_PYTHON": str(dlami / "bin" / "python"), **index_env(online)}
    out = ok(inst.run(INSTALL, **env)).stdout
    assert f"easytdv: interpreter {dlami / 'bin' / 'python'} (the Deep Learning AMI's PyTorch environment)" in out
    assert "easytdv: using the preinstalled torch 2.6.0+cu126" in out
    assert not [r for r in online.requests if "torch-2.1.0" in r]  # torch was not downloaded
    assert (inst.home / "venv").resolve() == dlami.resolve()
    out = ok(inst.run(TRAIN, **env)).stdout
    assert "torch 2.6.0+cu126 demo 1.0" in out


def test_deep_learning_ami_with_an_incompatible_torch_line(tmp_path, online, needs_uv, dlami):
    inst = fresh(tmp_path, "m", uv=True)
    inst.upload_inputs(TRAIN_OK, "torch==2.1.0\n")
    out = ok(inst.run(INSTALL, EASYTDV_DLAMI_PYTHON=str(dlami / "bin" / "python"), **index_env(online))).stdout
    assert "easytdv: torch 2.1.0 replaced the preinstalled torch 2.6.0+cu126" in out


# --------------------------------------------------------------------------
# The scripts share one common.sh; the helper is a file of its own
# --------------------------------------------------------------------------
def test_install_and_train_source_one_common_file():
    root = Path(__file__).resolve().parents[2] / "templates" / "instance"
    common = (root / "common.sh").read_text()
    defined = set(re.findall(r"^([a-z_0-9]+)\(\) \{", common, re.M))
    assert {"run_logged", "s3_get", "s3_put", "failure_shutdown", "restore_safety_shutdown"} <= defined
    for name in ("install.sh", "train.sh"):
        text = (root / name).read_text()
        assert '. "$EASYTDV_LIB/common.sh"' in text
        # Nothing of common.sh is carried twice.
        assert not defined & set(re.findall(r"^([a-z_0-9]+)\(\) \{", text, re.M)), name
        assert "base64" not in text  # no embedded helper any more


def test_the_uv_checksums_are_those_of_the_pinned_wheels():
    text = INSTALL.read_text()
    sums = dict(re.findall(r'^UV_WHEEL_SHA256_(\w+)="([0-9a-f]{64})"$', text, re.M))
    assert set(sums) == {"x86_64", "aarch64"}
    assert len(set(sums.values())) == 2


def test_the_uv_pin_is_the_sandboxs():
    pins = (Path(__file__).resolve().parents[2] / "tests" / "sandbox" / "runtime-requirements.txt").read_text()
    assert f"\nuv=={UV_PIN} \\\n" in pins


def test_the_helper_parses_as_python_3_8():
    helper = Path(__file__).resolve().parents[2] / "templates" / "instance" / "easytdv_helper.py"
    ast.parse(helper.read_text(), feature_version=(3, 8))
