//! A big blob in parts (S3 multipart upload), several parts at a time,
//! resumable: the upload's id and each part sent (its number, entity tag
//! and SHA-256) are kept in `<resume dir>/<bucket>-<sha256>.json`, so an
//! upload cut off (the app closed, the network gone) goes on from the
//! parts S3 already has. A part whose bytes changed since is sent again;
//! the whole file's SHA-256 must still be the blob's name, else nothing is
//! completed (S3 keeps no object).
//!
//! IAM: `s3:PutObject` covers CreateMultipartUpload, UploadPart and
//! CompleteMultipartUpload; nothing else is needed.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ProjectError;
use super::manifest::hex;
use super::upload::{blob_key, checksum_b64, is_bad_digest};
use crate::pipeline::storage::RunBucket;
use crate::pipeline::{aws_error, PipelineError};

/// The size of a part (S3: 5 MiB to 5 GiB, at most 10,000 parts).
pub const PART: u64 = 16 * 1024 * 1024;
/// Parts in flight at once.
const PARTS_AT_ONCE: usize = 4;

pub struct Blob<'a> {
    pub path: &'a Path,
    pub rel: &'a str,
    pub sha256: &'a str,
    pub size: u64,
}

/// What is remembered of an upload in progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct Resume {
    upload_id: String,
    part_size: u64,
    /// part number → (entity tag, SHA-256 hex of the part).
    parts: BTreeMap<i32, (String, String)>,
}

fn resume_file(dir: &Path, bucket: &str, sha256: &str) -> PathBuf {
    dir.join(format!("{bucket}-{sha256}.json"))
}

fn load(file: &Option<PathBuf>) -> Option<Resume> {
    let text = std::fs::read(file.as_ref()?).ok()?;
    serde_json::from_slice(&text).ok()
}

fn save(file: &Option<PathBuf>, resume: &Resume) {
    let Some(file) = file else { return };
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = file.with_extension("json.tmp");
    let ok = serde_json::to_vec(resume)
        .ok()
        .and_then(|b| std::fs::write(&tmp, b).ok())
        .and_then(|_| std::fs::rename(&tmp, file).ok());
    if ok.is_none() {
        tracing::warn!(file = %file.display(), "could not remember the upload's parts");
    }
}

fn forget(file: &Option<PathBuf>) {
    if let Some(f) = file {
        let _ = std::fs::remove_file(f);
    }
}

/// Part size for a file: [`PART`], larger when 10,000 parts would not do.
pub fn part_size(size: u64) -> u64 {
    let min = size.div_ceil(10_000);
    PART.max(min.div_ceil(1 << 20) << 20)
}

async fn start(bucket: &RunBucket<'_>, key: &str) -> Result<String, PipelineError> {
    let out = bucket
        .ctx()
        .s3()
        .create_multipart_upload()
        .bucket(bucket.name())
        .key(key)
        .expected_bucket_owner(bucket.owner())
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .map_err(|e| aws_error("start sending a big project file", e))?;
    out.upload_id()
        .map(str::to_string)
        .ok_or_else(|| PipelineError::State("S3 gave no upload id".into()))
}

enum PartError {
    UploadGone,
    Other(PipelineError),
}

async fn upload_part(
    bucket: &RunBucket<'_>,
    key: &str,
    upload_id: &str,
    number: i32,
    body: Vec<u8>,
    sha: &str,
    rel: &str,
) -> Result<String, PartError> {
    let checksum = checksum_b64(sha);
    let result = crate::pipeline::retry_transient("send a part of a project file", || {
        let body = body.clone();
        let checksum = checksum.clone();
        async move {
            bucket
                .ctx()
                .s3()
                .upload_part()
                .bucket(bucket.name())
                .key(key)
                .expected_bucket_owner(bucket.owner())
                .upload_id(upload_id)
                .part_number(number)
                .content_length(body.len() as i64)
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .checksum_sha256(checksum)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| {
                    if crate::pipeline::error_code_of(&e) == Some("NoSuchUpload") {
                        PipelineError::State("NoSuchUpload".into())
                    } else if is_bad_digest(&e) {
                        ProjectError::ChangedWhileSending(rel.to_string()).into()
                    } else {
                        aws_error("send a part of a project file", e)
                    }
                })
        }
    })
    .await;
    match result {
        Ok(out) => Ok(out.e_tag().unwrap_or_default().to_string()),
        Err(PipelineError::State(s)) if s == "NoSuchUpload" => Err(PartError::UploadGone),
        Err(e) => Err(PartError::Other(e)),
    }
}

/// Reads part `n` (1-based) of the file.
fn read_part(file: &mut std::fs::File, len: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
    file.read_exact(&mut buf)?;
    Ok(buf)
}

/// Sends `blob` in parts; `progress` hears the bytes of this file sent so far.
pub async fn put(
    bucket: &RunBucket<'_>,
    blob: Blob<'_>,
    resume_dir: Option<&Path>,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<(), PipelineError> {
    let state_file = resume_dir.map(|d| resume_file(d, bucket.name(), blob.sha256));
    for attempt in 0..2 {
        match put_once(bucket, &blob, &state_file, progress).await {
            Err(PartError::UploadGone) if attempt == 0 => {
                tracing::info!(
                    file = blob.rel,
                    "the interrupted upload is gone from S3: starting it again"
                );
                forget(&state_file);
            }
            Err(PartError::UploadGone) => {
                return Err(PipelineError::State(
                    "S3 lost the upload of a project file twice".into(),
                ))
            }
            Err(PartError::Other(e)) => return Err(e),
            Ok(()) => {
                forget(&state_file);
                return Ok(());
            }
        }
    }
    Ok(())
}

async fn put_once(
    bucket: &RunBucket<'_>,
    blob: &Blob<'_>,
    state_file: &Option<PathBuf>,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<(), PartError> {
    let key = blob_key(blob.sha256);
    let size = part_size(blob.size);
    let mut resume = match load(state_file) {
        Some(r) if r.part_size == size && !r.upload_id.is_empty() => r,
        _ => Resume {
            upload_id: start(bucket, &key).await.map_err(PartError::Other)?,
            part_size: size,
            parts: BTreeMap::new(),
        },
    };
    save(state_file, &resume);
    let unreadable = |source: std::io::Error| {
        PartError::Other(
            ProjectError::Unreadable {
                path: blob.path.to_path_buf(),
                source,
            }
            .into(),
        )
    };
    let mut file = std::fs::File::open(blob.path).map_err(unreadable)?;
    let parts = blob.size.div_ceil(size).max(1);
    let mut whole = Sha256::new();
    let mut in_flight = FuturesUnordered::new();
    let mut done_bytes = 0u64;
    for n in 1..=parts {
        let len = if n == parts {
            blob.size - size * (parts - 1)
        } else {
            size
        };
        // Read on this task: parts are read in order for the whole digest.
        let body = read_part(&mut file, len).map_err(unreadable)?;
        whole.update(&body);
        let sha = hex(&Sha256::digest(&body));
        let number = i32::try_from(n).unwrap_or(i32::MAX);
        if resume.parts.get(&number).is_some_and(|(_, s)| *s == sha) {
            done_bytes += len;
            progress(done_bytes);
            continue;
        }
        let upload_id = resume.upload_id.clone();
        let key = key.clone();
        in_flight.push(async move {
            let tag = upload_part(bucket, &key, &upload_id, number, body, &sha, blob.rel).await;
            (number, sha, len, tag)
        });
        while in_flight.len() >= PARTS_AT_ONCE {
            if let Some((number, sha, len, tag)) = in_flight.next().await {
                resume.parts.insert(number, (tag?, sha));
                save(state_file, &resume);
                done_bytes += len;
                progress(done_bytes);
            }
        }
    }
    while let Some((number, sha, len, tag)) = in_flight.next().await {
        resume.parts.insert(number, (tag?, sha));
        save(state_file, &resume);
        done_bytes += len;
        progress(done_bytes);
    }
    if hex(&whole.finalize()) != blob.sha256 {
        forget(state_file);
        return Err(PartError::Other(
            ProjectError::ChangedWhileSending(blob.rel.to_string()).into(),
        ));
    }
    let completed: Vec<CompletedPart> = resume
        .parts
        .iter()
        .filter(|(n, _)| i64::from(**n) <= parts as i64)
        .map(|(n, (tag, sha))| {
            CompletedPart::builder()
                .part_number(*n)
                .e_tag(tag)
                .checksum_sha256(checksum_b64(sha))
                .build()
        })
        .collect();
    let done = bucket
        .ctx()
        .s3()
        .complete_multipart_upload()
        .bucket(bucket.name())
        .key(&key)
        .expected_bucket_owner(bucket.owner())
        .upload_id(&resume.upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await;
    match done {
        Ok(_) => Ok(()),
        Err(e) if crate::pipeline::error_code_of(&e) == Some("NoSuchUpload") => {
            Err(PartError::UploadGone)
        }
        Err(e) => Err(PartError::Other(aws_error(
            "finish sending a big project file",
            e,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_stay_within_s3s_limits() {
        assert_eq!(part_size(1), PART);
        assert_eq!(part_size(2 * 1024 * 1024 * 1024), PART);
        let huge = 500 * 1024 * 1024 * 1024u64;
        let p = part_size(huge);
        assert!(
            huge.div_ceil(p) <= 10_000 && p.is_multiple_of(1 << 20),
            "{p}"
        );
    }

    #[test]
    fn the_parts_sent_are_remembered_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = Some(resume_file(dir.path(), "b", &"a".repeat(64)));
        assert!(load(&file).is_none());
        let mut r = Resume {
            upload_id: "u-1".into(),
            part_size: PART,
            parts: BTreeMap::new(),
        };
        r.parts.insert(1, ("\"etag\"".into(), "c".repeat(64)));
        save(&file, &r);
        assert_eq!(load(&file), Some(r));
        forget(&file);
        assert!(load(&file).is_none());
    }
}
