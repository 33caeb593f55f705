//! Copies inside the run's bucket: S3 copies, nothing passes through this
//! computer. One CopyObject copies at most 5 GiB; a bigger object (a saved
//! environment of CUDA packages can be) is copied in parts with
//! UploadPartCopy, a few at a time. Each copy is checked against the source:
//! its size, and its entity tag when copied whole.
//!
//! IAM: `s3:GetObject` on the source and `s3:PutObject` on the copy cover
//! CopyObject, CreateMultipartUpload, UploadPartCopy and
//! CompleteMultipartUpload. A copy cut off leaves an unfinished upload, as an
//! upload cut off does (`project/multipart.rs`): no object, and nothing the
//! user policy lets the app abort.

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::error::{aws_error, PipelineError};
use super::storage::RunBucket;

/// The most one CopyObject copies (S3's limit).
pub const COPY_WHOLE_MAX: u64 = 5 * 1024 * 1024 * 1024;
/// A part of a bigger copy (S3: 5 MiB to 5 GiB each, at most 10,000).
pub const COPY_PART: u64 = 512 * 1024 * 1024;
/// Parts copied at once.
const PARTS_AT_ONCE: usize = 4;

impl RunBucket<'_> {
    /// Copies `from` to `to`, whole or in parts; checks the copy.
    pub async fn copy(&self, from: &str, to: &str) -> Result<(), PipelineError> {
        self.copy_in_parts_over(from, to, COPY_WHOLE_MAX, COPY_PART)
            .await
    }

    /// `copy`, in parts of `part` bytes when the object is over `whole_max`
    /// (the limits are S3's in `copy`; smaller here only to try the parts).
    pub async fn copy_in_parts_over(
        &self,
        from: &str,
        to: &str,
        whole_max: u64,
        part: u64,
    ) -> Result<(), PipelineError> {
        let source = format!("{}/{}", self.name(), copy_source_key(from));
        let before = self.head(from).await?;
        let size = u64::try_from(before.content_length().unwrap_or(0)).unwrap_or(0);
        if size <= whole_max {
            super::poll::retry_transient("copy a file in S3", || async {
                self.ctx()
                    .s3()
                    .copy_object()
                    .bucket(self.name())
                    .key(to)
                    .copy_source(&source)
                    .expected_bucket_owner(self.owner())
                    .expected_source_bucket_owner(self.owner())
                    .send()
                    .await
                    .map_err(|e| aws_error("copy a file in S3", e))?;
                Ok(())
            })
            .await?;
        } else {
            self.copy_parts(&source, to, size, part.max(5 * 1024 * 1024))
                .await?;
        }
        let after = self.head(to).await?;
        let same_tag = size > whole_max || after.e_tag() == before.e_tag();
        if after.content_length() != before.content_length() || !same_tag {
            return Err(PipelineError::State(format!(
                "the copy of s3://{}/{from} at {to} is not the same file ({:?} bytes, {:?}; expected {:?} bytes, {:?})",
                self.name(),
                after.content_length(),
                after.e_tag(),
                before.content_length(),
                before.e_tag()
            )));
        }
        Ok(())
    }

    async fn copy_parts(
        &self,
        source: &str,
        to: &str,
        size: u64,
        part: u64,
    ) -> Result<(), PipelineError> {
        let s3 = self.ctx().s3();
        let upload = s3
            .create_multipart_upload()
            .bucket(self.name())
            .key(to)
            .expected_bucket_owner(self.owner())
            .send()
            .await
            .map_err(|e| aws_error("copy a file in S3", e))?;
        let id = upload.upload_id().unwrap_or_default().to_string();
        let count = size.div_ceil(part);
        let mut parts: Vec<CompletedPart> = stream::iter(0..count)
            .map(|i| {
                let (s3, id) = (s3.clone(), id.clone());
                let first = i * part;
                let last = (first + part).min(size) - 1;
                async move {
                    let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
                    let out =
                        super::poll::retry_transient("copy a part of a file in S3", || async {
                            s3.upload_part_copy()
                                .bucket(self.name())
                                .key(to)
                                .upload_id(&id)
                                .part_number(number)
                                .copy_source(source)
                                .copy_source_range(format!("bytes={first}-{last}"))
                                .expected_bucket_owner(self.owner())
                                .expected_source_bucket_owner(self.owner())
                                .send()
                                .await
                                .map_err(|e| aws_error("copy a part of a file in S3", e))
                        })
                        .await?;
                    let tag = out
                        .copy_part_result()
                        .and_then(|r| r.e_tag())
                        .unwrap_or_default()
                        .to_string();
                    Ok::<_, PipelineError>(
                        CompletedPart::builder()
                            .part_number(number)
                            .e_tag(tag)
                            .build(),
                    )
                }
            })
            .buffer_unordered(PARTS_AT_ONCE)
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number());
        s3.complete_multipart_upload()
            .bucket(self.name())
            .key(to)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .expected_bucket_owner(self.owner())
            .send()
            .await
            .map_err(|e| aws_error("copy a file in S3", e))?;
        Ok(())
    }

    async fn head(&self, key: &str) -> Result<HeadObjectOutput, PipelineError> {
        self.ctx()
            .s3()
            .head_object()
            .bucket(self.name())
            .key(key)
            .expected_bucket_owner(self.owner())
            .send()
            .await
            .map_err(|e| aws_error("read a file's size in S3", e))
    }
}

/// An S3 key as CopyObject's `CopySource` takes it: URL-encoded, `/` kept.
fn copy_source_key(key: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const KEY: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    utf8_percent_encode(key, KEY).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_source_keeps_slashes_and_encodes_the_rest() {
        assert_eq!(
            copy_source_key("easytdv/m/AROA1:i-0ab/r/données x+y.csv"),
            "easytdv/m/AROA1%3Ai-0ab/r/donn%C3%A9es%20x%2By.csv"
        );
    }
}
