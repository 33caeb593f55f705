//! Deleting a leftover, checked: only one the last scan of the same account
//! found (the webview names it by region and id; the backend deletes what
//! its own scan listed, never what it is sent), and checked gone after.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_ec2::types::Filter;

use super::leftovers::{Leftover, LeftoverKind};
use crate::aws::AwsContext;
use crate::pipeline::{self, aws_error, PipelineError, ProgressSink, RunResources};

/// The leftovers each account's last scan found.
#[derive(Debug, Default)]
pub struct LastScans(Mutex<HashMap<String, Vec<Leftover>>>);

impl LastScans {
    /// What a scan of `account` found replaces what the one before found.
    pub fn remember(&self, account: &str, found: &[Leftover]) {
        self.lock().insert(account.to_string(), found.to_vec());
    }

    /// The leftover of `account`'s last scan in `region` with this `id`.
    pub fn find(&self, account: &str, region: &str, id: &str) -> Option<Leftover> {
        self.lock()
            .get(account)?
            .iter()
            .find(|l| l.region == region && l.id == id)
            .cloned()
    }

    /// A deleted leftover is not offered again.
    pub fn forget(&self, account: &str, region: &str, id: &str) {
        if let Some(list) = self.lock().get_mut(account) {
            list.retain(|l| !(l.region == region && l.id == id));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Leftover>>> {
        // A panic while holding it leaves a map that is still whole.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Deletes one leftover and checks it is gone: a run's machine, stack or
/// files go together (the run's clean-up); a disk is deleted.
pub async fn delete_leftover(
    base: &AwsContext,
    leftover: &Leftover,
    history: &[crate::history::RunRecord],
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
            // The run's secrets go with it (names from Parameter Store: no
            // history names them). A policy that may not list them does not
            // keep a machine or stack from being deleted.
            let secret_parameters = match crate::secrets::parameters::list_run(&ctx, run).await {
                Ok(names) => names,
                Err(e) if leftover.kind != LeftoverKind::Secrets => {
                    tracing::warn!(run, error = %e, "the run's secrets could not be listed");
                    Vec::new()
                }
                Err(e) => return Err(e),
            };
            if !pipeline::is_generated_run_id(run) {
                return Err(PipelineError::State(format!(
                    "\"{run}\" is not a run id easyTDV makes: nothing was deleted"
                )));
            }
            let account_id = pipeline::storage::account_id(base).await?;
            let res = RunResources {
                run_id: run.clone(),
                region: leftover.region.clone(),
                bucket: leftover.bucket.clone().unwrap_or_default(),
                prefix: if leftover.bucket.is_some() {
                    format!("easytdv/runs/{run}")
                } else {
                    String::new()
                },
                account_id: Some(account_id.clone()),
                instance_id: (leftover.kind == LeftoverKind::Machine).then(|| leftover.id.clone()),
                training_job_name: (leftover.kind == LeftoverKind::TrainingJob)
                    .then(|| leftover.id.clone()),
                secret_parameters,
                // A machine tagged with this run that the history knows as
                // another run's, or kept warm, stays.
                leave_machines: super::leftovers::known_machines(history)
                    .into_iter()
                    .map(str::to_string)
                    .filter(|id| *id != leftover.id)
                    .collect(),
                ..Default::default()
            };
            pipeline::delete_resources(&ctx, &res, progress).await?;
            // Its machines' folders on the base: all but their outputs (the
            // history is gone, so which machine was truly this run's is not
            // known: nothing of them is copied over the run's own outputs).
            if let Some(name) = &leftover.bucket {
                let bucket = pipeline::storage::RunBucket::new(&ctx, name, &account_id);
                super::files::delete_machine_inputs(&bucket, run).await?;
            }
            Ok(())
        }
        (
            LeftoverKind::Stack
            | LeftoverKind::Files
            | LeftoverKind::TrainingJob
            | LeftoverKind::Secrets,
            None,
        ) => Err(PipelineError::State(format!(
            "{} names no run: delete it in the AWS console",
            leftover.id
        ))),
    }
}
