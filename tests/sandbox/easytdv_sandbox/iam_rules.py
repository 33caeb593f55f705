"""IAM rules moto lacks, and the sandbox account's one-time easyTDV setup.

- `CreateRole` and `PutRolePermissionsBoundary` with a `PermissionsBoundary`
  policy that does not exist fail like IAM: `NoSuchEntity` (404), "Scope ARN:
  <arn> does not exist or is not attachable." (moto accepts any ARN). In a
  stack, the role then fails with that reason and the stack rolls back.
- A stack update that changes a role's inline `Policies` (or its trust
  policy) changes the role, as CloudFormation does (moto's update set only its
  description: a base updated for a new EBS key kept the old key's grant).
- The sandbox account starts as an account whose easyTDV setup was done: the
  managed policy `easytdv-boundary` (data/easytdv-boundary.json, a copy of
  templates/iam/easytdv-boundary.json that tests/policy keeps equal) exists in
  123456789012 at start and after `POST /moto-api/reset`. A test that wants
  an account without it deletes it (`iam.delete_policy`).
"""

from __future__ import annotations

import json
from pathlib import Path

from moto.iam.exceptions import NotFoundException
from moto.iam.models import IAMBackend, Role, iam_backends

from .principals import DEFAULT_ACCOUNT

BOUNDARY_NAME = "easytdv-boundary"
BOUNDARY_FILE = Path(__file__).resolve().parent / "data" / "easytdv-boundary.json"

_orig_create_role = IAMBackend.create_role
_orig_put_boundary = IAMBackend.put_role_permissions_boundary


def _check_boundary(backend: IAMBackend, arn: str | None) -> None:
    if not arn:
        return
    try:
        backend.get_policy(arn)
    except Exception as e:  # noqa: BLE001 - moto raises its own not-found types
        raise NotFoundException(f"Scope ARN: {arn} does not exist or is not attachable.") from e


def _create_role(self, role_name, assume_role_policy_document, path, permissions_boundary, *args, **kwargs):
    _check_boundary(self, permissions_boundary)
    return _orig_create_role(self, role_name, assume_role_policy_document, path, permissions_boundary, *args, **kwargs)


def _put_role_permissions_boundary(self, role_name, permissions_boundary):
    _check_boundary(self, permissions_boundary)
    return _orig_put_boundary(self, role_name, permissions_boundary)


def set_up_account(account: str = DEFAULT_ACCOUNT) -> None:
    """The one-time easyTDV setup of an account: its permissions boundary."""
    backend = iam_backends[account]["aws"]
    arn = f"arn:aws:iam::{account}:policy/{BOUNDARY_NAME}"
    try:
        backend.get_policy(arn)
        return
    except Exception:  # noqa: BLE001 - not there yet
        pass
    document = json.dumps(json.loads(BOUNDARY_FILE.read_text()))
    backend.create_policy(
        description="easyTDV: the most any role easyTDV creates may do",
        path="/",
        policy_document=document,
        policy_name=BOUNDARY_NAME,
        tags=[{"Key": "easytdv:app", "Value": "easytdv"}],
    )


_orig_role_update = Role.update_from_cloudformation_json.__func__


def _update_role(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    role = _orig_role_update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
    properties = cloudformation_json.get("Properties", {})
    wanted = {p["PolicyName"]: p["PolicyDocument"] for p in properties.get("Policies", [])}
    for name in list(role.policies):
        if name not in wanted:
            role.delete_policy(name)
    for name, document in wanted.items():
        role.put_policy(name, document)  # as moto stores it at creation
    trust = properties.get("AssumeRolePolicyDocument")
    if trust is not None:
        role.assume_role_policy_document = trust if isinstance(trust, str) else json.dumps(trust)
    return role


def install() -> None:
    Role.update_from_cloudformation_json = classmethod(_update_role)
    IAMBackend.create_role = _create_role
    IAMBackend.put_role_permissions_boundary = _put_role_permissions_boundary
