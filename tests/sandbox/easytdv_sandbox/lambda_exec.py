"""Lambda Invoke really runs the function's Python handler in a subprocess.

Replaces moto's docker-based LambdaFunction.invoke: the zip is unpacked to a
temp dir and lambda_runtime.py runs the handler with the function's
environment plus AWS_ENDPOINT_URL pointing at the sandbox.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import tempfile
import threading
import uuid
import zipfile
from pathlib import Path

from moto.awslambda.exceptions import ValidationException
from moto.awslambda.models import LambdaBackend, LambdaFunction

from . import gateway, latency, principals, procs
from .config import CONFIG, child_env, python

RUNTIME = str(Path(__file__).with_name("lambda_runtime.py"))
LOG_TAIL = 4096
# Per-function delays set by `POST /easytdv-api/lambda-delay` ("*" = every function),
# and per-run ones: invocations whose event names that run (the base's launcher serves every run).
DELAYS: dict[str, float] = {}
RUN_DELAYS: dict[str, float] = {}


def delay_of(function_name: str, event=None) -> float:
    """Seconds the invocation waits before its handler runs (inside the function's timeout)."""
    run = (event or {}).get("run") if isinstance(event, dict) else None
    run_id = run.get("run_id") if isinstance(run, dict) else None
    if run_id in RUN_DELAYS:
        return RUN_DELAYS[run_id]
    return DELAYS.get(function_name, DELAYS.get("*", CONFIG.lambda_delay))


@gateway.hook("lambda-delay")
def _delay_hook(method: str, data: dict) -> tuple[int, dict]:
    """{"function": name or "*", "seconds": S} or {"run": run id, "seconds": S}: later
    invocations (of that function, or naming that run in their event) wait S s first (0: no delay)."""
    if method == "POST":
        seconds = float(data["seconds"])
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        if data.get("run"):
            RUN_DELAYS[str(data["run"])] = seconds
        else:
            DELAYS[str(data.get("function") or "*")] = seconds
    return 200, {"delays": DELAYS, "runs": RUN_DELAYS, "default": CONFIG.lambda_delay}


def reset() -> None:
    DELAYS.clear()
    RUN_DELAYS.clear()


def run_function(fn: LambdaFunction, event) -> tuple[bytes, bool, str]:
    """Run one invocation: (payload, errored, logs)."""
    request_id = str(uuid.uuid4())
    timeout = float(fn.timeout or 3)
    with tempfile.TemporaryDirectory(prefix=f"lambda-{fn.function_name}-") as tmp:
        code_dir = Path(tmp, "task")
        with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as zf:
            zf.extractall(code_dir)
        event_file, result_file = Path(tmp, "event.json"), Path(tmp, "result.json")
        event_file.write_text(json.dumps(event))
        env = child_env(
            fn.region,
            principals.lambda_key(fn.function_name, fn.region),
            HOME=tmp,
            LAMBDA_TASK_ROOT=str(code_dir),
            _HANDLER=fn.handler or "",
            AWS_EXECUTION_ENV=f"AWS_Lambda_{fn.run_time}",
            AWS_LAMBDA_FUNCTION_NAME=fn.function_name,
            AWS_LAMBDA_FUNCTION_VERSION=str(fn.version),
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(fn.memory_size),
            AWS_LAMBDA_FUNCTION_TIMEOUT=str(timeout),
            EASYTDV_FUNCTION_ARN=fn.function_arn,
            EASYTDV_REQUEST_ID=request_id,
            EASYTDV_SANDBOX_LAMBDA_DELAY=str(delay_of(fn.function_name, event)),
        )
        # The function's own variables, but never the sandbox's endpoint/credentials.
        env = {**{k: str(v) for k, v in fn.environment_vars.items()}, **env}
        tag = f"lambda-{request_id}"
        proc = procs.spawn(
            [python(), RUNTIME, str(code_dir), fn.handler or "", str(event_file), str(result_file)],
            tag,
            env,
            cwd=tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            logs_bytes, _ = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            procs.kill_group(proc)
            logs_bytes, _ = proc.communicate()
            timed_out = True
        finally:
            procs.kill_tagged(tag)  # anything the handler left in the background
        logs = logs_bytes.decode("utf-8", "replace")
        if timed_out:
            msg = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
            return json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": msg}).encode(), True, logs
        if not result_file.exists():
            msg = f"RequestId: {request_id} Error: Runtime exited with error: exit status {proc.returncode}"
            body = {"errorType": "Runtime.ExitError", "errorMessage": msg}
            return json.dumps(body).encode(), True, logs
        result = json.loads(result_file.read_text())
        return result["payload"].encode(), not result["ok"], logs


def _header(headers, name: str, default: str) -> str:
    for key, value in dict(headers or {}).items():
        if key.lower() == name:
            return value
    return default


def invoke(self: LambdaFunction, body, request_headers, response_headers):
    event = json.loads(body) if body else {}
    inv_type = _header(request_headers, "x-amz-invocation-type", "RequestResponse")
    if inv_type == "DryRun":
        return b""
    latency.before_invoke(self)  # (AWS's time: refused while Pending, a cold start)
    if inv_type == "Event":
        threading.Thread(target=run_function, args=(self, event), daemon=True).start()
        return b""
    payload, errored, logs = run_function(self, event)
    self.logs_backend.ensure_log_group(self.logs_group_name)
    self.save_logs(logs or " ")
    if errored:
        response_headers["x-amz-function-error"] = "Unhandled"
    tail = logs.encode("utf-8")[-LOG_TAIL:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
    response_headers["x-amz-executed-version"] = str(self.version)
    return payload


# CreateFunction's documented ranges (moto accepts any value): memory
# 128..10240 MB, timeout 1..900 s.
LIMITS = {"MemorySize": ("memorySize", 128, 10240), "Timeout": ("timeout", 1, 900)}
_orig_create_function = LambdaBackend.create_function


def check_limits(spec: dict) -> None:
    for key, (name, low, high) in LIMITS.items():
        value = spec.get(key)
        if value is None:
            continue
        value = int(value)
        if value < low:
            raise ValidationException(str(value), name, f"Member must have value greater than or equal to {low}")
        if value > high:
            raise ValidationException(str(value), name, f"Member must have value less than or equal to {high}")


def _create_function(self: LambdaBackend, spec: dict) -> LambdaFunction:
    check_limits(spec)
    return _orig_create_function(self, spec)


def install() -> None:
    LambdaFunction.invoke = invoke
    LambdaBackend.create_function = _create_function
