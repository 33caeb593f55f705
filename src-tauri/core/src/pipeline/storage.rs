//! The S3 side: make sure the bucket is usable, upload the run's files,
//! list outputs, remove inputs.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

use super::error::{aws_error, error_code, PipelineError};
use crate::aws::AwsContext;

/// `https://<bucket>.s3.<region>.amazonaws.com/<key>`, the URL form
/// CloudFormation reads templates from.
pub fn template_url(bucket: &str, region: &str, key: &str) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com/{key}")
}

/// The region S3 reports for a bucket (`None`/empty means us-east-1).
fn location_region(constraint: Option<&BucketLocationConstraint>) -> String {
    match constraint.map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(other) => other.to_string(),
    }
}

/// Uses an existing bucket of the same region, or creates a private,
/// encrypted one. Returns true when it created the bucket.
pub async fn ensure_bucket(ctx: &AwsContext, bucket: &str) -> Result<bool, PipelineError> {
    let s3 = ctx.s3();
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => {
            let loc = s3
                .get_bucket_location()
                .bucket(bucket)
                .send()
                .await
                .map_err(|e| aws_error("read the bucket's region", e))?;
            let actual = location_region(loc.location_constraint());
            if actual != ctx.region() {
                return Err(PipelineError::BucketOtherRegion {
                    bucket: bucket.into(),
                    expected: ctx.region().into(),
                    actual,
                });
            }
            Ok(false)
        }
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            match status {
                Some(404) => {
                    create_bucket(ctx, bucket).await?;
                    Ok(true)
                }
                Some(403) => Err(PipelineError::BucketTaken(bucket.into())),
                Some(301) => Err(PipelineError::BucketOtherRegion {
                    bucket: bucket.into(),
                    expected: ctx.region().into(),
                    actual: e
                        .raw_response()
                        .and_then(|r| r.headers().get("x-amz-bucket-region"))
                        .unwrap_or("another region")
                        .to_string(),
                }),
                _ => Err(aws_error("check the bucket", e)),
            }
        }
    }
}

async fn create_bucket(ctx: &AwsContext, bucket: &str) -> Result<(), PipelineError> {
    let s3 = ctx.s3();
    let mut req = s3.create_bucket().bucket(bucket);
    if ctx.region() != "us-east-1" {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(ctx.region()))
                .build(),
        );
    }
    req.send().await.map_err(|e| match error_code(&e) {
        Some("BucketAlreadyExists") => PipelineError::BucketTaken(bucket.into()),
        _ => aws_error("create the bucket", e),
    })?;
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("block public access on the bucket", e))?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .map_err(|e| PipelineError::State(e.to_string()))?,
        )
        .build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(rule)
                .build()
                .map_err(|e| PipelineError::State(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| aws_error("turn on the bucket's encryption", e))?;
    Ok(())
}

pub async fn put(
    ctx: &AwsContext,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<(), PipelineError> {
    ctx.s3()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| aws_error("upload a file to S3", e))?;
    Ok(())
}

/// Every key under `prefix`.
pub async fn list_keys(
    ctx: &AwsContext,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<String>, PipelineError> {
    let mut keys = Vec::new();
    let mut pages = ctx
        .s3()
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            ),
            Err(e) if error_code(&e) == Some("NoSuchBucket") => return Ok(Vec::new()),
            Err(e) => return Err(aws_error("list the run's files", e)),
        }
    }
    Ok(keys)
}

/// Deletes `keys` (a missing key is not an error).
pub async fn delete_keys(
    ctx: &AwsContext,
    bucket: &str,
    keys: &[String],
) -> Result<(), PipelineError> {
    for key in keys {
        ctx.s3()
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| aws_error("delete the run's input files", e))?;
    }
    Ok(())
}

/// The buckets of the account that live in the context's region.
pub async fn list_buckets_in_region(ctx: &AwsContext) -> Result<Vec<String>, PipelineError> {
    let s3 = ctx.s3();
    let out = s3
        .list_buckets()
        .send()
        .await
        .map_err(|e| aws_error("list your S3 buckets", e))?;
    let mut names = Vec::new();
    for b in out.buckets() {
        let Some(name) = b.name() else { continue };
        let region = match b.bucket_region() {
            Some(r) => r.to_string(),
            None => match s3.get_bucket_location().bucket(name).send().await {
                Ok(loc) => location_region(loc.location_constraint()),
                // A bucket we may not read is not one we can use.
                Err(_) => continue,
            },
        };
        if region == ctx.region() {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// A valid, likely-unique bucket name for this account and region.
pub async fn suggest_bucket_name(ctx: &AwsContext) -> Result<String, PipelineError> {
    let who = ctx
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_error("read your account id", e))?;
    let account = who.account().unwrap_or("000000000000");
    Ok(format!("easytdv-{account}-{}", ctx.region()))
}

/// The last `max_bytes` of an object as text, `None` if it does not exist.
pub async fn tail_text(
    ctx: &AwsContext,
    bucket: &str,
    key: &str,
    max_bytes: usize,
) -> Option<String> {
    let out = ctx
        .s3()
        .get_object()
        .bucket(bucket)
        .key(key)
        .range(format!("bytes=-{max_bytes}"))
        .send()
        .await
        .ok()?;
    let bytes = out.body.collect().await.ok()?.into_bytes();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_locations() {
        assert_eq!(
            template_url("b1", "eu-west-3", "easytdv/runs/x/stack.yaml"),
            "https://b1.s3.eu-west-3.amazonaws.com/easytdv/runs/x/stack.yaml"
        );
        assert_eq!(location_region(None), "us-east-1");
        assert_eq!(
            location_region(Some(&BucketLocationConstraint::Eu)),
            "eu-west-1"
        );
        assert_eq!(
            location_region(Some(&BucketLocationConstraint::EuWest3)),
            "eu-west-3"
        );
    }
}
