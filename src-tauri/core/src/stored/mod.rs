//! What easyTDV keeps in a run bucket between runs, besides the runs'
//! outputs: the project and data files (`easytdv/blobs/<sha256>`, sent
//! once and shared by every run, so the next run sends only what changed)
//! and the cached environments (`crate::environments`). A run's clean-up
//! deletes neither; the person sees them here, with their size and monthly
//! cost, and deletes the files no run in progress still needs.

mod account;
mod error;
mod keep;
pub mod review;

pub use error::StoredError;
pub use keep::needed_blobs;
pub use review::{DataReview, DataReviewKind};

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::aws::AwsContext;
use crate::history::RunRecord;
use crate::pipeline::storage::{self, RunBucket};
use crate::pipeline::PipelineError;
use crate::prices::S3_GB_MONTH;
use crate::project::BLOB_PREFIX;

/// Deletions sent at once.
const DELETES_AT_ONCE: usize = 16;

/// The project and data files kept in one bucket.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StoredFiles {
    pub bucket: String,
    pub region: String,
    /// Distinct contents kept (files with the same content are kept once).
    pub count: u32,
    pub size_bytes: f64,
    /// When the newest of them was sent (UTC, RFC 3339); `None`: none kept.
    pub newest: Option<String>,
    /// S3 Standard storage per month.
    pub usd_per_month: f64,
}

/// What deleting a bucket's files did.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FilesDeleted {
    pub bucket: String,
    pub region: String,
    pub deleted: u32,
    /// Kept because a run in progress still needs them.
    pub kept: u32,
    pub bytes_freed: f64,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The project and data files kept in `bucket` (in the context's region).
pub async fn list_files(ctx: &AwsContext, bucket: &str) -> Result<StoredFiles, PipelineError> {
    let owner = storage::account_id(ctx).await?;
    let b = RunBucket::new(ctx, bucket, owner);
    let blobs = b.list(&format!("{BLOB_PREFIX}/")).await?;
    let size: u64 = blobs.iter().map(|o| o.size).sum();
    let size_bytes = size as f64;
    Ok(StoredFiles {
        bucket: bucket.to_string(),
        region: ctx.region().to_string(),
        count: count(blobs.len()),
        size_bytes,
        newest: blobs.iter().filter_map(|o| o.last_modified.clone()).max(),
        usd_per_month: size_bytes / 1e9 * S3_GB_MONTH,
    })
}

/// Deletes the project and data files of `bucket` (in the context's
/// region) except those the runs of `history` still in progress in this
/// bucket name ([`needed_blobs`]), then checks that they are gone.
pub async fn delete_files(
    ctx: &AwsContext,
    bucket: &str,
    history: &[RunRecord],
) -> Result<FilesDeleted, StoredError> {
    let owner = storage::account_id(ctx).await?;
    let b = RunBucket::new(ctx, bucket, owner);
    let keep = needed_blobs(&b, ctx.region(), history).await?;
    let blobs = b.list(&format!("{BLOB_PREFIX}/")).await?;
    let (kept, doomed): (Vec<_>, Vec<_>) = blobs.into_iter().partition(|o| keep.contains(&o.key));
    for some in doomed.chunks(DELETES_AT_ONCE) {
        let deletes = some
            .iter()
            .map(|o| b.delete_keys(std::slice::from_ref(&o.key)));
        futures_util::future::try_join_all(deletes).await?;
    }
    let gone: HashSet<&str> = doomed.iter().map(|o| o.key.as_str()).collect();
    let left = b
        .list(&format!("{BLOB_PREFIX}/"))
        .await?
        .into_iter()
        .filter(|o| gone.contains(o.key.as_str()))
        .count();
    if left > 0 {
        return Err(StoredError::NotDeleted {
            bucket: bucket.to_string(),
            left: count(left),
        });
    }
    Ok(FilesDeleted {
        bucket: bucket.to_string(),
        region: ctx.region().to_string(),
        deleted: count(doomed.len()),
        kept: count(kept.len()),
        bytes_freed: doomed.iter().map(|o| o.size).sum::<u64>() as f64,
    })
}
