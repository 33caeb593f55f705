"""Command line: `run` (foreground or --background) and `stop`."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from .access import new_key

DEFAULT_DATA = Path(__file__).resolve().parent.parent / ".data"
PREFIX = "EASYTDV_SANDBOX_ENDPOINT="
KEY_VAR = "EASYTDV_SANDBOX_ACCESS_KEY"


def run_foreground(args) -> int:
    from .quotas import parse_quota_settings
    from .server import Sandbox

    try:
        quota_values = parse_quota_settings(",".join([os.environ.get("EASYTDV_SANDBOX_QUOTAS", ""), *args.quota]))
    except ValueError as e:
        print(f"easytdv-sandbox: bad --quota / EASYTDV_SANDBOX_QUOTAS: {e}", file=sys.stderr)
        return 2
    given_key = os.environ.pop(KEY_VAR, "").strip() or None
    try:
        sandbox = Sandbox(
            args.host,
            args.port,
            args.data_dir,
            args.cfn_delay,
            args.verbose,
            args.lambda_delay,
            quota_values,
            args.sagemaker_delay,
            access_key=given_key,
            latency_scale=args.latency,
        )
        endpoint = sandbox.start()
    except ValueError as e:
        print(f"easytdv-sandbox: {e}", file=sys.stderr)
        return 2
    except (OSError, SystemExit) as e:  # werkzeug exits when the port is busy
        why = getattr(e, "strerror", None) or "address in use or not available"
        print(f"easytdv-sandbox: cannot listen on {args.host}:{args.port}: {why}", file=sys.stderr)
        return 1
    done = threading.Event()
    why = ["a signal"]
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    _stop_on_request(done, why)
    print(f"{PREFIX}{endpoint}", flush=True)
    if given_key is None:  # made here: whoever reads stdout (a terminal) needs it; never in a log
        print(f"{KEY_VAR}={sandbox.access_key}", flush=True)
    print(
        f"easytdv-sandbox: serving, data dir {Path(args.data_dir).resolve()}, "
        f"cfn delay {args.cfn_delay}s, {f'AWS latencies x{args.latency}' if args.latency else 'no latency model'} "
        "(Ctrl-C to stop)",
        file=sys.stderr,
        flush=True,
    )
    # --stop-with-parent: the app that started this sandbox is gone (even
    # killed, so it could not ask): stop cleanly, saving S3, like on SIGTERM.
    parent = _Parent(args.stop_with_parent) if args.stop_with_parent is not None else None
    while not done.wait(1):
        if parent is not None and not parent.alive():
            print("easytdv-sandbox: the process that started me is gone; stopping", file=sys.stderr, flush=True)
            break
    if done.is_set():
        print(f"easytdv-sandbox: stopping, asked by {why[0]}", file=sys.stderr, flush=True)
    sandbox.stop()
    return 0


class _Parent:
    """The process whose end stops the sandbox. POSIX gives an orphan a new parent: `getppid()` changes.
    Windows keeps the old parent's id, and a venv's python.exe is a launcher whose child is the
    interpreter, so there the app gives its own PID and a handle to it is held from the start (its PID
    cannot be reused while the handle is open; never os.kill: on Windows it ends the process)."""

    def __init__(self, pid: int) -> None:
        self._ppid = os.getppid()
        self._handle = None
        if os.name == "nt":
            import ctypes
            from ctypes import wintypes

            self._kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
            self._kernel32.OpenProcess.restype = wintypes.HANDLE
            self._kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
            self._kernel32.WaitForSingleObject.restype = wintypes.DWORD
            self._kernel32.WaitForSingleObject.argtypes = (wintypes.HANDLE, wintypes.DWORD)
            self._handle = self._kernel32.OpenProcess(0x00100000, False, pid or self._ppid)  # SYNCHRONIZE

    def alive(self) -> bool:
        if os.name != "nt":
            return os.getppid() == self._ppid
        if not self._handle:
            return False
        return self._kernel32.WaitForSingleObject(self._handle, 0) == 0x102  # WAIT_TIMEOUT: still running


def _stop_on_request(done: threading.Event, why: list[str]) -> None:
    """`POST /easytdv-api/shutdown` (the key in its header, like every hook) stops the sandbox as SIGTERM
    does, saving its data: how the app stops its practice cloud where there are no signals (Windows)."""
    from .gateway import hook

    @hook("shutdown")
    def _shutdown(method: str, _body: dict) -> tuple[int, dict]:
        if method != "POST":
            return 405, {"error": "POST to stop the sandbox"}
        why[0] = "a shutdown request"
        done.set()
        return 200, {"stopping": True}


def _answers(endpoint: str, key: str) -> bool:
    """Whether the sandbox started with `key` answers at `endpoint` (its whoami proof)."""
    nonce = secrets.token_hex(16)
    try:
        with urllib.request.urlopen(f"{endpoint}/easytdv-api/whoami?nonce={nonce}", timeout=2) as r:
            got = json.loads(r.read()).get("proof", "")
    except (OSError, ValueError):
        return False
    want = hmac.new(key.encode(), f"easytdv-sandbox:{nonce}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(str(got), want)


def run_background(args, argv: list[str]) -> int:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "sandbox.log"
    child_argv = [a for a in argv if a != "--background"]
    key = os.environ.get(KEY_VAR, "").strip() or new_key()
    env = {**os.environ, KEY_VAR: key}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "easytdv_sandbox.cli", "run", *child_argv, "--data-dir", str(data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
        )
    deadline = time.time() + 60
    while time.time() < deadline:
        lines = log_path.read_text().splitlines()
        endpoint = next((line[len(PREFIX) :] for line in lines if line.startswith(PREFIX)), None)
        if endpoint and _answers(endpoint, key):
            Path(args.pidfile).write_text(f"{proc.pid}\n")
            print(f"{PREFIX}{endpoint}", flush=True)
            print(f"{KEY_VAR}={key}", flush=True)
            return 0
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    if proc.poll() is None:
        proc.kill()
    print(f"easytdv-sandbox: failed to start (log {log_path}):", file=sys.stderr)
    print(log_path.read_text()[-2000:], file=sys.stderr)
    return 1


def stop(args) -> int:
    pidfile = Path(args.pidfile)
    try:
        pid = int(pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        print(f"easytdv-sandbox: no pid in {pidfile}; nothing to stop", file=sys.stderr)
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            time.sleep(0.1)
            os.kill(pid, 0)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pidfile.unlink(missing_ok=True)
    print(f"easytdv-sandbox: stopped (pid {pid})", file=sys.stderr)
    return 0


def _latency(spec: str) -> float:
    from .latency import parse

    try:
        return parse(spec)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="easytdv-sandbox")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the sandbox")
    run.add_argument("--port", type=int, default=4566, help="0 picks a free port")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--data-dir", default=str(DEFAULT_DATA))
    run.add_argument("--cfn-delay", type=float, default=float(os.environ.get("EASYTDV_SANDBOX_CFN_DELAY") or 0))
    run.add_argument(
        "--lambda-delay",
        type=float,
        default=float(os.environ.get("EASYTDV_SANDBOX_LAMBDA_DELAY") or 0),
        help="seconds every Lambda invocation waits before its handler runs",
    )
    run.add_argument(
        "--sagemaker-delay",
        type=float,
        default=float(os.environ.get("EASYTDV_SANDBOX_SAGEMAKER_DELAY") or 0),
        help="seconds each SageMaker training-job phase (Starting, Downloading, Uploading, ...) lasts at least",
    )
    run.add_argument(
        "--latency",
        type=_latency,
        default=0.0,
        metavar="aws[:SCALE]",
        help="take AWS's time for each operation (latency.py; tests/sandbox/README.md), scaled by SCALE "
        "(aws = aws:1; aws:0.1 is ten times faster); off by default (the run script takes "
        "EASYTDV_SANDBOX_LATENCY)",
    )
    run.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="CODE=VALUE",
        help="a quota in every region: EC2 vCPUs (L-DB2E81BA=8) or SageMaker instances by code or by name "
        "('ml.g5.xlarge for training job usage=1') (repeatable)",
    )
    run.add_argument(
        "--stop-with-parent",
        nargs="?",
        type=int,
        const=0,
        default=None,
        metavar="PID",
        help="stop (cleanly) when the process that started the sandbox exits, even if it was killed "
        "(on Windows give its PID: a venv's python.exe is a launcher, the interpreter's parent)",
    )
    run.add_argument("--background", action="store_true")
    run.add_argument("--pidfile")
    run.add_argument("--verbose", action="store_true", help="log every request")
    stop_p = sub.add_parser("stop", help="stop a sandbox started with --background")
    stop_p.add_argument("--pidfile", required=True)
    args = parser.parse_args(argv)
    if args.cmd == "stop":
        return stop(args)
    if args.background:
        if not args.pidfile:
            parser.error("--background needs --pidfile FILE")
        return run_background(args, argv[1:])
    return run_foreground(args)


if __name__ == "__main__":
    sys.exit(main())
