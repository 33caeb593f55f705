"""templates/sagemaker/easytdv_notebook.py: a notebook as a SageMaker job's
entry point (the launcher becomes it; papermill itself runs in the sandbox's
integration test, it/notebooks.rs)."""

import importlib.util
import json
import subprocess
import sys

from tpl_helpers import TEMPLATES

RUNNER = TEMPLATES / "sagemaker" / "easytdv_notebook.py"
LAUNCHER = TEMPLATES / "sagemaker" / "easytdv_launch.py"


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


nb = load(RUNNER, "easytdv_notebook")


def test_the_executed_notebook_is_named_as_on_ec2():
    assert nb.executed_name("Train Model.ipynb") == "Train Model.executed.ipynb"
    assert nb.executed_name("nbs/train.IPYNB") == "train.executed.ipynb"


def test_the_launcher_becomes_the_runner_for_a_notebook_only(monkeypatch):
    # The launcher imports its parts from beside it, as in sourcedir.tar.gz.
    monkeypatch.syspath_prepend(str(LAUNCHER.parent))
    launch = load(LAUNCHER, "easytdv_launch")
    assert launch.command("/opt/ml/code", "nbs/Train.ipynb", ["-p", "epochs", "3"]) == [
        sys.executable,
        "-u",
        "/opt/ml/code/easytdv_notebook.py",
        "nbs/Train.ipynb",
        "-p",
        "epochs",
        "3",
    ]
    assert launch.command("/opt/ml/code", "train.py", ["--x"]) == [sys.executable, "-u", "train.py", "--x"]


def test_the_failing_cell_is_named_as_the_person_counts_their_cells(tmp_path):
    def cell(source, tags=(), status="completed", count=None):
        return {
            "cell_type": "code",
            "source": source,
            "execution_count": count,
            "metadata": {"tags": list(tags), "papermill": {"status": status}},
        }

    doc = {
        "cells": [
            cell("# papermill's error cell", tags=["papermill-error-cell-tag"]),
            cell("epochs = 2", tags=["parameters"], count=1),
            cell("epochs = 1", tags=["injected-parameters"], count=2),
            cell(["\n", "if fail:\n", "    raise RuntimeError()"], status="failed", count=3),
            cell("print('done')", status="pending"),
        ]
    }
    path = tmp_path / "x.executed.ipynb"
    path.write_text(json.dumps(doc))
    assert nb.failed_cell_line(path, "outputs/x.executed.ipynb") == (
        'The notebook stopped at cell 2 of 3 (In [3], "if fail:"). '
        "The executed notebook, with the outputs up to the error, is outputs/x.executed.ipynb"
    )
    doc["cells"][3]["metadata"]["papermill"]["status"] = "completed"
    path.write_text(json.dumps(doc))
    assert nb.failed_cell_line(path, "o").startswith("The notebook did not finish")


def test_only_the_first_machine_puts_it_in_the_runs_outputs_with_the_owner_checked(tmp_path):
    out = tmp_path / "Train.executed.ipynb"
    out.write_text("{}")
    calls = []
    env = {
        "EASYTDV_OUTPUTS_URI": "s3://b/easytdv/runs/r/outputs/",
        "EASYTDV_BUCKET_OWNER": "123456789012",
        "SM_HOSTS": '["algo-2", "algo-1"]',
        "SM_CURRENT_HOST": "algo-1",
    }
    key = nb.upload(out, env, lambda **kw: calls.append(kw))
    assert key == "easytdv/runs/r/outputs/Train.executed.ipynb"
    assert calls == [
        {
            "Bucket": "b",
            "Key": key,
            "Body": b"{}",
            "ContentType": "application/x-ipynb+json",
            "ExpectedBucketOwner": "123456789012",
        }
    ]
    assert nb.upload(out, {**env, "SM_CURRENT_HOST": "algo-2"}, lambda **kw: calls.append(kw)) is None
    assert nb.upload(out, {}, lambda **kw: calls.append(kw)) is None, "no place given: nothing put"
    assert len(calls) == 1


def test_without_papermill_it_stops_with_2_before_anything_runs(tmp_path):
    (tmp_path / "nb.ipynb").write_text('{"nbformat": 4, "cells": []}')
    code = "import sys; sys.modules['papermill'] = None; sys.argv = ['x', 'nb.ipynb']; "
    code += f"exec(compile(open({str(RUNNER)!r}).read(), 'runner', 'exec'), {{'__name__': '__main__'}})"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "OUTPUT_DIR": str(tmp_path / "out")},
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "easytdv: papermill is not installed in the job's Python" in result.stderr
