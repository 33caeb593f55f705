//! Looking at a whole account at once: the status of every run of a region
//! in a constant number of AWS calls (one stack list, one instance list),
//! and easyTDV resources that no run of this history owns ("leftovers":
//! another computer's, or a deleted history's), each with what it costs,
//! and deleted with verification (`leftovers.rs`, `files.rs`, `delete.rs`).

use std::collections::HashMap;

use aws_sdk_cloudformation::types::StackStatus;
use aws_sdk_ec2::types::Filter;

use crate::aws::AwsContext;
use crate::pipeline::{aws_error, sagemaker, CloudStatus, PipelineError, RunResources};

mod bases;
mod delete;
mod files;
mod leftovers;
mod secrets;

pub use bases::{bases, remove_bases, BaseRemoval, BaseScan, BaseSite};
pub use delete::{delete_leftover, LastScans};
pub use leftovers::{
    leftovers, region_leftovers, Leftover, LeftoverKind, LeftoverScan, ScanFailure,
};
pub use secrets::secret_leftovers;

pub(crate) const APP_TAG: &str = "easytdv:app";
pub(crate) const RUN_TAG: &str = "easytdv:run-id";

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
        // A machine kept warm is no longer the run's.
        let handed_on = |id: &String| res.kept_warm.as_ref().is_some_and(|w| w.instance_id == *id);
        let instance_state = job_state
            .or_else(|| {
                res.instance_id
                    .as_ref()
                    .filter(|id| !handed_on(id))
                    .and_then(|id| self.states.get(id).cloned())
            })
            .or_else(|| {
                self.machines
                    .get(&res.run_id)
                    .and_then(|m| m.iter().find(|(id, _, _)| !handed_on(id)))
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
