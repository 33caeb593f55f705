//! `delete_resources`: terminate the machine, delete the stack, remove the
//! run's input files; then check each is gone. Safe to call twice, after a
//! partial run, or when things are already gone. Outputs are kept.

use super::error::PipelineError;
use super::model::{DeleteReport, RunResources, Step};
use super::progress::{ProgressSink, SinkRef, StepTimer};
use super::storage::RunBucket;
use super::{instance, stack};
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

/// Long enough for a RunInstances already sent to show its machine.
const LAUNCH_SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

/// The key the launcher checks before each launch attempt.
pub fn stop_key(res: &RunResources) -> String {
    format!("{}/stop", res.prefix)
}

/// A launch was asked for and no machine is known yet, recently enough
/// that the launcher may still be running (its Invoke lasts at most
/// `LAUNCH_INVOKE_TIMEOUT`). A SageMaker run has no launcher: its job is
/// what step 1 stops.
fn launch_in_flight(res: &RunResources) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    res.instance_id.is_none()
        && res.training_job_name.is_none()
        && res
            .launched_at
            .is_some_and(|t| now - t < crate::aws::LAUNCH_INVOKE_TIMEOUT.as_secs_f64())
}

async fn delete_all(
    ctx: &AwsContext,
    res: &RunResources,
    timer: &StepTimer<'_>,
) -> Result<DeleteReport, PipelineError> {
    let mut report = DeleteReport::default();
    if !super::is_generated_run_id(&res.run_id) {
        // The stack's name and the machines' tag filter come from it.
        return Err(PipelineError::State(format!(
            "\"{}\" is not a run id easyTDV makes: nothing was deleted",
            res.run_id
        )));
    }

    let bucket = if res.bucket.is_empty() || res.prefix.is_empty() {
        None
    } else {
        Some(RunBucket::for_run(ctx, res).await?)
    };
    // 0. A launcher still running (a run stopped while its machine was being
    //    launched) sees this and launches nothing; one that was already
    //    launching has its machine found below.
    if let (Some(bucket), true) = (&bucket, launch_in_flight(res)) {
        timer.update("Making sure the launcher starts no machine");
        bucket.put(&stop_key(res), b"stopped".to_vec()).await?;
        tokio::time::sleep(LAUNCH_SETTLE).await;
    }

    // 1. A SageMaker run's training job: stopped if it still runs (its
    //    machines cost money; SageMaker uploads what it wrote so far).
    let notice = |m: &str| timer.update(m.to_string());
    if let Some(job) = &res.training_job_name {
        if super::sagemaker::stop_job(ctx, job, &notice).await? {
            report.stopped_training_job = Some(job.clone());
        }
    }

    // 2. The machine first: it is what costs money, and the stack's security
    //    group cannot go while a machine uses it.
    let mut ids = instance::find_run_instances(ctx, &res.run_id).await?;
    if let Some(id) = &res.instance_id {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids.retain(|id| !res.leave_machines.contains(id));
    if let Some(warm) = &res.kept_warm {
        // Handed on: the next run's, or it stops itself.
        ids.retain(|id| *id != warm.instance_id);
        timer.update(format!(
            "Leaving machine {} on: it is kept warm for your next run",
            warm.instance_id
        ));
    }
    if !ids.is_empty() {
        timer.update(format!("Terminating the machine {}", ids.join(", ")));
    }
    report.terminated_instances = instance::terminate(ctx, &ids, &notice).await?;

    // 3. The stack (by id when known, else by its name).
    let stack_ref = res
        .stack_id
        .clone()
        .or_else(|| res.stack_name.clone())
        .unwrap_or_else(|| stack::stack_name(&res.run_id));
    timer.update("Deleting the cloud resources (stack)");
    if stack::delete(ctx, &stack_ref, &notice).await? {
        report.deleted_stack = Some(
            res.stack_name
                .clone()
                .unwrap_or_else(|| stack::stack_name(&res.run_id)),
        );
    }

    // 4. The run's secrets in Parameter Store, checked gone (the machine
    //    that could read them is gone).
    if !res.secret_parameters.is_empty() {
        timer.update("Deleting the run's secrets from Parameter Store");
        crate::secrets::parameters::delete(ctx, &res.run_id, &res.secret_parameters).await?;
        report.deleted_secrets = res.secret_parameters.len() as u32;
    }

    // 5. The inputs; the outputs stay (a machine of the base wrote them in
    //    its folder: brought to the run's outputs/ first).
    if let Some(bucket) = &bucket {
        for folder in &res.machine_folders {
            super::base::bring_outputs(bucket, folder, &res.prefix).await?;
        }
        let inputs = input_keys(bucket, res).await?;
        if !inputs.is_empty() {
            timer.update("Removing the run's input files");
        }
        bucket.delete_keys(&inputs).await?;
        report.deleted_objects = inputs;
        if !bucket.list_keys(&res.outputs_prefix()).await?.is_empty() {
            report.kept_outputs_prefix =
                Some(format!("s3://{}/{}", res.bucket, res.outputs_prefix()));
        }
    }

    // 6. Verify.
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
    if let Some(bucket) = &bucket {
        if !input_keys(bucket, res).await?.is_empty() {
            return Err(PipelineError::State(
                "some input files are still in the bucket".into(),
            ));
        }
    }
    Ok(report)
}

/// The run's own files except its outputs (the environment cache lives
/// elsewhere, under `easytdv/cache/`, and is never touched here).
async fn input_keys(
    bucket: &RunBucket<'_>,
    res: &RunResources,
) -> Result<Vec<String>, PipelineError> {
    // The run's prefix, and each of its machines' folders on the base (the
    // inputs copied there, its scripts, its saved environment): all but
    // their outputs.
    let mut keys = Vec::new();
    let outputs = res.outputs_prefix();
    keys.extend(
        bucket
            .list_keys(&format!("{}/", res.prefix))
            .await?
            .into_iter()
            .filter(|k| !k.starts_with(&outputs)),
    );
    // A machine's folder goes whole: its outputs were brought to the run's.
    for folder in &res.machine_folders {
        keys.extend(bucket.list_keys(&format!("{folder}/")).await?);
    }
    Ok(keys)
}

fn summary(r: &DeleteReport) -> String {
    let mut parts = Vec::new();
    if let Some(job) = &r.stopped_training_job {
        parts.push(format!("stopped the training job {job}"));
    }
    if !r.terminated_instances.is_empty() {
        parts.push(format!("terminated {}", r.terminated_instances.join(", ")));
    }
    if let Some(s) = &r.deleted_stack {
        parts.push(format!("deleted stack {s}"));
    }
    if r.deleted_secrets > 0 {
        parts.push(format!(
            "deleted {} secret{}",
            r.deleted_secrets,
            if r.deleted_secrets == 1 { "" } else { "s" }
        ));
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
