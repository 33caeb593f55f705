"""train.py's arguments and plain variables on the machine: train.sh reads
easytdv-run-args.bin (fetched and checked by fetch.sh with the scripts) into
bash arrays and runs train.py with them, nothing evaluated by a shell."""

import json

from tpl_helpers import Instance

ARGS_FILE = "easytdv-run-args.bin"
# What train.py prints: its argv after its name and two variables.
SHOW = """\
import json, os, sys
print("ARGV=" + json.dumps(sys.argv[1:]))
print("ENV=" + json.dumps([os.environ.get("GREETING"), os.environ.get("EMPTY"), os.environ.get("TRICKY")]))
"""
NASTY = ["--name", "my run", 'it\'s "quoted"', "$HOME", "`touch pwned-arg`", "; touch pwned2", "two\nlines", ""]


def args_file(args, env, fmt="easytdv-run-args 1"):
    """pipeline/run_args.rs's format: NUL-terminated records."""
    records = [fmt, "0" * 32, str(len(args)), *args, str(len(env)), *(f"{k}={v}" for k, v in env)]
    return b"".join(r.encode() + b"\0" for r in records)


def printed(stdout: str, key: str):
    line = next(line for line in stdout.splitlines() if line.startswith(key + "="))
    return json.loads(line[len(key) + 1 :])


def test_train_py_gets_its_arguments_and_variables_literally(installed):
    (installed.inputs / "train.py").write_text(SHOW)
    installed.upload_scripts()
    env = [("GREETING", "hello $(touch pwned-env) `id` world"), ("EMPTY", ""), ("TRICKY", "a=b\nc;d")]
    result = installed.command("train.sh", files={ARGS_FILE: args_file(NASTY, env)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert printed(result.stdout, "ARGV") == NASTY
    assert printed(result.stdout, "ENV") == [env[0][1], "", env[2][1]]
    assert "easytdv: train.py gets 8 arguments and 3 variables (GREETING EMPTY TRICKY)" in result.stdout
    # Nothing was run by a shell.
    assert not list(installed.root.rglob("pwned*"))


def test_without_the_file_train_py_gets_no_arguments(installed):
    (installed.inputs / "train.py").write_text(SHOW)
    installed.upload_scripts()
    (installed.home / "lib" / ARGS_FILE).unlink(missing_ok=True)  # an earlier test's
    result = installed.command("train.sh")
    assert result.returncode == 0, result.stdout + result.stderr
    assert printed(result.stdout, "ARGV") == []
    assert "train.py gets" not in result.stdout


def test_a_file_that_is_not_ours_stops_the_run(tmp_path):
    inst = Instance(tmp_path)
    inst.upload_inputs(SHOW, "# none\n")
    inst.upload_scripts()
    assert inst.command("install.sh").returncode == 0
    for bad in (args_file(["a"], [], fmt="something else"), b"easytdv-run-args 1\x00n\x002\x00a\x000\x00"):
        result = inst.command("train.sh", files={ARGS_FILE: bad})
        assert result.returncode == 2, result.stdout + result.stderr
        assert "is not a file of train.py's arguments easyTDV can read" in result.stderr
        assert "ARGV=" not in result.stdout
