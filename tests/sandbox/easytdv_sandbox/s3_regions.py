"""S3 and regions, answered as AWS answers them (moto ignores the region of an
S3 request and never says where a bucket is):

- A request on a bucket signed for another region than the bucket's (an SDK
  whose region is not the bucket's sends it to that region's endpoint) ->
  `301 Moved Permanently`, code `PermanentRedirect`, header
  `x-amz-bucket-region`, body naming the bucket's endpoint (HEAD: no body).
  `CreateBucket`, `GetBucketLocation` and `ListBuckets` are answered from any
  region, as on AWS. The Rust SDK does not follow this redirect; boto3 and
  the AWS CLI do (they read `x-amz-bucket-region` and send again).
- `ListBuckets` gives each bucket's `BucketRegion` only when the request has a
  parameter (`prefix`, `bucket-region`, `max-buckets`, `continuation-token`):
  "If the request contains at least one valid parameter, it is included in the
  response" (API reference, `Bucket.BucketRegion`). With a parameter the list
  is paged (`max-buckets`, default 10,000) with a `ContinuationToken`, names
  in order.
- Checksums: without the optional `awscrt` / `crc32c` packages moto stores a
  CRC-32 under the name CRC64NVME or CRC32C; these are computed right here
  instead (pure Python, about 13 MB/s), so the values S3 reports are the ones
  AWS would report. A multipart upload made without a checksum algorithm gets
  S3's default full-object CRC64NVME and reports it; HeadObject with
  `ChecksumMode=ENABLED` reports composite checksums as `<value>-<parts>` with
  `x-amz-checksum-type`, like GetObject. (A single PutObject without a
  checksum still gets none here: AWS adds a CRC64NVME to those too.)
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from moto.core.compat import HAS_CRT
from moto.core.responses import ActionResult
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
from moto.s3 import utils as s3_utils

from . import s3_ops

# Operations S3 answers whatever the region of the endpoint they are sent to.
ANY_REGION = {"CreateBucket", "GetBucketLocation", "ListBuckets"}
REDIRECT_MESSAGE = (
    "The bucket you are attempting to access must be addressed using the specified endpoint. "
    "Please send all future requests to this endpoint."
)
DEFAULT_MAX_BUCKETS = 10_000


@dataclass
class Fault:
    """An answer the sandbox gives instead of moto."""

    status: int
    reason: str
    body: bytes
    error: str  # the error code, for the call recording
    headers: list[tuple[str, str]] = field(default_factory=list)


def _bucket_region(bucket: str) -> str | None:
    found = s3_models.s3_backends.bucket_accounts.get(bucket)
    if not found:
        return None
    partition, account = found
    try:
        bucket_obj = s3_models.s3_backends[account][partition].buckets.get(bucket)
    except KeyError:
        return None
    return getattr(bucket_obj, "region_name", None) if bucket_obj is not None else None


def redirect(call: s3_ops.S3Call, method: str, region: str) -> Fault | None:
    """301 PermanentRedirect when the request's region is not the bucket's."""
    if not call.bucket or call.operation in ANY_REGION:
        return None
    where = _bucket_region(call.bucket)
    if where is None or where == region:
        return None
    endpoint = f"{call.bucket}.s3.{where}.amazonaws.com"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>PermanentRedirect</Code><Message>{REDIRECT_MESSAGE}</Message>"
        f"<Endpoint>{endpoint}</Endpoint><Bucket>{call.bucket}</Bucket>"
        "<RequestId>sandbox</RequestId><HostId>sandbox</HostId></Error>"
    ).encode()
    if method.upper() == "HEAD":
        body = b""
    return Fault(
        301,
        "Moved Permanently",
        body,
        "PermanentRedirect",
        [("x-amz-bucket-region", where), ("Content-Type", "application/xml")],
    )


# --- ListBuckets with BucketRegion ------------------------------------------

_LIST_PARAMS = ("prefix", "bucket-region", "max-buckets", "continuation-token")


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _after(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except ValueError:
        return ""


def _all_buckets(self):
    self.data["Action"] = "ListAllMyBuckets"
    self._authenticate_and_authorize_s3_action()
    params = {p: self._get_param(p) for p in _LIST_PARAMS}
    with_params = any(v not in (None, "") for v in params.values())
    found = self.backend.list_buckets(prefix=params["prefix"], bucket_region=params["bucket-region"], max_buckets=None)
    found = sorted(found, key=lambda b: b.name)
    result: dict = {"Owner": {"ID": "bcaf1ffd86f41161ca5fb16fd081034f", "DisplayName": "webfile"}}
    if with_params:
        start = _after(params["continuation-token"]) if params["continuation-token"] else ""
        found = [b for b in found if b.name > start]
        limit = int(params["max-buckets"] or DEFAULT_MAX_BUCKETS)
        page, rest = found[:limit], found[limit:]
        result["Buckets"] = [
            {"Name": b.name, "CreationDate": b.creation_date_ISO8601, "BucketRegion": b.region_name} for b in page
        ]
        if rest and page:
            result["ContinuationToken"] = _token(page[-1].name)
        if params["prefix"]:
            result["Prefix"] = params["prefix"]
    else:
        result["Buckets"] = [{"Name": b.name, "CreationDate": b.creation_date_ISO8601} for b in found]
    self.data["Action"] = "ListBuckets"
    return self.serialized(ActionResult(result))


# --- checksums moto gets wrong without optional packages ---------------------


def _reflected_table(poly: int) -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC64NVME = _reflected_table(0x9A6C9329AC4BC9B5)  # CRC-64/NVME, reflected
_CRC32C = _reflected_table(0x82F63B78)  # CRC-32C (Castagnoli), reflected


def _crc(table: list[int], width: int, data: bytes) -> int:
    mask = (1 << width) - 1
    crc = mask
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ mask


def crc64nvme(data: bytes) -> int:
    return _crc(_CRC64NVME, 64, data)


def crc32c(data: bytes) -> int:
    return _crc(_CRC32C, 32, data)


_orig_compute_checksum = s3_utils.compute_checksum


def _compute_checksum(body: bytes, algorithm: str, encode_base64: bool = True) -> bytes:
    if algorithm == "CRC64NVME" and not HAS_CRT:
        digest = crc64nvme(bytes(body)).to_bytes(8, "big")
    elif algorithm == "CRC32C" and not _has_crc32c():
        digest = crc32c(bytes(body)).to_bytes(4, "big")
    else:
        return _orig_compute_checksum(body, algorithm, encode_base64)
    return base64.b64encode(digest) if encode_base64 else digest


def _has_crc32c() -> bool:
    try:
        import crc32c as _  # noqa: F401
    except ImportError:
        return False
    return True


# --- checksums S3 reports that moto leaves out --------------------------------

_orig_complete = s3_models.S3Backend.complete_multipart_upload
_orig_head_object = s3_responses.S3Response.head_object


def _complete_multipart_upload(self, bucket_name, multipart_id, body):
    """A multipart upload created without a checksum algorithm gets S3's default,
    a full-object CRC64NVME, and reports it (moto computes it, then drops its name)."""
    key = _orig_complete(self, bucket_name, multipart_id, body)
    if key is not None and key.checksum_value and not key.checksum_algorithm:
        key.checksum_algorithm = "CRC64NVME"
    return key


def _head_object(self, bucket_name, query, key_name, headers):
    """HeadObject with `x-amz-checksum-mode: ENABLED` reports a composite checksum as
    `<value>-<parts>` and `x-amz-checksum-type`, as GetObject does (moto leaves both out)."""
    status, response_headers, body = _orig_head_object(self, bucket_name, query, key_name, headers)
    if status != 200 or headers.get("x-amz-checksum-mode") != "ENABLED" or query.get("partNumber"):
        return status, response_headers, body
    version_id = (query.get("versionId") or [None])[0]
    key = self.backend.get_object(bucket_name, key_name, version_id)
    if key is not None and key.checksum_algorithm and key.checksum_value:
        value = key.checksum_value
        if key.checksum_type == "COMPOSITE":
            value = f"{value}-{key.checksum_parts}"
        response_headers[f"x-amz-checksum-{key.checksum_algorithm.lower()}"] = value
        response_headers["x-amz-checksum-type"] = key.checksum_type or "FULL_OBJECT"
    return status, response_headers, body


def install() -> None:
    s3_responses.S3Response.all_buckets = _all_buckets
    s3_responses.S3Response.head_object = _head_object
    s3_models.S3Backend.complete_multipart_upload = _complete_multipart_upload
    for module in (s3_utils, s3_models, s3_responses):
        if hasattr(module, "compute_checksum"):
            module.compute_checksum = _compute_checksum
