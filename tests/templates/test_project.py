"""The project on the machine: install.sh and train.sh materialise the run's
manifest (<prefix>/project.json, checked against EASYTDV_MANIFEST_SHA256) from
easytdv/blobs/<sha256> (each checked), and train.py runs from the project's
root, so its imports and relative paths work. A tampered blob or manifest is
refused; a path out of the project is refused; a link planted by a previous
run is never written through; only what changed is fetched again."""

import hashlib
import json
import os

import pytest
from tpl_helpers import BUCKET, INSTALL, TRAIN, Instance

TRAIN_PY = """\
import os, pathlib
import model
rows = open("data/points.csv").read().splitlines()
print("model says", model.weight(), "rows", len(rows), "cwd", os.getcwd())
pathlib.Path(os.environ["OUTPUT_DIR"], "result.txt").write_text(str(model.weight() * len(rows)))
"""


def blob(inst: Instance, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    path = inst.s3 / BUCKET / "easytdv" / "blobs" / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha


def send(inst: Instance, files: dict[str, bytes], entry="train.py", modes=None) -> str:
    """What the core sends: the blobs, then the manifest; returns its SHA-256."""
    modes = modes or {}
    listed = [
        {"path": p, "sha256": blob(inst, d), "size": len(d), "mode": modes.get(p, 0o644)}
        for p, d in sorted(files.items())
    ]
    manifest = json.dumps({"format": 1, "entry": entry, "files": listed}, separators=(",", ":")).encode()
    (inst.inputs / "project.json").write_bytes(manifest)
    return hashlib.sha256(manifest).hexdigest()


EXAMPLE = {
    "train.py": TRAIN_PY.encode(),
    "model.py": b"def weight():\n    return 3\n",
    "data/points.csv": b"x,y\n1,2\n3,4\n",
    "requirements.txt": b"# nothing to install\n",
    "tools/run.sh": b"#!/bin/sh\necho hi\n",
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    inst = Instance(tmp_path_factory.mktemp("project"))
    sha = send(inst, EXAMPLE, modes={"tools/run.sh": 0o755})
    inst.manifest_sha = sha
    result = inst.run(INSTALL, EASYTDV_MANIFEST_SHA256=sha, EASYTDV_REQUIREMENTS="requirements.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    inst.install_result = result
    return inst


def test_the_project_is_materialised_and_trains_from_its_root(project):
    root = project.home / "project"
    assert (root / "model.py").read_bytes() == EXAMPLE["model.py"]
    assert (root / "data" / "points.csv").read_bytes() == EXAMPLE["data/points.csv"]
    assert os.stat(root / "tools" / "run.sh").st_mode & 0o777 == 0o755
    assert os.stat(root / "model.py").st_mode & 0o777 == 0o644
    assert "easytdv: project 5 files, 5 fetched" in project.install_result.stdout
    result = project.run(TRAIN, EASYTDV_MANIFEST_SHA256=project.manifest_sha, EASYTDV_ENTRY="train.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"model says 3 rows 3 cwd {root}" in result.stdout
    assert (project.outputs / "result.txt").read_text() == "9"
    # Nothing changed since the install: nothing fetched again.
    assert "easytdv: project 5 files, 0 fetched" in result.stdout


def test_only_what_changed_is_fetched_and_what_is_gone_is_removed(project):
    changed = dict(EXAMPLE)
    changed["model.py"] = b"def weight():\n    return 5\n"
    del changed["tools/run.sh"]
    changed["src/extra.py"] = b"X = 1\n"
    sha = send(project, changed)
    root = project.home / "project"
    (root / "written-by-the-script.txt").write_text("kept")
    project.reset_records()
    result = project.run(TRAIN, EASYTDV_MANIFEST_SHA256=sha, EASYTDV_ENTRY="train.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "easytdv: project 5 files, 2 fetched" in result.stdout
    blob_gets = [c for c in project.calls() if "easytdv/blobs/" in c]
    assert len(blob_gets) == 2, project.calls()
    assert "model says 5" in result.stdout
    assert not (root / "tools" / "run.sh").exists()
    assert (root / "written-by-the-script.txt").read_text() == "kept"


def test_a_tampered_blob_is_refused_and_nothing_runs(tmp_path):
    inst = Instance(tmp_path)
    sha = send(inst, EXAMPLE)
    model_sha = hashlib.sha256(EXAMPLE["model.py"]).hexdigest()
    (inst.s3 / BUCKET / "easytdv" / "blobs" / model_sha).write_bytes(b"import os; os.system('curl evil')\n")
    result = inst.run(INSTALL, EASYTDV_MANIFEST_SHA256=sha)
    assert result.returncode == 82, result.stdout + result.stderr
    assert f"easytdv: refused s3://{BUCKET}/easytdv/blobs/{model_sha} (for model.py) is not the file" in result.stderr
    assert "easytdv: the project in the bucket is not the one easyTDV sent" in result.stderr
    assert not (inst.home / "project" / "model.py").exists()
    assert not (inst.home / "venv").exists()


def test_a_manifest_that_is_not_the_one_sent_is_refused(tmp_path):
    inst = Instance(tmp_path)
    sha = send(inst, EXAMPLE)
    result = inst.run(INSTALL, EASYTDV_MANIFEST_SHA256="0" * 64)
    assert result.returncode == 82, result.stdout + result.stderr
    assert "project.json is not the manifest easyTDV sent" in result.stderr
    assert sha in result.stderr


@pytest.mark.parametrize("evil", ["../escape.txt", "/etc/easytdv-test", "a/../../x", "a//b", "a\\..\\b"])
def test_a_path_out_of_the_project_is_refused(tmp_path, evil):
    inst = Instance(tmp_path)
    files = [
        {"path": "train.py", "sha256": blob(inst, b"print(1)\n"), "size": 9, "mode": 0o644},
        {"path": evil, "sha256": blob(inst, b"x"), "size": 1, "mode": 0o644},
    ]
    manifest = json.dumps({"format": 1, "entry": "train.py", "files": files}).encode()
    (inst.inputs / "project.json").write_bytes(manifest)
    result = inst.run(INSTALL, EASYTDV_MANIFEST_SHA256=hashlib.sha256(manifest).hexdigest())
    assert result.returncode == 82, result.stdout + result.stderr
    assert "names a path that is not inside the project" in result.stderr
    assert not (tmp_path / "escape.txt").exists() and not (inst.home / "escape.txt").exists()


def test_a_link_left_in_the_project_is_never_written_through(tmp_path):
    inst = Instance(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    root = inst.home / "project"
    root.mkdir(parents=True)
    # A previous training left links where the project has a folder and a file.
    (root / "data").symlink_to(outside)
    (root / "model.py").symlink_to(outside / "model.py")
    sha = send(inst, EXAMPLE)
    result = inst.run(INSTALL, EASYTDV_MANIFEST_SHA256=sha, EASYTDV_REQUIREMENTS="requirements.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert list(outside.iterdir()) == []
    assert not (root / "data").is_symlink() and (root / "data" / "points.csv").exists()
    assert not (root / "model.py").is_symlink()


def test_a_missing_blob_fails_the_download_clearly(tmp_path):
    inst = Instance(tmp_path)
    sha = send(inst, EXAMPLE)
    for p in (inst.s3 / BUCKET / "easytdv" / "blobs").iterdir():
        p.unlink()
    result = inst.run(INSTALL, EASYTDV_MANIFEST_SHA256=sha)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "could not download the project" in result.stderr
