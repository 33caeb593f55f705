"""CloudFormation resource failures like AWS.

moto creates a stack's resources inside CreateStack and lets a resource's
error (e.g. IAM EntityAlreadyExists) escape from it, leaving a half-registered
stack that DescribeStacks answers with HTTP 500. AWS instead accepts the
stack, marks the resource CREATE_FAILED and rolls back. Here:

- CreateStack returns the stack id; the stack goes CREATE_IN_PROGRESS ->
  (resource CREATE_FAILED event, reason `Resource handler returned message:
  "<error>"`) -> ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE, the resources it
  had created being deleted (a DELETE_COMPLETE event each). With --cfn-delay S
  each of the two in-progress states lasts S seconds.
- DisableRollback / OnFailure=DO_NOTHING: CREATE_FAILED, resources kept;
  OnFailure=DELETE: rolled back, then the stack is deleted.
- Template errors (moto's CloudFormation ValidationError family: missing
  parameter, bad Fn::GetAtt, unknown export...) stay synchronous
  ValidationErrors of CreateStack, and leave neither stack nor resources.
  Those moto raises before registering the stack are untouched.
- A failed stack has no outputs and no exports and never retries creating
  resources (moto's resource map creates them lazily on access).
- Two CreateStack of one name at once: the second is refused with AWS's
  `AlreadyExistsException` "Stack [<name>] already exists", as when the
  first is done (moto checks the name, then builds the stack, then registers
  it: a second request in between passed its check and made a second stack).
"""

from __future__ import annotations

import logging
import threading

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import (
    AlreadyExistsException,
    CloudFormationError,
    UnformattedGetAttTemplateException,
)
from moto.cloudformation.models import CloudFormationBackend, Event, Stack
from moto.cloudformation.parsing import OutputMap
from moto.cloudformation.responses import CloudFormationResponse

from .config import CONFIG

log = logging.getLogger(__name__)
_orig_parse_and_create = parsing.parse_and_create_resource
_orig_create_stack = CloudFormationBackend.create_stack
_orig_response_create_stack = CloudFormationResponse.create_stack
_request = threading.local()  # OnFailure of the CreateStack being handled


def _parse_and_create_resource(logical_id, resource_json, resources_map, *args, **kwargs):
    try:
        return _orig_parse_and_create(logical_id, resource_json, resources_map, *args, **kwargs)
    except Exception as e:
        # Dependencies are created lazily inside their dependent: keep the innermost.
        if not hasattr(e, "easytdv_failed_resource"):
            e.easytdv_failed_resource = (logical_id, resource_json.get("Type", ""))
        raise


def _response_create_stack(self: CloudFormationResponse):
    on_failure = self._get_param("OnFailure")
    if not on_failure:
        on_failure = "DO_NOTHING" if self._get_bool_param("DisableRollback", False) else "ROLLBACK"
    _request.on_failure = on_failure
    try:
        return _orig_response_create_stack(self)
    finally:
        _request.on_failure = None


def _is_template_error(e: Exception) -> bool:
    return isinstance(e, UnformattedGetAttTemplateException) or (
        isinstance(e, CloudFormationError) and e.code == "ValidationError"
    )


_creating_lock = threading.Lock()
_creating: set[tuple[str, str, str]] = set()  # (account, region, name) of stacks being created


def _create_stack(self: CloudFormationBackend, name: str, *args, **kwargs) -> Stack:
    claim = (self.account_id, self.region_name, name)
    with _creating_lock:
        if claim in _creating or any(s.name == name for s in self.stacks.values()):
            raise AlreadyExistsException(f"Stack [{name}] already exists")
        _creating.add(claim)
    try:
        return _create_claimed(self, name, *args, **kwargs)
    finally:
        with _creating_lock:
            _creating.discard(claim)


def _create_claimed(self: CloudFormationBackend, name: str, *args, **kwargs) -> Stack:
    known = set(self.stacks)
    on_failure = getattr(_request, "on_failure", None) or "ROLLBACK"
    _request.on_failure = None  # nested stacks created by this one roll back
    try:
        return _orig_create_stack(self, name, *args, **kwargs)
    except Exception as e:
        stack = next((s for sid, s in list(self.stacks.items()) if sid not in known and s.name == name), None)
        if stack is None:
            raise  # rejected before the stack existed: moto's validation, keep it
        _freeze(self, stack)
        if _is_template_error(e):
            _delete_created(stack, events=False)
            self.stacks.pop(stack.stack_id, None)
            raise
        _fail(self, stack, e, on_failure)
        return stack


def _freeze(backend: CloudFormationBackend, stack: Stack) -> None:
    """Only the resources already created stay in the stack; no outputs/exports."""
    rm = stack.resource_map
    rm._resource_json_map = {
        lid: js for lid, js in rm._resource_json_map.items() if rm._parsed_resources.get(lid) is not None
    }
    stack.output_map = OutputMap(rm, {"Outputs": {}}, stack.stack_id)
    for export_name, export in list(backend.exports.items()):
        if export.exporting_stack_id == stack.stack_id:
            backend.exports.pop(export_name, None)


def _resource_event(
    stack: Stack, logical_id: str, physical_id: str, resource_type: str, status: str, reason: str | None = None
) -> None:
    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=physical_id,
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )
    stack.events.append(event)


def _delete_created(stack: Stack, events: bool = True) -> None:
    """Delete what the stack created (raises if some resource cannot be deleted)."""
    rm = stack.resource_map
    created = {lid: rm._parsed_resources[lid] for lid in rm._resource_json_map}
    types = {lid: js.get("Type", "") for lid, js in rm._resource_json_map.items()}
    try:
        rm.delete()
    finally:
        for lid, resource in created.items():
            if lid not in rm._parsed_resources:
                del rm._resource_json_map[lid]
                if events:
                    physical = getattr(resource, "physical_resource_id", "") or ""
                    _resource_event(stack, lid, str(physical), types[lid], "DELETE_COMPLETE")


def _later(seconds: float, fn) -> None:
    if seconds <= 0:
        fn()
        return
    timer = threading.Timer(seconds, fn)
    timer.daemon = True
    timer.start()


def _fail(backend: CloudFormationBackend, stack: Stack, error: Exception, on_failure: str) -> None:
    logical_id, resource_type = getattr(error, "easytdv_failed_resource", (None, None))
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    log.warning("stack %s: resource %s failed: %s", stack.name, logical_id, message)
    stack.status = "CREATE_IN_PROGRESS"
    if not stack.events:  # moto failed before logging the start (evaluating exports)
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    stack.disable_rollback = on_failure == "DO_NOTHING"

    def current(status: str) -> bool:  # not deleted, reset or moved on meanwhile
        return backend.stacks.get(stack.stack_id) is stack and stack.status == status

    def resource_failed() -> None:
        if not current("CREATE_IN_PROGRESS"):
            return
        if logical_id:
            _resource_event(
                stack, logical_id, "", resource_type, "CREATE_FAILED", f'Resource handler returned message: "{message}"'
            )
            summary = f"The following resource(s) failed to create: [{logical_id}]."
        else:
            summary = f"Stack creation failed: {message}"
        if on_failure == "DO_NOTHING":
            stack.status = "CREATE_FAILED"
            stack._add_stack_event("CREATE_FAILED", resource_status_reason=summary)
            return
        stack.status = "ROLLBACK_IN_PROGRESS"
        stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=f"{summary} Rollback requested by user.")
        _later(CONFIG.cfn_delay, rolled_back)

    def rolled_back() -> None:
        if not current("ROLLBACK_IN_PROGRESS"):
            return
        try:
            _delete_created(stack)
        except Exception as e:  # noqa: BLE001 - report it like AWS would
            stack.status = "ROLLBACK_FAILED"
            stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=str(e))
            return
        stack.status = "ROLLBACK_COMPLETE"
        stack._add_stack_event("ROLLBACK_COMPLETE")
        if on_failure == "DELETE":
            backend.delete_stack(stack.stack_id)

    _later(CONFIG.cfn_delay, resource_failed)


def install() -> None:
    parsing.parse_and_create_resource = _parse_and_create_resource
    CloudFormationBackend.create_stack = _create_stack
    CloudFormationResponse.create_stack = _response_create_stack
