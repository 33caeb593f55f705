"""S3's defaults for new buckets, as AWS has applied them since April 2023
("Amazon S3 automatically enables S3 Block Public Access and disables access
control lists for all new buckets"); moto creates buckets with no Block
Public Access configuration at all.

- A new bucket has a Block Public Access configuration with all four
  settings on (`GetPublicAccessBlock` answers it; moto answered
  `NoSuchPublicAccessBlockConfiguration`).
- While the bucket's `BlockPublicPolicy` is on, `PutBucketPolicy` with a
  public policy (moto's own judgement: an Allow to `*` without a Condition)
  is refused with 403 `AccessDenied`, "... because public policies are
  blocked by the BlockPublicPolicy block public access setting."

Bucket policies and TLS: every request to the sandbox is plain HTTP on
loopback standing in for AWS's HTTPS endpoints, so a statement that applies
only without TLS (`Bool`/`BoolIfExists` `aws:SecureTransport` false, the
pattern easyTDV's buckets carry) never applies; other Conditions are taken
as holding (moto answered 403 to every object request of a bucket whose
policy had any Condition).

Account-level Block Public Access (S3 Control) is not modelled.
"""

from __future__ import annotations

import json

from moto.s3 import models as s3_models
from moto.s3.exceptions import S3AccessDeniedError
from moto.s3.utils import bucket_policy_is_public

from .iam_match import as_list

_orig_create_bucket = s3_models.S3Backend.create_bucket
_orig_put_bucket_policy = s3_models.S3Backend.put_bucket_policy


class PublicPolicyBlocked(S3AccessDeniedError):
    def __init__(self, account: str, bucket: str) -> None:
        super().__init__()
        self.message = (
            f"User: arn:aws:iam::{account}:user/moto is not authorized to perform: s3:PutBucketPolicy on resource: "
            f'"arn:aws:s3:::{bucket}" because public policies are blocked by the BlockPublicPolicy block public '
            "access setting."
        )


def _create_bucket(self, bucket_name, region_name, *args, **kwargs):
    bucket = _orig_create_bucket(self, bucket_name, region_name, *args, **kwargs)
    if getattr(bucket, "public_access_block", None) is None:
        bucket.public_access_block = s3_models.PublicAccessBlock(True, True, True, True)
    return bucket


def _put_bucket_policy(self, bucket_name, policy):
    block = getattr(self.get_bucket(bucket_name), "public_access_block", None)
    if block is not None and block.block_public_policy and bucket_policy_is_public(policy):
        raise PublicPolicyBlocked(self.account_id, bucket_name)
    return _orig_put_bucket_policy(self, bucket_name, policy)


def holds_over_tls(statement: dict) -> bool:
    """False for a statement that applies only to requests made without TLS."""
    for op, block in (statement.get("Condition") or {}).items():
        if not op.lower().startswith("bool") or not isinstance(block, dict):
            continue
        for key, value in block.items():
            if key.lower() == "aws:securetransport" and "true" not in [str(v).lower() for v in as_list(value)]:
                return False
    return True


def _get_permission(self, action: str, resource: str):
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if self.policy is None:
        return PermissionResult.NEUTRAL
    try:
        doc = json.loads(self.policy)
    except ValueError:
        return PermissionResult.NEUTRAL
    statements = [
        {k: v for k, v in st.items() if k != "Condition"} for st in as_list(doc.get("Statement")) if holds_over_tls(st)
    ]
    if not statements:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**doc, "Statement": statements})).is_action_permitted(action, resource)


def install() -> None:
    s3_models.FakeBucket.get_permission = _get_permission
    s3_models.S3Backend.create_bucket = _create_bucket
    s3_models.S3Backend.put_bucket_policy = _put_bucket_policy
