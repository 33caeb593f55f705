//! One object of the bucket into one file, whole or not at all.
//!
//! The bytes go to `<file name>.easytdv-part` beside the target (one partial
//! file per object: two objects never share one, and keys ending in that
//! suffix are not downloaded, see `outputs.rs`), then are checked over the
//! whole file by [`integrity`](super::integrity)'s rules and renamed. A
//! partial file left by a cut download is continued with a ranged GET (only
//! while the object is the same: `If-Match` its ETag), and the whole file is
//! checked again; a file that fails the check is downloaded again from the
//! start, once.

use std::path::{Path, PathBuf};

use aws_sdk_s3::types::{ChecksumMode, ServerSideEncryption};
use tokio::io::AsyncWriteExt;

use super::error::{aws_error, error_code, PipelineError};
use super::integrity::{check_file, Algorithm, Described, Verdict};
use super::storage::{ObjectInfo, RunBucket};

/// What a partial download's name ends with.
pub const PART_SUFFIX: &str = ".easytdv-part";

/// `dir/model.pt` → `dir/model.pt.easytdv-part`.
pub fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(PART_SUFFIX);
    target.with_file_name(name)
}

/// How an object came home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// The file was already the object.
    AlreadyThere,
    Downloaded,
}

/// What S3 says of an object, from a GetObject or HeadObject answer.
macro_rules! described {
    ($out:expr, $size:expr) => {{
        let o = &$out;
        let checksum = [
            (Algorithm::Crc64Nvme, o.checksum_crc64_nvme()),
            (Algorithm::Crc32, o.checksum_crc32()),
            (Algorithm::Crc32c, o.checksum_crc32_c()),
            (Algorithm::Sha256, o.checksum_sha256()),
            (Algorithm::Sha1, o.checksum_sha1()),
            (Algorithm::Md5, o.checksum_md5()),
        ]
        .into_iter()
        .find_map(|(a, v)| v.filter(|v| !v.is_empty()).map(|v| (a, v.to_string())));
        Described {
            size: $size,
            etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
            checksum,
            checksum_type: o.checksum_type().map(|t| t.as_str().to_string()),
            etag_not_md5: matches!(
                o.server_side_encryption(),
                Some(ServerSideEncryption::AwsKms | ServerSideEncryption::AwsKmsDsse)
            ) || o.sse_customer_algorithm().is_some(),
        }
    }};
}

fn local(path: &Path) -> impl Fn(std::io::Error) -> PipelineError + '_ {
    move |e| PipelineError::State(format!("cannot write {}: {e}", path.display()))
}

/// Fetches `obj` into `target`, checked; keeps a file that already is it.
pub async fn fetch(
    bucket: &RunBucket<'_>,
    obj: &ObjectInfo,
    target: &Path,
) -> Result<Fetched, PipelineError> {
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(local(parent))?;
    }
    let part = partial_path(target);
    let len_of = |p: &Path| std::fs::metadata(p).ok().map(|m| m.len());
    if len_of(target) == Some(obj.size) {
        let described = describe(bucket, &obj.key).await?;
        if matches!(
            verify(bucket, &obj.key, target, &described).await?,
            Verdict::Same | Verdict::SameSize
        ) {
            let _ = tokio::fs::remove_file(&part).await;
            return Ok(Fetched::AlreadyThere);
        }
    }
    if len_of(&part) == Some(obj.size) {
        // Whole but not renamed yet (the app stopped in between): checked like any.
        let described = describe(bucket, &obj.key).await?;
        if matches!(
            verify(bucket, &obj.key, &part, &described).await?,
            Verdict::Same | Verdict::SameSize
        ) {
            return finish(&part, target).await;
        }
    }
    let resumable = len_of(&part).filter(|n| *n > 0 && *n < obj.size);
    if let Some(have) = resumable {
        let described = describe(bucket, &obj.key).await?;
        if resume(bucket, &obj.key, &part, have, &described).await? {
            match verify(bucket, &obj.key, &part, &described).await? {
                Verdict::Same | Verdict::SameSize => return finish(&part, target).await,
                Verdict::Different(why) => tracing::warn!(
                    key = obj.key,
                    why,
                    "a resumed download is not the object: downloading it again"
                ),
            }
        }
    }
    let mut why = String::new();
    for _ in 0..2 {
        let described = download(bucket, &obj.key, &part).await?;
        match verify(bucket, &obj.key, &part, &described).await? {
            Verdict::Same | Verdict::SameSize => return finish(&part, target).await,
            Verdict::Different(w) => {
                tracing::warn!(key = obj.key, why = w, "a download is not the object");
                why = w;
            }
        }
    }
    let _ = tokio::fs::remove_file(&part).await;
    Err(PipelineError::DownloadCorrupt {
        key: obj.key.clone(),
        why,
    })
}

async fn finish(part: &Path, target: &Path) -> Result<Fetched, PipelineError> {
    tokio::fs::rename(part, target)
        .await
        .map_err(local(target))?;
    Ok(Fetched::Downloaded)
}

/// HeadObject with the object's checksum.
async fn describe(bucket: &RunBucket<'_>, key: &str) -> Result<Described, PipelineError> {
    let out = bucket
        .head_object(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(|e| aws_error("read a file's size and checksum in the bucket", e))?;
    let size = u64::try_from(out.content_length().unwrap_or(0)).unwrap_or(0);
    Ok(described!(out, size))
}

/// The whole object into `part` (truncated first); what S3 said of it.
async fn download(
    bucket: &RunBucket<'_>,
    key: &str,
    part: &Path,
) -> Result<Described, PipelineError> {
    let out = bucket
        .get_object(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .map_err(|e| aws_error("download a file of the outputs", e))?;
    let size = u64::try_from(out.content_length().unwrap_or(0)).unwrap_or(0);
    let described = described!(out, size);
    let file = tokio::fs::File::create(part).await.map_err(local(part))?;
    write_body(out.body, file, part).await?;
    Ok(described)
}

/// The bytes from `have` on, appended to `part`, if the object is still the
/// one `described` tells of (false: it changed, start again).
async fn resume(
    bucket: &RunBucket<'_>,
    key: &str,
    part: &Path,
    have: u64,
    described: &Described,
) -> Result<bool, PipelineError> {
    let out = bucket
        .get_object(key)
        .range(format!("bytes={have}-"))
        .if_match(format!("\"{}\"", described.etag))
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e)
            if matches!(error_code(&e), Some("PreconditionFailed" | "InvalidRange"))
                || matches!(
                    e.raw_response().map(|r| r.status().as_u16()),
                    Some(412 | 416)
                ) =>
        {
            return Ok(false)
        }
        Err(e) => return Err(aws_error("download a file of the outputs", e)),
    };
    let file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(part)
        .await
        .map_err(local(part))?;
    write_body(out.body, file, part).await?;
    Ok(true)
}

async fn write_body(
    mut body: aws_sdk_s3::primitives::ByteStream,
    mut file: tokio::fs::File,
    path: &Path,
) -> Result<(), PipelineError> {
    while let Some(chunk) = body.try_next().await.map_err(|_| PipelineError::Network {
        op: "download a file of the outputs",
    })? {
        file.write_all(&chunk).await.map_err(local(path))?;
    }
    file.flush().await.map_err(local(path))?;
    file.sync_all().await.map_err(local(path))?;
    Ok(())
}

/// Checks the file at `path` against what S3 said of the object.
async fn verify(
    bucket: &RunBucket<'_>,
    key: &str,
    path: &Path,
    described: &Described,
) -> Result<Verdict, PipelineError> {
    let rule = described.rule();
    let part_size = if rule.needs_part_size() {
        let first = bucket
            .head_object(key)
            .part_number(1)
            .send()
            .await
            .map_err(|e| aws_error("read the part size of a file in the bucket", e))?;
        first.content_length().and_then(|n| u64::try_from(n).ok())
    } else {
        None
    };
    let (p, size, r) = (path.to_path_buf(), described.size, rule.clone());
    let verdict = tokio::task::spawn_blocking(move || check_file(&p, size, &r, part_size))
        .await
        .map_err(|e| PipelineError::State(format!("a file check stopped: {e}")))?
        .map_err(|e| PipelineError::State(format!("cannot read {}: {e}", path.display())))?;
    match &verdict {
        Verdict::SameSize => tracing::info!(
            key,
            "S3 gives no checksum usable for this file (encrypted with a KMS key, uploaded without one): only its size was checked"
        ),
        Verdict::Same => tracing::debug!(key, rule = rule.describe(), "file checked"),
        Verdict::Different(_) => {}
    }
    Ok(verdict)
}
