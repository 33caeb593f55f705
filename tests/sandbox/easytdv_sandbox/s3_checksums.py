"""S3 checks the checksum an upload names: a PutObject or UploadPart whose
`x-amz-checksum-<algorithm>` (header, or trailer of an aws-chunked body) is not
the checksum of the bytes received is refused with 400 `BadDigest`, "The SHA256
you specified did not match the calculated checksum." (the algorithm's name as
S3 writes it), and nothing is stored. moto records the value it is given
without computing it ("TODO: AWS computes the provided value and verifies it's
the same")."""

from __future__ import annotations

import base64
import re

from moto.s3 import responses as s3_responses

from .s3_regions import _compute_checksum

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")

_orig_put_object = s3_responses.S3Response.put_object
_orig_upload_part = s3_responses.S3Response.upload_part


def _named(response) -> tuple[str, str] | None:
    """(algorithm, value) the request names, from a header or the trailer."""
    for algorithm in ALGORITHMS:
        value = response.headers.get(f"x-amz-checksum-{algorithm.lower()}")
        if value:
            return algorithm, value.decode() if isinstance(value, bytes) else value
    raw = response.raw_body if isinstance(response.raw_body, bytes) else b""
    found = re.search(rb"x-amz-checksum-(crc32c|crc32|crc64nvme|sha1|sha256):([A-Za-z0-9+/=]+)", raw)
    if found:
        return found.group(1).decode().upper(), found.group(2).decode()
    return None


def bad_digest(response) -> tuple[int, dict, str] | None:
    named = _named(response)
    if named is None:
        return None
    algorithm, value = named
    body = response.body if isinstance(response.body, (bytes, bytearray)) else b""
    computed = _compute_checksum(bytes(body), algorithm)
    if isinstance(computed, bytes):
        computed = computed.decode()
    try:
        same = base64.b64decode(value, validate=True) == base64.b64decode(computed)
    except ValueError:
        same = False
    if same:
        return None
    message = f"The {algorithm} you specified did not match the calculated checksum."
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>BadDigest</Code><Message>{message}</Message>"
        "<RequestId>easytdv-sandbox</RequestId></Error>"
    )
    return 400, {"Content-Type": "application/xml"}, xml


def _put_object(self):
    return bad_digest(self) or _orig_put_object(self)


def _upload_part(self):
    return bad_digest(self) or _orig_upload_part(self)


def install() -> None:
    s3_responses.S3Response.put_object = _put_object
    s3_responses.S3Response.upload_part = _upload_part
