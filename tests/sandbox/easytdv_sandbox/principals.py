"""Who makes a request: the access key id names the principal and its account.

moto picks a request's account from the MOTO_ACCOUNT_ID variable, then the
`x-moto-account-id` header, then an access key that moto's IAM issued, else
123456789012; and it only sees access keys of 20 upper-case characters. The
sandbox reads the key from the SigV4 `Credential=` (any characters) and maps:

| access key id            | principal               | account       |
| ------------------------ | ----------------------- | ------------- |
| `<key>` (the sandbox's)  | `app` (the easyTDV app) | 123456789012  |
| `lambda-<function>@<region>.<tag>`| `lambda:<function-name>` (and its region) | 123456789012  |
| `instance-<id>.<tag>`    | `instance:<instance-id>`| 123456789012  |
| `other-account.<tag>`    | `other-account`         | 111111111111  |
| `sagemaker-<job>.<tag>`  | `sagemaker:<job-name>`  | 123456789012  | (a training job's execution role)
| an IAM user's key id     | `key:<key id>` (moto's own rules pick the account) |

`<key>` is the secret the sandbox was started with, `<tag>` HMAC(key, name)
(access.py); any other key is refused before it gets here. Lambda invocations, instance scripts and
training jobs get their key from the sandbox (lambda_exec, instances,
sagemaker_exec); any secret access key is accepted (signatures are not checked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moto.core.responses import BaseResponse

from . import access
from .config import CONFIG

DEFAULT_ACCOUNT = "123456789012"
OTHER_ACCOUNT = "111111111111"
OTHER_BASE = "other-account"
LAMBDA_PREFIX, INSTANCE_PREFIX, SAGEMAKER_PREFIX = "lambda-", "instance-", "sagemaker-"

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/([0-9]{8})/([^/]*)/([^/]*)/aws4_request")


@dataclass(frozen=True)
class Principal:
    name: str  # app, lambda:<fn>, instance:<id>, other-account, key:<key>
    account: str | None  # None: moto's own rules decide
    access_key: str
    # A Lambda's region: functions of one name in two regions (the base's
    # launcher is in every region) are two principals with two roles.
    region: str | None = None


def app_key() -> str:
    return CONFIG.access_key


def other_key() -> str:
    """The key of "another account", for tests of cross-account refusals."""
    return access.derived(OTHER_BASE)


def lambda_key(function_name: str, region: str) -> str:
    return access.derived(f"{LAMBDA_PREFIX}{function_name}@{region}")


def instance_key(instance_id: str) -> str:
    return access.derived(f"{INSTANCE_PREFIX}{instance_id}")


def sagemaker_key(job_name: str) -> str:
    return access.derived(f"{SAGEMAKER_PREFIX}{job_name}")


def shown_key(access_key: str) -> str:
    """The access key as the call recording shows it: never the secret part."""
    base = access.base_of(access_key)
    if base is None:  # an IAM user's key id: shown masked, like the app shows keys (AKIA…WXYZ)
        return f"{access_key[:4]}…{access_key[-4:]}" if len(access_key) > 8 else "…"
    return base or "sandbox"


def of_key(access_key: str) -> Principal:
    base = access.base_of(access_key)
    if base == "":
        return Principal("app", DEFAULT_ACCOUNT, access_key)
    if base == OTHER_BASE:
        return Principal("other-account", OTHER_ACCOUNT, access_key)
    for prefix, kind in ((LAMBDA_PREFIX, "lambda"), (INSTANCE_PREFIX, "instance"), (SAGEMAKER_PREFIX, "sagemaker")):
        if base and base.startswith(prefix) and len(base) > len(prefix):
            name, _, region = base[len(prefix) :].partition("@")
            return Principal(f"{kind}:{name}", DEFAULT_ACCOUNT, access_key, region or None)
    return Principal(f"key:{shown_key(access_key)}", None, access_key)


def credential_scope(authorization: str | None, query_credential: str | None = None) -> tuple[str, str, str] | None:
    """(access key, region, signing service) of a SigV4 request, or None."""
    text = authorization or ""
    if query_credential:  # presigned URL: X-Amz-Credential=key/date/region/service/aws4_request
        text = f"Credential={query_credential}"
    match = _CREDENTIAL.search(text)
    if not match:
        return None
    return match.group(1), match.group(3), match.group(4)


_orig_get_access_key = BaseResponse.get_access_key
_orig_get_current_account = BaseResponse.get_current_account


def _get_access_key(self) -> str:
    scope = credential_scope(self.headers.get("Authorization"), (self.querystring.get("X-Amz-Credential") or [None])[0])
    return scope[0] if scope else _orig_get_access_key(self)


def _get_current_account(self) -> str:
    account = of_key(self.get_access_key()).account
    return account or _orig_get_current_account(self)


def install() -> None:
    BaseResponse.get_access_key = _get_access_key
    BaseResponse.get_current_account = _get_current_account
