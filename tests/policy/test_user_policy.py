"""templates/iam/easytdv-user-policy.json (what a run changes) and
easytdv-read-policy.json (what the app reads) are valid IAM JSON a person
can attach as two customer managed policies."""

import json
import re

import policy_check
import pytest

DOCUMENTS = [policy_check.USER_POLICY, policy_check.READ_POLICY]


def test_shape_sids_and_steps():
    sids = []
    for path in DOCUMENTS:
        policy = policy_check.load_user_policy(path)
        assert set(policy) == {"Version", "Statement"} and policy["Version"] == "2012-10-17"
        for st in policy["Statement"]:
            sids.append(st["Sid"])
            assert re.fullmatch(r"[A-Za-z0-9]+", st["Sid"]), st["Sid"]  # IAM: Sid is alphanumeric
            assert policy_check.step_of(st["Sid"]), f"{st['Sid']} names no step of {policy_check.STEPS}"
            assert st["Effect"] in ("Allow", "Deny")
            assert set(st) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
            for action in policy_check.as_list(st["Action"]):
                assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), f"{st['Sid']}: no wildcard actions ({action})"
    assert len(sids) == len(set(sids)), "Sids are unique across both documents"
    assert {policy_check.step_of(s) for s in sids} == set(policy_check.STEPS)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_fits_a_customer_managed_policy(path):
    # IAM counts a managed policy's size without whitespace: at most 6,144 characters.
    assert len(json.dumps(json.loads(path.read_text()), separators=(",", ":"))) <= 6144


def test_the_read_policy_only_reads():
    for st in policy_check.load_user_policy(policy_check.READ_POLICY)["Statement"]:
        for action in policy_check.as_list(st["Action"]):
            verb = action.split(":")[1]
            assert verb.startswith(("Describe", "Get", "List", "Simulate")), f"{st['Sid']}: {action} is not a read"


def test_denies_are_scoped_to_easytdv():
    """A Deny on `*` would break an admin who attaches these policies to their own user."""
    for st in policy_check.merged_user_policy()["Statement"]:
        if st["Effect"] == "Deny":
            for r in policy_check.as_list(st["Resource"]):
                assert "easytdv-" in r, f"{st['Sid']}: Deny on {r}"


def test_resources_are_scoped_where_iam_allows():
    for st in policy_check.merged_user_policy()["Statement"]:
        resources = policy_check.as_list(st["Resource"])
        for action in policy_check.as_list(st["Action"]):
            if action.split(":")[1].startswith(("Create", "Delete", "Put", "Terminate", "Invoke", "Pass", "Attach")):
                assert resources != ["*"], f"{st['Sid']}: {action} must be scoped"
