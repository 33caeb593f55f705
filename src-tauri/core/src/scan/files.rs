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
use crate::pipeline::{self, aws_error, PipelineError};
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

/// Where machines of the base keep a run's files: `easytdv/m/<userid>/<run>/`.
const MACHINES_PREFIX: &str = "easytdv/m/";

/// Every object under `easytdv/runs/` and `easytdv/m/` of one bucket, asked from `region`
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
        let bucket = RunBucket::new(&here, name, owner);
        let listed = async {
            let mut found = bucket.list("easytdv/runs/").await?;
            found.extend(bucket.list(MACHINES_PREFIX).await?);
            Ok::<_, PipelineError>(found)
        };
        match listed.await {
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

/// A machine's `aws:userid` as the base's role gives it: `<role id>:<instance id>`.
fn is_machine_userid(userid: &str) -> bool {
    let Some((role, instance)) = userid.split_once(':') else {
        return false;
    };
    role.len() > 4
        && role.starts_with("AROA")
        && role
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && instance.len() > 2
        && instance.starts_with("i-")
        && instance[2..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The run a machine's folder key belongs to: `easytdv/m/<userid>/<run>/…`,
/// with a real userid and a run id of the app's own shape (a machine names
/// the folders under its own, and IAM's `?` matches `/`: `base/x-…` or `*`
/// must never become a run the app would delete by name).
fn machine_run_of(key: &str) -> Option<(&str, &str, &str)> {
    let rest = key.strip_prefix(MACHINES_PREFIX)?;
    let (userid, rest) = rest.split_once('/')?;
    let (run, rest) = rest.split_once('/')?;
    (is_machine_userid(userid) && pipeline::is_generated_run_id(run)).then_some((userid, run, rest))
}

/// The keys of `run`'s machines' folders (`easytdv/m/<userid>/<run>/`) but
/// their outputs, which stay where they are.
async fn machine_inputs_of(
    bucket: &RunBucket<'_>,
    run: &str,
) -> Result<Vec<String>, PipelineError> {
    Ok(bucket
        .list(MACHINES_PREFIX)
        .await?
        .into_iter()
        .filter(|o| {
            machine_run_of(&o.key)
                .is_some_and(|(_, r, rest)| r == run && !rest.starts_with("outputs/"))
        })
        .map(|o| o.key)
        .collect())
}

/// Deletes what `run`'s machines' folders hold but their outputs, and
/// checks it is gone.
pub(super) async fn delete_machine_inputs(
    bucket: &RunBucket<'_>,
    run: &str,
) -> Result<(), PipelineError> {
    bucket
        .delete_keys(&machine_inputs_of(bucket, run).await?)
        .await?;
    if !machine_inputs_of(bucket, run).await?.is_empty() {
        return Err(PipelineError::State(format!(
            "some files of run {run}'s machine are still in the bucket"
        )));
    }
    Ok(())
}

/// The run a key belongs to, and whether it is one of its outputs (kept):
/// `easytdv/runs/<run>/…` or a machine's folder `easytdv/m/<userid>/<run>/…`.
/// A machine's folder of a run the history does not know keeps its outputs
/// where they are: the app cannot tell which machine was truly that run's,
/// so it copies nothing of them over the run's own.
fn run_of(key: &str) -> Option<(&str, bool)> {
    let (run, rest) = match key.strip_prefix("easytdv/runs/") {
        Some(rest) => rest.split_once('/')?,
        None => machine_run_of(key).map(|(_, run, rest)| (run, rest))?,
    };
    pipeline::is_generated_run_id(run).then_some((run, rest.starts_with("outputs/")))
}

/// One leftover per run: its inputs under `easytdv/runs/<run>/` and its
/// machines' folders (outputs are results, never leftovers).
fn inputs_of_unknown_runs(
    name: &str,
    region: &str,
    objects: &[ObjectInfo],
    known: &HashSet<&str>,
) -> Vec<Leftover> {
    let mut found: Vec<Leftover> = Vec::new();
    for obj in objects {
        let Some((run, output)) = run_of(&obj.key) else {
            continue;
        };
        if known.contains(run) || output || run.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, size: u64) -> ObjectInfo {
        ObjectInfo {
            key: key.into(),
            size,
            etag: String::new(),
            last_modified: None,
        }
    }

    #[test]
    fn a_runs_inputs_and_machine_folders_are_one_leftover_and_outputs_none() {
        let run = "20261206-101500-a1b2c3";
        let known_run = "20261206-000000-aaaaaa";
        let objects = [
            object(&format!("easytdv/runs/{run}/train.py"), 10),
            object(&format!("easytdv/runs/{run}/outputs/model.pt"), 1_000),
            object(
                &format!("easytdv/m/AROAX1:i-0abc/{run}/scripts/train.sh"),
                5,
            ),
            object(
                &format!("easytdv/m/AROAX1:i-0abc/{run}/outputs/model.pt"),
                1_000,
            ),
            object(&format!("easytdv/m/AROAX1:i-0def/{known_run}/train.py"), 7),
            object("easytdv/m/stray", 1),
        ];
        let known = HashSet::from([known_run]);
        let found = inputs_of_unknown_runs("easytdv-b", "eu-west-3", &objects, &known);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].id, format!("s3://easytdv-b/easytdv/runs/{run}/"));
        assert_eq!(found[0].run_id.as_deref(), Some(run));
        // Outputs are results, never leftovers: the run's and its machine's.
        let cost = found[0].usd_per_hour.unwrap();
        let per_byte = S3_GB_MONTH / 1e9 / HOURS_PER_MONTH;
        assert!((cost - 15.0 * per_byte).abs() < 1e-15, "{cost}");
    }

    /// A machine names the folders under its own (IAM's `?` matches `/`):
    /// none of them becomes a run the app would delete by name.
    #[test]
    fn folders_a_machine_made_up_are_no_run() {
        let objects = [
            object(
                "easytdv/m/AROAX1:i-0abc/base/xyz-123456-123456/outputs/p",
                1,
            ),
            object(
                "easytdv/m/AROAX1:i-0abc/*/abcdef-123456-123456/outputs/p",
                1,
            ),
            object("easytdv/m/AROAX1:i-0abc/base/inputs", 1),
            object("easytdv/m/not-a-userid/20261206-101500-a1b2c3/x", 1),
            object("easytdv/m/AROAX1:i-0ABC/20261206-101500-a1b2c3/x", 1),
            object("easytdv/runs/base/x", 1),
            object("easytdv/runs/*/x", 1),
        ];
        let found = inputs_of_unknown_runs("easytdv-b", "eu-west-3", &objects, &HashSet::new());
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(
            machine_run_of("easytdv/m/AROAX1:i-0abc/20261206-101500-a1b2c3/scripts/a"),
            Some(("AROAX1:i-0abc", "20261206-101500-a1b2c3", "scripts/a"))
        );
    }
}
