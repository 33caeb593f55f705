"""templates/iam/easytdv-user-policy.json is valid IAM JSON a person can attach."""

import json
import re

import policy_check


def test_shape_sids_and_steps():
    policy = policy_check.load_user_policy()
    assert set(policy) == {"Version", "Statement"} and policy["Version"] == "2012-10-17"
    sids = [st["Sid"] for st in policy["Statement"]]
    assert len(sids) == len(set(sids))
    for st in policy["Statement"]:
        assert re.fullmatch(r"[A-Za-z0-9]+", st["Sid"]), st["Sid"]  # IAM: Sid is alphanumeric
        assert policy_check.step_of(st["Sid"]), f"{st['Sid']} names no step of {policy_check.STEPS}"
        assert st["Effect"] == "Allow" and set(st) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
        for action in policy_check.as_list(st["Action"]):
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), f"{st['Sid']}: no wildcard actions ({action})"
    assert {policy_check.step_of(s) for s in sids} == set(policy_check.STEPS)


def test_fits_a_customer_managed_policy():
    # IAM counts a managed policy's size without whitespace: at most 6,144 characters.
    text = policy_check.USER_POLICY.read_text()
    assert len(json.dumps(json.loads(text), separators=(",", ":"))) <= 6144


def test_resources_are_scoped_where_iam_allows():
    policy = policy_check.load_user_policy()
    for st in policy["Statement"]:
        resources = policy_check.as_list(st["Resource"])
        for action in policy_check.as_list(st["Action"]):
            if action.split(":")[1].startswith(("Create", "Delete", "Put", "Terminate", "Invoke", "Pass", "Attach")):
                assert resources != ["*"], f"{st['Sid']}: {action} must be scoped"
