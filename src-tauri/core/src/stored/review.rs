//! What the Review step shows of a run's data before launch: a folder's
//! files and bytes (sent once to the run bucket, then only what changed)
//! and what keeping them there costs a month; an S3 location's objects and
//! bytes (listed with the person's keys, bounded) and whether its bucket is
//! in the run's region (then reading it has no transfer charge). The
//! figures are computed here, the UI only words them.

use serde::Serialize;

use super::StoredError;
use crate::aws::AwsContext;
use crate::data_source::{self, s3, DataError, DataSource};
use crate::pipeline::storage;
use crate::prices::S3_GB_MONTH;
use crate::project::words::{bytes, files};

/// Objects listed at most before launch (ten pages of 1,000); past it the
/// review says "at least".
pub const REVIEW_MAX_OBJECTS: usize = 10_000;

/// Where the data comes from.
#[derive(Debug, Clone, Copy, Serialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum DataReviewKind {
    /// A folder on this computer, sent to the run bucket.
    Folder,
    /// An S3 location, read in place.
    S3,
}

/// A run's data as the Review step shows it.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataReview {
    pub kind: DataReviewKind,
    /// The folder's path or the `s3://` URL.
    pub source: String,
    pub file_count: u32,
    pub total_bytes: f64,
    /// The listing stopped at [`REVIEW_MAX_OBJECTS`]: there are at least
    /// this many files and bytes.
    pub at_least: bool,
    /// "2 files, 1.2 MB"; "at least 10,000 files, 5.0 GB" when bounded.
    pub headline: String,
    /// A folder: what keeping its files in the run bucket costs a month
    /// (S3 Standard). `None` for an S3 location (nothing is copied).
    pub usd_per_month: Option<f64>,
    /// An S3 location: its bucket's region.
    pub bucket_region: Option<String>,
    /// An S3 location whose bucket is in the run's region: reading it from
    /// the run's machine has no data transfer charge. (A bucket in another
    /// region is refused at launch.)
    pub same_region: bool,
}

/// S3 Standard storage of `bytes` for a month.
pub fn storage_usd_per_month(bytes: f64) -> f64 {
    bytes / 1e9 * S3_GB_MONTH
}

/// "2 files, 1.2 MB", with "at least" before it when the count was bounded.
pub fn headline(count: u32, total_bytes: f64, at_least: bool) -> String {
    format!(
        "{}{}, {}",
        if at_least { "at least " } else { "" },
        files(count as usize),
        bytes(total_bytes as u64)
    )
}

/// A data folder's review: its files and bytes as they would be sent
/// (the same selection as the upload), nothing read but their sizes.
pub fn folder_review(path: &std::path::Path) -> Result<DataReview, DataError> {
    let s = data_source::folder::summary(path)?;
    Ok(DataReview {
        kind: DataReviewKind::Folder,
        source: path.display().to_string(),
        file_count: s.file_count,
        total_bytes: s.total_bytes,
        at_least: false,
        headline: headline(s.file_count, s.total_bytes, false),
        usd_per_month: Some(storage_usd_per_month(s.total_bytes)),
        bucket_region: None,
        same_region: false,
    })
}

/// An S3 location's review, with the person's keys in the run's region:
/// its bucket's region (this account's bucket only), then, when it is the
/// run's region, its objects listed up to `max` (folder markers left out).
pub async fn s3_review(ctx: &AwsContext, url: &str, max: usize) -> Result<DataReview, StoredError> {
    let location = data_source::parse_s3(url)?;
    let url = location.url();
    let owner = storage::account_id(ctx).await?;
    let s3c = ctx.s3();
    let found = s3c
        .get_bucket_location()
        .bucket(&location.bucket)
        .expected_bucket_owner(&owner)
        .send()
        .await
        .map_err(|e| s3::sdk_error(&url, &location.bucket, e))?;
    let bucket_region = s3::bucket_region(found.location_constraint().map(|c| c.as_str()));
    let mut review = DataReview {
        kind: DataReviewKind::S3,
        source: url.clone(),
        file_count: 0,
        total_bytes: 0.0,
        at_least: false,
        headline: String::new(),
        usd_per_month: None,
        same_region: bucket_region == ctx.region(),
        bucket_region: Some(bucket_region),
    };
    if !review.same_region {
        return Ok(review);
    }
    let mut pages = s3c
        .list_objects_v2()
        .bucket(&location.bucket)
        .prefix(&location.prefix)
        .expected_bucket_owner(&owner)
        .into_paginator()
        .send();
    let (mut count, mut total) = (0usize, 0u64);
    'pages: while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s3::sdk_error(&url, &location.bucket, e))?;
        for o in page.contents() {
            let size = u64::try_from(o.size().unwrap_or(0)).unwrap_or(0);
            if o.key().is_none_or(|k| k.ends_with('/') && size == 0) {
                continue;
            }
            if count == max {
                review.at_least = true;
                break 'pages;
            }
            count += 1;
            total += size;
        }
    }
    review.file_count = u32::try_from(count).unwrap_or(u32::MAX);
    review.total_bytes = total as f64;
    review.headline = headline(review.file_count, review.total_bytes, review.at_least);
    Ok(review)
}

/// The review of a run's data source.
pub async fn review(
    ctx: &AwsContext,
    data: &DataSource,
    max: usize,
) -> Result<DataReview, StoredError> {
    match data {
        DataSource::Folder { path } => {
            let path = path.clone();
            Ok(tokio::task::spawn_blocking(move || folder_review(&path))
                .await
                .map_err(|e| DataError::Aws {
                    url: String::new(),
                    message: format!("the data folder could not be read: {e}"),
                })??)
        }
        DataSource::S3 { url } => s3_review(ctx, url, max).await,
    }
}
