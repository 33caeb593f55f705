"""CloudFormation parameter constraints at CreateStack, like AWS (moto ignores them).

A value that breaks its parameter's declaration is a synchronous
ValidationError of CreateStack, and nothing is created. Messages:

- `Parameter 'P' must match pattern <AllowedPattern>` (whole value; each member of a list)
- `Parameter 'P' must be one of AllowedValues`
- `Parameter 'P' must contain at least N characters` / `at most N characters` (String)
- `Parameter 'P' must be a number`, `... must be a number not less than N` /
  `not greater than N` (Number, List<Number>)
- with a ConstraintDescription, every constraint message above becomes
  `Parameter P failed to satisfy constraint: <ConstraintDescription>`
- `AWS::EC2::VPC::Id` / `AWS::EC2::Subnet::Id` / `AWS::EC2::SecurityGroup::Id`:
  `Parameter validation failed: parameter value <v> for parameter name P does not exist`

The first parameter in template order that fails is reported.
"""

from __future__ import annotations

import json
import re

import yaml
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend
from moto.ec2.models import ec2_backends


class _AnyTagLoader(yaml.SafeLoader):
    pass


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def parameters_of(template: str) -> dict:
    try:
        doc = json.loads(template)
    except ValueError:
        doc = yaml.load(template, Loader=_AnyTagLoader)
    return (doc or {}).get("Parameters") or {} if isinstance(doc, dict) else {}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _fmt(n) -> str:
    value = float(n)
    return str(int(value)) if value.is_integer() else str(value)


def problem(name: str, spec: dict, value: str) -> str | None:
    """Why `value` breaks the declaration `spec` of parameter `name` (None: it does not)."""
    ptype = str(spec.get("Type", "String"))
    is_list = ptype.startswith("List<") or ptype == "CommaDelimitedList"
    members = [m.strip() if ptype != "CommaDelimitedList" else m for m in value.split(",")] if is_list else [value]
    numeric = ptype in ("Number", "List<Number>")
    reason = None
    for member in members:
        if numeric:
            number = _number(member)
            if number is None:
                return f"Parameter '{name}' must be a number"  # a type error: no ConstraintDescription
            if "MinValue" in spec and number < float(spec["MinValue"]):
                reason = f"Parameter '{name}' must be a number not less than {_fmt(spec['MinValue'])}"
            elif "MaxValue" in spec and number > float(spec["MaxValue"]):
                reason = f"Parameter '{name}' must be a number not greater than {_fmt(spec['MaxValue'])}"
        else:
            if "MinLength" in spec and len(member) < int(spec["MinLength"]):
                reason = f"Parameter '{name}' must contain at least {int(spec['MinLength'])} characters"
            elif "MaxLength" in spec and len(member) > int(spec["MaxLength"]):
                reason = f"Parameter '{name}' must contain at most {int(spec['MaxLength'])} characters"
            elif "AllowedPattern" in spec and not re.fullmatch(str(spec["AllowedPattern"]), member):
                reason = f"Parameter '{name}' must match pattern {spec['AllowedPattern']}"
        if reason is None and "AllowedValues" in spec:
            allowed = [str(v) for v in spec["AllowedValues"]]
            if member not in allowed and not (numeric and _number(member) in [_number(a) for a in allowed]):
                reason = f"Parameter '{name}' must be one of AllowedValues"
        if reason:
            break
    if reason and spec.get("ConstraintDescription"):
        return f"Parameter {name} failed to satisfy constraint: {spec['ConstraintDescription']}"
    return reason


_EXISTS = {
    "AWS::EC2::VPC::Id": lambda ec2, v: v in ec2.vpcs,
    "AWS::EC2::Subnet::Id": lambda ec2, v: any(v in subnets for subnets in ec2.subnets.values()),
    "AWS::EC2::SecurityGroup::Id": lambda ec2, v: ec2.get_security_group_from_id(v) is not None,
}


def check(backend: CloudFormationBackend, template: str, values: dict) -> None:
    for name, spec in parameters_of(template).items():
        if not isinstance(spec, dict):
            continue
        value = values.get(name, spec.get("Default"))
        if value is None:
            continue  # missing: moto's own MissingParameter error
        value = str(value)
        reason = problem(name, spec, value)
        if reason:
            raise ValidationError(message=reason)
        exists = _EXISTS.get(str(spec.get("Type")))
        if exists is not None:
            ec2 = ec2_backends[backend.account_id][backend.region_name]
            if not exists(ec2, value):
                raise ValidationError(
                    message=f"Parameter validation failed: parameter value {value} for parameter name {name} "
                    "does not exist"
                )


_prev_create_stack = None


def _create_stack(self, *args, **kwargs):
    template = kwargs["template"] if "template" in kwargs else args[1]
    values = kwargs["parameters"] if "parameters" in kwargs else args[2]
    check(self, template or "{}", dict(values or {}))
    return _prev_create_stack(self, *args, **kwargs)


def install() -> None:
    """Install after cfn_failures: the check runs before anything is registered."""
    global _prev_create_stack
    _prev_create_stack = CloudFormationBackend.create_stack
    CloudFormationBackend.create_stack = _create_stack
