//! Leftovers: easyTDV's machines, stacks, disks, training jobs and input
//! files that no run of this history owns, region by region.

use std::collections::HashSet;

use aws_sdk_ec2::types::Filter;
use futures_util::{stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::{region_view, APP_TAG, RUN_TAG};
use crate::aws::AwsContext;
use crate::explain::Explain;
use crate::history::{Cleanup, RunRecord};
use crate::pipeline::{self, aws_error, base, PipelineError};
use crate::prices::{Prices, Service, HOURS_PER_MONTH};

/// What kind of thing was left behind.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LeftoverKind {
    /// A training machine (costs its hourly price).
    Machine,
    /// A run's stack (roles, launcher; costs nothing by itself).
    Stack,
    /// A disk no machine uses (costs its storage).
    Volume,
    /// A run's uploaded inputs in a bucket (a few cents a month).
    Files,
    /// A SageMaker training job still running (costs its machines' price).
    #[serde(rename = "trainingJob")]
    TrainingJob,
    /// A run's secrets in Parameter Store (free, but a token left readable
    /// in the account).
    Secrets,
}

/// Something of easyTDV's in the account that no run of this history owns.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Leftover {
    pub kind: LeftoverKind,
    pub region: String,
    /// Instance id, stack name, volume id, training job name,
    /// `s3://bucket/prefix/`, or a run's secrets path `/easytdv/runs/<run>/secrets`.
    pub id: String,
    pub run_id: Option<String>,
    /// What it costs per hour, when known.
    pub usd_per_hour: Option<f64>,
    /// In plain words: "t3.medium, running", "30 GiB disk", …
    pub detail: String,
    /// Bucket of `Files`.
    pub bucket: Option<String>,
}

/// The runs of the history that may still own something in AWS.
fn owned(history: &[RunRecord]) -> HashSet<&str> {
    history
        .iter()
        .filter(|r| r.cleanup != Cleanup::Deleted)
        .map(|r| r.run_id.as_str())
        .collect()
}

/// Machines the history knows apart from their launch tag: the machine of a
/// run that took it warm from another, and one kept warm until its own stop
/// (a little after: past that, one that did not stop itself is a leftover).
pub(super) fn known_machines(history: &[RunRecord]) -> HashSet<&str> {
    let now = crate::warm::now_secs();
    let mut known = HashSet::new();
    for r in history {
        if let Some(w) = &r.resources.kept_warm {
            if now < w.until + crate::warm::FORGET_AFTER_SECS {
                known.insert(w.instance_id.as_str());
            }
        } else if r.cleanup != Cleanup::Deleted {
            if let Some(id) = &r.resources.instance_id {
                known.insert(id.as_str());
            }
        }
    }
    known
}

/// A part of the account the scan could not look at (a region, or one
/// bucket), shown on its own row; the rest of the scan is kept.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScanFailure {
    /// The region (of the bucket, for a bucket).
    pub region: String,
    /// The bucket, when one bucket could not be looked at.
    pub bucket: Option<String>,
    /// The error's code (`access_denied`, …).
    pub code: String,
    /// What went wrong, in plain words.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
}

impl ScanFailure {
    pub fn new(region: &str, bucket: Option<&str>, err: &PipelineError) -> Self {
        let message = err.to_string();
        let hint = if message.contains("service control policy") {
            Some(format!(
                "Your organisation's policies (service control policies) close {region} to this account: \
                 nothing of easyTDV can have been made there since. Ask your AWS administrator if you need it checked."
            ))
        } else {
            err.hint()
        };
        Self {
            region: region.to_string(),
            bucket: bucket.map(str::to_string),
            code: err.code().to_string(),
            message,
            hint,
        }
    }
}

/// What a scan found, and what it could not look at.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LeftoverScan {
    pub leftovers: Vec<Leftover>,
    pub failures: Vec<ScanFailure>,
}

/// Regions scanned at once.
pub const REGIONS_AT_ONCE: usize = 4;

/// Every region enabled for the account, and the context's own.
pub(super) async fn account_regions(ctx: &AwsContext) -> Result<Vec<String>, PipelineError> {
    let mut regions: Vec<String> = pipeline::machine::enabled_regions(ctx)
        .await?
        .into_iter()
        .map(|r| r.code)
        .collect();
    if !regions.iter().any(|r| r == ctx.region()) {
        regions.push(ctx.region().to_string());
    }
    Ok(regions)
}

/// Leftovers in every region enabled for the account, plus run files in
/// the account's easyTDV buckets: each region and each bucket on its own
/// (regions [`REGIONS_AT_ONCE`] at a time), a failure kept on its row.
/// Fails whole only when the account's regions cannot be listed.
pub async fn leftovers(
    base: &AwsContext,
    history: &[RunRecord],
    prices: Option<&Prices>,
) -> Result<LeftoverScan, PipelineError> {
    let regions = account_regions(base).await?;
    let per_region = stream::iter(regions)
        .map(|region| async move {
            let (scanned, secrets) = match AwsContext::new_like(base, &region).await {
                Ok(ctx) => {
                    let (found, secrets) = tokio::join!(
                        region_leftovers(&ctx, history, prices),
                        super::secrets::secret_leftovers(&ctx, history)
                    );
                    (found, Some(secrets))
                }
                Err(e) => (Err(PipelineError::State(e.to_string())), None),
            };
            (region, scanned, secrets)
        })
        .buffer_unordered(REGIONS_AT_ONCE)
        .collect::<Vec<_>>();
    let (per_region, files) = tokio::join!(per_region, super::files::file_leftovers(base, history));
    let mut scan = files;
    for (region, scanned, secrets) in per_region {
        match scanned {
            Ok(found) => scan.leftovers.extend(found),
            Err(e) => {
                tracing::warn!(region, error = %e, "a region of the leftovers check failed");
                scan.failures.push(ScanFailure::new(&region, None, &e));
            }
        }
        // The secrets on their own row: a policy from before secrets (no
        // ssm:DescribeParameters) keeps the rest of the region's scan.
        match secrets {
            Some(Ok(found)) => scan.leftovers.extend(found),
            Some(Err(e))
                if scan
                    .failures
                    .iter()
                    .all(|f| f.region != region || f.bucket.is_some()) =>
            {
                tracing::warn!(region, error = %e, "the runs' secrets could not be listed");
                scan.failures.push(ScanFailure::new(&region, None, &e));
            }
            _ => {}
        }
    }
    scan.leftovers.sort_by(|a, b| {
        (a.region.as_str(), a.id.as_str()).cmp(&(b.region.as_str(), b.id.as_str()))
    });
    scan.failures
        .sort_by(|a, b| (&a.region, &a.bucket).cmp(&(&b.region, &b.bucket)));
    Ok(scan)
}

/// Leftovers of one region.
pub async fn region_leftovers(
    ctx: &AwsContext,
    history: &[RunRecord],
    prices: Option<&Prices>,
) -> Result<Vec<Leftover>, PipelineError> {
    let owned = owned(history);
    let view = region_view(ctx).await?;
    let table = match prices {
        Some(p) if !view.machines.is_empty() => Some(p.table(ctx, Service::Ec2).await),
        _ => None,
    };
    let region = ctx.region().to_string();
    let mut out = Vec::new();
    let known = known_machines(history);
    for (run, machines) in &view.machines {
        if owned.contains(run.as_str()) {
            continue;
        }
        for (id, state, kind) in machines {
            if known.contains(id.as_str()) {
                continue;
            }
            out.push(Leftover {
                kind: LeftoverKind::Machine,
                region: region.clone(),
                id: id.clone(),
                run_id: (!run.is_empty()).then(|| run.clone()),
                usd_per_hour: table.as_ref().and_then(|t| t.get(kind)).map(|p| p.usd),
                detail: format!("{kind}, {state}"),
                bucket: None,
            });
        }
    }
    for (name, status) in &view.stacks {
        let run = name.trim_start_matches("easytdv-");
        // The base is every run's, not one run's (free while no machine runs).
        if owned.contains(run) || status == "DELETE_COMPLETE" || name == base::STACK_NAME {
            continue;
        }
        out.push(Leftover {
            kind: LeftoverKind::Stack,
            region: region.clone(),
            id: name.clone(),
            run_id: Some(run.to_string()),
            usd_per_hour: Some(0.0),
            detail: format!("cloud resources of run {run} ({status})"),
            bucket: None,
        });
    }
    out.extend(job_leftovers(ctx, &owned, prices).await?);
    let volumes = ctx
        .ec2()
        .describe_volumes()
        .filters(
            Filter::builder()
                .name(format!("tag:{APP_TAG}"))
                .values("easytdv")
                .build(),
        )
        .filters(Filter::builder().name("status").values("available").build())
        .send()
        .await
        .map_err(|e| aws_error("list the disks", e))?;
    let gp3 = match prices {
        Some(p) if !volumes.volumes().is_empty() => p.gp3_gb_month(ctx).await,
        _ => None,
    };
    for v in volumes.volumes() {
        let size = v.size().unwrap_or(0);
        out.push(Leftover {
            kind: LeftoverKind::Volume,
            region: region.clone(),
            id: v.volume_id().unwrap_or_default().to_string(),
            run_id: v
                .tags()
                .iter()
                .find(|t| t.key() == Some(RUN_TAG))
                .and_then(|t| t.value())
                .map(str::to_string),
            usd_per_hour: gp3.map(|g| g * f64::from(size) / HOURS_PER_MONTH),
            detail: format!("{size} GiB disk that no machine uses"),
            bucket: None,
        });
    }
    Ok(out)
}

/// easyTDV training jobs still running (`easytdv-<run-id>-<attempt>`) of
/// runs this history does not own.
async fn job_leftovers(
    ctx: &AwsContext,
    owned: &HashSet<&str>,
    prices: Option<&Prices>,
) -> Result<Vec<Leftover>, PipelineError> {
    let mut pages = ctx
        .sagemaker()
        .list_training_jobs()
        .name_contains("easytdv-")
        .status_equals(aws_sdk_sagemaker::types::TrainingJobStatus::InProgress)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("list the training jobs", e))?;
        names.extend(
            page.training_job_summaries()
                .iter()
                .filter_map(|j| j.training_job_name().map(str::to_string)),
        );
    }
    let region = ctx.region().to_string();
    let mut out = Vec::new();
    for name in names {
        let Some(run) = run_of_job(&name) else {
            continue;
        };
        if owned.contains(run) {
            continue;
        }
        let job = ctx
            .sagemaker()
            .describe_training_job()
            .training_job_name(&name)
            .send()
            .await
            .map_err(|e| aws_error("read a training job", e))?;
        let (kind, count) = job
            .resource_config()
            .map(|r| {
                (
                    r.instance_type()
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    r.instance_count().unwrap_or(1).max(1),
                )
            })
            .unwrap_or_default();
        let rate = match prices {
            Some(p) => p.hourly(ctx, Service::SageMaker, &kind).await,
            None => None,
        };
        out.push(Leftover {
            kind: LeftoverKind::TrainingJob,
            region: region.clone(),
            id: name.clone(),
            run_id: Some(run.to_string()),
            usd_per_hour: rate.map(|r| r * f64::from(count)),
            detail: format!("SageMaker training job on {count} × {kind}, still running"),
            bucket: None,
        });
    }
    Ok(out)
}

/// The run of a training job named `easytdv-<run-id>-<attempt>`.
fn run_of_job(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("easytdv-")?;
    let (run, attempt) = rest.rsplit_once('-')?;
    attempt.chars().all(|c| c.is_ascii_digit()).then_some(run)
}
