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

Account-level Block Public Access (S3 Control) is not modelled.
"""

from __future__ import annotations

from moto.s3 import models as s3_models
from moto.s3.exceptions import S3AccessDeniedError
from moto.s3.utils import bucket_policy_is_public

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


def install() -> None:
    s3_models.S3Backend.create_bucket = _create_bucket
    s3_models.S3Backend.put_bucket_policy = _put_bucket_policy
