//! What AWS says now about a run's stack and machine.

use super::error::PipelineError;
use super::model::RunResources;
use super::{instance, sagemaker, stack};
use crate::aws::AwsContext;

/// The status of a stack by name, `None` when it does not exist.
pub async fn stack_status(
    ctx: &AwsContext,
    stack_name: &str,
) -> Result<Option<String>, PipelineError> {
    Ok(stack::status(ctx, stack_name)
        .await?
        .map(|s| s.as_str().to_string()))
}

/// The state of an instance (`running`, `terminated`, …), `None` if unknown.
pub async fn instance_state(
    ctx: &AwsContext,
    instance_id: &str,
) -> Result<Option<String>, PipelineError> {
    Ok(instance::state(ctx, instance_id)
        .await?
        .map(|s| s.as_str().to_string()))
}

/// What AWS says now about a run's stack and machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudStatus {
    /// `None`: no stack (never created, or deleted).
    pub stack_status: Option<String>,
    /// `None`: no machine recorded, or EC2 no longer knows it. A SageMaker
    /// run's job status, in EC2's words (running, terminated).
    pub instance_state: Option<String>,
}

pub async fn cloud_status(
    ctx: &AwsContext,
    res: &RunResources,
) -> Result<CloudStatus, PipelineError> {
    let name = res
        .stack_name
        .clone()
        .unwrap_or_else(|| stack::stack_name(&res.run_id));
    let stack_status = stack_status(ctx, &name).await?;
    let instance_state = match (&res.training_job_name, &res.instance_id) {
        (Some(job), _) => sagemaker::describe_job(ctx, job)
            .await?
            .map(|j| sagemaker::job_as_machine_state(&j.status).to_string()),
        // A machine kept warm after the run is not the run's any more.
        (None, Some(id)) if res.kept_warm.as_ref().is_some_and(|w| w.instance_id == *id) => None,
        (None, Some(id)) => instance_state(ctx, id).await?,
        (None, None) => None,
    };
    Ok(CloudStatus {
        stack_status,
        instance_state,
    })
}
