"""SSM actions moto lacks: DescribeInstanceInformation, CancelCommand,
ListCommandInvocations (added to moto's SSM response handler)."""

from __future__ import annotations

from moto.core.responses import ActionResult, EmptyResult
from moto.ec2.models import ec2_backends
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


def install() -> None:
    SimpleSystemManagerResponse.describe_instance_information = describe_instance_information
    SimpleSystemManagerResponse.cancel_command = cancel_command
    SimpleSystemManagerResponse.list_command_invocations = list_command_invocations
