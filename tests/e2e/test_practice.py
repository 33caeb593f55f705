"""Try-mode with no terminal, in a real window: from a fresh data folder and
with no sandbox running, the app starts its own practice cloud (preparing its
Python environment the first time), runs the bundled example end to end, and
stops the practice cloud when it quits.

Run by tests/e2e/run.sh in an app session of its own (no
EASYTDV_SANDBOX_ENDPOINT, a data folder of its own); with EASYTDV_E2E_APP
pointing at an installed package's binary it checks the package's resources.
Memory figures go to $EASYTDV_E2E_FIGURES when set.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from selenium.webdriver.common.by import By

from appwindow import app_tree

from test_app import driver  # noqa: F401 - the app session fixture
from test_app import click_button, heading, nav, page_text, shot, timeline_states, visible, wait_for, wait_run_end

DATA = Path(os.environ.get("EASYTDV_DATA_DIR", "/nonexistent"))
PREPARE_TIMEOUT = 420  # first start: a venv and moto, boto3, awscli from PyPI

pytestmark = pytest.mark.skipif(
    not os.environ.get("EASYTDV_E2E_APP") or os.environ.get("EASYTDV_SANDBOX_ENDPOINT"),
    reason="run through tests/e2e/run.sh (its practice-cloud session)",
)


def sandbox_pids() -> list[int]:
    """Live sandbox processes whose data folder is this test's practice cloud."""
    found = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().split(b"\0")
            stat = (p / "stat").read_text()
        except OSError:
            continue
        if b"easytdv_sandbox.cli" in cmd and str(DATA).encode() in b" ".join(cmd) and ") Z" not in stat:
            found.append(int(p.name))
    return found


def app_tree_pss() -> tuple[int, int]:
    """PSS (KiB) of the app process and of its WebKit helper processes."""
    tree = app_tree(os.environ["EASYTDV_E2E_APP"])
    return (tree[0], tree[1] + tree[2]) if tree else (0, 0)


def text_of(d, selector: str) -> str:
    """The text of the element shown for `selector`; empty when there is none."""
    el = visible(d, By.CSS_SELECTOR, selector)
    return el.text if el else ""


def figure(line: str) -> None:
    print(line)
    if os.environ.get("EASYTDV_E2E_FIGURES"):
        with open(os.environ["EASYTDV_E2E_FIGURES"], "a", encoding="utf-8") as f:
            f.write(line + "\n")


def memory(label: str) -> None:
    app, webkit = app_tree_pss()
    figure(f"PSS {label}: app {app / 1024:.0f} MiB + WebKit {webkit / 1024:.0f} MiB = {(app + webkit) / 1024:.0f} MiB")


def test_try_mode_runs_the_example_on_its_own_practice_cloud(driver):
    d = driver
    assert sandbox_pids() == [], "no practice cloud runs before the app starts one"
    heading(d, "Welcome to easyTDV", timeout=60)
    time.sleep(1)
    memory("on the first screen")
    d.find_element(By.CSS_SELECTOR, "[data-testid='choice-sandbox']").click()
    click_button(d, "Continue")
    heading(d, "Try with the practice cloud")
    shot(d, "60-practice-intro")
    click_button(d, "Start the practice cloud")
    wait_for(d, lambda drv: "first time only" in page_text(drv), 60, f"no first-time notice: {page_text(d)[:800]}")
    shot(d, "61-practice-preparing")
    heading(d, "You are all set", timeout=PREPARE_TIMEOUT)
    assert "Practice cloud" in page_text(d)
    shot(d, "62-practice-ready")
    assert len(sandbox_pids()) == 1, sandbox_pids()
    saved = json.loads((DATA / "practice-cloud" / "sandbox.json").read_text())
    endpoint = saved["endpoint"]
    # Anyone but the app (another program, another user, a web page) gets nothing from it...
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="sandbox", aws_secret_access_key="x"
    )
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        s3.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    # ...and its key (in its environment, readable by its own user only) is in no file.
    environ = Path(f"/proc/{sandbox_pids()[0]}/environ").read_bytes().split(b"\0")
    key = next(v.split(b"=", 1)[1] for v in environ if v.startswith(b"EASYTDV_SANDBOX_ACCESS_KEY="))
    assert len(key) >= 32
    for f in DATA.rglob("*"):
        if f.is_file() and "venv" not in f.parts:
            assert key not in f.read_bytes(), f"the practice cloud's key is written in {f}"

    click_button(d, "Start a training")
    heading(d, "Your code")
    click_button(d, "Use an example")
    wait_for(d, lambda drv: "train.py" in drv.find_element(By.CSS_SELECTOR, "[data-testid='file-script']").text)
    wait_for(d, lambda drv: "requirements.txt" in drv.find_element(By.CSS_SELECTOR, "[data-testid='file-requirements']").text)
    shot(d, "63-practice-example")
    click_button(d, "Next")
    heading(d, "Machine")
    wait_for(d, lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='selected-type']"), 30, "no default machine type")
    wait_for(d, lambda drv: not visible(drv, By.CSS_SELECTOR, ".wizard .spinner"), 30, "still looking something up")
    click_button(d, "Next")
    heading(d, "Storage")
    bucket = wait_for(d, lambda drv: drv.find_element(By.ID, "s-new").get_attribute("value"), 30, "no bucket name")
    click_button(d, "Next")
    heading(d, "Review and launch")
    time.sleep(0.5)
    click_button(d, "Launch training")
    run_id = wait_for(d, lambda drv: "#/runs/" in drv.current_url and drv.current_url.rsplit("/", 1)[1], 60)

    assert wait_run_end(d, 600) == "success", page_text(d)[:2000]
    assert timeline_states(d).get("training") == "done", timeline_states(d)
    # The example prints "epoch N loss … acc …": both are charted.
    wait_for(d, lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='chart-acc']"), 30, f"no chart: {page_text(d)[:1500]}")
    shot(d, "64-practice-example-done")
    memory("after one practice run")
    # (The practice cloud answers only the app: its key is a secret of the app's. What it
    # stored is read from the state it saves when the app quits, below.)
    wait_for(d, lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='cleaned-up']"), 180, "not cleaned up")

    # A sweep of three runs from one wizard (issue 25): the example with three learning rates,
    # at the same time; one row in Runs, the best one named, every run cleaned up.
    nav(d, "New run")
    heading(d, "Your code")
    click_button(d, "Use an example")
    wait_for(d, lambda drv: "train.py" in drv.find_element(By.CSS_SELECTOR, "[data-testid='file-script']").text)
    click_button(d, "Next")
    heading(d, "Machine")
    wait_for(d, lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='selected-type']"), 30, "no default machine type")
    wait_for(d, lambda drv: not visible(drv, By.CSS_SELECTOR, ".wizard .spinner"), 30, "still looking something up")
    click_button(d, "Next")
    heading(d, "Storage")
    click_button(d, "Next")
    heading(d, "Review and launch")
    d.find_element(By.CSS_SELECTOR, "[data-testid='sweep-on']").click()
    wait_for(d, lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='sweep-grid']"), 10, "no sweep values field")
    d.find_element(By.CSS_SELECTOR, "[data-testid='sweep-grid']").send_keys("lr = 0.001, 0.005, 0.02")
    total = "[data-testid='sweep-total']"
    wait_for(d, lambda drv: "3 runs" in text_of(drv, total), 30, "no sweep plan")
    shot(d, "65-practice-sweep-review")
    click_button(d, "Launch the sweep")
    wait_for(d, lambda drv: "#/sweeps/" in drv.current_url, 60, "the sweep page did not open")
    summary = "[data-testid='sweep-summary']"
    wait_for(
        d,
        lambda drv: "3 succeeded" in text_of(drv, summary),
        600,
        f"the sweep did not finish: {page_text(d)[:1500]}",
    )
    best = d.find_element(By.CSS_SELECTOR, "[data-testid='sweep-best']").text
    assert best.startswith("Best run: lr="), best
    wait_for(
        d,
        lambda drv: all("cleaned up" in r.text for r in drv.find_elements(By.CSS_SELECTOR, "[data-testid='sweep-row']")),
        180,
        f"not every run cleaned up: {page_text(d)[:1500]}",
    )
    assert len(d.find_elements(By.CSS_SELECTOR, "[data-testid='sweep-row']")) == 3
    shot(d, "66-practice-sweep-done")
    memory("after a 3-run sweep")
    nav(d, "Runs")
    row = wait_for(d, lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='sweep-list-row']"), 30, "no sweep row")
    assert "Sweep of 3 runs" in row.text and "3 succeeded" in row.text, row.text

    # Quitting the app stops its practice cloud, which keeps its S3 data for the next start.
    d.quit()
    deadline = time.monotonic() + 45
    while sandbox_pids() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert sandbox_pids() == [], "the practice cloud outlived the app"
    state = DATA / "practice-cloud" / "data" / "s3-state"
    manifest = json.loads((state / "manifest.json").read_text())
    kept = {o["key"]: o["file"] for b in manifest["buckets"] if b["name"] == bucket for o in b["objects"]}
    assert f"easytdv/runs/{run_id}/outputs/model.pkl" in kept, kept
    metrics = json.loads((state / kept[f"easytdv/runs/{run_id}/outputs/metrics.json"]).read_text())
    assert metrics["accuracy"] > 0.8, metrics
