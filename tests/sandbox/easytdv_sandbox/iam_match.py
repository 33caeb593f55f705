"""Just enough IAM policy evaluation for the sandbox and the policy checks.

Action and Resource matching with `*` and `?` wildcards (actions are
case-insensitive, resources case-sensitive, as in IAM), Allow/Deny with an
explicit Deny winning, `Principal` matching for resource policies. Conditions
are not evaluated: `allows` treats every Condition as satisfied, which makes
a check of "is this allowed" about actions and resources only.
"""

from __future__ import annotations

import re
from functools import cache


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@cache
def _pattern(glob: str, ignore_case: bool) -> re.Pattern:
    # IAM knows only * and ? (no [..] classes as in fnmatch).
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{regex}$", re.IGNORECASE if ignore_case else 0)


def action_matches(pattern: str, action: str) -> bool:
    return bool(_pattern(pattern, True).match(action))


def resource_matches(pattern: str, resource: str) -> bool:
    return bool(_pattern(pattern, False).match(resource))


def principal_matches(principal_element, account: str) -> bool:
    """Does a resource policy's Principal name this account (root or `*`)?"""
    if principal_element == "*":
        return True
    if not isinstance(principal_element, dict):
        return False
    for value in as_list(principal_element.get("AWS")):
        if value == "*" or value == account or value == f"arn:aws:iam::{account}:root":
            return True
    return False


def statement_matches(statement: dict, action: str, resource: str | None) -> bool:
    actions = as_list(statement.get("Action"))
    if "NotAction" in statement:
        if any(action_matches(p, action) for p in as_list(statement["NotAction"])):
            return False
    elif not any(action_matches(p, action) for p in actions):
        return False
    if resource is None:  # not checked
        return True
    if "NotResource" in statement:
        return not any(resource_matches(p, resource) for p in as_list(statement["NotResource"]))
    return any(resource_matches(p, resource) for p in as_list(statement.get("Resource")))


def decide(statements: list[dict], action: str, resource: str | None, account: str | None = None) -> str:
    """'Allow', 'Deny' (explicit) or 'ImplicitDeny'. With `account`, statements
    must also name it as Principal (resource policies)."""
    allowed = False
    for st in statements:
        if account is not None and not principal_matches(st.get("Principal"), account):
            continue
        if statement_matches(st, action, resource):
            if st.get("Effect") == "Deny":
                return "Deny"
            if st.get("Effect") == "Allow":
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def allowing_statements(statements: list[dict], action: str, resource: str | None) -> list[dict]:
    return [st for st in statements if st.get("Effect") == "Allow" and statement_matches(st, action, resource)]


__all__ = ["action_matches", "allowing_statements", "as_list", "decide", "resource_matches"]
