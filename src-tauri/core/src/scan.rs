//! Looking at a whole account at once: the status of every run of a region
//! in a constant number of AWS calls (one stack list, one instance list),
//! and easyTDV resources that no run of this history owns ("leftovers":
//! another computer's, or a deleted history's), each with what it costs,
//! and deleted with verification.

use std::collections::{HashMap, HashSet};

use aws_sdk_cloudformation::types::StackStatus;
use aws_sdk_ec2::types::Filter;
use serde::{Deserialize, Serialize};

use crate::aws::AwsContext;
use crate::history::{Cleanup, RunRecord};
use crate::pipeline::{
    self, aws_error, sagemaker, CloudStatus, PipelineError, ProgressSink, RunResources,
};
use crate::prices::{Prices, Service, HOURS_PER_MONTH, S3_GB_MONTH};

const APP_TAG: &str = "easytdv:app";
const RUN_TAG: &str = "easytdv:run-id";

/// Every easyTDV stack and machine of the context's region.
#[derive(Debug, Default, Clone)]
pub struct RegionView {
    /// Stack name → status.
    pub stacks: HashMap<String, String>,
    /// Run id → (instance id, state, type), machines not terminated.
    pub machines: HashMap<String, Vec<(String, String, String)>>,
    /// Instance id → state, for every tagged machine (terminated too).
    pub states: HashMap<String, String>,
    /// Training job name → status (`InProgress`, `Completed`…), when asked.
    pub jobs: HashMap<String, String>,
}

/// One `ListStacks` and one `DescribeInstances` (by the app tag), each
/// paged by AWS; the same calls whatever the number of runs.
pub async fn region_view(ctx: &AwsContext) -> Result<RegionView, PipelineError> {
    let mut view = RegionView::default();
    // ListStacks, not DescribeStacks: listing every stack with DescribeStacks
    // needs it allowed on all stacks, ListStacks is a listing permission.
    let live: Vec<StackStatus> = StackStatus::values()
        .iter()
        .map(|v| StackStatus::from(*v))
        .filter(|s| *s != StackStatus::DeleteComplete)
        .collect();
    let mut pages = ctx
        .cloudformation()
        .list_stacks()
        .set_stack_status_filter(Some(live))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("list the stacks", e))?;
        for s in page.stack_summaries() {
            let (Some(name), Some(status)) = (s.stack_name(), s.stack_status()) else {
                continue;
            };
            if name.starts_with("easytdv-") {
                view.stacks
                    .insert(name.to_string(), status.as_str().to_string());
            }
        }
    }
    let mut pages = ctx
        .ec2()
        .describe_instances()
        .filters(
            Filter::builder()
                .name(format!("tag:{APP_TAG}"))
                .values("easytdv")
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("list the machines", e))?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            let (Some(id), Some(state)) = (i.instance_id(), i.state().and_then(|s| s.name()))
            else {
                continue;
            };
            view.states
                .insert(id.to_string(), state.as_str().to_string());
            let run = i
                .tags()
                .iter()
                .find(|t| t.key() == Some(RUN_TAG))
                .and_then(|t| t.value())
                .unwrap_or("")
                .to_string();
            if !matches!(state.as_str(), "terminated") {
                let kind = i
                    .instance_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default();
                view.machines.entry(run).or_default().push((
                    id.to_string(),
                    state.as_str().to_string(),
                    kind,
                ));
            }
        }
    }
    Ok(view)
}

/// [`region_view`] plus one paged `ListTrainingJobs` (easyTDV's jobs), for
/// regions where some run is a SageMaker job.
pub async fn region_view_with_jobs(ctx: &AwsContext) -> Result<RegionView, PipelineError> {
    let mut view = region_view(ctx).await?;
    let mut pages = ctx
        .sagemaker()
        .list_training_jobs()
        .name_contains("easytdv-")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("list the training jobs", e))?;
        for j in page.training_job_summaries() {
            if let (Some(name), Some(status)) = (j.training_job_name(), j.training_job_status()) {
                view.jobs
                    .insert(name.to_string(), status.as_str().to_string());
            }
        }
    }
    Ok(view)
}

impl RegionView {
    /// A run's status, as [`pipeline::cloud_status`] would tell it.
    pub fn status_of(&self, res: &RunResources) -> CloudStatus {
        let name = res
            .stack_name
            .clone()
            .unwrap_or_else(|| format!("easytdv-{}", res.run_id));
        let job_state = res
            .training_job_name
            .as_ref()
            .and_then(|j| self.jobs.get(j))
            .map(|s| sagemaker::job_as_machine_state(s).to_string());
        let instance_state = job_state
            .or_else(|| {
                res.instance_id
                    .as_ref()
                    .and_then(|id| self.states.get(id).cloned())
            })
            .or_else(|| {
                self.machines
                    .get(&res.run_id)
                    .and_then(|m| m.first())
                    .map(|(_, state, _)| state.clone())
            });
        CloudStatus {
            stack_status: self
                .stacks
                .get(&name)
                .filter(|s| s.as_str() != "DELETE_COMPLETE")
                .cloned(),
            instance_state,
        }
    }
}

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
}

/// Something of easyTDV's in the account that no run of this history owns.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Leftover {
    pub kind: LeftoverKind,
    pub region: String,
    /// Instance id, stack name, volume id, training job name, or `s3://bucket/prefix/`.
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

/// Leftovers in every region enabled for the account, plus run files in
/// the account's easyTDV buckets.
pub async fn leftovers(
    base: &AwsContext,
    history: &[RunRecord],
    prices: Option<&Prices>,
) -> Result<Vec<Leftover>, PipelineError> {
    let mut regions: Vec<String> = pipeline::machine::enabled_regions(base)
        .await?
        .into_iter()
        .map(|r| r.code)
        .collect();
    if !regions.iter().any(|r| r == base.region()) {
        regions.push(base.region().to_string());
    }
    let mut found = Vec::new();
    for region in regions {
        let ctx = match AwsContext::new_like(base, &region).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(region, error = %e, "skipped a region in the leftovers check");
                continue;
            }
        };
        found.extend(region_leftovers(&ctx, history, prices).await?);
    }
    found.extend(file_leftovers(base, history).await?);
    Ok(found)
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
    for (run, machines) in &view.machines {
        if owned.contains(run.as_str()) {
            continue;
        }
        for (id, state, kind) in machines {
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
        if owned.contains(run) || status == "DELETE_COMPLETE" {
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

/// Inputs of runs this history does not know, in the account's easyTDV
/// buckets (names starting `easytdv-`) and the buckets the history used.
async fn file_leftovers(
    ctx: &AwsContext,
    history: &[RunRecord],
) -> Result<Vec<Leftover>, PipelineError> {
    let known: HashSet<&str> = history.iter().map(|r| r.run_id.as_str()).collect();
    let out = ctx
        .s3()
        .list_buckets()
        .send()
        .await
        .map_err(|e| aws_error("list your buckets", e))?;
    let used: HashSet<&str> = history
        .iter()
        .map(|r| r.resources.bucket.as_str())
        .collect();
    let account = pipeline::storage::account_id(ctx).await?;
    let mut found = Vec::new();
    for b in out.buckets() {
        let Some(name) = b.name() else { continue };
        if !(name.starts_with("easytdv-") || used.contains(name)) {
            continue;
        }
        let region = b.bucket_region().unwrap_or(ctx.region()).to_string();
        let here = match AwsContext::new_like(ctx, &region).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(bucket = name, error = %e, "skipped a bucket in the leftovers check");
                continue;
            }
        };
        let bucket = pipeline::storage::RunBucket::new(&here, name, account.clone());
        for obj in bucket.list("easytdv/runs/").await? {
            // easytdv/runs/<run>/<file>, inputs only (outputs are results).
            let mut parts = obj.key.splitn(4, '/');
            let (_, _, Some(run), Some(rest)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if known.contains(run) || rest.starts_with("outputs/") {
                continue;
            }
            let id = format!("s3://{name}/easytdv/runs/{run}/");
            match found.iter_mut().find(|l: &&mut Leftover| l.id == id) {
                Some(l) => {
                    l.usd_per_hour = l
                        .usd_per_hour
                        .map(|u| u + obj.size as f64 / 1e9 * S3_GB_MONTH / HOURS_PER_MONTH)
                }
                None => found.push(Leftover {
                    kind: LeftoverKind::Files,
                    region: region.clone(),
                    id,
                    run_id: Some(run.to_string()),
                    usd_per_hour: Some(obj.size as f64 / 1e9 * S3_GB_MONTH / HOURS_PER_MONTH),
                    detail: format!("uploaded inputs of run {run} (its outputs are kept)"),
                    bucket: Some(name.to_string()),
                }),
            }
        }
    }
    Ok(found)
}

/// Deletes one leftover and checks it is gone: a run's machine, stack or
/// files go together (the run's clean-up); a disk is deleted.
pub async fn delete_leftover(
    base: &AwsContext,
    leftover: &Leftover,
    progress: &dyn ProgressSink,
) -> Result<(), PipelineError> {
    let ctx = AwsContext::new_like(base, &leftover.region)
        .await
        .map_err(|e| PipelineError::State(e.to_string()))?;
    match (leftover.kind, &leftover.run_id) {
        (LeftoverKind::Volume, _) => {
            ctx.ec2()
                .delete_volume()
                .volume_id(&leftover.id)
                .send()
                .await
                .map_err(|e| aws_error("delete the disk", e))?;
            // Checked: EC2 no longer lists it, or lists it as going.
            let left = ctx
                .ec2()
                .describe_volumes()
                .filters(
                    Filter::builder()
                        .name("volume-id")
                        .values(&leftover.id)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| aws_error("check that the disk is gone", e))?;
            let still = left
                .volumes()
                .iter()
                .any(|v| !matches!(v.state().map(|s| s.as_str()), Some("deleting" | "deleted")));
            if still {
                return Err(PipelineError::State(format!(
                    "the disk {} is still there: delete it in the EC2 console",
                    leftover.id
                )));
            }
            Ok(())
        }
        (LeftoverKind::Machine, None) => {
            pipeline::terminate_machines(&ctx, std::slice::from_ref(&leftover.id)).await?;
            Ok(())
        }
        (_, Some(run)) => {
            let res = RunResources {
                run_id: run.clone(),
                region: leftover.region.clone(),
                bucket: leftover.bucket.clone().unwrap_or_default(),
                prefix: if leftover.bucket.is_some() {
                    format!("easytdv/runs/{run}")
                } else {
                    String::new()
                },
                account_id: Some(pipeline::storage::account_id(base).await?),
                instance_id: (leftover.kind == LeftoverKind::Machine).then(|| leftover.id.clone()),
                training_job_name: (leftover.kind == LeftoverKind::TrainingJob)
                    .then(|| leftover.id.clone()),
                ..Default::default()
            };
            pipeline::delete_resources(&ctx, &res, progress)
                .await
                .map(|_| ())
        }
        (LeftoverKind::Stack | LeftoverKind::Files | LeftoverKind::TrainingJob, None) => {
            Err(PipelineError::State(format!(
                "{} names no run: delete it in the AWS console",
                leftover.id
            )))
        }
    }
}
