"""easyTDV's window in the heavy states of issue 24, beside the minimal Tauri app.

Run by tests/bench/window-weight.sh (Xvfb, a D-Bus session and tauri-driver
already started; the app's data folder seeded by the core's `window_seed`).
Drives the window as a user does (the address bar of a hash router: the
page a click on a row opens) and prints the PSS of the app and its WebKit
processes in each state, in MiB and as a ratio to the minimal app's total
(argv[1], KiB, measured in the same run) and to the same minimal app drawn
without GPU compositing as easyTDV is (argv[2]). A benchmark: prints, never
asserts.

States: the Runs screen with 1,000 runs (a returning user's first screen);
a run page whose log has 100,000 lines and three 1,000-step charts; the same
page after 20 other run pages were opened one after the other.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import ArgOptions

SETTLE = float(os.environ.get("EASYTDV_WEIGHT_SETTLE", "4"))
# A folder for a screenshot of each state (to look at the page drawn without GPU compositing).
SHOTS = os.environ.get("EASYTDV_WEIGHT_SHOTS")


def shot(name: str) -> None:
    """X's pixels of the window (WebKit's own snapshot never returns on a page with a canvas
    drawn without GPU compositing)."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True, check=True).stdout
        win = next(line.split()[0] for line in tree.splitlines() if '"easyTDV":' in line)
        subprocess.run(["import", "-window", win, str(Path(SHOTS) / f"{name}.png")], check=True, timeout=30)


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree(exe: str) -> tuple[int, int, int]:
    """PSS (KiB) of the app, its WebKitWebProcess(es) and its WebKitNetworkProcess."""
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
        raise SystemExit("[weight] the app is not running")
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


def wait_for(d, css: str, timeout: float = 60.0, check=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for el in d.find_elements(By.CSS_SELECTOR, css):
            if check is None or check(el):
                return el
        time.sleep(0.1)
    raise SystemExit(f"[weight] {css} did not appear in {timeout:.0f} s")


def open_run(d, run_id: str) -> None:
    d.execute_script("location.hash = arguments[0]", f"#/runs/{run_id}")
    # The page is drawn: its log says how many lines it holds and its charts have every step.
    wait_for(d, '[data-testid="log-range"]', check=lambda el: " of " in el.text)
    for name in ("loss", "acc", "val_loss"):
        wait_for(d, f'[data-testid="chart-{name}"][data-points="1000"]')


def main() -> None:
    minimal_kib, plain_kib = int(sys.argv[1]), int(sys.argv[2])
    app = os.environ["EASYTDV_E2E_APP"]
    ids = (Path(os.environ["EASYTDV_DATA_DIR"]) / "bench-runs.txt").read_text().split()
    heavy, pages = ids[0], ids[1:]
    opts = ArgOptions()
    opts.set_capability("tauri:options", {"application": app})
    url = f"http://127.0.0.1:{os.environ['EASYTDV_E2E_DRIVER_PORT']}"
    d = None
    deadline = time.monotonic() + 30
    while d is None:  # tauri-driver may still be binding its port
        try:
            d = webdriver.Remote(command_executor=url, options=opts)
        except Exception:  # noqa: BLE001 - refused while it starts
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    rows = []
    try:
        wait_for(d, '[data-testid="run-row"]')
        time.sleep(SETTLE)
        rows.append(("Runs screen, 1,000 runs", tree(app)))
        shot("runs")
        open_run(d, heavy)
        time.sleep(SETTLE)
        rows.append(("run page: 100,000 lines, 3 charts", tree(app)))
        shot("run-page")
        for run_id in pages:
            open_run(d, run_id)
        open_run(d, heavy)
        time.sleep(SETTLE)
        rows.append((f"the same after {len(pages)} run pages", tree(app)))
        # Once more: memory that keeps growing is kept by something; a plateau is the heap's high-water mark.
        for run_id in pages:
            open_run(d, run_id)
        open_run(d, heavy)
        time.sleep(SETTLE)
        rows.append((f"the same after {2 * len(pages)} run pages", tree(app)))
    finally:
        d.quit()
    heads = ("app", "WebKit", "network", "total", "× minimal", "× no-GPU")
    print(f"{'state (PSS, MiB)':<36} " + " ".join(f"{h:>7}" for h in heads[:4]) + f" {heads[4]:>9} {heads[5]:>9}")
    for label, (a, w, n) in rows:
        total = a + w + n
        print(
            f"{label:<36} {a / 1024:7.1f} {w / 1024:7.1f} {n / 1024:7.1f} {total / 1024:7.1f}"
            f" {total / minimal_kib:9.2f} {total / plain_kib:9.2f}"
        )
    page, after, again = sum(rows[1][1]), sum(rows[2][1]), sum(rows[3][1])
    print(
        f"growth after {len(pages)} pages: {100 * (after - page) / page:+.1f} %, after {2 * len(pages)}:"
        f" {100 * (again - page) / page:+.1f} %  (targets: ≤ 1.5× each, growth ≤ 5 %)"
    )


if __name__ == "__main__":
    main()
