//! Cached environments: after a successful install the machine stores the
//! installer's cache in the run's bucket as `easytdv/cache/<key>.tar.zst`
//! (or `.tar.gz`) with a `<key>.json` description; the next run with the
//! same requirements, image and installer restores it, when its SHA-256 is the
//! one the app recorded (`key.rs`). A run's clean-up never deletes them; the
//! user lists them here, with their size and what they cost per month, and
//! deletes those no longer wanted.

mod key;

pub use key::{cache_key, normalised_requirements, CacheArchive};

use serde::{Deserialize, Serialize};

use crate::aws::AwsContext;
use crate::pipeline::storage::{self, RunBucket};
use crate::pipeline::{PipelineError, CACHE_PREFIX};
use crate::prices::S3_GB_MONTH;

/// One cached environment in a bucket.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CachedEnvironment {
    pub bucket: String,
    pub region: String,
    /// sha256 of the normalised requirements, the image and the installer (`key.rs`).
    pub key: String,
    /// The normalised requirements it was made for.
    pub requirements: String,
    pub python: String,
    pub arch: String,
    pub image: String,
    pub installer: String,
    /// When it was saved (UTC, RFC 3339).
    pub created: String,
    /// Bytes in the bucket (archive and description).
    pub size_bytes: f64,
    /// S3 Standard storage per month.
    pub usd_per_month: f64,
}

/// What the machine writes next to the archive.
#[derive(Deserialize)]
struct Description {
    key: String,
    #[serde(default)]
    requirements: String,
    #[serde(default)]
    python: String,
    #[serde(default)]
    arch: String,
    #[serde(default)]
    image: String,
    #[serde(default)]
    installer: String,
    #[serde(default)]
    created: String,
}

/// The cached environments of one bucket (in the context's region), newest first.
pub async fn list(ctx: &AwsContext, bucket: &str) -> Result<Vec<CachedEnvironment>, PipelineError> {
    let owner = storage::account_id(ctx).await?;
    let b = RunBucket::new(ctx, bucket, owner);
    let objects = b.list(&format!("{CACHE_PREFIX}/")).await?;
    let mut found = Vec::new();
    for obj in objects.iter().filter(|o| o.key.ends_with(".json")) {
        let stem = obj.key.trim_end_matches(".json");
        let Some(body) = b.get(&obj.key).await? else {
            continue;
        };
        let desc: Description = match serde_json::from_slice(&body) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(bucket, key = obj.key, error = %e, "unreadable cache description");
                Description {
                    key: stem.rsplit('/').next().unwrap_or(stem).to_string(),
                    requirements: String::new(),
                    python: String::new(),
                    arch: String::new(),
                    image: String::new(),
                    installer: String::new(),
                    created: String::new(),
                }
            }
        };
        let size: u64 = objects
            .iter()
            .filter(|o| o.key.starts_with(stem))
            .map(|o| o.size)
            .sum();
        let size_bytes = size as f64;
        found.push(CachedEnvironment {
            bucket: bucket.to_string(),
            region: ctx.region().to_string(),
            key: desc.key,
            requirements: desc.requirements,
            python: desc.python,
            arch: desc.arch,
            image: desc.image,
            installer: desc.installer,
            created: desc.created,
            size_bytes,
            usd_per_month: size_bytes / 1e9 * S3_GB_MONTH,
        });
    }
    found.sort_by(|a, b| b.created.cmp(&a.created));
    Ok(found)
}

/// Deletes a cached environment (its archive and description); the next
/// run with these requirements installs them afresh.
pub async fn delete(ctx: &AwsContext, bucket: &str, key: &str) -> Result<(), PipelineError> {
    if key.len() != 64 || !key.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(PipelineError::State(format!(
            "{key} is not the key of a cached environment"
        )));
    }
    let owner = storage::account_id(ctx).await?;
    let b = RunBucket::new(ctx, bucket, owner);
    let keys = b.list_keys(&format!("{CACHE_PREFIX}/{key}")).await?;
    b.delete_keys(&keys).await?;
    if !b
        .list_keys(&format!("{CACHE_PREFIX}/{key}"))
        .await?
        .is_empty()
    {
        return Err(PipelineError::State(format!(
            "the cached environment {key} is still in {bucket}"
        )));
    }
    Ok(())
}
