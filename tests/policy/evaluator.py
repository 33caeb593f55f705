"""IAM's policy evaluation for one account, as the IAM User Guide documents it
("Policy evaluation logic"), for the requests easyTDV's policies are about.

A request is an action, a resource ARN and a request context (condition keys,
e.g. `iam:PermissionsBoundary`, `aws:PrincipalAccount`). `evaluate` returns
"Allow", "Deny" (an explicit Deny in any policy) or "ImplicitDeny":

- an explicit Deny in the identity policies or the permissions boundary wins;
- otherwise the identity policies must allow it, and, when the principal has a
  permissions boundary, the boundary must allow it too (both, not either).

Statements: Action / NotAction, Resource / NotResource (IAM's `*` and `?`
wildcards; actions case-insensitive), Condition with the operators our
policies use — String(Not)Equals, String(Not)Like, StringEqualsIgnoreCase,
Arn(Not)Equals, Arn(Not)Like, Bool, Null — each with `IfExists`, and the
`ForAnyValue:` / `ForAllValues:` set prefixes. Policy variables `${key}` in
Resource and condition values take the context's value; a variable the
context lacks makes that value match nothing, as IAM documents. A key
missing from the context makes a positive operator false and a negated one
true; `...IfExists` makes a missing key true. Condition blocks are ANDed,
values of one key ORed.

Not modelled (not needed for these policies): resource-based policies,
session policies, SCPs, numeric and date operators.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "sandbox"))

from easytdv_sandbox.iam_match import action_matches, as_list, resource_matches  # noqa: E402

_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_MISSING = object()


def _substitute(value: str, context: dict) -> str | None:
    """`${aws:username}` -> its context value; None if a variable is unknown."""
    missing = False

    def repl(m):
        nonlocal missing
        found = context.get(m.group(1))
        if found is None or isinstance(found, list):
            missing = True
            return ""
        return str(found)

    out = _VARIABLE.sub(repl, value)
    return None if missing else out


def _compare(op: str, pattern: str, value: str) -> bool:
    if op in ("StringEquals", "StringNotEquals"):
        return value == pattern
    if op in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return value.lower() == pattern.lower()
    if op in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals"):
        return resource_matches(pattern, value)
    if op == "Bool":
        return value.lower() == pattern.lower()
    raise ValueError(f"condition operator {op} is not modelled")


def _condition_holds(operator: str, key: str, patterns, context: dict) -> bool:
    set_op = None
    if ":" in operator and operator.split(":", 1)[0] in ("ForAnyValue", "ForAllValues"):
        set_op, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    op = operator[: -len("IfExists")] if if_exists else operator
    negated = "Not" in op
    value = context.get(key, _MISSING)
    if op == "Null":
        wants_absent = str(as_list(patterns)[0]).lower() == "true"
        return (value is _MISSING) == wants_absent
    if value is _MISSING:
        return if_exists or negated
    resolved = [p for p in (_substitute(str(p), context) for p in as_list(patterns)) if p is not None]
    values = [str(v) for v in as_list(value)]

    def one(v: str) -> bool:
        hit = any(_compare(op, p, v) for p in resolved)
        return not hit if negated else hit

    if set_op == "ForAllValues":
        return all(one(v) for v in values)
    return any(one(v) for v in values)


def statement_applies(statement: dict, action: str, resource: str, context: dict) -> bool:
    if "NotAction" in statement:
        if any(action_matches(p, action) for p in as_list(statement["NotAction"])):
            return False
    elif not any(action_matches(p, action) for p in as_list(statement.get("Action"))):
        return False
    if "NotResource" in statement:
        patterns = [_substitute(p, context) for p in as_list(statement["NotResource"])]
        if any(p is not None and resource_matches(p, resource) for p in patterns):
            return False
    else:
        patterns = [_substitute(p, context) for p in as_list(statement.get("Resource"))]
        if not any(p is not None and resource_matches(p, resource) for p in patterns):
            return False
    for operator, body in (statement.get("Condition") or {}).items():
        for key, patterns in (body or {}).items():
            if not _condition_holds(operator, key, patterns, context):
                return False
    return True


def _decide(documents: list[dict], action: str, resource: str, context: dict) -> str:
    allowed = False
    for document in documents:
        for st in as_list(document.get("Statement")):
            if statement_applies(st, action, resource, context):
                if st.get("Effect") == "Deny":
                    return "Deny"
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def evaluate(
    identity: list[dict], action: str, resource: str, context: dict | None = None, boundary: dict | None = None
) -> str:
    """IAM's answer for a principal with these identity policies (and boundary)."""
    context = dict(context or {})
    documents = list(identity) + ([boundary] if boundary else [])
    if any(
        st.get("Effect") == "Deny" and statement_applies(st, action, resource, context)
        for d in documents
        for st in as_list(d.get("Statement"))
    ):
        return "Deny"
    if _decide(identity, action, resource, context) != "Allow":
        return "ImplicitDeny"
    if boundary is not None and _decide([boundary], action, resource, context) != "Allow":
        return "ImplicitDeny"
    return "Allow"
