"""templates/sagemaker/easytdv_data.py: a run's data folder rebuilt from the
SageMaker channel's blobs (issue 21), every file checked, nothing written
outside the channel, exit 83 when the data is not what easyTDV sent."""

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest
from tpl_helpers import TEMPLATES

DATA = TEMPLATES / "sagemaker" / "easytdv_data.py"
LAUNCHER = TEMPLATES / "sagemaker" / "easytdv_launch.py"


def load():
    spec = importlib.util.spec_from_file_location("easytdv_data_under_test", DATA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def channel_with(tmp_path, bodies, nested=False):
    """The channel as SageMaker leaves it: each blob under its SHA-256 (or
    under easytdv/blobs/ when `nested`)."""
    channel = tmp_path / "input" / "data" / "data"
    where = channel / "easytdv" / "blobs" if nested else channel
    where.mkdir(parents=True)
    for body in bodies:
        (where / sha(body)).write_bytes(body)
    return channel


def entry(path, body, mode=0o644):
    return {"path": path, "sha256": sha(body), "size": len(body), "mode": mode}


def tree(root):
    found = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            found[os.path.relpath(p, root)] = (open(p, "rb").read(), os.stat(p).st_mode & 0o777)
    return found


def test_the_blobs_become_the_folder_with_duplicates_modes_and_a_hash_named_file(tmp_path):
    m = load()
    points, same, script, other = b"x,y\n1,2\n", b"x,y\n1,2\n", b"#!/bin/sh\necho hi\n", b"other\n"
    # A data file named like another file's blob: the blobs are moved aside first.
    hash_named = sha(other)
    files = [
        entry("points.csv", points),
        entry("sub/copy.csv", same),
        entry("sub/deeper/run.sh", script, 0o755),
        entry("sub/run-copy.sh", script, 0o644),
        entry(hash_named, points),
        entry("x/other.txt", other),
    ]
    channel = channel_with(tmp_path, [points, script, other])
    m.materialise(str(channel), files)
    got = tree(channel)
    assert got == {
        "points.csv": (points, 0o644),
        "sub/copy.csv": (points, 0o644),
        "sub/deeper/run.sh": (script, 0o755),
        "sub/run-copy.sh": (script, 0o644),
        hash_named: (points, 0o644),
        "x/other.txt": (other, 0o644),
    }
    # The same content and mode is one file (hard links), another mode a copy.
    assert os.stat(channel / "points.csv").st_ino == os.stat(channel / "sub" / "copy.csv").st_ino
    assert os.stat(channel / "sub/deeper/run.sh").st_ino != os.stat(channel / "sub/run-copy.sh").st_ino
    assert not (channel / m.ASIDE).exists()


def test_blobs_sagemaker_put_in_folders_are_found_too(tmp_path):
    m = load()
    body = b"a\n"
    channel = channel_with(tmp_path, [body], nested=True)
    m.materialise(str(channel), [entry("a.txt", body)])
    assert tree(channel) == {"a.txt": (body, 0o644)}


def test_a_tampered_or_missing_blob_is_refused_naming_the_file(tmp_path):
    m = load()
    good, bad = b"good\n", b"bad\n"
    channel = channel_with(tmp_path, [good])
    (channel / sha(bad)).write_bytes(b"changed in the bucket\n")
    with pytest.raises(m.Refused) as e:
        m.materialise(str(channel), [entry("ok.txt", good), entry("sub/bad.txt", bad)])
    assert "sub/bad.txt is not the file easyTDV sent" in str(e.value)
    assert "ok.txt" not in str(e.value)
    channel = channel_with(tmp_path / "2", [good])
    with pytest.raises(m.Refused, match="gone.txt is missing"):
        m.materialise(str(channel), [entry("ok.txt", good), entry("gone.txt", bad)])


@pytest.mark.parametrize(
    "path", ["../escape.txt", "/etc/passwd", "a/../../b", "a//b", ".easytdv-blobs/x", "a\\b", "", "a/./b"]
)
def test_paths_outside_the_channel_are_refused_before_anything_moves(tmp_path, path):
    m = load()
    body = b"x\n"
    folder_file = tmp_path / "easytdv-data.json"
    folder_file.write_text(json.dumps({"format": 1, "link": None, "files": [entry(path, body)]}))
    with pytest.raises(m.Refused, match="not inside the data folder"):
        m.read_folder_file(str(folder_file))


def test_a_link_out_of_the_channel_is_never_followed(tmp_path):
    m = load()
    body = b"x\n"
    outside = tmp_path / "outside"
    outside.mkdir()
    channel = channel_with(tmp_path, [body])
    os.symlink(outside, channel / "sub")
    m.materialise(str(channel), [entry("sub/a.txt", body)])
    assert tree(channel) == {"sub/a.txt": (body, 0o644)}
    assert not (channel / "sub").is_symlink()
    assert list(outside.iterdir()) == []


def test_a_bad_folder_file_is_refused(tmp_path):
    m = load()
    path = tmp_path / "easytdv-data.json"
    for body in ("{", json.dumps({"format": 2, "files": []}), json.dumps({"format": 1, "files": [{"path": "a"}]})):
        path.write_text(body)
        with pytest.raises(m.Refused):
            m.read_folder_file(str(path))
    both = {"format": 1, "files": [entry("a", b"1"), entry("a/b", b"2")]}
    path.write_text(json.dumps(both))
    with pytest.raises(m.Refused, match="as a file and a folder"):
        m.read_folder_file(str(path))
    path.write_text(json.dumps({"format": 1, "link": "../up", "files": [entry("a", b"1")]}))
    with pytest.raises(m.Refused, match="not inside the project"):
        m.read_folder_file(str(path))


def sourcedir(tmp_path, files, link=None, train="import os\nprint(sorted(os.listdir(os.environ['DATA_DIR'])))\n"):
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(LAUNCHER, code / "easytdv_launch.py")
    shutil.copy(DATA, code / "easytdv_data.py")
    (code / "train.py").write_text(train)
    # No arguments: "easytdv-run-args 1", nonce, 0 arguments, 0 variables.
    (code / "easytdv-run-args.bin").write_bytes(b"easytdv-run-args 1\0n\0" + b"0\0" + b"0\0")
    (code / "easytdv-data.json").write_text(json.dumps({"format": 1, "link": link, "files": files}))
    return code


def run_launcher(code, channel, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SM_CHANNEL_DATA": str(channel), "DATA_DIR": str(channel),
           "TMPDIR": str(tmp_path)}  # fmt: skip
    return subprocess.run(
        [sys.executable, str(code / "easytdv_launch.py")], capture_output=True, text=True, env=env, timeout=60
    )


def test_the_launcher_sets_out_the_data_links_it_in_the_project_then_runs_train_py(tmp_path):
    body = b"x,y\n1,2\n"
    channel = channel_with(tmp_path, [body])
    train = "print(open('inputs/points/points.csv').read().splitlines()[1])\n"
    code = sourcedir(tmp_path, [entry("points.csv", body)], link="inputs/points", train=train)
    result = run_launcher(code, channel, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "1,2"
    assert os.readlink(code / "inputs" / "points") == str(channel)
    assert "easytdv: data 1 files in" in result.stdout


def test_the_launcher_refuses_a_tampered_blob_with_exit_83_and_train_py_never_runs(tmp_path):
    body = b"x,y\n1,2\n"
    channel = channel_with(tmp_path, [])
    (channel / sha(body)).write_bytes(b"x,y\n6,6\n")
    code = sourcedir(tmp_path, [entry("points.csv", body)], train="print('TRAINED')\n")
    result = run_launcher(code, channel, tmp_path)
    assert result.returncode == 83, result
    assert "points.csv is not the file easyTDV sent" in result.stderr
    assert "TRAINED" not in result.stdout


def test_a_second_process_of_the_machine_finds_the_data_set_out(tmp_path):
    """torchrun: every process of a machine runs the launcher; the first sets
    the data out, the others find it done (the lock's record)."""
    body = b"a\n"
    channel = channel_with(tmp_path, [body])
    code = sourcedir(tmp_path, [entry("a.txt", body)])
    first = run_launcher(code, channel, tmp_path)
    second = run_launcher(code, channel, tmp_path)
    assert first.returncode == 0 and second.returncode == 0, (first.stderr, second.stderr)
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1] == "['a.txt']"


def test_without_a_data_folder_the_launcher_leaves_the_channel_alone(tmp_path):
    channel = tmp_path / "channel"
    channel.mkdir()
    (channel / "from-s3.csv").write_text("kept\n")
    code = sourcedir(tmp_path, [])
    (code / "easytdv-data.json").unlink()
    result = run_launcher(code, channel, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "['from-s3.csv']"
