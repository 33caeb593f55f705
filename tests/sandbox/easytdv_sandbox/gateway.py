"""The WSGI layer in front of moto: test hooks (`/easytdv-api/...`), S3
bucket-owner checks, and the call recording (`<data-dir>/calls.jsonl`).

Every request moto handles is recorded as one JSON line once answered:

    {"time": "...Z", "service": "s3", "operation": "PutObject", "action": "s3:PutObject",
     "principal": "app", "access_key": "sandbox", "account": "123456789012",
     "region": "eu-west-3", "status": 200,
     "bucket": "b", "key": "k",                       # S3 only ("prefix" too for ListObjects)
     "names": {"StackName": "easytdv-..."},           # the request's resource names, when it has some
                                                      # (names only: never a parameter's Value)
     "stack_parameters": {"RunId": "..."},            # CreateStack and UpdateStack only
     "role": "easytdv-<run>-instance",                # instance, Lambda, training-job principals: their role's name
     "userid": "AROA...:i-0abc...",                   # an instance: its aws:userid, "<role id>:<instance id>"
     "via": "sagemaker"}                              # calls SageMaker makes for a job (downloads, logs, uploads)

The Price List API (`pricing`), which moto lacks, is answered here (pricing.py).
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs

from werkzeug.datastructures import EnvironHeaders

from . import access, iam_match, latency, principals, s3_ops
from .config import CONFIG

HOOK_PREFIX = "/easytdv-api/"
HOOKS: dict[str, Callable[[str, dict], tuple[int, dict]]] = {}
# signing name -> IAM service prefix, where they differ
IAM_PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api"}
# Lambda REST operations -> IAM action names, where they differ
LAMBDA_ACTIONS = {"Invoke": "InvokeFunction", "ListTags": "ListTags"}
NAME_PARAMS = (
    "StackName",
    "RoleName",
    "InstanceProfileName",
    "FunctionName",
    "GroupName",
    "LogGroupName",
    "DocumentName",
    "PolicyName",
    "PolicySourceArn",
    "ServiceCode",
    "QuotaCode",
    "Name",
    "Names",
    "TrainingJobName",
)
_lock = threading.Lock()


def calls_file() -> Path:
    return CONFIG.data_dir / "calls.jsonl"


def start_recording() -> None:
    """A new server: a new recording."""
    CONFIG.data_dir.mkdir(parents=True, exist_ok=True)
    calls_file().write_text("")


def forget_roles() -> None:
    _ROLES.clear()


def record(entry: dict) -> None:
    line = json.dumps(entry, sort_keys=True, default=str) + "\n"
    with _lock, open(calls_file(), "a", encoding="utf-8") as f:
        f.write(line)


def hook(name: str):
    """Register `POST /easytdv-api/<name>`: fn(method, json_body) -> (status, json)."""

    def register(fn):
        HOOKS[name] = fn
        return fn

    return register


@hook("data-dir")
def _data_dir(method: str, body: dict) -> tuple[int, dict]:
    """Where the sandbox keeps its recording and its instances' directories
    (tests look through all of it for a value that must not be there)."""
    return 200, {"path": str(CONFIG.data_dir), "calls": str(calls_file())}


def _json_response(start_response, status: int, body: dict):
    data = json.dumps(body).encode()
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found"}.get(status, "OK")
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _s3_error(start_response, method: str, code: str, message: str, status: int = 403):
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        f"<RequestId>sandbox</RequestId></Error>"
    ).encode()
    if method == "HEAD":
        body = b""
    start_response(f"{status} Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _read_body(environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _flat_params(environ, body: bytes) -> dict[str, str]:
    params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    ctype = environ.get("CONTENT_TYPE", "")
    if body and "x-www-form-urlencoded" in ctype:
        params.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()})
    elif body and "json" in ctype:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            params.update({k: v for k, v in data.items() if isinstance(v, str)})
            ids = data.get("InstanceIds")
            if isinstance(ids, list):
                params["InstanceIds"] = ",".join(map(str, ids))
            names = data.get("Names")  # GetParameters, DeleteParameters
            if isinstance(names, list):
                params["Names"] = ",".join(map(str, names))
    return params


def _lambda_operation(method: str, path: str) -> tuple[str, str | None]:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[1] == "functions":
        name = parts[2] if len(parts) > 2 else None
        tail = parts[3] if len(parts) > 3 else None
        if name is None:
            return ("CreateFunction" if method == "POST" else "ListFunctions"), None
        ops = {
            ("POST", "invocations"): "Invoke",
            ("GET", None): "GetFunction",
            ("DELETE", None): "DeleteFunction",
            ("GET", "configuration"): "GetFunctionConfiguration",
            ("PUT", "configuration"): "UpdateFunctionConfiguration",
            ("PUT", "code"): "UpdateFunctionCode",
        }
        return ops.get((method, tail), f"{method} {path}"), name
    if len(parts) >= 2 and parts[1] == "tags":
        return {"POST": "TagResource", "GET": "ListTags", "DELETE": "UntagResource"}.get(method, method), None
    return f"{method} {path}", None


def _stack_parameters(params: dict[str, str]) -> dict[str, str]:
    out = {}
    n = 1
    while f"Parameters.member.{n}.ParameterKey" in params:
        out[params[f"Parameters.member.{n}.ParameterKey"]] = params.get(f"Parameters.member.{n}.ParameterValue", "")
        n += 1
    return out


# principal name -> (role name, role id), kept once known (the role may be deleted later)
_ROLES: dict[str, tuple[str, str]] = {}


def _role_of(principal: principals.Principal) -> tuple[str, str] | None:
    """The IAM role (name, unique id) behind a Lambda, instance or training-job principal (None if unknown)."""
    if principal.name in _ROLES:
        return _ROLES[principal.name]
    role = _lookup_role(principal)
    if role:
        _ROLES[principal.name] = role
    return role


def remember_role(principal_name: str) -> None:
    """Resolve and keep a principal's role now (an instance at launch: its profile exists then)."""
    _role_of(principals.of_key(principal_name))


def _lookup_role(principal: principals.Principal) -> tuple[str, str] | None:
    try:
        from moto.awslambda.models import lambda_backends
        from moto.ec2.models import ec2_backends
        from moto.iam.models import iam_backends

        from . import instances

        account = principal.account or principals.DEFAULT_ACCOUNT
        if principal.name.startswith("instance:"):
            iid = principal.name.split(":", 1)[1]
            rt = instances.RUNTIMES.get(iid)
            if rt is None:
                return None
            instance = ec2_backends[account][rt.region].get_instance_by_id(iid)
            profile = (instance.iam_instance_profile or {}) if instance else {}
            iam = iam_backends[account]["aws"]
            if profile.get("Arn"):
                found = iam.get_instance_profile_by_arn(profile["Arn"])
            elif profile.get("Name"):
                found = iam.get_instance_profile(profile["Name"])
            else:
                return None
            return (found.roles[0].name, found.roles[0].id) if found.roles else None
        if principal.name.startswith("sagemaker:"):
            from . import sagemaker_exec

            name = sagemaker_exec.role_name_of(principal.name.split(":", 1)[1])
            return (name, "") if name else None
        if principal.name.startswith("lambda:"):
            name = principal.name.split(":", 1)[1]
            fn = lambda_backends[account][principal.region or ""].get_function(name)
            return (str(fn.role).rsplit("/", 1)[-1], "")
    except Exception:  # noqa: BLE001 - the recording never breaks a request
        return None
    return None


def _bucket_owner(bucket: str) -> tuple[str, object] | None:
    from moto.s3.models import s3_backends

    found = s3_backends.bucket_accounts.get(bucket)
    if not found:
        return None
    partition, account = found
    try:
        return account, s3_backends[account][partition].buckets.get(bucket)
    except KeyError:
        return None


def _s3_refusal(call: s3_ops.S3Call, headers, account: str) -> str | None:
    """Why S3 would answer 403 AccessDenied (None: let moto answer)."""
    if not call.bucket or call.operation == "CreateBucket":
        return None
    owner = _bucket_owner(call.bucket)
    if owner is None:
        return None
    owner_account, bucket = owner
    expected = headers.get("x-amz-expected-bucket-owner")
    if expected is not None and expected != owner_account:
        return "Access Denied"  # S3 says no more than this
    if owner_account == account:
        return None
    policy = getattr(bucket, "policy", None)
    statements = []
    if policy:
        from .s3_defaults import holds_over_tls  # (every request here stands in for HTTPS)

        try:
            statements = [s for s in iam_match.as_list(json.loads(policy).get("Statement")) if holds_over_tls(s)]
        except ValueError:
            statements = []
    if iam_match.decide(statements, call.action, call.resource, account=account) == "Allow":
        return None
    return "Access Denied"


class Gateway:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        headers = EnvironHeaders(environ)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        # Only the sandbox's owner (access.py): its loopback address, no web page, its key.
        if not access.host_allowed(headers.get("Host")):
            return access.refusal(start_response, None, method, "AccessDenied", "Access Denied (Host)")
        if headers.get("Origin") is not None:
            return access.refusal(start_response, None, method, "AccessDenied", "Access Denied (Origin)")
        if path == access.WHOAMI:
            nonce = (query.get("nonce") or [""])[0]
            if not (8 <= len(nonce) <= 128 and nonce.isalnum()):
                return _json_response(start_response, 400, {"error": "nonce: 8 to 128 letters or digits"})
            return _json_response(start_response, 200, {"proof": access.proof(nonce)})
        if path.startswith((HOOK_PREFIX, "/moto-api")):
            if not access.key_header_ok(headers.get(access.KEY_HEADER)):
                return access.refusal(start_response, None, method, "AccessDenied", "Access Denied")
            if path.startswith(HOOK_PREFIX):
                return self._hook(environ, start_response, path[len(HOOK_PREFIX) :], method)
            return self.app(environ, start_response)
        scope = principals.credential_scope(headers.get("Authorization"), (query.get("X-Amz-Credential") or [None])[0])
        if scope is None:  # unsigned: AWS answers no anonymous call we make
            return access.refusal(start_response, None, method, *access.unsigned(None))
        access_key, region, service = scope
        if not access.key_allowed(access_key):
            return access.refusal(start_response, service, method, *access.unknown_key(service))
        principal = principals.of_key(access_key)
        account = principal.account or principals.DEFAULT_ACCOUNT
        entry: dict = {
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            **({"via": "sagemaker"} if "easytdv-sandbox-sagemaker-platform" in headers.get("User-Agent", "") else {}),
            "service": service,
            "principal": principal.name,
            "access_key": principals.shown_key(access_key),
            "account": account,
            "region": region,
        }
        if service == "s3":
            call = s3_ops.parse(method, path, environ.get("QUERY_STRING", ""), headers)
            entry.update(operation=call.operation, action=call.action, bucket=call.bucket, key=call.key)
            if call.action == "s3:ListBucket" and call.operation.startswith("ListObjects"):
                entry["prefix"] = (query.get("prefix") or [""])[0]
            if call.copy_source:
                entry["copy_source"] = call.copy_source
            from . import region_deny, s3_regions  # (they import this module)

            fault = s3_regions.redirect(call, method, region) or region_deny.refusal(entry, call.resource)
            if fault:
                return self._fault(entry, principal, start_response, fault)
            refusal = _s3_refusal(call, headers, account)
            if refusal:
                entry["status"] = 403
                entry["error"] = "AccessDenied"
                self._finish(entry, principal)
                return _s3_error(start_response, method, "AccessDenied", refusal)
        else:
            body = _read_body(environ)
            params = _flat_params(environ, body)
            target = headers.get("X-Amz-Target")
            names = {}
            if target:
                operation = target.rsplit(".", 1)[-1]
            elif "Action" in params:
                operation = params["Action"]
            elif service == "lambda":
                operation, fn_name = _lambda_operation(method, path)
                if fn_name:
                    names["FunctionName"] = fn_name
            else:
                operation = f"{method} {path}"
            prefix = IAM_PREFIX.get(service, service)
            action_name = LAMBDA_ACTIONS.get(operation, operation) if service == "lambda" else operation
            entry.update(operation=operation, action=f"{prefix}:{action_name}")
            names.update({k: params[k] for k in NAME_PARAMS if params.get(k)})
            ids = [v for k, v in sorted(params.items()) if k.startswith("InstanceId")]
            if ids:
                names["InstanceIds"] = ",".join(ids)
            if names:
                entry["names"] = names
            if operation in ("CreateStack", "UpdateStack"):
                entry["stack_parameters"] = _stack_parameters(params)
            from . import region_deny  # (it imports this module)

            fault = region_deny.refusal(entry)
            if fault:
                return self._fault(entry, principal, start_response, fault)
            if service == "pricing":
                from . import pricing

                result, code, error = pricing.wsgi_answer(start_response, operation, body, region)
                entry["status"] = code
                if error:
                    entry["error"] = error
                self._finish(entry, principal)
                return result
        status = {}

        def capture(status_line, response_headers, exc_info=None):
            status["code"] = int(status_line.split(" ", 1)[0])
            sizes = [v for k, v in response_headers if k.lower() == "content-length" and str(v).isdigit()]
            status["bytes"] = int(sizes[0]) if sizes else 0
            return start_response(status_line, response_headers, exc_info)

        try:
            result = self.app(environ, capture)
        finally:
            entry["status"] = status.get("code", 500)
            self._finish(entry, principal)
        if service == "s3" and latency.on():  # AWS's time: first byte and bandwidth
            sent = environ.get("CONTENT_LENGTH") or "0"
            latency.s3_wait(principal.name, int(sent) if sent.isdigit() else 0, status.get("bytes", 0))
        return result

    def _fault(self, entry: dict, principal: principals.Principal, start_response, fault):
        """An answer of the sandbox's own (s3_regions, region_deny), recorded like moto's."""
        entry["status"], entry["error"] = fault.status, fault.error
        self._finish(entry, principal)
        start_response(f"{fault.status} {fault.reason}", [*fault.headers, ("Content-Length", str(len(fault.body)))])
        return [fault.body]

    def _finish(self, entry: dict, principal: principals.Principal) -> None:
        if principal.name.startswith(("instance:", "lambda:", "sagemaker:")):
            role = _role_of(principal)
            if role:
                entry["role"] = role[0]
                if principal.name.startswith("instance:") and role[1]:
                    # What IAM's ${aws:userid} is for instance-profile credentials.
                    entry["userid"] = f"{role[1]}:{principal.name.split(':', 1)[1]}"
        try:
            record(entry)
        except OSError:
            pass  # data dir gone (tests tearing down): never fail the request

    def _hook(self, environ, start_response, name: str, method: str):
        fn = HOOKS.get(name.strip("/"))
        if fn is None:
            return _json_response(start_response, 404, {"error": f"no test hook {name!r}", "hooks": sorted(HOOKS)})
        body = _read_body(environ)
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return _json_response(start_response, 400, {"error": f"body is not JSON: {e}"})
        try:
            status, answer = fn(method, data)
        except (KeyError, TypeError, ValueError) as e:
            return _json_response(start_response, 400, {"error": str(e)})
        return _json_response(start_response, status, answer)
