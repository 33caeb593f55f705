"""Who makes a request: the access key id names the principal and its account.

moto picks a request's account from the MOTO_ACCOUNT_ID variable, then the
`x-moto-account-id` header, then an access key that moto's IAM issued, else
123456789012; and it only sees access keys of 20 upper-case characters. The
sandbox reads the key from the SigV4 `Credential=` (any characters) and maps:

| access key id            | principal               | account       |
| ------------------------ | ----------------------- | ------------- |
| `sandbox`                | `app` (the easyTDV app) | 123456789012  |
| `lambda-<function-name>` | `lambda:<function-name>`| 123456789012  |
| `instance-<instance-id>` | `instance:<instance-id>`| 123456789012  |
| `other-account`          | `other-account`         | 111111111111  |
| `sagemaker-<job-name>`   | `sagemaker:<job-name>`  | 123456789012  | (a training job's execution role)
| anything else            | `key:<key>` (moto's own rules pick the account) |

Lambda invocations, instance scripts and training jobs get their key from the
sandbox (lambda_exec, instances, sagemaker_exec); any secret key is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moto.core.responses import BaseResponse

DEFAULT_ACCOUNT = "123456789012"
OTHER_ACCOUNT = "111111111111"
APP_KEY, OTHER_KEY = "sandbox", "other-account"
LAMBDA_PREFIX, INSTANCE_PREFIX, SAGEMAKER_PREFIX = "lambda-", "instance-", "sagemaker-"

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/([0-9]{8})/([^/]*)/([^/]*)/aws4_request")


@dataclass(frozen=True)
class Principal:
    name: str  # app, lambda:<fn>, instance:<id>, other-account, key:<key>
    account: str | None  # None: moto's own rules decide
    access_key: str


def lambda_key(function_name: str) -> str:
    return f"{LAMBDA_PREFIX}{function_name}"


def instance_key(instance_id: str) -> str:
    return f"{INSTANCE_PREFIX}{instance_id}"


def sagemaker_key(job_name: str) -> str:
    return f"{SAGEMAKER_PREFIX}{job_name}"


def of_key(access_key: str) -> Principal:
    if access_key == APP_KEY:
        return Principal("app", DEFAULT_ACCOUNT, access_key)
    if access_key == OTHER_KEY:
        return Principal("other-account", OTHER_ACCOUNT, access_key)
    if access_key.startswith(LAMBDA_PREFIX) and len(access_key) > len(LAMBDA_PREFIX):
        return Principal(f"lambda:{access_key[len(LAMBDA_PREFIX) :]}", DEFAULT_ACCOUNT, access_key)
    if access_key.startswith(INSTANCE_PREFIX) and len(access_key) > len(INSTANCE_PREFIX):
        return Principal(f"instance:{access_key[len(INSTANCE_PREFIX) :]}", DEFAULT_ACCOUNT, access_key)
    if access_key.startswith(SAGEMAKER_PREFIX) and len(access_key) > len(SAGEMAKER_PREFIX):
        return Principal(f"sagemaker:{access_key[len(SAGEMAKER_PREFIX) :]}", DEFAULT_ACCOUNT, access_key)
    return Principal(f"key:{access_key}", None, access_key)


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
