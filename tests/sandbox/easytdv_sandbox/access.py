"""Who may talk to the sandbox: only its owner (issue 20, item 2).

The sandbox runs user data, Lambda handlers and SSM commands as the user who
started it, so anything that can send it requests can run code as that user.
Every request must therefore:

1. name a loopback address as `Host` (`127.0.0.1`, `localhost`, `[::1]`, any
   port): a web page that points a DNS name at 127.0.0.1 ("DNS rebinding")
   sends its own name;
2. carry no `Origin` header (browsers add one to every cross-site request and
   to CORS preflights; SDKs and the AWS CLI never do), and moto's global CORS
   is off, so no browser is ever told it may read an answer;
3. be signed with the sandbox's access key (a secret made at each start and
   given to the app, never printed to a log), or with a key derived from it
   (`<principal>.<HMAC(key, principal)>`, what the sandbox gives its Lambdas,
   instances and training jobs: it names them and does not reveal the key),
   or with an access key moto's IAM issued (an IAM user the app's setup
   created inside the sandbox). The test hooks and `/moto-api/*`
   need the key in the `X-Easytdv-Sandbox-Key` header.

Signatures themselves are not verified: the secret is the access key id,
which only the owner knows. `GET /easytdv-api/whoami?nonce=N` answers
HMAC-SHA256(key, "easytdv-sandbox:" + N) so a client can check that it talks
to the sandbox it started (a process squatting the port cannot answer).

Refusals use AWS's own words for an unknown key (S3 `InvalidAccessKeyId`,
EC2 `AuthFailure`, query APIs `InvalidClientTokenId`, JSON APIs
`UnrecognizedClientException`) or for a missing signature (S3 `AccessDenied`,
others `MissingAuthenticationTokenException`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets

from .config import CONFIG

KEY_HEADER = "X-Easytdv-Sandbox-Key"
WHOAMI = "/easytdv-api/whoami"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
# Services whose APIs speak JSON (their errors are JSON); the query and EC2
# protocols answer XML.
JSON_SERVICES = {"lambda", "ssm", "logs", "sagemaker", "servicequotas", "pricing", "ecr", "kms"}


def new_key() -> str:
    return "ETDV" + secrets.token_hex(16).upper()


def proof(nonce: str) -> str:
    return hmac.new(CONFIG.access_key.encode(), f"easytdv-sandbox:{nonce}".encode(), hashlib.sha256).hexdigest()


def host_allowed(host: str | None) -> bool:
    """A loopback name or address, any port (a proxy of the tests' own may sit in front). A web page's
    DNS name pointed at 127.0.0.1 (DNS rebinding) arrives as that name and is refused."""
    if not host:
        return False
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOOPBACK_HOSTS


def key_header_ok(value: str | None) -> bool:
    return bool(value) and hmac.compare_digest(value.encode(), CONFIG.access_key.encode())


def tag(base: str) -> str:
    """HMAC-SHA256(key, "easytdv-principal:" + base), 40 hex digits: proves the sandbox gave the key out,
    and does not reveal the sandbox's own key to whoever holds it (a Lambda, a training script)."""
    mac = hmac.new(CONFIG.access_key.encode(), f"easytdv-principal:{base}".encode(), hashlib.sha256)
    return mac.hexdigest()[:40]


def derived(base: str) -> str:
    """The key the sandbox gives one of its own principals (`lambda-<fn>`, ...): `<base>.<tag>`."""
    return f"{base}.{tag(base)}"


def base_of(access_key: str) -> str | None:
    """`lambda-x` for `lambda-x.<its tag>`, `""` for the key itself, None for a foreign key."""
    key = CONFIG.access_key
    if hmac.compare_digest(access_key.encode(), key.encode()):
        return ""
    base, _, given = access_key.rpartition(".")
    if base and hmac.compare_digest(given.encode(), tag(base).encode()):
        return base
    return None


def issued_by_iam(access_key: str) -> bool:
    """An active access key of an IAM user inside the sandbox."""
    try:
        from moto.iam.models import iam_backends

        for account in list(iam_backends.values()):
            backend = account["aws"]
            for user in list(backend.users.values()):
                for k in user.access_keys:
                    if k.access_key_id == access_key and k.status == "Active":
                        return True
    except Exception:  # noqa: BLE001 - never let the check itself fail open
        return False
    return False


def key_allowed(access_key: str) -> bool:
    return base_of(access_key) is not None or issued_by_iam(access_key)


def refusal(start_response, service: str | None, method: str, code: str, message: str, status: int = 403):
    """An AWS-shaped error answer for a refused request."""
    if service in JSON_SERVICES:
        body = json.dumps({"__type": code, "message": message}).encode()
        ctype = "application/x-amz-json-1.1"
    elif service == "ec2":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error></Errors><RequestID>sandbox</RequestID></Response>"
        ).encode()
        ctype = "text/xml"
    elif service == "s3" or service is None:
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>sandbox</RequestId></Error>"
        ).encode()
        ctype = "application/xml"
    else:  # query protocol: sts, iam, cloudformation, monitoring
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>sandbox</RequestId></ErrorResponse>"
        ).encode()
        ctype = "text/xml"
    if method == "HEAD":
        body = b""
    reason = {400: "Bad Request", 403: "Forbidden", 421: "Misdirected Request"}.get(status, "Forbidden")
    start_response(f"{status} {reason}", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
    return [body]


def unknown_key(service: str) -> tuple[str, str]:
    if service == "s3":
        return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
    if service == "ec2":
        return "AuthFailure", "AWS was not able to validate the provided access credentials"
    if service in JSON_SERVICES:
        return "UnrecognizedClientException", "The security token included in the request is invalid."
    return "InvalidClientTokenId", "The security token included in the request is invalid."


def unsigned(service: str | None) -> tuple[str, str]:
    if service in (None, "s3"):
        return "AccessDenied", "Access Denied"
    return "MissingAuthenticationTokenException", "Missing Authentication Token"
