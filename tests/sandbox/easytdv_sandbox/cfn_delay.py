"""Optional delay for CloudFormation stack creation and deletion, so
CREATE_IN_PROGRESS / DELETE_IN_PROGRESS can be observed (moto is instant).

Creation: resources are created at once, the stack reports CREATE_COMPLETE
after the delay. Deletion: the stack reports DELETE_IN_PROGRESS (and is still
found by name) for the delay, then moto really deletes its resources."""

from __future__ import annotations

import threading

from moto.cloudformation.models import CloudFormationBackend, Stack

from . import latency
from .config import CONFIG

_orig_mark_complete = Stack.mark_creation_complete
_orig_delete_stack = CloudFormationBackend.delete_stack


def _later(seconds: float, fn, *args) -> None:
    timer = threading.Timer(seconds, fn, args)
    timer.daemon = True
    timer.start()


def _seconds(stack: Stack, action: str) -> float:
    """With the latency model on, its time for this stack's resources (latency.py); else --cfn-delay."""
    return latency.stack_seconds(stack, action) if latency.on() else CONFIG.cfn_delay


def _mark_creation_complete(self: Stack) -> None:
    delay = _seconds(self, "create")
    if delay <= 0:
        return _orig_mark_complete(self)
    self.status = "CREATE_IN_PROGRESS"

    def complete() -> None:
        if self.status == "CREATE_IN_PROGRESS":
            _orig_mark_complete(self)

    _later(delay, complete)


def _delete_stack(self: CloudFormationBackend, name_or_stack_id: str) -> None:
    stack = next((s for s in self.stacks.values() if name_or_stack_id in (s.name, s.stack_id)), None)
    delay = _seconds(stack, "delete") if stack is not None else CONFIG.cfn_delay
    if delay <= 0:
        return _orig_delete_stack(self, name_or_stack_id)
    if stack is None or stack.status == "DELETE_IN_PROGRESS":
        return None
    stack.status = "DELETE_IN_PROGRESS"
    stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
    _later(delay, _finish_delete, self, stack)
    return None


def _finish_delete(backend: CloudFormationBackend, stack: Stack) -> None:
    if backend.stacks.get(stack.stack_id) is not stack:
        return  # reset meanwhile
    count = len(stack.events)
    try:
        _orig_delete_stack(backend, stack.stack_id)
    except Exception as e:  # noqa: BLE001 - report it like AWS would
        stack.status = "DELETE_FAILED"
        stack._add_stack_event("DELETE_FAILED", resource_status_reason=str(e))
        return
    # Stack.delete adds its own DELETE_IN_PROGRESS event: drop the duplicate.
    if len(stack.events) > count and stack.events[count].resource_status == "DELETE_IN_PROGRESS":
        del stack.events[count]


def install() -> None:
    Stack.mark_creation_complete = _mark_creation_complete
    CloudFormationBackend.delete_stack = _delete_stack
