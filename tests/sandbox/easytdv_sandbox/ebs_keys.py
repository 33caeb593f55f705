"""The account's default EBS encryption key, and launches that cannot use it.

- `GetEbsDefaultKmsKeyId` / `ResetEbsDefaultKmsKeyId` (moto has only
  `ModifyEbsDefaultKmsKeyId`): `alias/aws/ebs` while the default is AWS's own
  key (the AWS CLI's documented answer), the key's ARN once a customer key is
  set.
- RunInstances with an encrypted volume on a customer-managed key that the
  launch cannot use: the instance is created `pending`, never boots (no user
  data, no SSM agent), and is `terminated` a moment later with the
  `StateReason` AWS gives, `Client.InternalError: Client error on launch`.
  A launch cannot use the key when the key is not `Enabled` (disabled,
  pending deletion, missing), or when a Lambda launches it (the run's
  launcher) and its role's policies, or the key's policy, do not allow the
  KMS actions EBS uses for the caller (`kms:CreateGrant`, `kms:Decrypt`,
  `kms:DescribeKey`, `kms:GenerateDataKeyWithoutPlaintext`). Conditions are not
  evaluated; other callers' policies are not known here and are not checked.
- `POST /easytdv-api/ebs-default-key` sets up a customer default key for a
  test: `{"region", "key_policy" (optional JSON), "state": "Enabled" |
  "Disabled" (optional)}` creates a key and makes it the region's default;
  `{"region", "reset": true}` goes back to AWS's own key.
"""

from __future__ import annotations

import ast
import json
import threading

from moto.core.responses import ActionResult
from moto.ec2.models import ec2_backends
from moto.ec2.models.instances import Instance, InstanceState, StateReason
from moto.ec2.responses.elastic_block_store import ElasticBlockStore
from moto.ec2.responses.instances import InstanceResponse

from . import gateway, iam_match, principals

AWS_EBS_ALIAS = "alias/aws/ebs"
# What EBS asks KMS for, on the caller's behalf, to create and attach a volume.
NEEDED = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext")
LAUNCH_ERROR = StateReason("Client.InternalError: Client error on launch", "Client.InternalError")
# How long a refused instance stays pending (AWS: seconds).
PENDING_SECONDS = 1.0

_caller = threading.local()


def _kms(account: str, region: str):
    from moto.kms.models import kms_backends

    return kms_backends[account][region]


def _key(arn_or_id: str, account: str, region: str):
    """The moto KMS key behind an id/ARN/alias (None: no such key)."""
    if arn_or_id.startswith("arn:"):
        parts = arn_or_id.split(":")
        if len(parts) >= 6:
            region, account = parts[3], parts[4]
    try:
        return _kms(account, region).describe_key(arn_or_id)
    except Exception:  # noqa: BLE001 - KeyError/NotFound: no such key
        return None


def aws_managed(key) -> bool:
    return key is not None and (key.key_manager == "AWS" or AWS_EBS_ALIAS in key.aliases)


# --- GetEbsDefaultKmsKeyId / ResetEbsDefaultKmsKeyId ---------------------------


def default_key_answer(backend) -> str:
    arn = backend.default_kms_key_id
    if not arn or aws_managed(_key(arn, backend.account_id, backend.region_name)):
        return AWS_EBS_ALIAS
    return arn


def _get_ebs_default_kms_key_id(self) -> ActionResult:
    self.error_on_dryrun()
    return ActionResult({"KmsKeyId": default_key_answer(self.ec2_backend)})


def _reset_ebs_default_kms_key_id(self) -> ActionResult:
    self.error_on_dryrun()
    self.ec2_backend._create_default_encryption_key()
    return ActionResult({"KmsKeyId": default_key_answer(self.ec2_backend)})


@gateway.hook("ebs-default-key")
def _ebs_default_key_hook(method: str, data: dict) -> tuple[int, dict]:
    region = str(data.get("region") or "eu-west-3")
    account = str(data.get("account") or principals.DEFAULT_ACCOUNT)
    backend = ec2_backends[account][region]
    if method == "POST":
        if data.get("reset"):
            backend._create_default_encryption_key()
        else:
            policy = data.get("key_policy")
            key = _kms(account, region).create_key(
                policy=json.dumps(policy) if isinstance(policy, dict) else policy,
                key_usage="ENCRYPT_DECRYPT",
                key_spec="SYMMETRIC_DEFAULT",
                description="easyTDV sandbox: customer-managed default EBS key",
                tags=None,
            )
            if data.get("state") == "Disabled":
                _kms(account, region).disable_key(key.id)
            backend.modify_ebs_default_kms_key_id(key.arn)
    return 200, {"region": region, "KmsKeyId": default_key_answer(backend)}


# --- RunInstances ----------------------------------------------------------------


def _statements(document) -> list[dict]:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            document = ast.literal_eval(document)  # moto's CloudFormation keeps a dict's repr
    return iam_match.as_list((document or {}).get("Statement"))


def _launcher_role(principal: principals.Principal):
    """The IAM role of a Lambda principal (None: not a Lambda, or unknown)."""
    if not principal.name.startswith("lambda:"):
        return None
    from moto.awslambda.models import lambda_backends
    from moto.iam.models import iam_backends

    account = principal.account or principals.DEFAULT_ACCOUNT
    name = principal.name.split(":", 1)[1]
    try:
        fn = lambda_backends[account][principal.region or ""].get_function(name)
        return iam_backends[account]["aws"].get_role(str(fn.role).rsplit("/", 1)[-1])
    except Exception:  # noqa: BLE001 - no such function in its region, or its role gone
        return None


def _role_statements(role) -> list[dict]:
    out = []
    for document in role.policies.values():
        out += _statements(document)
    for policy in role.managed_policies.values():
        out += _statements(getattr(policy, "document", None))
    return out


def _key_policy_allows(key, role_arn: str, account: str, action: str) -> bool:
    """The key policy lets the role use the key: it names the role, or it
    delegates to the account's IAM policies (its root, as the default policy does)."""
    verdict = "ImplicitDeny"
    for st in _statements(key.policy):
        names = iam_match.as_list((st.get("Principal") or {}).get("AWS")) if st.get("Principal") != "*" else ["*"]
        if not any(n in ("*", account, f"arn:aws:iam::{account}:root", role_arn) for n in names):
            continue
        if iam_match.statement_matches(st, action, None):
            if st.get("Effect") == "Deny":
                return False
            verdict = "Allow"
    return verdict == "Allow"


def refusal(backend, instance: Instance, principal: principals.Principal | None) -> str | None:
    """Why EBS could not encrypt this instance's volumes for this caller (None: it can)."""
    for _, device in instance.get_block_device_mapping:
        volume = backend.get_volume(device.volume_id)
        if not volume.encrypted or not volume.kms_key_id:
            continue
        key = _key(volume.kms_key_id, backend.account_id, backend.region_name)
        if key is None:
            return f"KMS key {volume.kms_key_id} not found"
        if aws_managed(key):
            continue
        if key.key_state != "Enabled":
            return f"KMS key {key.arn} is {key.key_state}"
        role = _launcher_role(principal) if principal else None
        if role is None:
            continue  # a caller whose policies the sandbox does not know
        statements = _role_statements(role)
        for action in NEEDED:
            if iam_match.decide(statements, action, key.arn) != "Allow":
                return f"role {role.name} may not {action} on {key.arn}"
            if not _key_policy_allows(key, role.arn, backend.account_id, action):
                return f"the key policy of {key.arn} does not allow {role.name} {action}"
    return None


class _LaunchFailure:
    """An instance attribute that reads as AWS's launch failure once a refused
    instance is terminated. moto's `terminate` marks the instance terminated
    before it writes its own (user-initiated) reason, so overwriting the reason
    afterwards would leave a moment in which a DescribeInstances sees the wrong one."""

    def __init__(self, name: str, failed):
        self.name, self.failed = name, failed

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        if getattr(obj, "easytdv_launch_refused", None) and obj._state.name == "terminated":
            return self.failed()
        return obj.__dict__.get(self.name)

    def __set__(self, obj, value):
        obj.__dict__[self.name] = value


def _fail_launch(instance: Instance) -> None:
    instance.terminate()


def refuse(instance: Instance, why: str) -> None:
    """The instance stays pending, then is terminated with AWS's launch error."""
    instance._state = InstanceState("pending", 0)
    instance.easytdv_launch_refused = why  # for the sandbox log and tests
    timer = threading.Timer(PENDING_SECONDS, _fail_launch, args=(instance,))
    timer.daemon = True
    timer.start()


def caller() -> principals.Principal | None:
    """Who sent the RunInstances being handled (set by the response wrapper)."""
    return getattr(_caller, "principal", None)


_orig_run_instances_response = InstanceResponse.run_instances


def _run_instances_response(self):
    _caller.principal = principals.of_key(self.get_access_key())
    try:
        return _orig_run_instances_response(self)
    finally:
        _caller.principal = None


def install() -> None:
    Instance.state_reason = _LaunchFailure("state_reason", lambda: StateReason(LAUNCH_ERROR.message, LAUNCH_ERROR.code))
    Instance._reason = _LaunchFailure("_reason", lambda: "")
    ElasticBlockStore.get_ebs_default_kms_key_id = _get_ebs_default_kms_key_id
    ElasticBlockStore.reset_ebs_default_kms_key_id = _reset_ebs_default_kms_key_id
    InstanceResponse.run_instances = _run_instances_response
