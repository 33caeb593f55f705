"""The whole easyTDV app in a real window, driven through tauri-driver +
WebKitWebDriver, doing real runs on the local AWS sandbox.

Run with tests/e2e/run.sh, which provides the environment:
EASYTDV_E2E_APP (the binary), EASYTDV_E2E_DRIVER_PORT, EASYTDV_SANDBOX_ENDPOINT,
EASYTDV_E2E_PICK_DIR (where EASYTDV_PICKED_SCRIPT/REQUIREMENTS point),
EASYTDV_E2E_SCREENSHOTS.

The tests share one app session and run in order: setup, a good run, a
failing run, a SageMaker job, then what a script in the webview cannot name
(paths and run ids the backend did not hand out) and the data folder's modes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from appwindow import capture, connect

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
ENDPOINT = os.environ.get("EASYTDV_SANDBOX_ENDPOINT", "")
SHOTS = Path(os.environ.get("EASYTDV_E2E_SCREENSHOTS", Path(__file__).parent / "screenshots"))
PICK_DIR = Path(os.environ.get("EASYTDV_E2E_PICK_DIR", "/nonexistent"))
REGION = "us-east-1"  # the region the sandbox account is created in
RUN_TIMEOUT = 300  # seconds for a whole run on the sandbox (pip install included)

pytestmark = [
    pytest.mark.skipif(not os.environ.get("EASYTDV_E2E_APP"), reason="run through tests/e2e/run.sh"),
    pytest.mark.filterwarnings("ignore:setting remote_server_addr:DeprecationWarning"),
]

# Shared between the ordered tests.
state: dict[str, str] = {}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def driver():
    d = connect(os.environ["EASYTDV_E2E_APP"])
    d.implicitly_wait(0)
    yield d
    try:
        d.quit()
    except WebDriverException:
        pass


@pytest.fixture(scope="session")
def aws():
    cfg = dict(
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ["EASYTDV_SANDBOX_ACCESS_KEY"],
        aws_secret_access_key="sandbox",
        config=Config(retries={"max_attempts": 2}),
    )
    return {s: boto3.client(s, **cfg) for s in ("s3", "ec2", "cloudformation")}


# ---------------------------------------------------------------- helpers


def shot(d, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    p = SHOTS / f"{name}.png"
    # The page has drawn what the last action changed; then X's pixels (appwindow.capture says why).
    d.execute_async_script("const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(0)))")
    capture(p)
    return p


def wait_for(d, what, timeout: float = 20, message: str = ""):
    """Wait until `what(d)` returns something truthy (ignoring stale/missing elements)."""

    def cond(drv):
        try:
            return what(drv)
        except (NoSuchElementException, StaleElementReferenceException):
            return False

    return WebDriverWait(d, timeout, poll_frequency=0.25).until(cond, message)


def visible(d, by, sel) -> WebElement | None:
    for e in d.find_elements(by, sel):
        if e.is_displayed():
            return e
    return None


def xpath_text(tag: str, text: str) -> str:
    return f"//{tag}[normalize-space()={xq(text)}]"


def xq(s: str) -> str:
    if "'" not in s:
        return f"'{s}'"
    parts = s.split("'")
    return "concat(" + ', "\'", '.join(f"'{p}'" for p in parts) + ")"


def click_button(d, text: str, timeout: float = 20, within: str = "") -> WebElement:
    sel = f"{within}//button[normalize-space()={xq(text)}]"
    el = wait_for(
        d,
        lambda drv: (e := visible(drv, By.XPATH, sel)) and e.is_enabled() and e,
        timeout,
        f"no enabled button {text!r}",
    )
    # WebKitWebDriver refuses a click on a button below the fold ("not interactable").
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
    el.click()
    return el


def heading(d, text: str, timeout: float = 20) -> WebElement:
    return wait_for(
        d,
        lambda drv: visible(drv, By.XPATH, f"//*[self::h1 or self::h2][contains(normalize-space(), {xq(text)})]"),
        timeout,
        f"no heading {text!r}; page says: {page_text(d)[:800]}",
    )


def page_text(d) -> str:
    try:
        return d.find_element(By.TAG_NAME, "body").text
    except WebDriverException:
        return "<unreadable>"


def nav(d, label: str):
    d.find_element(By.XPATH, f"//nav[@aria-label='Main']//a[normalize-space()={xq(label)}]").click()


def notifications() -> list[dict]:
    """What the app sent to the desktop's notification service (EASYTDV_NOTIFY_LOG seam)."""
    try:
        with open(os.environ["EASYTDV_NOTIFY_LOG"], encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def put_fixture(name: str):
    """What the (seamed) file dialogs will return next: the fixture's files."""
    PICK_DIR.mkdir(parents=True, exist_ok=True)
    for f in ("train.py", "requirements.txt"):
        shutil.copyfile(FIXTURES / name / f, PICK_DIR / f)


def timeline_states(d) -> dict[str, str]:
    return {
        li.get_attribute("data-step"): li.get_attribute("data-state")
        for li in d.find_elements(By.CSS_SELECTOR, "ol.timeline li[data-step]")
    }


def wait_run_end(d, timeout: float = RUN_TIMEOUT) -> str:
    """Wait until the run view shows success or failure; returns 'success' or 'failure'."""

    def ended(drv):
        for tid in ("success", "failure"):
            if visible(drv, By.CSS_SELECTOR, f"[data-testid='{tid}']"):
                return tid
        return False

    return wait_for(d, ended, timeout, f"the run did not end in {timeout}s: {page_text(d)[:1500]}")


def pick_code(d, fixture: str, shots_prefix: str):
    """The New run wizard's Code step with `fixture`'s files, then Next."""
    put_fixture(fixture)
    nav(d, "New run")
    heading(d, "Your code")
    click_button(d, "Choose script…")
    wait_for(d, lambda drv: "train.py" in drv.find_element(By.CSS_SELECTOR, "[data-testid='file-script']").text)
    # The script's folder is the project: its requirements.txt is found, and what will be sent is shown.
    wait_for(
        d,
        lambda drv: "Found in your project folder"
        in drv.find_element(By.CSS_SELECTOR, "[data-testid='file-requirements']").text,
        message="requirements.txt was not found in the project folder",
    )
    wait_for(d, lambda drv: "will be sent" in page_text(drv), message="the project's summary is not shown")
    shot(d, f"{shots_prefix}-1-code")
    click_button(d, "Next")


def launch_with_defaults(d, fixture: str, shots_prefix: str) -> str:
    """Go through the New run wizard with `fixture` and the defaults; return the run id."""
    pick_code(d, fixture, shots_prefix)

    heading(d, "Machine")
    # The machine type list comes from the sandbox's EC2 answers; wait for the default to be chosen.
    wait_for(
        d, lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='selected-type']"), 30, "no default machine type"
    )
    wait_for(
        d,
        lambda drv: (e := visible(drv, By.CSS_SELECTOR, "[data-testid='ami-auto']")) and "Finding" not in e.text,
        30,
        "no automatic image",
    )
    wait_for(d, lambda drv: not visible(drv, By.CSS_SELECTOR, ".wizard .spinner"), 30, "still looking something up")
    shot(d, f"{shots_prefix}-2-machine")
    click_button(d, "Next")

    heading(d, "Storage")
    bucket = wait_for(
        d, lambda drv: drv.find_element(By.ID, "s-new").get_attribute("value"), 30, "no bucket name suggested"
    )
    state["bucket"] = bucket
    shot(d, f"{shots_prefix}-3-storage")
    click_button(d, "Next")

    heading(d, "Review and launch")
    # The price (from the sandbox's Price List API) is on the review; wait for
    # it, as the page grows when it arrives and a click could land beside.
    wait_for(
        d,
        lambda drv: re.search(r"About \$[0-9.]+ per hour; at most \$[0-9.]+", page_text(drv)),
        30,
        f"no price on the review: {page_text(d)[-1500:]}",
    )
    time.sleep(0.5)
    shot(d, f"{shots_prefix}-4-review")
    click_button(d, "Launch training")
    try:
        url = wait_for(d, lambda drv: re.search(r"#/runs/([^/?]+)$", drv.current_url), 60)
    except TimeoutException:
        shot(d, f"{shots_prefix}-4-review-no-run")
        raise AssertionError(f"the run view did not open: {page_text(d)[-1500:]}") from None
    run_id = url.group(1)
    heading(d, "Run")
    return run_id


def confirm_delete(d):
    """The Delete resources button in the run view, then the confirmation dialog."""
    click_button(d, "Delete resources", within="//section[@data-testid='success' or @data-testid='failure']")
    wait_for(d, lambda drv: visible(drv, By.CSS_SELECTOR, "dialog[open]"), 10, "no confirmation dialog")
    shot(d, f"{state['prefix']}-confirm-delete")
    click_button(d, "Delete resources", within="//dialog[@open]")
    wait_for(
        d,
        lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='deleted']"),
        180,
        f"the resources were not deleted: {page_text(d)[:1500]}",
    )


def assert_cleaned_up(aws, run_id: str, bucket: str):
    ec2, cfn, s3 = aws["ec2"], aws["cloudformation"], aws["s3"]
    res = ec2.describe_instances(Filters=[{"Name": "tag:easytdv:run-id", "Values": [run_id]}])
    alive = [
        (i["InstanceId"], i["State"]["Name"])
        for r in res["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    ]
    assert alive == [], f"instances of the run still alive: {alive}"
    try:
        stacks = cfn.describe_stacks(StackName=f"easytdv-{run_id}")["Stacks"]
        assert all(s["StackStatus"] == "DELETE_COMPLETE" for s in stacks), stacks
    except ClientError as e:
        assert "does not exist" in str(e), e
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"easytdv/runs/{run_id}/").get("Contents", [])]
    inputs = [k for k in keys if not k.startswith(f"easytdv/runs/{run_id}/outputs/")]
    assert inputs == [], f"input objects left: {inputs}"
    return keys


def runs_row_result(d, run_id: str) -> str:
    nav(d, "Runs")
    heading(d, "Runs")
    row = wait_for(
        d,
        lambda drv: visible(drv, By.XPATH, f"//tr[@data-testid='run-row'][.//a[contains(@href, {xq(run_id)})]]"),
        20,
        f"run {run_id} not in the Runs list",
    )
    badge = row.find_element(By.CSS_SELECTOR, "[data-testid='run-row-status']")
    return (badge.text or badge.get_attribute("textContent") or "").strip()


# ---------------------------------------------------------------- tests


def test_first_start_guided_setup_with_the_sandbox(driver):
    d = driver
    heading(d, "Welcome to easyTDV", timeout=60)
    assert "First-time setup" in page_text(d)
    shot(d, "01-welcome")

    d.find_element(By.CSS_SELECTOR, "[data-testid='choice-sandbox']").click()
    radio = d.find_element(By.CSS_SELECTOR, "[data-testid='choice-sandbox'] input[type='radio']")
    assert radio.is_selected()
    click_button(d, "Continue")

    heading(d, "Try with the practice cloud")
    # A developer's own sandbox: the address offered is the one the app was started with.
    d.find_element(By.XPATH, "//summary[contains(., 'a sandbox you started yourself')]").click()
    wait_for(
        d,
        lambda drv: drv.find_element(By.ID, "setup-endpoint").get_attribute("value") == ENDPOINT,
        10,
        "the sandbox address field does not show $EASYTDV_SANDBOX_ENDPOINT",
    )
    shot(d, "02-sandbox-address")
    click_button(d, "Connect to the sandbox")

    heading(d, "You are all set", timeout=60)
    account_id = d.find_element(By.CSS_SELECTOR, "[data-testid='identity-account']").text.strip()
    assert re.search(r"\b\d{12}\b", account_id), account_id
    assert "Local sandbox" in page_text(d)
    shot(d, "03-setup-done")

    click_button(d, "See my accounts")
    wait_for(d, lambda drv: visible(drv, By.XPATH, "//nav[@aria-label='Main']"), 10)
    wait_for(d, lambda drv: "Local sandbox" in page_text(drv), 10)
    shot(d, "04-accounts")

    nav(d, "Runs")
    heading(d, "Runs")
    heading(d, "No runs yet")
    shot(d, "05-runs-empty")


def test_a_good_run_then_delete_resources(driver, aws):
    d = driver
    state["prefix"] = "10-ok"
    run_id = launch_with_defaults(d, "ok", "10-ok")
    state["ok_run"] = run_id
    time.sleep(1.5)
    shot(d, "10-ok-5-running")

    assert wait_run_end(d) == "success", page_text(d)
    states = timeline_states(d)
    main = {k: v for k, v in states.items() if k != "delete"}
    assert main and all(v == "done" for v in main.values()), states
    for step in ("prepare", "stack", "instance", "requirements", "training"):
        assert main.get(step) == "done", states
    status = d.find_element(By.CSS_SELECTOR, "[data-testid='run-status']").text
    uri = d.find_element(By.CSS_SELECTOR, "[data-testid='outputs-uri']").text.strip()
    # The script printed "loss=0.042": a chart of it in the run view.
    wait_for(
        d,
        lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='chart-loss']"),
        20,
        f"no loss chart: {page_text(d)[:1500]}",
    )
    shot(d, "10-ok-6-success")
    # The OS notification (its seam: a JSON line per notification).
    notes = wait_for(d, lambda drv: notifications(), 20, "no notification was sent")
    assert any(n["title"] == "Training finished" and "train.py" in n["body"] for n in notes), notes

    m = re.fullmatch(r"s3://([^/]+)/(.+)", uri)
    assert m, uri
    bucket, prefix = m.group(1), m.group(2)
    assert bucket == state["bucket"], "the outputs are in the bucket chosen on the Storage step"
    assert prefix.rstrip("/") == f"easytdv/runs/{run_id}/outputs", uri
    s3 = aws["s3"]
    body = s3.get_object(Bucket=bucket, Key=f"easytdv/runs/{run_id}/outputs/model.json")["Body"].read()
    assert b'"weights"' in body and b'"six": "1.16.0"' in body, body

    # The results come home: the folder picker's seam is $EASYTDV_PICKED_FOLDER.
    click_button(d, "Download outputs…")
    saved = wait_for(
        d, lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='download-result']"), 30, "no download result"
    )
    assert "Saved" in saved.text, saved.text
    model = os.path.join(os.environ["EASYTDV_PICKED_FOLDER"], f"easytdv-{run_id}", "model.json")
    with open(model, "rb") as f:
        assert f.read() == body

    # After a success the app deletes the machine and stack by itself.
    wait_for(
        d,
        lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='cleaned-up']"),
        180,
        f"the run was not cleaned up: {page_text(d)[:1500]}",
    )
    assert timeline_states(d).get("delete") == "done", timeline_states(d)
    shot(d, "12-ok-cleaned-up")
    keys = assert_cleaned_up(aws, run_id, bucket)
    assert f"easytdv/runs/{run_id}/outputs/model.json" in keys, "the outputs must be kept"
    assert status, "the run view shows a status badge"

    # The home screen with a finished run in the history (for the README).
    assert runs_row_result(d, run_id) == "Finished · cleaned up"
    wait_for(d, lambda drv: "checking" not in page_text(drv), 20)
    shot(d, "13-runs-finished")


def test_a_failing_run_shows_the_traceback_and_cleans_up(driver, aws):
    d = driver
    if "ok_run" not in state:
        pytest.skip("needs the account from the first tests")
    state["prefix"] = "20-fails"
    run_id = launch_with_defaults(d, "fails", "20-fails")

    assert wait_run_end(d) == "failure", page_text(d)
    states = timeline_states(d)
    assert states.get("training") == "failed", states
    for step in ("prepare", "stack", "instance", "requirements"):
        assert states.get(step) == "done", states
    failure = d.find_element(By.CSS_SELECTOR, "[data-testid='failure']")
    text = failure.text
    assert "ValueError: the learning rate is negative" in text, text
    assert "Run your training script" in text, text
    badge = d.find_element(By.CSS_SELECTOR, "[data-testid='run-status']").text
    shot(d, "20-fails-5-failed")
    failed = wait_for(
        d,
        lambda drv: [n for n in notifications() if n["title"] == "Training failed"],
        20,
        f"no failure notification: {notifications()}",
    )
    assert "train.py" in failed[0]["body"], failed

    bucket = state["bucket"]  # the suggestion accepted on the Storage step
    s3 = aws["s3"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"easytdv/runs/{run_id}/").get("Contents", [])
    assert listed, "the run's inputs were uploaded to the chosen bucket"

    confirm_delete(d)
    shot(d, "21-fails-deleted")
    assert_cleaned_up(aws, run_id, bucket)
    # The failure stays visible after the clean-up.
    assert (
        "ValueError: the learning rate is negative" in d.find_element(By.CSS_SELECTOR, "[data-testid='failure']").text
    )
    assert runs_row_result(d, run_id) == "Failed · cleaned up"
    shot(d, "22-runs-all-cleaned-up")
    assert badge


def test_a_sagemaker_job_on_two_machines(driver, aws):
    """The Machine step's managed training: two machines of one SageMaker job
    on the sandbox (one process group per machine), each machine's log on
    its own, the outputs in the run's prefix, then the clean-up."""
    d = driver
    if "ok_run" not in state:
        pytest.skip("needs the account from the first tests")
    state["prefix"] = "30-sagemaker"
    pick_code(d, "sagemaker_ranks", "30-sagemaker")

    heading(d, "Machine")
    card = wait_for(d, lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='engine-sagemaker']"), 30)
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", card)
    card.click()
    # The ml.* list comes from the sandbox's EC2 types and SageMaker prices.
    wait_for(
        d,
        lambda drv: (e := visible(drv, By.CSS_SELECTOR, "[data-testid='selected-type']")) and "ml." in e.text,
        30,
        f"no ml.* type chosen: {page_text(d)[:1500]}",
    )
    count = d.find_element(By.ID, "m-machines")
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", count)
    count.clear()
    count.send_keys("2")
    wait_for(
        d,
        lambda drv: "for the 2 machines" in drv.find_element(By.CSS_SELECTOR, "[data-testid='machines-price']").text,
        30,
        "no price for 2 machines",
    )
    shot(d, "30-sagemaker-1-machine")
    click_button(d, "Next")
    heading(d, "Storage")
    bucket = wait_for(d, lambda drv: drv.find_element(By.ID, "s-new").get_attribute("value"), 30, "no bucket name")
    click_button(d, "Next")
    heading(d, "Review and launch")
    wait_for(
        d,
        lambda drv: re.search(r"About \$[0-9.]+ per hour for 2 machines; at most \$[0-9.]+", page_text(drv)),
        30,
        f"no price on the review: {page_text(d)[-1500:]}",
    )
    time.sleep(0.5)
    shot(d, "30-sagemaker-2-review")
    click_button(d, "Launch training")
    run_id = wait_for(d, lambda drv: re.search(r"#/runs/([^/?]+)$", drv.current_url), 60).group(1)
    heading(d, "Run")

    assert wait_run_end(d) == "success", page_text(d)[:2000]
    states = timeline_states(d)
    assert states.get("training") == "done", states
    assert states.get("instance") == "skipped" and states.get("requirements") == "skipped", states
    assert "SageMaker training job" in page_text(d)
    # Each machine's log on its own: machine 2's lines, without their prefix.
    select = wait_for(
        d, lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='log-machine']"), 30, "no machine selector"
    )
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", select)
    select.find_element(By.XPATH, ".//option[normalize-space()='Machine 2']").click()
    log = lambda drv: drv.find_element(By.CSS_SELECTOR, "[data-testid='log-viewport']").text  # noqa: E731
    wait_for(d, lambda drv: "I am algo-2, 2 of 2" in log(drv), 20, f"machine 2's log: {log(d)[:800]}")
    assert "I am algo-1" not in log(d) and "[algo-2]" not in log(d), log(d)[:800]
    shot(d, "30-sagemaker-3-machine-2-log")

    wait_for(
        d,
        lambda drv: visible(drv, By.CSS_SELECTOR, "[data-testid='cleaned-up']"),
        180,
        f"the run was not cleaned up: {page_text(d)[:1500]}",
    )
    keys = assert_cleaned_up(aws, run_id, bucket)
    assert [k for k in keys if k.endswith("/output/model.tar.gz")], keys
    assert f"easytdv/runs/{run_id}/outputs/checkpoints/rank-1.txt" in keys, keys


def invoke(d, cmd: str, args: dict) -> dict:
    """A command through the app's real IPC, as a script in the webview could send it: {"ok": …} or {"err": …}."""
    return d.execute_async_script(
        """const [cmd, args, done] = arguments;
        window.__TAURI_INTERNALS__.invoke(cmd, args).then((ok) => done({ ok }), (err) => done({ err }));""",
        cmd,
        args,
    )


def test_the_webview_names_no_path_the_backend_did_not_choose(driver, tmp_path):
    d = driver
    wait_for(d, lambda drv: drv.execute_script("return !!window.__TAURI_INTERNALS__"), 60, "the app did not load")
    # Files a webview script would be after, and proof that nothing touched them.
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    creds = tmp_path / "credentials"
    creds.write_text(f"aws_access_key_id=AKIAIOSFODNN7EXAMPLE\naws_secret_access_key={secret}\n")
    data = Path(os.environ["EASYTDV_DATA_DIR"])
    (tmp_path / "train.log").write_text(f"{secret}\n")
    traversal = os.path.relpath(tmp_path, data / "runs")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    # Run ids are checked against the history before a path is built from them.
    for cmd, args in [
        ("read_log", {"log": "train", "from": 0, "count": 10}),
        ("search_log", {"log": "train", "query": "a", "from": 0, "forward": True}),
        ("save_log", {"log": "train"}),
        ("run_metrics", {}),
        ("run_live_status", {}),
        ("get_run", {}),
    ]:
        for run_id, code in [
            (traversal, "bad_run_id"),
            ("../../../../../../etc/passwd", "bad_run_id"),
            ("20990101-000000-abcdef", "run_not_found"),
        ]:
            got = invoke(d, cmd, {"runId": run_id, **args})
            assert got.get("err", {}).get("code") == code, (cmd, run_id, got)
            assert secret not in json.dumps(got), got
    # Sweep ids too; and a sweep of files nobody chose is refused before anything is recorded.
    for cmd, args in [("sweep_view", {}), ("set_sweep_metric", {"bestBy": None}), ("retry_sweep", {})]:
        for sweep_id in (traversal, "sweep-../../etc", "20990101-000000-abcdef", "sweep-20990101-000000-abcdef"):
            got = invoke(d, cmd, {"sweepId": sweep_id, **args})
            assert got.get("err", {}).get("code") == "sweep_not_found", (cmd, sweep_id, got)
    base = {
        "scriptPath": str(creds),
        "requirementsPath": str(creds),
        "instanceType": "t3.medium",
        "diskGb": 30,
        "region": "eu-west-3",
        "bucket": "easytdv-attack",
        "ami": None,
        "maxRuntimeHours": 1,
    }
    sweep = {"base": base, "values": {"kind": "list", "lines": ["--a 1", "--a 2"]}, "mode": {"kind": "oneMachine"}}
    got = invoke(d, "start_sweep", {"accountId": "any", "request": sweep})
    assert got.get("err", {}).get("code") in ("file_not_chosen", "project_not_chosen"), got
    assert secret not in json.dumps(got) and "AKIA" not in json.dumps(got), got
    assert invoke(d, "list_sweeps", {}) == {"ok": []}
    # A file nobody chose is not read; a folder the app did not make is not opened.
    for kind in ("requirements", "script"):
        got = invoke(d, "check_file", {"path": str(creds), "kind": kind})
        assert got.get("err", {}).get("code") == "file_not_chosen", got
        assert secret not in json.dumps(got) and "AKIA" not in json.dumps(got), got
    for folder in ("/", "/etc", str(tmp_path), str(Path.home())):
        got = invoke(d, "open_folder", {"path": folder})
        assert got.get("err", {}).get("code") == "folder_not_ours", got
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
    assert not (data / "runs" / "20990101-000000-abcdef").exists()

    # The data folder is its owner's only.
    def mode(p: Path) -> int:
        return p.stat().st_mode & 0o777

    assert mode(data) == 0o700, oct(mode(data))
    for p in data.rglob("*"):
        if p.is_symlink() or "venv" in p.relative_to(data).parts:
            continue
        assert mode(p) == (0o700 if p.is_dir() else 0o600), f"{p}: {oct(mode(p))}"
