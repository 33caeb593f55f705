"""SSM Run Command really runs: AWS-RunShellScript commands run with bash,
asynchronously, in the target instance's directory."""

from __future__ import annotations

import re
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

from moto.ec2.models import ec2_backends
from moto.ssm.exceptions import SSMException
from moto.ssm.models import Command, SimpleSystemManagerBackend

from . import instances, latency, procs

PLUGIN = "aws:runShellScript"
TERMINAL = {"Success", "Failed", "TimedOut", "Cancelled"}
# GetCommandInvocation's StandardOutputContent / StandardErrorContent: "The first
# 24,000 characters written by the plugin to stdout" / "The first 8,000 ... to
# stderr" (API reference): the *first*, so a long output's end is not there.
STDOUT_MAX, STDERR_MAX = 24_000, 8_000
PLUGIN_OUTPUT_MAX = 2_500  # ListCommandInvocations' CommandPlugins[].Output (at most 2,500)
# AWS documents no limit of its own for SendCommand's parameters; runtime
# parameters count in the document's 64 KB content quota (CreateDocument). The
# sandbox holds AWS-RunShellScript's `commands` to a conservative 4,096 bytes
# (UTF-8, lines joined by newlines): a command that carries a script, not a few
# lines that fetch one, fails here before it can fail on AWS.
MAX_COMMANDS_BYTES = 4096
STOPPED_EXIT_CODE = 137  # what the SSM agent reports for a killed (timed out/cancelled) command
# AWS-RunShellScript's executionTimeout: a String parameter whose allowedPattern
# admits the integers 1..172800 (48 h) written without sign, leading zero or
# fraction. SendCommand rejects any other value with InvalidParameters.
EXECUTION_TIMEOUT_PATTERN = re.compile(
    r"([1-9][0-9]{0,4})|(1[0-6][0-9]{4})|(17[0-1][0-9]{3})|(172[0-7][0-9]{2})|(172800)"
)
MAX_EXECUTION_TIMEOUT = 172_800


class InvalidInstanceId(SSMException):
    def __init__(self, message: str = "Instances not in a valid state for account"):
        super().__init__("InvalidInstanceId", message)


class InvalidParameters(SSMException):
    def __init__(self, message: str):
        super().__init__("InvalidParameters", message)


def now() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z" if dt else ""


def head(path: Path, limit: int) -> str:
    """The first `limit` characters of a file (UTF-8), as SSM keeps them."""
    try:
        with open(path, "rb") as f:
            return f.read(limit * 4).decode("utf-8", "replace")[:limit]
    except FileNotFoundError:
        return ""


class Invocation:
    def __init__(self, command: Command, rt: instances.Runtime):
        params = command.parameters or {}
        self.command, self.rt = command, rt
        self.script = "\n".join(params.get("commands", []))
        self.timeout = int((params.get("executionTimeout") or ["3600"])[0])
        workdir = (params.get("workingDirectory") or [""])[0]
        self.cwd = Path(workdir) if workdir and Path(workdir).is_dir() else rt.dir
        self.dir = rt.dir / "ssm" / command.command_id
        self.status = self.details = "Pending"
        self.code, self.start, self.end = -1, None, None
        self.proc: subprocess.Popen | None = None
        self.stop_as: tuple[str, str] | None = None
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        latency.ssm_dispatch()  # (AWS's time from SendCommand to the agent running it)
        self.dir.mkdir(parents=True, exist_ok=True)
        script = self.dir / "_script.sh"
        script.write_text(self.script + "\n")
        with self.lock:
            if self.status != "Pending":
                return
            with open(self.dir / "stdout", "wb") as out, open(self.dir / "stderr", "wb") as err:
                self.proc = procs.spawn(
                    ["bash", str(script)],
                    self.rt.instance_id,
                    instances.instance_env(self.rt),
                    cwd=self.cwd,
                    stdout=out,
                    stderr=err,
                )
            self.status = self.details = "InProgress"
            self.start = now()
        try:
            code = self.proc.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.stop(("TimedOut", "ExecutionTimedOut"))
            code = self.proc.wait()
        with self.lock:
            self.end = now()
            if self.stop_as:
                (self.status, self.details), self.code = self.stop_as, STOPPED_EXIT_CODE
            else:
                self.code = code
                self.status = self.details = "Success" if code == 0 else "Failed"

    def stop(self, outcome: tuple[str, str]) -> None:
        """Cancel/time out/instance gone: kill the whole process group."""
        with self.lock:
            if self.status in TERMINAL or self.stop_as:
                return
            if self.proc is None:  # not started yet
                self.status, self.details = outcome
                self.end = now()
                return
            self.stop_as = outcome
            if outcome[0] == "Cancelled":
                self.status = self.details = "Cancelling"
        procs.kill_group(self.proc)

    def get(self) -> dict:
        c = self.command
        with self.lock:
            status, details, code, start, end = self.status, self.details, self.code, self.start, self.end
        elapsed = f"PT{((end or now()) - start).total_seconds():.3f}S" if start else ""
        return {
            "CommandId": c.command_id,
            "InstanceId": self.rt.instance_id,
            "Comment": c.comment,
            "DocumentName": c.document_name,
            "DocumentVersion": "$DEFAULT",
            "PluginName": PLUGIN,
            "ResponseCode": code,
            "ExecutionStartDateTime": iso(start),
            "ExecutionElapsedTime": elapsed,
            "ExecutionEndDateTime": iso(end),
            "Status": status,
            "StatusDetails": details,
            "StandardOutputContent": head(self.dir / "stdout", STDOUT_MAX),
            "StandardOutputUrl": "",
            "StandardErrorContent": head(self.dir / "stderr", STDERR_MAX),
            "StandardErrorUrl": "",
            "CloudWatchOutputConfig": {"CloudWatchLogGroupName": "", "CloudWatchOutputEnabled": False},
        }

    def list_entry(self, details: bool) -> dict:
        g = self.get()
        entry = {
            k: g[k]
            for k in (
                "CommandId",
                "InstanceId",
                "Comment",
                "DocumentName",
                "DocumentVersion",
                "Status",
                "StatusDetails",
            )
        }
        entry.update(
            RequestedDateTime=self.command.requested_date_time,
            StandardOutputUrl="",
            StandardErrorUrl="",
            ServiceRole="",
            TraceOutput="",
        )
        entry["CommandPlugins"] = (
            [
                {
                    "Name": PLUGIN,
                    "Status": g["Status"],
                    "StatusDetails": g["StatusDetails"],
                    "ResponseCode": g["ResponseCode"],
                    "ResponseStartDateTime": self.start,
                    "ResponseFinishDateTime": self.end,
                    "Output": (g["StandardOutputContent"] + g["StandardErrorContent"])[:PLUGIN_OUTPUT_MAX],
                    "StandardOutputUrl": "",
                    "StandardErrorUrl": "",
                    "OutputS3Region": "",
                    "OutputS3BucketName": "",
                    "OutputS3KeyPrefix": "",
                }
            ]
            if details
            else []
        )
        return entry


INVOCATIONS: dict[tuple[str, str], Invocation] = {}


def invocations_of(command_id: str) -> list[Invocation]:
    return [inv for (cid, _), inv in list(INVOCATIONS.items()) if cid == command_id]


def kill_instance(instance_id: str) -> None:
    for (_, iid), inv in list(INVOCATIONS.items()):
        if iid == instance_id:
            inv.stop(("Failed", "Failed"))


def reset() -> None:
    for inv in list(INVOCATIONS.values()):
        inv.stop(("Cancelled", "Cancelled"))
    INVOCATIONS.clear()


# --- moto patches --------------------------------------------------------

_orig_send = SimpleSystemManagerBackend.send_command
_orig_get_invocation = Command.get_invocation
_orig_response_object = Command.response_object
_orig_targets = Command._get_instance_ids_from_targets


def _instance_ids_from_targets(self) -> list[str]:
    # moto resolves *no* targets to every instance of the region
    return _orig_targets(self) if self.targets else []


def check_execution_timeout(value: list | None) -> None:
    """Raise InvalidParameters unless executionTimeout is absent or one string in 1..172800."""
    if value is None:
        return
    values = value if isinstance(value, list) else [value]
    text = values[0] if len(values) == 1 and isinstance(values[0], str) else None
    if text is None or not EXECUTION_TIMEOUT_PATTERN.fullmatch(text):
        raise InvalidParameters(
            f'Parameter "executionTimeout" value {values!r} of document AWS-RunShellScript does not match '
            f"its allowed pattern: a whole number of seconds from 1 to {MAX_EXECUTION_TIMEOUT}"
        )


def check_commands_size(commands: list) -> None:
    """Raise InvalidParameters when the commands weigh more than MAX_COMMANDS_BYTES."""
    size = len("\n".join(str(c) for c in commands).encode("utf-8"))
    if size > MAX_COMMANDS_BYTES:
        raise InvalidParameters(
            f'Parameter "commands" of document AWS-RunShellScript is {size} bytes; the sandbox accepts at most '
            f"{MAX_COMMANDS_BYTES} (AWS documents no limit for it, and counts runtime parameters in the "
            "document's 64 KB content quota): send a few lines that fetch the script, not the script"
        )


def _send_command(self, **kwargs):
    if kwargs.get("document_name") != "AWS-RunShellScript":
        return _orig_send(self, **kwargs)
    if not (kwargs.get("parameters") or {}).get("commands"):
        raise InvalidParameters("document AWS-RunShellScript does not support parameters: commands is required")
    check_commands_size(kwargs["parameters"]["commands"])
    check_execution_timeout(kwargs["parameters"].get("executionTimeout"))
    ec2 = ec2_backends[self.account_id][self.region_name]
    for iid in kwargs.get("instance_ids") or []:
        instance = ec2.get_instance_by_id(iid)
        if instance is None or not instances.is_online(instance):
            raise InvalidInstanceId(f"Instances [[{iid}]] not in a valid state for account {self.account_id}")
    command = _orig_send(self, **kwargs)
    for iid in command.instance_ids:
        instance = ec2.get_instance_by_id(iid)
        if instance is not None and instances.is_online(instance):
            INVOCATIONS[(command.command_id, iid)] = Invocation(command, instances.RUNTIMES[iid])
    return command


def _get_invocation(self, instance_id, plugin_name):
    inv = INVOCATIONS.get((self.command_id, instance_id))
    if inv is None or (plugin_name and plugin_name != PLUGIN):
        return _orig_get_invocation(self, instance_id, plugin_name)
    return inv.get()


def _response_object(self):
    obj = _orig_response_object(self)
    invs = invocations_of(self.command_id)
    if invs:
        statuses = [inv.status for inv in invs]
        done = [s for s in statuses if s in TERMINAL]
        if len(done) < len(statuses):
            status = "Pending" if all(s == "Pending" for s in statuses) else "InProgress"
        else:
            status = next((s for s in ("Cancelled", "TimedOut", "Failed") if s in statuses), "Success")
        obj.update(
            Status=status,
            StatusDetails=status,
            CompletedCount=len(done),
            TargetCount=len(invs),
            ErrorCount=sum(s in ("Failed", "TimedOut") for s in statuses),
        )
    return obj


def cancel_command(backend, command_id: str, instance_ids: list[str] | None) -> None:
    backend.get_command_by_id(command_id)  # raises InvalidCommandId
    for inv in invocations_of(command_id):
        if not instance_ids or inv.rt.instance_id in instance_ids:
            inv.stop(("Cancelled", "Cancelled"))


def list_command_invocations(backend, command_id, instance_id, details: bool) -> list[dict]:
    commands = backend.list_commands(command_id, None)
    out = []
    for command in commands:
        for iid in command.instance_ids:
            if instance_id and iid != instance_id:
                continue
            inv = INVOCATIONS.get((command.command_id, iid))
            if inv:
                out.append(inv.list_entry(details))
    return out


def install() -> None:
    SimpleSystemManagerBackend.send_command = _send_command
    Command.get_invocation = _get_invocation
    Command.response_object = _response_object
    Command._get_instance_ids_from_targets = _instance_ids_from_targets
