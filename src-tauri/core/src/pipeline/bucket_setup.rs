//! The run's bucket made ready before anything is uploaded: an existing
//! bucket must be the caller's, in the run's region, and unable to become
//! public; a new one is checked private (S3 turns Block Public Access on
//! for every new bucket since April 2023, and encrypts every new object
//! with SSE-S3 since January 2023) and made reachable over TLS only (a
//! bucket policy denying `aws:SecureTransport = false`, AWS's documented
//! pattern).
//!
//! IAM actions: `s3:CreateBucket`, `s3:PutBucketPolicy` on the buckets
//! easyTDV creates (`easytdv-*`); `s3:ListBucket` (HeadBucket),
//! `s3:GetBucketLocation`, `s3:GetBucketPublicAccessBlock` and
//! `s3:GetBucketPolicyStatus`. The user policy does not allow changing a
//! bucket's Block Public Access or encryption: whoever holds it cannot
//! turn a bucket's protection off.

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use super::error::{aws_error, error_code, PipelineError};
use super::storage::{location_region, RunBucket};

/// The ARN partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A bucket policy that refuses every request not made over TLS (S3 user
/// guide, "Enforce encryption in transit": `aws:SecureTransport`).
pub fn tls_only_policy(bucket: &str, region: &str) -> String {
    let arn = format!("arn:{}:s3:::{bucket}", partition(region));
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "EasytdvDenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
    .to_string()
}

impl RunBucket<'_> {
    /// Uses an existing bucket of ours in the same region that cannot
    /// become public, or creates a private, encrypted, TLS-only one;
    /// refuses any other bucket before anything is uploaded. Returns true
    /// when it created the bucket.
    pub async fn ensure(&self) -> Result<bool, PipelineError> {
        let s3 = self.ctx().s3();
        let bucket = self.name();
        let head = s3
            .head_bucket()
            .bucket(bucket)
            .expected_bucket_owner(self.owner())
            .send()
            .await;
        match head {
            Ok(_) => self.check_existing().await.map(|()| false),
            Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
                Some(404) => {
                    if self.create().await? {
                        Ok(true)
                    } else {
                        // Made meanwhile by another of our processes (the
                        // wizard's preparation, another window).
                        self.check_existing().await.map(|()| false)
                    }
                }
                Some(403) => {
                    // Ours but not readable, or someone else's (which we
                    // may or may not read): either way, never used.
                    Err(PipelineError::BucketNotOurs(bucket.into()))
                }
                Some(301) => Err(PipelineError::BucketOtherRegion {
                    bucket: bucket.into(),
                    expected: self.ctx().region().into(),
                    actual: e
                        .raw_response()
                        .and_then(|r| r.headers().get("x-amz-bucket-region"))
                        .unwrap_or("another region")
                        .to_string(),
                }),
                _ => Err(aws_error("check the bucket", e)),
            },
        }
    }

    /// An existing bucket of ours: in the run's region, and private.
    async fn check_existing(&self) -> Result<(), PipelineError> {
        let bucket = self.name();
        let loc = self
            .ctx()
            .s3()
            .get_bucket_location()
            .bucket(bucket)
            .expected_bucket_owner(self.owner())
            .send()
            .await
            .map_err(|e| aws_error("read the bucket's region", e))?;
        let actual = location_region(loc.location_constraint());
        if actual != self.ctx().region() {
            return Err(PipelineError::BucketOtherRegion {
                bucket: bucket.into(),
                expected: self.ctx().region().into(),
                actual,
            });
        }
        self.check_private().await
    }

    /// An existing bucket is used only when its own Block Public Access
    /// has all four settings on: then no policy or ACL can make it public.
    /// Otherwise it is refused, saying whether its policy makes it public
    /// now. (The account-wide setting, in S3 Control, is not asked: the
    /// bucket's own is what the user can see and change on the bucket.)
    async fn check_private(&self) -> Result<(), PipelineError> {
        let s3 = self.ctx().s3();
        let bucket = self.name();
        let blocked = match s3
            .get_public_access_block()
            .bucket(bucket)
            .expected_bucket_owner(self.owner())
            .send()
            .await
        {
            Ok(out) => out.public_access_block_configuration().is_some_and(|c| {
                [
                    c.block_public_acls(),
                    c.ignore_public_acls(),
                    c.block_public_policy(),
                    c.restrict_public_buckets(),
                ]
                .iter()
                .all(|v| *v == Some(true))
            }),
            Err(e) if error_code(&e) == Some("NoSuchPublicAccessBlockConfiguration") => false,
            Err(e) => return Err(aws_error("check that the bucket blocks public access", e)),
        };
        if blocked {
            return Ok(());
        }
        let public_now = match s3
            .get_bucket_policy_status()
            .bucket(bucket)
            .expected_bucket_owner(self.owner())
            .send()
            .await
        {
            Ok(out) => out.policy_status().and_then(|p| p.is_public()) == Some(true),
            // No policy, or not allowed to read its status: "may become public" still holds.
            Err(e) => {
                tracing::debug!(bucket, error = %e, "bucket policy status not read");
                false
            }
        };
        Err(PipelineError::BucketPublic {
            bucket: bucket.into(),
            public_now,
        })
    }

    /// Creates the bucket; false when it is already ours (S3's
    /// `BucketAlreadyOwnedByYou`: made meanwhile by another of our
    /// processes, whose own creation sets it up).
    async fn create(&self) -> Result<bool, PipelineError> {
        let s3 = self.ctx().s3();
        let bucket = self.name();
        let region = self.ctx().region();
        let mut req = s3.create_bucket().bucket(bucket);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        match req.send().await {
            Ok(_) => {}
            Err(e) if error_code(&e) == Some("BucketAlreadyOwnedByYou") => return Ok(false),
            Err(e) if error_code(&e) == Some("BucketAlreadyExists") => {
                return Err(PipelineError::BucketTaken(bucket.into()))
            }
            Err(e) => return Err(aws_error("create the bucket", e)),
        }
        // S3's defaults for a new bucket, checked rather than set: the user
        // policy cannot change them (nor, so, turn them off).
        self.check_private().await?;
        s3.put_bucket_policy()
            .bucket(bucket)
            .expected_bucket_owner(self.owner())
            .policy(tls_only_policy(bucket, region))
            .send()
            .await
            .map_err(|e| {
                aws_error(
                    "give the bucket its policy refusing connections without TLS (s3:PutBucketPolicy)",
                    e,
                )
            })?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_policy_denies_every_request_without_tls_on_the_bucket_and_its_objects() {
        let doc: serde_json::Value =
            serde_json::from_str(&tls_only_policy("easytdv-1-eu-west-3-ab", "eu-west-3")).unwrap();
        let st = &doc["Statement"][0];
        assert_eq!(st["Effect"], "Deny");
        assert_eq!(st["Principal"], "*");
        assert_eq!(st["Action"], "s3:*");
        assert_eq!(
            st["Resource"],
            serde_json::json!([
                "arn:aws:s3:::easytdv-1-eu-west-3-ab",
                "arn:aws:s3:::easytdv-1-eu-west-3-ab/*"
            ])
        );
        assert_eq!(
            st["Condition"],
            serde_json::json!({"Bool": {"aws:SecureTransport": "false"}})
        );
        assert!(tls_only_policy("b", "cn-north-1").contains("arn:aws-cn:s3:::b"));
    }
}
