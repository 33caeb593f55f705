//! Input files of runs this history does not know, in the account's buckets.
//!
//! `ListBuckets` is asked with a parameter (`max-buckets`), so S3 gives each
//! bucket's `BucketRegion` (it does so only when "the request contains at
//! least one valid parameter"); each bucket is then listed from its own
//! region (the Rust SDK does not follow S3's 301 to another region) and on
//! its own: a bucket that cannot be listed is a failure row, the others are
//! kept. A 301 all the same (a bucket S3 placed elsewhere than it said) is
//! asked again once in the region S3 names.

use std::collections::HashSet;

use futures_util::{stream, StreamExt};

use super::leftovers::{Leftover, LeftoverKind, LeftoverScan, ScanFailure};
use crate::aws::AwsContext;
use crate::history::RunRecord;
use crate::pipeline::storage::{account_id, ObjectInfo, RunBucket};
use crate::pipeline::{aws_error, PipelineError};
use crate::prices::{HOURS_PER_MONTH, S3_GB_MONTH};

/// Buckets listed at once.
const BUCKETS_AT_ONCE: usize = 4;
/// ListBuckets page size (a parameter, so S3 gives `BucketRegion`).
const PAGE: i32 = 1000;

/// The account's buckets and their regions (`None`: S3 did not say).
async fn buckets(ctx: &AwsContext) -> Result<Vec<(String, Option<String>)>, PipelineError> {
    let mut pages = ctx
        .s3()
        .list_buckets()
        .max_buckets(PAGE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("list your buckets", e))?;
        out.extend(
            page.buckets().iter().filter_map(|b| {
                Some((b.name()?.to_string(), b.bucket_region().map(str::to_string)))
            }),
        );
    }
    Ok(out)
}

/// Every object under `easytdv/runs/` of one bucket, asked from `region`
/// (again from the region S3 names, if it answers 301).
async fn list_runs(
    base: &AwsContext,
    name: &str,
    region: &str,
    owner: &str,
) -> Result<(String, Vec<ObjectInfo>), PipelineError> {
    let mut region = region.to_string();
    for attempt in 0..2 {
        let here = AwsContext::new_like(base, &region)
            .await
            .map_err(|e| PipelineError::State(e.to_string()))?;
        match RunBucket::new(&here, name, owner)
            .list("easytdv/runs/")
            .await
        {
            Ok(found) => return Ok((region, found)),
            Err(PipelineError::BucketOtherRegion { actual, .. })
                if attempt == 0 && crate::aws::is_region_code(&actual) =>
            {
                region = actual;
            }
            Err(e) => return Err(e),
        }
    }
    Err(PipelineError::State(format!(
        "S3 keeps sending the bucket {name} to another region"
    )))
}

/// Inputs of runs this history does not know, in the account's easyTDV
/// buckets (names starting `easytdv-`) and the buckets the history used.
pub(super) async fn file_leftovers(base: &AwsContext, history: &[RunRecord]) -> LeftoverScan {
    let mut scan = LeftoverScan::default();
    let found = async {
        let account = account_id(base).await?;
        Ok::<_, PipelineError>((account, buckets(base).await?))
    };
    let (account, all) = match found.await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "buckets not listed in the leftovers check");
            scan.failures
                .push(ScanFailure::new(base.region(), None, &e));
            return scan;
        }
    };
    let known: HashSet<&str> = history.iter().map(|r| r.run_id.as_str()).collect();
    let used: HashSet<&str> = history
        .iter()
        .map(|r| r.resources.bucket.as_str())
        .collect();
    let ours = all
        .into_iter()
        .filter(|(name, _)| name.starts_with("easytdv-") || used.contains(name.as_str()));
    let account = account.as_str();
    let listed = stream::iter(ours)
        .map(|(name, region)| async move {
            let region = region.unwrap_or_else(|| base.region().to_string());
            let listed = list_runs(base, &name, &region, account).await;
            (name, region, listed)
        })
        .buffer_unordered(BUCKETS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    for (name, asked, listed) in listed {
        match listed {
            Ok((region, objects)) => {
                scan.leftovers
                    .extend(inputs_of_unknown_runs(&name, &region, &objects, &known));
            }
            Err(e) => {
                tracing::warn!(bucket = name, error = %e, "a bucket of the leftovers check failed");
                scan.failures
                    .push(ScanFailure::new(&asked, Some(&name), &e));
            }
        }
    }
    scan
}

/// One leftover per run: its inputs under `easytdv/runs/<run>/` (outputs are
/// results, never leftovers).
fn inputs_of_unknown_runs(
    name: &str,
    region: &str,
    objects: &[ObjectInfo],
    known: &HashSet<&str>,
) -> Vec<Leftover> {
    let mut found: Vec<Leftover> = Vec::new();
    for obj in objects {
        let mut parts = obj.key.splitn(4, '/');
        let (_, _, Some(run), Some(rest)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if known.contains(run) || rest.starts_with("outputs/") {
            continue;
        }
        let cost = obj.size as f64 / 1e9 * S3_GB_MONTH / HOURS_PER_MONTH;
        let id = format!("s3://{name}/easytdv/runs/{run}/");
        match found.iter_mut().find(|l| l.id == id) {
            Some(l) => l.usd_per_hour = l.usd_per_hour.map(|u| u + cost),
            None => found.push(Leftover {
                kind: LeftoverKind::Files,
                region: region.to_string(),
                id,
                run_id: Some(run.to_string()),
                usd_per_hour: Some(cost),
                detail: format!("uploaded inputs of run {run} (its outputs are kept)"),
                bucket: Some(name.to_string()),
            }),
        }
    }
    found
}
