"""(a) Every AWS call recorded by the sandbox during the Rust integration tests
(principal `app`, the Lambdas it invoked, the instances they launched) is
allowed by the policy that governs that principal."""

import os
from pathlib import Path

import policy_check
import pytest

HOW = (
    "EASYTDV_CALLS_FILE must name the sandbox's call recording (calls.jsonl; several joined by ':'). "
    "`./dev test` sets it after the Rust tests. By hand: start a sandbox with "
    "`tests/sandbox/run --port 0 --data-dir DIR`, point EASYTDV_SANDBOX_ENDPOINT at it, run "
    "`cargo test --workspace`, then `EASYTDV_CALLS_FILE=DIR/calls.jsonl "
    "tests/sandbox/.venv/bin/python -m pytest -q tests/policy`."
)


def recorded_calls() -> list[dict]:
    value = os.environ.get("EASYTDV_CALLS_FILE", "").strip()
    if not value:
        pytest.fail(HOW)
    paths = [Path(p) for p in value.split(os.pathsep) if p]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        pytest.fail(f"no call recording at {', '.join(missing)}. {HOW}")
    calls = policy_check.load_calls(paths)
    if not any(c.get("principal") == "app" for c in calls):
        pytest.fail(f"{value} records no call of principal 'app' (the app's credentials are sandbox/sandbox). {HOW}")
    return calls


def test_every_recorded_call_is_allowed():
    calls = recorded_calls()
    problems = policy_check.check_calls(calls)
    assert not problems, f"{len(problems)} recorded calls are not allowed:\n" + "\n".join(problems)
