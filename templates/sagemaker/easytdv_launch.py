"""easyTDV: the SageMaker entry point of a run whose train.py has arguments,
or whose script is not at the project's root (EASYTDV_ENTRY, in the job's
Environment, names it: `src/train.py`); it runs from the project's root, as
on EC2, so the script's imports and relative paths work.

Script mode can only hand the entry point hyperparameters (`--key value`),
which cannot carry any argv (a lone flag, a positional argument, a value with
spaces...), and they are visible in DescribeTrainingJob. So the core ships
the arguments in easytdv-run-args.bin beside this file in sourcedir.tar.gz,
names this file as `sagemaker_program`, and this becomes
`python -u train.py ARG...` with os.execv: the same process and environment
(SageMaker's SM_* and torchrun's variables, its stop signal reach train.py),
the arguments exactly as given, nothing run by a shell.

The file (pipeline/run_args.rs): NUL-terminated records: the format, a nonce,
the number of arguments and each argument, the number of variables and each
NAME=value (none here: a SageMaker run's variables are in the job's
Environment).

The run's secrets (easytdv_secrets.py beside this file, when the run has
some) are read here, before the exec, and reach the script's environment only.
A notebook's entry point runs through easytdv_notebook.py (papermill). A
project whose requirements are its uv.lock is installed from it first
(easytdv_uv.py).
"""

import os
import sys

import easytdv_data

FORMAT = "easytdv-run-args 1"
ARGS_FILE = "easytdv-run-args.bin"
ENTRY = "train.py"
BAD_FILE_EXIT = 2


def read_args(path):
    """The arguments in the file; ValueError when it is not easyTDV's."""
    with open(path, "rb") as f:
        data = f.read()
    if not data.endswith(b"\0"):
        raise ValueError("it does not end with a NUL")
    records = [r.decode("utf-8") for r in data[:-1].split(b"\0")]
    if len(records) < 4 or records[0] != FORMAT or not records[2].isdigit():
        raise ValueError("it does not start with the easyTDV format's records")
    n = int(records[2])
    if len(records) < 4 + n or not records[3 + n].isdigit() or len(records) != 4 + n + int(records[3 + n]):
        raise ValueError("its counts do not match its records")
    return records[3 : 3 + n]


def entry_path(name):
    """The script's path in the project: relative, never out of it."""
    parts = name.split("/")
    if not name or name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{name!r} is not a path inside the project")
    return name


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        args = read_args(os.path.join(here, ARGS_FILE))
        entry = entry_path(os.environ.get("EASYTDV_ENTRY") or ENTRY)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        print(f"easytdv: cannot read train.py's arguments from {ARGS_FILE}: {e}", file=sys.stderr)
        sys.exit(BAD_FILE_EXIT)
    easytdv_data.prepare(here)
    # From the project's root, as on EC2.
    os.chdir(here)
    install_lock(here)
    env = script_environment(here)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, command(here, entry, args), env)


def command(here, entry, args):
    """What the launcher becomes: `python -u <script> ARGS`, or for a notebook
    its runner (easytdv_notebook.py beside this file: papermill, ARGS being its
    parameters)."""
    if entry.lower().endswith(".ipynb"):
        return [sys.executable, "-u", os.path.join(here, "easytdv_notebook.py"), entry, *args]
    return [sys.executable, "-u", entry, *args]


def install_lock(here):
    """A project whose requirements are its uv.lock: installed exactly from it
    (easytdv_uv.py beside this file; exits 5 when it cannot be)."""
    if os.environ.get("EASYTDV_REQUIREMENTS") != "uv.lock":
        return
    sys.path.insert(0, here)
    import easytdv_uv

    easytdv_uv.install(here, dict(os.environ))


def script_environment(here):
    """This process's environment, with the run's secrets when it has some
    (exits 81 when they cannot be read)."""
    env = dict(os.environ)
    if not env.get("EASYTDV_SECRET_NAMES"):
        return env
    sys.path.insert(0, here)
    import easytdv_secrets

    return easytdv_secrets.environment(env)


if __name__ == "__main__":
    main()
