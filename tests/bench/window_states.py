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
import sys
import time
from pathlib import Path

from selenium.webdriver.common.by import By

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from appwindow import app_tree, capture, connect  # noqa: E402 - tests/e2e's, shared with the window tests

SETTLE = float(os.environ.get("EASYTDV_WEIGHT_SETTLE", "4"))
# A folder for a screenshot of each state (to look at the page drawn without GPU compositing).
SHOTS = os.environ.get("EASYTDV_WEIGHT_SHOTS")


def shot(name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        capture(Path(SHOTS) / f"{name}.png")


def tree(exe: str) -> tuple[int, int, int]:
    found = app_tree(exe)
    if found is None:
        raise SystemExit("[weight] the app is not running")
    return found


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
    d = connect(app)
    rows = []
    try:
        wait_for(d, '[data-testid="run-row"]')
        time.sleep(SETTLE)
        rows.append(("Runs screen, 1,000 runs", tree(app)))
        shot("runs")
        t0 = time.monotonic()
        open_run(d, heavy)
        opened = time.monotonic() - t0
        time.sleep(SETTLE)
        rows.append(("run page: 100,000 lines, 3 charts", tree(app)))
        shot("run-page")
        t0 = time.monotonic()
        for run_id in pages:
            open_run(d, run_id)
        walked = (time.monotonic() - t0) / len(pages)
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
    print(
        f"the heavy run page drawn (log and charts) {opened:.2f} s after its address was set;"
        f" each of the {len(pages)} others {walked:.2f} s on average"
    )
    page, after, again = sum(rows[1][1]), sum(rows[2][1]), sum(rows[3][1])
    print(
        f"growth after {len(pages)} pages: {100 * (after - page) / page:+.1f} %, after {2 * len(pages)}:"
        f" {100 * (again - page) / page:+.1f} %  (targets: ≤ 1.5× each, growth ≤ 5 %)"
    )


if __name__ == "__main__":
    main()
