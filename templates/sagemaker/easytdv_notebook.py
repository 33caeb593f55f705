"""easyTDV: a notebook as a SageMaker job's entry point (issue 21).

The launcher (easytdv_launch.py, beside this file in sourcedir.tar.gz)
becomes `python -u easytdv_notebook.py <notebook> ARGS...` when the run's
entry point (EASYTDV_ENTRY) is a `.ipynb`; ARGS are papermill's parameters
(`-p NAME VALUE`, `-r NAME VALUE`), checked by the app. As train.sh does on
EC2, this:

- registers the job's Python as the Jupyter kernel `easytdv` (papermill and
  ipykernel come with the run's requirements.txt, where the app added them);
- executes the notebook top to bottom from the project's root with papermill,
  each cell's output streamed to stdout/stderr as it comes (the job's log: the
  app reads metrics from it like a script's);
- turns SIGTERM (SageMaker's stop) into Ctrl-C, so papermill saves what was
  executed so far;
- writes the executed notebook to $OUTPUT_DIR/<name>.executed.ipynb (in
  model.tar.gz), and puts a copy at the run's outputs/<name>.executed.ipynb
  (EASYTDV_OUTPUTS_URI, EASYTDV_BUCKET_OWNER in the job's Environment; the first
  machine only), where the app finds it as for an EC2 run;
- ends a failure with the failing cell's own traceback and a line that names
  the cell, not papermill's.

Exit code: papermill's (1 when a cell failed), 2 when papermill is missing or
the kernel cannot be registered.
"""

import json
import os
import signal
import subprocess
import sys

KERNEL = "easytdv"
SETUP_FAILED = 2


def executed_name(entry):
    """`nb/Train.ipynb` -> `Train.executed.ipynb` (pipeline/notebook.rs's rule)."""
    base = os.path.basename(entry)
    stem = base[:-6] if base.lower().endswith(".ipynb") else base
    return f"{stem}.executed.ipynb"


def failed_cell_line(path, shown):
    """The cell papermill marked as failed, counted as the person sees their
    notebook (papermill's own cells left out), and where the executed one is."""
    with open(path, encoding="utf-8") as f:
        cells = json.load(f).get("cells", [])
    ours = {"injected-parameters", "papermill-error-cell-tag"}
    theirs = [c for c in cells if not set(c.get("metadata", {}).get("tags", [])) & ours]
    for n, cell in enumerate(theirs, 1):
        if cell.get("metadata", {}).get("papermill", {}).get("status") != "failed":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        first = next((line.strip() for line in source.splitlines() if line.strip()), "")
        if len(first) > 60:
            first = first[:59] + "\u2026"
        count = cell.get("execution_count")
        at = f"In [{count}], " if count is not None else ""
        return (
            f'The notebook stopped at cell {n} of {len(theirs)} ({at}"{first}"). '
            f"The executed notebook, with the outputs up to the error, is {shown}"
        )
    return f"The notebook did not finish; the executed notebook, with the outputs so far, is {shown}"


def first_machine(env):
    """Whether this is the job's first machine (the one whose outputs SageMaker keeps)."""
    try:
        hosts = json.loads(env.get("SM_HOSTS") or "[]")
    except ValueError:
        hosts = []
    current = env.get("SM_CURRENT_HOST")
    return not hosts or not current or current == sorted(hosts)[0]


def split_s3(uri):
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an S3 folder: {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix


def upload(path, env, put_object=None):
    """Puts the executed notebook at EASYTDV_OUTPUTS_URI/<its name>; the key, or None."""
    uri = env.get("EASYTDV_OUTPUTS_URI")
    if not uri or not first_machine(env):
        return None
    bucket, prefix = split_s3(uri)
    key = prefix.rstrip("/") + "/" + os.path.basename(path)
    with open(path, "rb") as f:
        body = f.read()
    extra = {"ExpectedBucketOwner": env["EASYTDV_BUCKET_OWNER"]} if env.get("EASYTDV_BUCKET_OWNER") else {}
    if put_object is None:
        import logging

        import boto3

        # (papermill logs at INFO: not the SDK's credential lookups)
        for name in ("boto3", "botocore"):
            logging.getLogger(name).setLevel(logging.WARNING)

        put_object = boto3.client("s3").put_object
    put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ipynb+json", **extra)
    return key


def register_kernel():
    try:
        import ipykernel  # noqa: F401
        import papermill  # noqa: F401
    except ImportError as e:
        print(f"easytdv: papermill is not installed in the job's Python ({e})", file=sys.stderr)
        sys.exit(SETUP_FAILED)
    done = subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"easytdv: could not register the job's Jupyter kernel: {done.stderr.strip()[-500:]}", file=sys.stderr)
        sys.exit(SETUP_FAILED)


def execute(notebook, out, root, params):
    """papermill, in this process; its exit code."""
    from papermill.cli import papermill
    from papermill.exceptions import PapermillExecutionError

    sys.argv = ["papermill", notebook, out, "-k", KERNEL, "--cwd", root, "--no-progress-bar"]
    sys.argv += ["--stdout-file", "-", "--stderr-file", "/dev/stderr", *params]
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        papermill(prog_name="papermill")
    except PapermillExecutionError as e:
        print(str(e).strip("\n"), file=sys.stderr)
        return 1
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        print("easytdv: the notebook was stopped", file=sys.stderr)
        return 143
    return 0


def main(argv):
    notebook, params = argv[0], argv[1:]
    root = os.getcwd()
    outputs = os.environ.get("OUTPUT_DIR") or "/opt/ml/model"
    os.makedirs(outputs, exist_ok=True)
    out = os.path.join(outputs, executed_name(notebook))
    register_kernel()
    rc = execute(notebook, out, root, params)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not os.path.isfile(out):
        return rc
    shown = f"outputs/{os.path.basename(out)}"
    try:
        key = upload(out, os.environ)
    except Exception as e:  # noqa: BLE001 - the notebook is still in model.tar.gz
        print(f"easytdv: could not put the executed notebook in the run's outputs ({e}); it is in model.tar.gz")
        key, shown = None, f"{os.path.basename(out)} in model.tar.gz"
    if key:
        print(f"easytdv: the executed notebook is {shown}", flush=True)
    if rc != 0:
        try:
            print(failed_cell_line(out, shown), file=sys.stderr)
        except (OSError, ValueError):
            pass
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
