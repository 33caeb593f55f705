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
    STACK,
    TRAIN_OK,
    Instance,
    _CfnLoader,
)


@pytest.fixture(scope="module")
def template():
    return yaml.load(STACK.read_text(encoding="utf-8"), Loader=_CfnLoader)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """One instance with install.sh already run (venv creation takes seconds)."""
    inst = Instance(tmp_path_factory.mktemp("instance"))
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
