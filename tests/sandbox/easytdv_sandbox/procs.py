"""Child process helpers: every child runs in its own process group."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

_LIVE: set[subprocess.Popen] = set()
_LOCK = threading.Lock()


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(args, start_new_session=True, stdin=subprocess.DEVNULL, **kwargs)
    with _LOCK:
        _LIVE.add(proc)
    return proc


def reap(proc: subprocess.Popen) -> None:
    with _LOCK:
        _LIVE.discard(proc)


def kill_group(proc: subprocess.Popen | None) -> None:
    """SIGKILL the process and everything in its group (background children too)."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all() -> None:
    with _LOCK:
        procs = list(_LIVE)
    for proc in procs:
        kill_group(proc)
