"""Child processes: each runs in its own process group and carries two
environment markers (this server, and a tag such as the instance id), so
everything it leaves behind (`nohup ... &`) can be found and killed later,
without ever touching a process the sandbox did not start."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid

SERVER_VAR, TAG_VAR = "EASYTDV_SANDBOX_SERVER", "EASYTDV_SANDBOX_TAG"
SERVER_MARK = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


def spawn(args: list[str], tag: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    env = {**env, SERVER_VAR: SERVER_MARK, TAG_VAR: tag}
    return subprocess.Popen(args, start_new_session=True, stdin=subprocess.DEVNULL, env=env, **kwargs)


def kill_group(proc: subprocess.Popen | None) -> None:
    """SIGKILL a process we have not reaped yet, and its process group."""
    if proc is not None and proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _marked(tag: str | None) -> list[int]:
    want = {f"{SERVER_VAR}={SERVER_MARK}".encode()}
    if tag is not None:
        want.add(f"{TAG_VAR}={tag}".encode())
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                with open(f"/proc/{name}/environ", "rb") as f:
                    if want <= set(f.read().split(b"\0")):
                        found.append(int(name))
            except OSError:
                continue
    return found


def kill_tagged(tag: str | None = None) -> None:
    """SIGKILL every live process this server started with `tag` (None: all)."""
    for _ in range(3):  # a dying parent may still fork once
        pids = _marked(tag)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
