//! `delete_resources`: terminate the machine, delete the stack, remove the
//! run's input files; then check each is gone. Safe to call twice, after a
//! partial run, or when things are already gone. Outputs are kept.

use super::error::PipelineError;
use super::model::{DeleteReport, RunResources, Step};
use super::progress::{ProgressSink, SinkRef, StepTimer};
use super::{instance, stack, storage};
use crate::aws::AwsContext;

pub async fn delete_resources(
    ctx: &AwsContext,
    res: &RunResources,
    progress: &dyn ProgressSink,
) -> Result<DeleteReport, PipelineError> {
    let timer = StepTimer::start(
        SinkRef::Borrowed(progress),
        &res.run_id,
        Step::Delete,
        "Looking for the run's resources",
    );
    let result = delete_all(ctx, res, &timer).await;
    timer.finish(result, summary)
}

async fn delete_all(
    ctx: &AwsContext,
    res: &RunResources,
    timer: &StepTimer<'_>,
) -> Result<DeleteReport, PipelineError> {
    let mut report = DeleteReport::default();

    // 1. The machine first: it is what costs money, and the stack's security
    //    group cannot go while a machine uses it.
    let mut ids = instance::find_run_instances(ctx, &res.run_id).await?;
    if let Some(id) = &res.instance_id {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    if !ids.is_empty() {
        timer.update(format!("Terminating the machine {}", ids.join(", ")));
    }
    report.terminated_instances = instance::terminate(ctx, &ids).await?;

    // 2. The stack (by id when known, else by its name).
    let stack_ref = res
        .stack_id
        .clone()
        .or_else(|| res.stack_name.clone())
        .unwrap_or_else(|| stack::stack_name(&res.run_id));
    timer.update("Deleting the cloud resources (stack)");
    if stack::delete(ctx, &stack_ref).await? {
        report.deleted_stack = Some(
            res.stack_name
                .clone()
                .unwrap_or_else(|| stack::stack_name(&res.run_id)),
        );
    }

    // 3. The inputs; the outputs stay.
    if !res.bucket.is_empty() && !res.prefix.is_empty() {
        let inputs = input_keys(ctx, res).await?;
        if !inputs.is_empty() {
            timer.update("Removing the run's input files");
        }
        storage::delete_keys(ctx, &res.bucket, &inputs).await?;
        report.deleted_objects = inputs;
        if !storage::list_keys(ctx, &res.bucket, &res.outputs_prefix())
            .await?
            .is_empty()
        {
            report.kept_outputs_prefix =
                Some(format!("s3://{}/{}", res.bucket, res.outputs_prefix()));
        }
    }

    // 4. Verify.
    for id in &ids {
        if let Some(state) = instance::state(ctx, id).await? {
            if state != aws_sdk_ec2::types::InstanceStateName::Terminated {
                return Err(PipelineError::InstanceLost {
                    instance_id: id.clone(),
                    state: format!("still {}", state.as_str()),
                });
            }
        }
    }
    if let Some(s) = stack::status(ctx, &stack_ref).await? {
        return Err(PipelineError::StackFailed {
            reason: format!("the stack is still there ({})", s.as_str()),
        });
    }
    if !res.bucket.is_empty() && !input_keys(ctx, res).await?.is_empty() {
        return Err(PipelineError::State(
            "some input files are still in the bucket".into(),
        ));
    }
    Ok(report)
}

async fn input_keys(ctx: &AwsContext, res: &RunResources) -> Result<Vec<String>, PipelineError> {
    let outputs = res.outputs_prefix();
    Ok(
        storage::list_keys(ctx, &res.bucket, &format!("{}/", res.prefix))
            .await?
            .into_iter()
            .filter(|k| !k.starts_with(&outputs))
            .collect(),
    )
}

fn summary(r: &DeleteReport) -> String {
    let mut parts = Vec::new();
    if !r.terminated_instances.is_empty() {
        parts.push(format!("terminated {}", r.terminated_instances.join(", ")));
    }
    if let Some(s) = &r.deleted_stack {
        parts.push(format!("deleted stack {s}"));
    }
    if !r.deleted_objects.is_empty() {
        parts.push(format!("removed {} input files", r.deleted_objects.len()));
    }
    let mut text = if parts.is_empty() {
        "Nothing was left to delete".to_string()
    } else {
        capitalize(&parts.join(", "))
    };
    if let Some(kept) = &r.kept_outputs_prefix {
        text.push_str(&format!("; outputs kept in {kept}"));
    }
    text
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}
