"""What the window tests and the window benchmark share: a WebDriver session on
the app (through tauri-driver) and the memory of the app's process tree."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.options import ArgOptions


def connect(app: str) -> webdriver.Remote:
    """A session on `app`, started by tauri-driver (which may still be binding its port)."""
    opts = ArgOptions()
    opts.set_capability("tauri:options", {"application": app})
    url = f"http://127.0.0.1:{os.environ['EASYTDV_E2E_DRIVER_PORT']}"
    deadline = time.monotonic() + 30
    while True:
        try:
            return webdriver.Remote(command_executor=url, options=opts)
        except Exception:  # noqa: BLE001 - connection refused while it starts
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def app_tree(exe: str) -> tuple[int, int, int] | None:
    """PSS (KiB) of the process running `exe`, of its WebKitWebProcess(es) and of its
    WebKitNetworkProcess; None when it is not running."""
    exe = os.path.realpath(exe)
    parents: dict[int, int] = {}
    app = None
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            parents[int(p.name)] = int((p / "stat").read_text().rsplit(") ", 1)[1].split()[1])
            if os.path.realpath(p / "exe") == exe:
                app = int(p.name)
        except (OSError, IndexError, ValueError):
            continue
    if app is None:
        return None
    web = net = 0
    for pid, ppid in parents.items():
        if ppid != app:
            continue
        comm = Path(f"/proc/{pid}/comm").read_text(errors="replace")
        if comm.startswith("WebKitWebProces"):
            web += pss_kib(pid)
        elif comm.startswith("WebKitNetworkP"):
            net += pss_kib(pid)
    return pss_kib(app), web, net


def capture(path: Path) -> None:
    """The easyTDV window's pixels as X shows them. Not WebDriver's screenshot: WebKit's
    snapshot of a page holding a canvas never returns when the page is drawn without GPU
    compositing, as easyTDV draws it (src-tauri/src/webview.rs)."""
    tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True, check=True).stdout
    win = next(line.split()[0] for line in tree.splitlines() if '"easyTDV":' in line)
    subprocess.run(["import", "-window", win, str(path)], check=True, timeout=30)
