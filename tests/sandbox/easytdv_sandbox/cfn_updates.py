"""Stack updates as CloudFormation makes them, where moto's differ.

- A parameter used only inside `Fn::Sub` (`!Sub /aws/lambda/${Name}`) is a
  reference like `Ref`: a stack update that changes the parameter updates the
  resource (moto looked only at `Ref`, and left such resources as they were).
- A change to a Lambda function's `FunctionName` or a log group's
`LogGroupName` is an update that requires replacement (AWS's resource
reference: "Update requires: Replacement"): CloudFormation creates the new
resource, points the stack at it, and deletes the old one once the update
  succeeded. moto changed the old function's code and configuration in place
  and kept its name, so an update that renamed the base's launcher kept the
  old function. Here the new resource is created and the old one deleted at
  once (AWS deletes it in UPDATE_COMPLETE_CLEANUP_IN_PROGRESS, a moment later).
"""

from __future__ import annotations

import re

from moto.cloudformation import parsing

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9_:]+)\}")  # ${Name}, ${AWS::Region}; not ${!literal}

# Resource type -> (the name property, the model's attribute holding it).
RENAMED_BY_REPLACEMENT = {
    "AWS::Lambda::Function": ("FunctionName", "function_name"),
    "AWS::Logs::LogGroup": ("LogGroupName", "name"),
}

_orig_update = parsing.parse_and_update_resource
_orig_references = parsing.get_references_from_template


def _references(template):
    """`Ref` names and the names a `Fn::Sub` string uses."""
    found = list(_orig_references(template))
    if isinstance(template, dict):
        for key, value in template.items():
            if key == "Fn::Sub":
                text = value[0] if isinstance(value, list) and value else value
                if isinstance(text, str):
                    found += _SUB_NAME.findall(text)
            if isinstance(value, (dict, list)):
                found += [n for n in _references(value) if n not in found]
    elif isinstance(template, list):
        for item in template:
            found += _references(item)
    return found


def _delete_old(kind: str, name: str, account_id: str, region_name: str) -> None:
    if kind == "AWS::Lambda::Function":
        from moto.awslambda.models import lambda_backends

        lambda_backends[account_id][region_name].delete_function(name)
    else:
        from moto.logs.models import logs_backends

        logs_backends[account_id][region_name].delete_log_group(name)


def _update(logical_id, resource_json, resources_map, account_id, region_name):
    kind = resource_json.get("Type")
    if kind in RENAMED_BY_REPLACEMENT:
        _, attribute = RENAMED_BY_REPLACEMENT[kind]
        original = resources_map._parsed_resources.get(logical_id)
        old_name = getattr(original, attribute, None)
        parsed = parsing.parse_resource_and_generate_name(logical_id, dict(resource_json), resources_map)
        new_name = parsed[2] if parsed else None
        if old_name and new_name and new_name != old_name:
            created = parsing.parse_and_create_resource(
                logical_id, resource_json, resources_map, account_id, region_name
            )
            _delete_old(kind, old_name, account_id, region_name)
            return created
    return _orig_update(logical_id, resource_json, resources_map, account_id, region_name)


def install() -> None:
    parsing.parse_and_update_resource = _update
    parsing.get_references_from_template = _references
