//! A run together with its history: what the app and the CLI both do around
//! the pipeline (record the outcome, clean up when the policy says so, record
//! that too).

use crate::history::{Cleanup, History};
use crate::pipeline::{DeleteReport, PipelineError, RunReport, Step, Tracked, Train};

/// How a recorded run ended.
pub struct RunEnd {
    pub result: Result<RunReport, PipelineError>,
    /// `None` when the policy kept the resources.
    pub cleanup: Option<Result<DeleteReport, PipelineError>>,
}

/// Runs `train` from `from` and records the result; then, if `clean_up`
/// says so for that result, deletes the run's resources and records that.
/// `progress` must be the sink `train` reports to (it knows the last step).
/// History write failures do not stop the run: the run's resource ids were
/// already written before each creating call.
pub async fn run_and_record(
    train: &mut Train,
    from: Step,
    history: &History,
    progress: &Tracked,
    clean_up: impl FnOnce(&Result<RunReport, PipelineError>) -> bool,
) -> RunEnd {
    let run_id = train.run_id().to_string();
    let result = train.run_from(from).await;
    let _ = history.record_run_result(&run_id, &result, progress.last_step());
    let cleanup = if clean_up(&result) {
        let _ = history.set_cleanup(&run_id, Cleanup::Deleting, None);
        let deleted = train.delete_resources().await;
        let _ = history.record_delete_result(&run_id, &deleted);
        Some(deleted)
    } else {
        None
    };
    RunEnd { result, cleanup }
}
