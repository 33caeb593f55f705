//! Sending a project: each file's content goes once to
//! `easytdv/blobs/<sha256>` in the run's bucket (what is already there is
//! not sent again), then the run's manifest to `<run>/project.json`.
//!
//! Every upload names the SHA-256 it must have (`x-amz-checksum-sha256`),
//! so S3 refuses bytes that are not the ones hashed (`BadDigest`: a file
//! changed in between) and a blob's name is always its content. Files over
//! [`MULTIPART_FROM`] go in parts, several at a time; the parts sent are
//! remembered on disk so an interrupted upload resumes (`multipart.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::error::ProjectError;
use super::manifest::Manifest;
use super::multipart;
use super::select::Selection;
use super::words::{bytes, files};
use crate::pipeline::storage::RunBucket;
use crate::pipeline::{aws_error, PipelineError};

/// Where blobs live in a bucket.
pub const BLOB_PREFIX: &str = "easytdv/blobs";
/// Files from this size on go in parts.
pub const MULTIPART_FROM: u64 = 64 * 1024 * 1024;
/// Small files sent at once.
const FILES_AT_ONCE: usize = 8;

pub fn blob_key(sha256: &str) -> String {
    format!("{BLOB_PREFIX}/{sha256}")
}

/// What a send did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendReport {
    pub files: usize,
    /// Files whose content was not in the bucket yet.
    pub changed: usize,
    /// Blobs uploaded (files with the same content share one).
    pub blobs_sent: usize,
    pub bytes_sent: u64,
    pub total_bytes: u64,
    pub manifest_key: String,
    pub manifest_sha256: String,
}

impl SendReport {
    /// "3 of 214 files changed, 12 KB sent".
    pub fn line(&self) -> String {
        if self.changed == 0 {
            format!("none of the {} changed: nothing sent", files(self.files))
        } else if self.changed == self.files {
            format!("{} sent ({})", files(self.files), bytes(self.bytes_sent))
        } else {
            format!(
                "{} of {} changed, {} sent",
                self.changed,
                files(self.files),
                bytes(self.bytes_sent)
            )
        }
    }
}

/// Bytes sent so far and bytes to send, as the upload goes.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Send + Sync);

/// The blobs in the bucket and their sizes.
async fn stored(bucket: &RunBucket<'_>) -> Result<HashMap<String, u64>, PipelineError> {
    Ok(bucket
        .list(&format!("{BLOB_PREFIX}/"))
        .await?
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect())
}

pub(super) fn checksum_b64(sha256_hex: &str) -> String {
    let raw: Vec<u8> = (0..sha256_hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(&sha256_hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    aws_smithy_types::base64::encode(raw)
}

/// S3's answer to bytes that are not the SHA-256 named.
pub(super) fn is_bad_digest<E, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    crate::pipeline::error_code_of(err) == Some("BadDigest")
}

/// One small blob, in a single request.
async fn put_blob(
    bucket: &RunBucket<'_>,
    path: &std::path::Path,
    rel: &str,
    sha256: &str,
    size: u64,
) -> Result<(), PipelineError> {
    let key = blob_key(sha256);
    crate::pipeline::retry_transient("upload a project file", || async {
        let body = ByteStream::read_from()
            .path(path)
            .build()
            .await
            .map_err(|e| ProjectError::Unreadable {
                path: path.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
        let sent = bucket
            .ctx()
            .s3()
            .put_object()
            .bucket(bucket.name())
            .key(&key)
            .expected_bucket_owner(bucket.owner())
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .checksum_sha256(checksum_b64(sha256))
            .body(body)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if is_bad_digest(&e) => {
                Err(ProjectError::ChangedWhileSending(rel.to_string()).into())
            }
            Err(e) => Err(aws_error("upload a project file", e)),
        }
    })
    .await
}

/// Sends what the bucket lacks of `manifest` (whose files are `selection`'s),
/// and the blobs named in `resend` whatever the bucket holds, then the
/// manifest itself to `manifest_key`.
pub async fn send(
    bucket: &RunBucket<'_>,
    selection: &Selection,
    manifest: &Manifest,
    manifest_key: &str,
    resend: &std::collections::HashSet<String>,
    resume_dir: Option<&std::path::Path>,
    progress: Progress<'_>,
) -> Result<SendReport, PipelineError> {
    let sent = send_blobs(bucket, selection, manifest, resend, resume_dir, progress).await?;
    let body = manifest.to_bytes();
    bucket.put(manifest_key, body).await?;
    Ok(SendReport {
        manifest_key: manifest_key.to_string(),
        manifest_sha256: manifest.sha256(),
        ..sent
    })
}

/// Sends the blobs of `manifest` the bucket lacks (and those in `resend`),
/// not the manifest: what a run's data folder shares with the project.
pub async fn send_blobs(
    bucket: &RunBucket<'_>,
    selection: &Selection,
    manifest: &Manifest,
    resend: &std::collections::HashSet<String>,
    resume_dir: Option<&std::path::Path>,
    progress: Progress<'_>,
) -> Result<SendReport, PipelineError> {
    let have = stored(bucket).await?;
    let mut todo: Vec<(&str, &str, u64, &std::path::Path)> = Vec::new();
    let mut changed = 0;
    for (f, sel) in manifest.files.iter().zip(&selection.files) {
        debug_assert_eq!(f.path, sel.rel);
        let present =
            have.get(&blob_key(&f.sha256)) == Some(&f.size) && !resend.contains(&f.sha256);
        if present {
            continue;
        }
        changed += 1;
        if !todo.iter().any(|(sha, ..)| *sha == f.sha256) {
            todo.push((&f.sha256, &f.path, f.size, &sel.path));
        }
    }
    let to_send: u64 = todo.iter().map(|t| t.2).sum();
    let sent = AtomicU64::new(0);
    progress(0, to_send);
    let (big, small): (Vec<_>, Vec<_>) = todo.iter().partition(|t| t.2 >= MULTIPART_FROM);
    let mut waiting = small.into_iter();
    let mut in_flight = FuturesUnordered::new();
    loop {
        while in_flight.len() < FILES_AT_ONCE {
            let Some(&(sha, rel, size, path)) = waiting.next() else {
                break;
            };
            in_flight
                .push(async move { put_blob(bucket, path, rel, sha, size).await.map(|()| size) });
        }
        match in_flight.next().await {
            Some(done) => {
                let size = done?;
                progress(sent.fetch_add(size, Ordering::Relaxed) + size, to_send);
            }
            None => break,
        }
    }
    for t in &big {
        let (sha, rel, size, path) = **t;
        let base = sent.load(Ordering::Relaxed);
        let part_progress = |n: u64| progress(base + n, to_send);
        multipart::put(
            bucket,
            multipart::Blob {
                path,
                rel,
                sha256: sha,
                size,
            },
            resume_dir,
            &part_progress,
        )
        .await?;
        sent.fetch_add(size, Ordering::Relaxed);
    }
    Ok(SendReport {
        files: manifest.files.len(),
        changed,
        blobs_sent: todo.len(),
        bytes_sent: to_send,
        total_bytes: manifest.total_bytes(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_reads_like_the_issue() {
        let mut r = SendReport {
            files: 214,
            changed: 3,
            bytes_sent: 12_300,
            ..Default::default()
        };
        assert_eq!(r.line(), "3 of 214 files changed, 12 KB sent");
        r.changed = 0;
        assert_eq!(r.line(), "none of the 214 files changed: nothing sent");
        r.changed = 214;
        r.bytes_sent = 1_300_000;
        assert_eq!(r.line(), "214 files sent (1.3 MB)");
        assert_eq!(
            checksum_b64("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
