"""A notebook as the entry point: train.sh's checks, and the helper's
notebook command (papermill itself runs in the sandbox tests, core/tests/it/notebooks.rs)."""

import json
import subprocess
import sys

from tpl_helpers import HELPER_PY, TRAIN


def helper(*args, **kwargs):
    return subprocess.run([sys.executable, str(HELPER_PY), *args], capture_output=True, **kwargs)


def executed(cells):
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def cell(source, status="completed", tags=(), count=None, kind="code"):
    meta = {"tags": list(tags), "papermill": {"status": status}}
    return {"cell_type": kind, "metadata": meta, "source": source, "execution_count": count, "outputs": []}


def test_nbfail_names_the_failing_cell_in_the_notebooks_own_numbering(tmp_path):
    nb = tmp_path / "t.executed.ipynb"
    nb.write_text(
        json.dumps(
            executed(
                [
                    cell("<span>An Exception</span>", tags=["papermill-error-cell-tag"], kind="markdown"),
                    cell("# Title", kind="markdown"),
                    cell("epochs = 2", tags=["parameters"], count=1),
                    cell("# Parameters\nepochs = 3\n", tags=["injected-parameters"], count=2),
                    cell(["\n", "for e in range(epochs):\n", "    train(e)\n"], status="failed", count=3),
                    cell("print('never')", status="pending"),
                ]
            )
        )
    )
    result = helper("nbfail", str(nb), "outputs/t.executed.ipynb", text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        'The notebook stopped at cell 3 of 4 (In [3], "for e in range(epochs):"). '
        "The executed notebook, with the outputs up to the error, is outputs/t.executed.ipynb\n"
    )
    nb.write_text(json.dumps(executed([cell("x = 1", status="pending")])))
    result = helper("nbfail", str(nb), "outputs/t.executed.ipynb", text=True)
    assert result.stdout.startswith("The notebook did not finish;")


def test_a_notebook_without_papermill_in_the_environment_fails_clearly(installed):
    (installed.inputs / "nb.ipynb").write_text(json.dumps(executed([])))
    result = installed.run(TRAIN, EASYTDV_ENTRY="nb.ipynb")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "papermill is not installed in the run's environment" in result.stderr
    assert (installed.home / "run" / "nb.ipynb").exists(), "the notebook came down under its own name"


def test_an_entry_point_outside_the_project_is_refused(installed):
    for entry in ("../train.py", ".hidden.ipynb", "dir/../../train.py", "/etc/x.py", "a//b.py", "./t.py"):
        result = installed.run(TRAIN, EASYTDV_ENTRY=entry)
        assert result.returncode == 2, entry
        assert "is not a path inside the project" in result.stderr, entry
