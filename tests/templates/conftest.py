"""Fixtures shared by the tests/templates modules."""

import importlib.util
import shutil
import sys

import pytest
import yaml
from tpl_helpers import (
    BOOTSTRAP,
    INSTALL,
    LAMBDA_ENV,
    LAUNCH_PY,
    REAL_UV,
    STACK,
    TRAIN_OK,
    Instance,
    PackageIndex,
    _CfnLoader,
)


@pytest.fixture(scope="module")
def template():
    return yaml.load(STACK.read_text(encoding="utf-8"), Loader=_CfnLoader)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """One instance with install.sh already run (venv creation takes seconds)."""
    inst = Instance(tmp_path_factory.mktemp("instance"), uv=REAL_UV.exists())
    inst.upload_inputs(TRAIN_OK, "# no requirements, so no network\n")
    result = inst.run(INSTALL)
    assert result.returncode == 0, result.stdout + result.stderr
    inst.install_result = result
    return inst


@pytest.fixture
def launch(monkeypatch, tmp_path):
    for key, value in LAMBDA_ENV.items():
        monkeypatch.setenv(key, value)
    # The function package, as the core builds it: both files at the zip root.
    package = tmp_path / "package"
    package.mkdir()
    shutil.copy(LAUNCH_PY, package / "launch.py")
    shutil.copy(BOOTSTRAP, package / "bootstrap.sh")
    spec = importlib.util.spec_from_file_location("easytdv_launch_under_test", package / "launch.py")
    module = importlib.util.module_from_spec(spec)
    sys.dont_write_bytecode, saved = True, sys.dont_write_bytecode
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = saved
    module.slept = []
    monkeypatch.setattr(module, "_sleep", module.slept.append)
    return module


@pytest.fixture(scope="session")
def index(tmp_path_factory):
    """A local package index: easytdv-demo-a 1.0 (needs easytdv-demo-b), -b 1.2,
    a fake torch 2.1.0, and uv on PyPI's JSON API."""
    idx = PackageIndex(tmp_path_factory.mktemp("index"))
    idx.add("easytdv-demo-b", "1.2")
    idx.add("easytdv-demo-a", "1.0", requires=["easytdv-demo-b>=1"])
    idx.add("torch", "2.1.0")
    if REAL_UV.exists():
        idx.add_uv(REAL_UV)
    yield idx
    idx.close()


@pytest.fixture
def online(index):
    """The index is up for this test (a test may take it down)."""
    index.down = False
    yield index
    index.down = False


@pytest.fixture
def needs_uv():
    if not REAL_UV.exists():
        pytest.skip(f"uv is not installed at {REAL_UV} (run tests/sandbox/setup.sh)")
