"""Runs one Lambda invocation; executed as a subprocess by lambda_exec.

argv: code_dir handler event_file result_file
The result (or the error) goes to result_file so the handler's own
stdout/stderr (the function's logs) can never break the response.
"""

import importlib
import json
import os
import sys
import time
import traceback
import uuid


class Context:
    def __init__(self, deadline: float):
        self._deadline = deadline
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("EASYTDV_FUNCTION_ARN", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = os.environ.get("EASYTDV_REQUEST_ID", str(uuid.uuid4()))
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "sandbox"
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def error(kind: str, message: str, stack=None) -> dict:
    return {"errorMessage": message, "errorType": kind, "stackTrace": stack or []}


def main() -> int:
    code_dir, handler, event_file, result_file = sys.argv[1:5]
    timeout = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)
    with open(event_file) as f:
        event = json.load(f)
    ok, out = False, None
    # Sandbox only: a slow function, so a test can act while it still runs.
    time.sleep(float(os.environ.pop("EASYTDV_SANDBOX_LAMBDA_DELAY", "0") or 0))
    try:
        modname, _, fname = handler.rpartition(".")
        if not modname:
            raise ValueError(f"Bad handler '{handler}': not enough values to unpack")
        try:
            module = importlib.import_module(modname.replace("/", "."))
        except Exception as e:  # what the AWS runtime reports
            out = error("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}")
        else:
            fn = getattr(module, fname, None)
            if fn is None:
                out = error("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")
            else:
                result = fn(event, Context(time.time() + timeout))
                try:
                    out, ok = json.dumps(result), True
                except (TypeError, ValueError) as e:
                    out = error("Runtime.MarshalError", f"Unable to marshal response: {e}")
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)
        out = error(type(e).__name__, str(e), [s.rstrip("\n") for s in traceback.format_list(tb[1:])])
        traceback.print_exc()
    with open(result_file, "w") as f:
        json.dump({"ok": ok, "payload": out if ok else json.dumps(out)}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
