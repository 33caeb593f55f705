"""templates/sagemaker/easytdv_uv.py: a SageMaker job's uv.lock installed
exactly (uv pinned and hash-checked as install.sh's; every package by its
hash). The whole job runs on the sandbox in it/sagemaker_project.rs."""

import hashlib
import importlib.util
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
from tpl_helpers import INSTALL, REAL_UV, REPO, TEMPLATES

UV_PY = TEMPLATES / "sagemaker" / "easytdv_uv.py"
PROJECT = REPO / "tests" / "fixtures" / "uv-project"


@pytest.fixture()
def uvmod(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("easytdv_uv", UV_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "STATE_DIR", str(tmp_path / "state"))
    return mod


def test_uv_is_pinned_and_checked_as_install_sh_does(uvmod):
    text = INSTALL.read_text()
    assert re.search(r'^UV_PIN="([^"]+)"', text, re.M).group(1) == uvmod.UV_PIN
    for arch, digest in uvmod.UV_WHEEL_SHA256.items():
        assert f'UV_WHEEL_SHA256_{arch}="{digest}"' in text, arch


def fake_index(wheel: bytes, arch="x86_64"):
    name = f"uv-0.13.9-py3-none-manylinux_2_17_{arch}.whl"
    answers = {
        "https://pypi.example/pypi/uv/0.13.9/json": json.dumps(
            {"urls": [{"filename": name, "url": "https://files.example/" + name}]}
        ).encode(),
        "https://files.example/" + name: wheel,
    }

    def urlopen(url, timeout):
        return io.BytesIO(answers[url])

    return urlopen


def uv_wheel(body=b"#!/bin/sh\necho uv 0.13.9\n"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("uv-0.13.9.data/scripts/uv", body)
    return buf.getvalue()


def test_a_fetched_uv_is_used_only_when_its_wheel_is_the_one_easytdv_knows(uvmod, tmp_path):
    wheel = uv_wheel()
    good = hashlib.sha256(wheel).hexdigest()
    binary = uvmod.fetch_uv(str(tmp_path / "a"), "x86_64", "https://pypi.example", good, fake_index(wheel))
    assert subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split() == ["uv", "0.13.9"]
    with pytest.raises(uvmod.InstallError, match="is not the uv wheel easyTDV knows"):
        uvmod.fetch_uv(str(tmp_path / "b"), "x86_64", "https://pypi.example", "0" * 64, fake_index(wheel))
    assert not (tmp_path / "b" / "uv").exists()
    with pytest.raises(uvmod.InstallError, match="no uv 0.13.9 wheel for aarch64"):
        uvmod.fetch_uv(str(tmp_path / "c"), "aarch64", "https://pypi.example", good, fake_index(wheel))


@pytest.fixture()
def venv(tmp_path):
    env = tmp_path / "venv"
    subprocess.run([str(REAL_UV), "venv", "--quiet", "--python", sys.executable, str(env)], check=True)
    return env


def project(tmp_path):
    root = tmp_path / "code"
    shutil.copytree(PROJECT, root)
    return root


def env_with_uv():
    return {"PATH": f"{REAL_UV.parent}:/usr/bin:/bin", "UV_CACHE_DIR": "/tmp/easytdv-test-uv-cache"}


def test_the_lock_is_installed_exactly_once_per_environment(uvmod, tmp_path, venv):
    root = project(tmp_path)
    python = str(venv / "bin" / "python")
    assert uvmod.install_lock(str(root), env_with_uv(), python) is True
    out = subprocess.run([python, "-c", "import tinydep; print(tinydep.VALUE)"], capture_output=True, text=True)
    assert out.stdout.strip() == "42", out.stderr
    # A second process (torchrun's) finds it done.
    assert uvmod.install_lock(str(root), env_with_uv(), python) is False


def test_a_wheel_that_is_not_the_locked_one_is_refused_by_its_hash(uvmod, tmp_path, venv):
    root = project(tmp_path)
    wheel = root / "wheels" / "tinydep-0.1.0-py3-none-any.whl"
    # A valid wheel of the same name and version, with other code in it.
    with zipfile.ZipFile(wheel) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files = {n: (b.replace(b"42", b"666") if n.endswith(".py") else b) for n, b in files.items()}
    with zipfile.ZipFile(wheel, "w") as z:
        for n, b in files.items():
            z.writestr(n, b)
    python = str(venv / "bin" / "python")
    with pytest.raises(uvmod.InstallError, match="uv pip install failed"):
        uvmod.install_lock(str(root), env_with_uv(), python)
    out = subprocess.run([python, "-c", "import tinydep"], capture_output=True, text=True)
    assert out.returncode != 0, "nothing of it was installed"


def test_the_launcher_stops_with_5_when_the_lock_cannot_be_installed(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(UV_PY, code / "easytdv_uv.py")
    (code / "uv.lock").write_text("not a lock")
    run = (
        "import sys, easytdv_uv; easytdv_uv.STATE_DIR = sys.argv[1]; "
        "easytdv_uv.install('.', {'EASYTDV_REQUIREMENTS': 'uv.lock', 'PATH': sys.argv[2]})"
    )
    result = subprocess.run(
        [sys.executable, "-c", run, str(tmp_path / "state"), f"{REAL_UV.parent}:/usr/bin:/bin"],
        cwd=code,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 5, result.stderr
    assert "easytdv: could not install the project's uv.lock: uv export --frozen failed" in result.stderr
