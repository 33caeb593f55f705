//! The S3 side: make sure the run's bucket is ours and usable, upload the
//! run's files, list outputs, read logs, remove inputs.
//!
//! Bucket names are global: a predictable name can be created first by
//! someone else, who could then read or swap what we upload. So every call
//! on the run's bucket goes through [`RunBucket`], which passes
//! `ExpectedBucketOwner` (S3 answers 403 when another account owns it).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::BucketLocationConstraint;

use super::error::{aws_error, error_code, PipelineError};
use crate::aws::AwsContext;

/// The region S3 reports for a bucket (`None`/empty means us-east-1).
pub(super) fn location_region(constraint: Option<&BucketLocationConstraint>) -> String {
    match constraint.map(|c| c.as_str()) {
        None | Some("") => "us-east-1".to_string(),
        Some("EU") => "eu-west-1".to_string(),
        Some(other) => other.to_string(),
    }
}

/// The account id of the context's caller (STS).
pub async fn account_id(ctx: &AwsContext) -> Result<String, PipelineError> {
    let who = ctx
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| aws_error("read your account id", e))?;
    who.account()
        .map(str::to_string)
        .ok_or_else(|| PipelineError::State("STS gave no account id".into()))
}

/// One object's size and entity tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// When it was written (UTC, RFC 3339), if S3 said.
    pub last_modified: Option<String>,
}

/// The run's bucket, owned by `owner`; every call says so to S3.
#[derive(Clone)]
pub struct RunBucket<'a> {
    ctx: &'a AwsContext,
    name: &'a str,
    owner: String,
}

impl<'a> RunBucket<'a> {
    pub fn new(ctx: &'a AwsContext, name: &'a str, owner: impl Into<String>) -> Self {
        Self {
            ctx,
            name,
            owner: owner.into(),
        }
    }

    /// The bucket of a recorded run (its owner was recorded at preparation;
    /// older runs ask STS).
    pub async fn for_run(
        ctx: &'a AwsContext,
        res: &'a super::model::RunResources,
    ) -> Result<RunBucket<'a>, PipelineError> {
        let owner = match &res.account_id {
            Some(a) => a.clone(),
            None => account_id(ctx).await?,
        };
        Ok(RunBucket::new(ctx, &res.bucket, owner))
    }

    pub fn name(&self) -> &str {
        self.name
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub(crate) fn ctx(&self) -> &AwsContext {
        self.ctx
    }

    /// Uploads `body` (again after a lost connection: the same bytes).
    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), PipelineError> {
        super::poll::retry_transient("upload a file to S3", || {
            let body = body.clone();
            async move {
                self.ctx
                    .s3()
                    .put_object()
                    .bucket(self.name)
                    .key(key)
                    .expected_bucket_owner(&self.owner)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|e| aws_error("upload a file to S3", e))?;
                Ok(())
            }
        })
        .await
    }

    /// Every object under `prefix`, with its size and entity tag.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, PipelineError> {
        let mut found = Vec::new();
        let mut pages = self
            .ctx
            .s3()
            .list_objects_v2()
            .bucket(self.name)
            .prefix(prefix)
            .expected_bucket_owner(&self.owner)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => found.extend(page.contents().iter().filter_map(|o| {
                    Some(ObjectInfo {
                        key: o.key()?.to_string(),
                        size: u64::try_from(o.size().unwrap_or(0)).unwrap_or(0),
                        etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                        last_modified: o.last_modified().and_then(|t| {
                            t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
                        }),
                    })
                })),
                Err(e) if error_code(&e) == Some("NoSuchBucket") => return Ok(Vec::new()),
                Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(301) => {
                    // S3's PermanentRedirect: the bucket is in another region.
                    return Err(PipelineError::BucketOtherRegion {
                        bucket: self.name.into(),
                        expected: self.ctx.region().into(),
                        actual: e
                            .raw_response()
                            .and_then(|r| r.headers().get("x-amz-bucket-region"))
                            .unwrap_or("another region")
                            .to_string(),
                    });
                }
                Err(e) => return Err(aws_error("list the run's files", e)),
            }
        }
        Ok(found)
    }

    /// Every key under `prefix`.
    pub async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, PipelineError> {
        Ok(self
            .list(prefix)
            .await?
            .into_iter()
            .map(|o| o.key)
            .collect())
    }

    /// Deletes `keys` (a missing key is not an error).
    pub async fn delete_keys(&self, keys: &[String]) -> Result<(), PipelineError> {
        for key in keys {
            self.ctx
                .s3()
                .delete_object()
                .bucket(self.name)
                .key(key)
                .expected_bucket_owner(&self.owner)
                .send()
                .await
                .map_err(|e| aws_error("delete a file in the bucket", e))?;
        }
        Ok(())
    }

    /// The object's bytes from `from` on (`None`: the object does not exist,
    /// or has nothing past `from`).
    pub async fn read_from(&self, key: &str, from: u64) -> Result<Option<Vec<u8>>, PipelineError> {
        let out = self
            .get_object(key)
            .range(format!("bytes={from}-"))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if matches!(error_code(&e), Some("NoSuchKey" | "InvalidRange")) => {
                return Ok(None)
            }
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(416) => {
                return Ok(None)
            }
            Err(e) => return Err(aws_error("read a file in the bucket", e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|_| PipelineError::Network {
                op: "read a file in the bucket",
            })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    /// A GetObject of one of the bucket's keys, saying who owns the bucket.
    pub(super) fn get_object(
        &self,
        key: &str,
    ) -> aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder {
        self.ctx
            .s3()
            .get_object()
            .bucket(self.name)
            .key(key)
            .expected_bucket_owner(&self.owner)
    }

    /// A HeadObject of one of the bucket's keys, saying who owns the bucket.
    pub(super) fn head_object(
        &self,
        key: &str,
    ) -> aws_sdk_s3::operation::head_object::builders::HeadObjectFluentBuilder {
        self.ctx
            .s3()
            .head_object()
            .bucket(self.name)
            .key(key)
            .expected_bucket_owner(&self.owner)
    }

    /// The whole object.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PipelineError> {
        self.read_from(key, 0).await
    }

    /// The last `max_bytes` of an object as text, `None` if it does not exist.
    pub async fn tail_text(&self, key: &str, max_bytes: usize) -> Option<String> {
        let out = self
            .get_object(key)
            .range(format!("bytes=-{max_bytes}"))
            .send()
            .await
            .ok()?;
        let bytes = out.body.collect().await.ok()?.into_bytes();
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The buckets of the account that live in the context's region.
pub async fn list_buckets_in_region(ctx: &AwsContext) -> Result<Vec<String>, PipelineError> {
    // `BucketRegion` filters by region and makes S3 name each bucket's
    // region (it does only when the request has a parameter); the request
    // must go to that region's endpoint, which the context's is.
    let mut pages = ctx
        .s3()
        .list_buckets()
        .bucket_region(ctx.region())
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("list your S3 buckets", e))?;
        names.extend(
            page.buckets()
                .iter()
                .filter(|b| b.bucket_region().is_none_or(|r| r == ctx.region()))
                .filter_map(|b| b.name().map(str::to_string)),
        );
    }
    names.sort();
    Ok(names)
}

/// The prefix of the names easyTDV suggests for this account and region.
pub fn bucket_prefix(account: &str, region: &str) -> String {
    format!("easytdv-{account}-{region}-")
}

/// A bucket name for this account and region: the easyTDV bucket it
/// already has there, else a new name with a random suffix (a predictable
/// name could be taken first by someone else).
pub async fn suggest_bucket_name(ctx: &AwsContext) -> Result<String, PipelineError> {
    let account = account_id(ctx).await?;
    let prefix = bucket_prefix(&account, ctx.region());
    if let Some(existing) = list_buckets_in_region(ctx)
        .await?
        .into_iter()
        .find(|b| b.starts_with(&prefix))
    {
        return Ok(existing);
    }
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    Ok(format!("{prefix}{}", &suffix[..8]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_and_names() {
        assert_eq!(location_region(None), "us-east-1");
        assert_eq!(
            location_region(Some(&BucketLocationConstraint::Eu)),
            "eu-west-1"
        );
        assert_eq!(
            location_region(Some(&BucketLocationConstraint::EuWest3)),
            "eu-west-3"
        );
        let name = format!(
            "{}{}",
            bucket_prefix("123456789012", "ap-southeast-2"),
            "a1b2c3d4"
        );
        assert!(super::super::inputs::check_bucket(&name).is_ok(), "{name}");
    }
}
