"""SSM actions moto lacks: DescribeInstanceInformation, CancelCommand,
ListCommandInvocations (added to moto's SSM response handler); and Parameter
Store's limits moto does not check, answered in AWS's words: a standard
parameter's value of at most 4,096 characters (PutParameter), at most ten
names per DeleteParameters (as GetParameters, which moto checks)."""

from __future__ import annotations

from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models import ec2_backends
from moto.ssm.exceptions import ValidationException
from moto.ssm.responses import SimpleSystemManagerResponse

from . import instances, ssm_exec


def _filters(params: list | None, key: str, values: str) -> dict[str, list[str]]:
    return {f[key]: f.get(values, []) for f in params or []}


def describe_instance_information(self) -> ActionResult:
    wanted = _filters(self._get_param("Filters"), "Key", "Values")
    wanted.update(_filters(self._get_param("InstanceInformationFilterList"), "key", "valueSet"))
    ec2 = ec2_backends[self.current_account][self.region]
    infos = [instances.instance_information(i) for i in instances.managed_instances(ec2)]
    ids, pings = wanted.get("InstanceIds"), wanted.get("PingStatus")
    infos = [i for i in infos if (not ids or i["InstanceId"] in ids) and (not pings or i["PingStatus"] in pings)]
    return ActionResult({"InstanceInformationList": infos})


def cancel_command(self) -> EmptyResult:
    ssm_exec.cancel_command(self.ssm_backend, self._get_param("CommandId"), self._get_param("InstanceIds"))
    return EmptyResult()


def list_command_invocations(self) -> ActionResult:
    found = ssm_exec.list_command_invocations(
        self.ssm_backend,
        self._get_param("CommandId"),
        self._get_param("InstanceId"),
        bool(self._get_param("Details", False)),
    )
    return ActionResult({"CommandInvocations": found})


STANDARD_VALUE_CHARS = 4096
MAX_NAMES = 10
_orig_put_parameter = SimpleSystemManagerResponse.put_parameter
_orig_delete_parameters = SimpleSystemManagerResponse.delete_parameters


def put_parameter(self):
    value = self._get_param("Value")
    tier = self._get_param("Tier") or "Standard"
    if tier == "Standard" and isinstance(value, str) and len(value) > STANDARD_VALUE_CHARS:
        raise ValidationException(
            "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger "
            "parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see "
            "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
        )
    return _orig_put_parameter(self)


def delete_parameters(self):
    names = self._get_param("Names") or []
    if len(names) > MAX_NAMES:
        raise ValidationException(
            "1 validation error detected: "
            f"Value '[{', '.join(names)}]' at 'names' failed to satisfy constraint: "
            "Member must have length less than or equal to 10"
        )
    return _orig_delete_parameters(self)


def install() -> None:
    SimpleSystemManagerResponse.describe_instance_information = describe_instance_information
    SimpleSystemManagerResponse.cancel_command = cancel_command
    SimpleSystemManagerResponse.list_command_invocations = list_command_invocations
    SimpleSystemManagerResponse.put_parameter = put_parameter
    SimpleSystemManagerResponse.delete_parameters = delete_parameters
