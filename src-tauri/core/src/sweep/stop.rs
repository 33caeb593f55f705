//! Acting on a whole sweep: stop all, delete all, and the one notification
//! when it ends.

use super::{SweepEnd, SweepError, Sweeps};
use crate::aws::AwsContext;
use crate::history::{Cleanup, SweepRecord};
use crate::pipeline::{DeleteReport, ProgressSink};
use crate::runs::RunError;

impl Sweeps {
    /// "Stop all": no more runs start, and every run under way is stopped
    /// and its machine deleted (outputs so far are kept).
    pub async fn stop_all(
        &self,
        ctx: &AwsContext,
        sweep_id: &str,
        progress: &dyn ProgressSink,
    ) -> Vec<(String, Result<DeleteReport, RunError>)> {
        self.hold(sweep_id);
        let Ok(record) = self.runs.history().get_sweep(sweep_id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for id in record.run_ids.iter().flatten() {
            if self.runs.active().is_active(id) {
                out.push((id.clone(), self.runs.delete(ctx, id, progress).await));
            }
        }
        out
    }

    /// "Delete all": stops the sweep, then deletes every run's resources
    /// not deleted yet, and ends a machine its runs kept warm.
    pub async fn delete_all(
        &self,
        ctx: &AwsContext,
        sweep_id: &str,
        progress: &dyn ProgressSink,
    ) -> Result<Vec<(String, Result<DeleteReport, RunError>)>, SweepError> {
        let record = self.record(sweep_id)?;
        let mut out = self.stop_all(ctx, sweep_id, progress).await;
        let history = self.runs.history();
        for id in record.run_ids.iter().flatten() {
            let Ok(run) = history.get(id) else { continue };
            if let Some(w) = &run.resources.kept_warm {
                if let Some(machine) = history.take_warm(&w.instance_id)? {
                    if let Err(e) = crate::warm::stop(ctx, &machine).await {
                        // Back in the list (it stops itself, or "Stop now"
                        // ends it); the other runs are still deleted.
                        history.keep_warm(&machine)?;
                        out.push((id.clone(), Err(RunError::Pipeline(e))));
                    }
                }
            }
            if run.cleanup != Cleanup::Deleted && !out.iter().any(|(r, _)| r == id) {
                out.push((id.clone(), self.runs.delete(ctx, id, progress).await));
            }
        }
        Ok(out)
    }

    /// One notification for the whole sweep.
    pub(super) fn tell_end(&self, record: &SweepRecord, end: &SweepEnd) {
        let total = record.plan.runs.len();
        let title = if end.failed == 0 && end.not_finished == 0 {
            "Sweep finished"
        } else {
            "Sweep ended"
        };
        let mut body = format!("{} of {total} runs succeeded", end.succeeded);
        if end.failed > 0 {
            body.push_str(&format!(", {} failed", end.failed));
        }
        if let Ok(view) = self.view(&record.sweep_id) {
            if let (Some(best), Some(by)) = (&view.best, &view.best_by) {
                if let Some(i) = record
                    .run_ids
                    .iter()
                    .position(|r| r.as_deref() == Some(&best.run_id))
                {
                    body.push_str(&format!(
                        "; best: {} ({} {})",
                        record.plan.runs[i].label, by.metric, best.value
                    ));
                }
            }
        }
        body.push('.');
        self.runs.notify(title, &body);
    }
}
