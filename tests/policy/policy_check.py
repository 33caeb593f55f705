"""Checks of easyTDV's IAM policies against data no one here wrote.

(a) `check_calls`: every call the sandbox recorded (`calls.jsonl`, see
    tests/sandbox/README.md) is allowed to the principal that made it:
    - principal `app` by templates/iam/easytdv-user-policy.json,
    - `lambda:<fn>` by the LaunchFunctionRole policies of templates/stack.yaml,
    - `instance:<id>` by the InstanceRole policies of templates/stack.yaml,
    - `sagemaker:<job>` (a training job's platform work and its script) by
      the SageMakerRole policies of templates/stack.yaml,
    with `${RunId}`, `${Bucket}`, `${RunPrefix}`... substituted from the
    run's recorded CreateStack. Actions always; resources where the recording
    names them (S3 buckets and keys, stacks, functions, roles, documents,
    instances, public parameters); the `s3:prefix` condition of ListBucket.
    Other conditions are taken as satisfied.
(b) `check_provider_permissions`: the permissions CloudFormation's resource
    handlers need to create and delete each resource type of stack.yaml (the
    provider schemas shipped by cfn-lint) are granted by the user policy's
    CreateCloudResources* / CleanUp* statements; for types tagged at creation,
    also the schema's tagging permissions that add tags (stack tags propagate).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "sandbox"))

from easytdv_sandbox.iam_match import action_matches, as_list, decide, resource_matches  # noqa: E402
from easytdv_sandbox.s3_ops import OBJECT_ACTIONS  # noqa: E402

USER_POLICY = ROOT / "templates" / "iam" / "easytdv-user-policy.json"
READ_POLICY = ROOT / "templates" / "iam" / "easytdv-read-policy.json"
BOUNDARY = ROOT / "templates" / "iam" / "easytdv-boundary.json"
STACK = ROOT / "templates" / "stack.yaml"
BASE = ROOT / "templates" / "base.yaml"
STEPS = ("PrepareFiles", "CreateCloudResources", "StartMachine", "RunTraining", "CleanUp", "Prices", "Quotas",
         "CheckPermissions")  # fmt: skip
ROLE_NAME = re.compile(r"^easytdv-(?P<run>[0-9]{8}-[0-9]{6}-[0-9a-f]{6})-(?P<kind>instance|launcher|sagemaker)$")
ROLES = {"lambda": "LaunchFunctionRole", "instance": "InstanceRole", "sagemaker": "SageMakerRole"}
RUN_FUNCTION = re.compile(r"^easytdv-(?P<run>[0-9]{8}-[0-9]{6}-[0-9a-f]{6})-launch$")
# The base's roles (templates/base.yaml): one per region, every run's.
BASE_STACK = "easytdv-base"
BASE_ROLE = re.compile(r"^easytdv-base-(?P<region>[a-z]{2}(-[a-z]+)+-[0-9])-(?P<kind>instance|launcher)$")
BASE_ROLES = {"instance": "InstanceRole", "launcher": "LaunchFunctionRole"}


def step_of(sid: str) -> str | None:
    """The run step a statement belongs to: the step name its Sid starts with."""
    return next((s for s in sorted(STEPS, key=len, reverse=True) if sid.startswith(s)), None)


def load_user_policy(path: Path = USER_POLICY) -> dict:
    return json.loads(Path(path).read_text())


def load_user_policies() -> list[dict]:
    """The managed policies the easyTDV identity holds: its changes, and its reads."""
    return [load_user_policy(USER_POLICY), load_user_policy(READ_POLICY)]


def merged_user_policy() -> dict:
    """Both user policies as one document (their statements together)."""
    return {"Version": "2012-10-17", "Statement": [st for d in load_user_policies() for st in d["Statement"]]}


def load_boundary(path: Path = BOUNDARY) -> dict:
    return json.loads(Path(path).read_text())


# --- stack.yaml -------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    pass


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_stack(path: Path = STACK) -> dict:
    return yaml.load(Path(path).read_text(), Loader=_CfnLoader)


def _resolve(value, variables: dict[str, str]):
    """Fn::Sub / Ref / Fn::GetAtt with known variables (`Role.Arn` for a GetAtt);
    anything unknown becomes `*`. `${!name}` in Fn::Sub is CloudFormation's
    literal `${name}`: an IAM policy variable, kept for the evaluator."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]

        def sub(m):
            name = m.group(1)
            return "${" + name[1:] + "}" if name.startswith("!") else variables.get(name, "*")

        return re.sub(r"\$\{([^}]+)\}", sub, text)
    if isinstance(value, dict) and "Ref" in value:
        return variables.get(value["Ref"], "*")
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        return variables.get(".".join(att) if isinstance(att, list) else att, "*")
    return "*"  # Fn::If and the like: not known from the recording


def _resolve_condition(condition, variables):
    if not isinstance(condition, dict):
        return condition
    return {
        op: {key: [_resolve(v, variables) for v in as_list(vals)] for key, vals in (body or {}).items()}
        for op, body in condition.items()
    }


def role_statements(stack: dict, logical_id: str, variables: dict[str, str]) -> list[dict]:
    """The inline policy statements of a stack role, with variables substituted."""
    role = stack["Resources"][logical_id]["Properties"]
    out = []
    for policy in role.get("Policies", []):
        for st in as_list(policy["PolicyDocument"]["Statement"]):
            out.append(
                {
                    "Sid": st.get("Sid", ""),
                    "Effect": st["Effect"],
                    "Action": as_list(st.get("Action")),
                    "Resource": [_resolve(r, variables) for r in as_list(st.get("Resource"))],
                    "Condition": _resolve_condition(st.get("Condition"), variables),
                }
            )
    return out


def stack_variables(params: dict[str, str], region: str, account: str) -> dict[str, str]:
    return {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account, **params}


# --- matching ---------------------------------------------------------------


def _s3_prefix_ok(statement: dict, call: dict) -> bool:
    """The s3:prefix condition of a ListBucket grant (StringLike / StringLikeIfExists)."""
    for op, body in (statement.get("Condition") or {}).items():
        for key, patterns in (body or {}).items():
            if key.lower() != "s3:prefix" or not op.startswith("StringLike"):
                continue
            prefix = call.get("prefix")
            if prefix is None or prefix == "":
                if not op.endswith("IfExists"):
                    return False
                continue
            if not any(resource_matches(p, prefix) for p in as_list(patterns)):
                return False
    return True


# Parameter Store actions named by their parameters (Name, or Names: a list, recorded joined by ",").
PARAMETER_ACTIONS = {
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:PutParameter",
    "ssm:DeleteParameter",
    "ssm:DeleteParameters",
}


def call_resources(call: dict) -> list[str] | None:
    """The ARNs IAM would check for a recorded call (None: not known)."""
    region, account = call.get("region", "*"), call.get("account", "*")
    action, names = call.get("action", ""), call.get("names") or {}
    service = action.split(":", 1)[0]
    if service == "s3":
        if action == "s3:ListAllMyBuckets" or not call.get("bucket"):
            return ["*"]
        if call.get("key") is not None and action in OBJECT_ACTIONS:
            return [f"arn:aws:s3:::{call['bucket']}/{call['key']}"]
        return [f"arn:aws:s3:::{call['bucket']}"]
    if service == "cloudformation" and names.get("StackName"):
        name = names["StackName"]
        return [name if name.startswith("arn:") else f"arn:aws:cloudformation:{region}:{account}:stack/{name}/id"]
    if service == "lambda" and names.get("FunctionName"):
        name = names["FunctionName"]
        return [name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"]
    if service == "iam" and names.get("RoleName") and action not in ("iam:SimulatePrincipalPolicy",):
        return [f"arn:aws:iam::{account}:role/{names['RoleName']}"]
    if action in PARAMETER_ACTIONS and (names.get("Name") or names.get("Names")):
        listed = [names["Name"]] if names.get("Name") else [n for n in names["Names"].split(",") if n]
        # AWS's public parameters (images) belong to no account.
        return [
            f"arn:aws:ssm:{region}:{'' if name.startswith('/aws/service/') else account}:parameter{name}"
            for name in listed
        ]
    if action == "ssm:SendCommand":
        out = [f"arn:aws:ssm:{region}::document/{names['DocumentName']}"] if names.get("DocumentName") else []
        ids = [i for i in names.get("InstanceIds", "").split(",") if i]
        return out + [f"arn:aws:ec2:{region}:{account}:instance/{i}" for i in ids] or None
    if service == "sagemaker" and names.get("TrainingJobName"):
        return [f"arn:aws:sagemaker:{region}:{account}:training-job/{names['TrainingJobName'].lower()}"]
    if action == "ec2:TerminateInstances" and names.get("InstanceIds"):
        return [f"arn:aws:ec2:{region}:{account}:instance/{i}" for i in names["InstanceIds"].split(",") if i]
    return None


def allowed(statements: list[dict], call: dict) -> tuple[bool, str]:
    """(allowed, why not) for one recorded call; every resource must be allowed."""
    action = call["action"]
    resources = call_resources(call)
    candidates = [
        st
        for st in statements
        if st.get("Effect") == "Allow" and any(action_matches(p, action) for p in as_list(st.get("Action")))
    ]
    if not candidates:
        return False, f"no statement allows the action {action}"
    if action == "s3:ListBucket":
        candidates = [st for st in candidates if _s3_prefix_ok(st, call)]
        if not candidates:
            return False, f"{action} with prefix {call.get('prefix')!r}: the s3:prefix condition does not allow it"
    for resource in resources or []:
        if not any(resource_matches(p, resource) for st in candidates for p in as_list(st.get("Resource"))):
            sids = ", ".join(st.get("Sid", "?") for st in candidates)
            return False, f"{action} on {resource}: the statements allowing the action ({sids}) do not cover it"
    return True, ""


def with_userid(statements: list[dict], userid: str) -> list[dict]:
    """A base machine's statements as IAM reads them for one call: `${aws:userid}`
    (the machine's, as the sandbox recorded it) in resources and condition values."""

    def sub(value):
        return value.replace("${aws:userid}", userid) if isinstance(value, str) else value

    out = []
    for st in statements:
        st = dict(st, Resource=[sub(r) for r in as_list(st.get("Resource"))])
        if st.get("Condition"):
            st["Condition"] = {
                op: {key: [sub(v) for v in as_list(vals)] for key, vals in (body or {}).items()}
                for op, body in st["Condition"].items()
            }
        out.append(st)
    return out


def denied(statements: list[dict], call: dict) -> str | None:
    """A Deny statement of the role's own policy that matches the call (why), or None."""
    for st in statements:
        if st.get("Effect") != "Deny" or not any(action_matches(p, call["action"]) for p in as_list(st.get("Action"))):
            continue
        for resource in call_resources(call) or []:
            if any(resource_matches(p, resource) for p in as_list(st.get("Resource"))):
                return f"{st.get('Sid', '?')} denies {call['action']} on {resource}"
    return None


def within_boundary(boundary: list[dict], call: dict) -> tuple[bool, str]:
    """(allowed, why not): a role's call must also be allowed by the permissions boundary."""
    ok, why = allowed(boundary, call)
    if not ok:
        return False, f"the permissions boundary does not allow it: {why}"
    denies = [st for st in boundary if st.get("Effect") == "Deny"]
    for resource in call_resources(call) or ["*"]:
        if decide(denies, call["action"], resource) == "Deny":
            return False, f"the permissions boundary denies {call['action']} on {resource}"
    return True, ""


# --- (a) recorded calls -------------------------------------------------------


def load_calls(paths) -> list[dict]:
    calls = []
    for path in paths:
        for n, line in enumerate(Path(path).read_text().splitlines(), 1):
            if line.strip():
                try:
                    calls.append(json.loads(line))
                except ValueError as e:
                    raise ValueError(f"{path}:{n}: not JSON: {e}") from e
    return calls


def _run_of(call: dict) -> str | None:
    match = ROLE_NAME.match(call.get("role") or "")
    if match:
        return match.group("run")
    fn = RUN_FUNCTION.match(call["principal"].split(":", 1)[1]) if call["principal"].startswith("lambda:") else None
    return fn.group("run") if fn else None


def check_calls(calls: list[dict], user_policy: dict | None = None, stack: dict | None = None) -> list[str]:
    """Problems (empty = every recorded call of app, launcher and instances is allowed)."""
    user_policy = user_policy if user_policy is not None else merged_user_policy()
    stack = stack if stack is not None else load_stack()
    boundary = as_list(load_boundary()["Statement"])
    user_statements = as_list(user_policy["Statement"])
    stacks, bases = {}, {}
    for c in calls:
        name = (c.get("names") or {}).get("StackName")
        if c.get("action") == "cloudformation:CreateStack" and name:
            stacks[name] = c.get("stack_parameters") or {}
        if c.get("action") in ("cloudformation:CreateStack", "cloudformation:UpdateStack") and name == BASE_STACK:
            bases[c.get("region")] = c.get("stack_parameters") or {}
    base_template = None
    problems, seen = [], set()
    for c in calls:
        principal = c.get("principal", "")
        if not principal.startswith(("app", "lambda:", "instance:", "sagemaker:")) or "action" not in c:
            continue
        base = BASE_ROLE.match(c.get("role") or "") if principal != "app" else None
        if principal == "app":
            statements = user_statements
            owner = "templates/iam/easytdv-{user,read}-policy.json"
        elif base:
            problem = None
            if c.get("region") not in bases:
                problem = f"{principal}: no CreateStack of {BASE_STACK} recorded in {c.get('region')}"
            elif base.group("kind") == "instance" and not c.get("userid"):
                problem = f"{principal}: no aws:userid recorded for a machine of the base"
            if problem:
                if problem not in seen:
                    seen.add(problem)
                    problems.append(problem)
                continue
            base_template = base_template or load_stack(BASE)
            logical = BASE_ROLES[base.group("kind")]
            variables = stack_variables(bases[c["region"]], c.get("region", "*"), c.get("account", "*"))
            statements = role_statements(base_template, logical, variables)
            if base.group("kind") == "instance":
                statements = with_userid(statements, c["userid"])
            owner = f"templates/base.yaml {logical}"
        else:
            run = _run_of(c)
            if run is None:
                problem = f"{principal}: not an easyTDV run's {principal.split(':')[0]} (role {c.get('role')!r})"
                if problem not in seen:
                    seen.add(problem)
                    problems.append(problem)
                continue
            params = stacks.get(f"easytdv-{run}")
            if params is None:
                problem = f"{principal}: no CreateStack of easytdv-{run} recorded, cannot resolve its role policy"
                if problem not in seen:
                    seen.add(problem)
                    problems.append(problem)
                continue
            variables = stack_variables(params, c.get("region", "*"), c.get("account", "*"))
            logical = ROLES[principal.split(":", 1)[0]]
            statements = role_statements(stack, logical, variables)
            owner = f"templates/stack.yaml {logical}"
        ok, why = allowed(statements, c)
        if ok and principal != "app":
            deny = denied(statements, c)
            ok, why = (False, deny) if deny else (True, "")
        if ok and principal != "app":
            ok, why = within_boundary(boundary, c)
            owner += " (with templates/iam/easytdv-boundary.json)"
        if not ok:
            key = (principal.split(":")[0], c["action"], why)
            if key not in seen:
                seen.add(key)
                where = f" bucket={c.get('bucket')} key={c.get('key')}" if c.get("service") == "s3" else ""
                problems.append(f"{owner} does not allow {principal}'s {c.get('operation')}{where}: {why}")
    return problems


# --- (b) CloudFormation resource handlers -----------------------------------


def provider_schema(resource_type: str, region: str = "us-east-1") -> dict:
    import cfnlint

    base = Path(cfnlint.__file__).resolve().parent / "data" / "schemas"
    index = json.loads((base / "providers" / f"{region}.json").read_text())
    return json.loads((base / "resources" / f"{index[resource_type]}.json").read_text())


def handler_permissions(resource_type: str, handler: str) -> list[str]:
    return list(provider_schema(resource_type).get("handlers", {}).get(handler, {}).get("permissions", []))


def tag_on_create_permissions(resource_type: str) -> list[str]:
    """The tagging permissions that add tags, for a type tagged at creation: the app
    tags its stack, and CloudFormation passes stack tags on to such resources."""
    tagging = provider_schema(resource_type).get("tagging", {})
    if not (tagging.get("taggable") and tagging.get("tagOnCreate")):
        return []
    return [p for p in tagging.get("permissions", []) if re.search(r":(Tag|CreateTags$)", p)]


def stack_resource_types(stack: dict | None = None) -> list[str]:
    stack = stack if stack is not None else load_stack()
    return sorted({r["Type"] for r in stack["Resources"].values()})


def check_provider_permissions(
    user_policy: dict | None = None, excluded: dict | None = None, stack: dict | None = None
) -> list[str]:
    """Problems: a handler permission no CreateCloudResources*/CleanUp* statement grants."""
    user_policy = user_policy if user_policy is not None else merged_user_policy()
    excluded = excluded or {}
    statements = as_list(user_policy["Statement"])
    by_step = {
        "create": [s for s in statements if step_of(s.get("Sid", "")) == "CreateCloudResources"],
        "delete": [s for s in statements if step_of(s.get("Sid", "")) == "CleanUp"],
    }
    problems = []
    for rtype in stack_resource_types(stack):
        for handler, granting in by_step.items():
            needed = handler_permissions(rtype, handler)
            if handler == "create":
                needed += [p for p in tag_on_create_permissions(rtype) if p not in needed]
            for permission in needed:
                if (rtype, permission) in excluded:
                    continue
                if not any(
                    st.get("Effect") == "Allow" and any(action_matches(p, permission) for p in as_list(st["Action"]))
                    for st in granting
                ):
                    step = "CreateCloudResources" if handler == "create" else "CleanUp"
                    problems.append(f"{rtype} {handler} needs {permission}: no {step} statement grants it")
    return problems
