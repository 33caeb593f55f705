//! A recorded run: start, retry, stop and delete, with every history write
//! in one place. The app and the CLI both call these; neither writes a run's
//! outcome or clean-up itself.

mod active;
mod error;
mod notice;

use std::sync::Arc;

use tracing::{info, warn};

pub use active::{ActiveRuns, RunGuard};
pub use error::RunError;
pub use notice::{end_notice, Notifier};

use crate::aws::AwsContext;
use crate::history::{Cleanup, History, Outcome, RunRecord};
use crate::pipeline::{
    self, DeleteReport, PipelineError, ProgressEvent, ProgressSink, RunReport, RunResources, Step,
    StepState, Tracked, Train, TrainRequest,
};
use crate::prices::Prices;
use crate::secrets::RunSecrets;

/// What the history says when the user stops a run.
pub const STOPPED_MESSAGE: &str = "Stopped by you before it finished.";

/// When a run's cloud resources are deleted by itself at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CleanupPolicy {
    /// After a success (a failure keeps them for "Retry from this step").
    AfterSuccess,
    /// After every run.
    Always,
    /// Never (the user deletes them).
    Never,
}

impl CleanupPolicy {
    fn applies(self, result: &Result<RunReport, PipelineError>) -> bool {
        match self {
            CleanupPolicy::AfterSuccess => result.is_ok(),
            // A lost connection is not a failed run: the training may go on
            // on its machine, so nothing is deleted behind its back.
            CleanupPolicy::Always => !matches!(result, Err(e) if e.is_transient()),
            CleanupPolicy::Never => false,
        }
    }
}

/// How a run ended.
pub struct RunEnd {
    pub result: Result<RunReport, PipelineError>,
    /// `None` when the policy kept the resources.
    pub cleanup: Option<Result<DeleteReport, PipelineError>>,
}

/// A run ready to go: its pipeline, the step to start from, and the proof
/// that nobody else works on it.
pub struct Ready {
    pub train: Train,
    pub from: Step,
    pub guard: RunGuard,
    /// No notification when it ends (a sweep tells once, at its end).
    pub quiet: bool,
}

impl Ready {
    pub fn run_id(&self) -> &str {
        self.train.run_id()
    }
}

/// A recorded run that can be retried: who started it and with what.
pub struct Retryable {
    pub account_id: String,
    pub request: TrainRequest,
    pub resources: RunResources,
}

/// The runs of one history, and those this process is working on.
pub struct Runs {
    history: Arc<History>,
    active: ActiveRuns,
    prices: Option<Arc<Prices>>,
    notifier: std::sync::OnceLock<Arc<dyn Notifier>>,
}

impl Runs {
    pub fn new(history: Arc<History>) -> Self {
        Self {
            history,
            active: ActiveRuns::default(),
            prices: None,
            notifier: std::sync::OnceLock::new(),
        }
    }

    /// Runs are priced when they start (cost shown, budget caps enforced).
    pub fn with_prices(mut self, prices: Arc<Prices>) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Who is told when a run ends; set once (the app sets it when its
    /// window is up).
    pub fn set_notifier(&self, notifier: Arc<dyn Notifier>) {
        if self.notifier.set(notifier).is_err() {
            tracing::warn!("a second notifier was ignored");
        }
    }

    pub fn prices(&self) -> Option<&Arc<Prices>> {
        self.prices.as_ref()
    }

    fn priced(&self, train: Train) -> Train {
        match &self.prices {
            Some(p) => train.with_prices(p.clone()),
            None => train,
        }
    }

    pub(crate) fn notify(&self, title: &str, body: &str) {
        if let Some(n) = self.notifier.get() {
            n.notify(title, body);
        }
    }

    pub fn history(&self) -> &Arc<History> {
        &self.history
    }

    pub fn active(&self) -> &ActiveRuns {
        &self.active
    }

    /// Checks the request (nothing is created if an input is wrong) and
    /// opens a new run in the history, recording who starts it. A request
    /// that names secrets needs [`Runs::open_with_secrets`].
    pub fn open(
        &self,
        ctx: AwsContext,
        account_id: &str,
        request: TrainRequest,
        progress: Arc<Tracked>,
    ) -> Result<Ready, RunError> {
        self.open_with_secrets(ctx, account_id, request, RunSecrets::none(), progress)
    }

    /// [`Runs::open`] for a request that names secrets: `secrets` holds their
    /// values, read from the account's keychain (see
    /// [`crate::accounts::Accounts::run_secrets`]) before anything is created.
    pub fn open_with_secrets(
        &self,
        ctx: AwsContext,
        account_id: &str,
        request: TrainRequest,
        secrets: RunSecrets,
        progress: Arc<Tracked>,
    ) -> Result<Ready, RunError> {
        check_secrets(&request, &secrets)?;
        let train = Train::new(ctx, request, progress, self.history.clone())?;
        let train = self.priced(train.with_secrets(secrets)?);
        let guard = self.active.begin(train.run_id())?;
        self.history
            .attach_request(train.run_id(), account_id, train.request())?;
        info!(run_id = train.run_id(), account_id, "run opened");
        Ok(Ready {
            train,
            from: Step::Prepare,
            guard,
            quiet: false,
        })
    }

    /// Who started a run and with what; `Incomplete` when the history does
    /// not know (a CLI run with a profile or the sandbox flag).
    pub fn retryable(&self, run_id: &str) -> Result<Retryable, RunError> {
        let record = self.history.get(run_id)?;
        match (record.account_id, record.request) {
            (Some(account_id), Some(request)) if account_id != CLI_ACCOUNT => Ok(Retryable {
                account_id,
                request,
                resources: record.resources,
            }),
            _ => Err(RunError::Incomplete(run_id.to_string())),
        }
    }

    /// Reopens a run to go again from `from`; the files are read and checked
    /// again, so a fixed script or requirements file is used.
    pub fn resume(
        &self,
        ctx: AwsContext,
        retry: Retryable,
        from: Step,
        progress: Arc<Tracked>,
    ) -> Result<Ready, RunError> {
        self.resume_with_secrets(ctx, retry, from, RunSecrets::none(), progress)
    }

    /// [`Runs::resume`] for a run that names secrets (their values read from
    /// the keychain again: a token fixed since is the one sent).
    pub fn resume_with_secrets(
        &self,
        ctx: AwsContext,
        retry: Retryable,
        from: Step,
        secrets: RunSecrets,
        progress: Arc<Tracked>,
    ) -> Result<Ready, RunError> {
        check_secrets(&retry.request, &secrets)?;
        if retry.resources.kept_warm.is_some() {
            // Its machine may be another run's now.
            return Err(RunError::HandedOn(retry.resources.run_id.clone()));
        }
        let guard = self.active.begin(&retry.resources.run_id)?;
        let train = Train::resume(
            ctx,
            retry.request,
            retry.resources,
            progress,
            self.history.clone(),
        )?;
        let train = self.priced(train.with_secrets(secrets)?);
        self.history
            .set_outcome(train.run_id(), Outcome::Running, Some(from), None, None)?;
        info!(run_id = train.run_id(), from = from.as_str(), "run resumed");
        Ok(Ready {
            train,
            from,
            guard,
            quiet: false,
        })
    }

    /// Runs the pipeline to its end and records the result; then cleans up
    /// when `policy` says so, and records that too. A history write that
    /// fails does not stop the run (its resource ids were written before each
    /// creating call); it is logged.
    pub async fn execute(
        &self,
        mut ready: Ready,
        progress: &Tracked,
        policy: CleanupPolicy,
    ) -> RunEnd {
        let run_id = ready.run_id().to_string();
        let result = ready.train.run_from(ready.from).await;
        let script = ready
            .train
            .request()
            .script_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "train.py".into());
        match &result {
            Ok(_) => info!(run_id, "run succeeded"),
            Err(e) => warn!(run_id, error = %e, "run failed"),
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        if !ready.quiet {
            let (title, body) = end_notice(&script, &result, ready.train.resources(), now);
            self.notify(&title, &body);
        }
        log_write(
            &run_id,
            self.history
                .record_run_result(&run_id, &result, progress.last_step()),
        );
        log_write(
            &run_id,
            self.history.set_summary(&run_id, &ready.train.summary()),
        );
        let cleanup = if policy.applies(&result) {
            Some(self.clean_up(&run_id, ready.train.delete_resources()).await)
        } else {
            None
        };
        drop(ready.guard);
        RunEnd { result, cleanup }
    }

    /// Starts [`Runs::execute`] in the background; the run can be stopped
    /// with [`Runs::delete`] while it goes on.
    pub fn spawn(self: &Arc<Self>, ready: Ready, progress: Arc<Tracked>, policy: CleanupPolicy) {
        drop(self.spawn_joined(ready, progress, policy));
    }

    /// [`Runs::spawn`], with the task's handle to wait for its end (a
    /// stopped run's task ends cancelled).
    pub fn spawn_joined(
        self: &Arc<Self>,
        ready: Ready,
        progress: Arc<Tracked>,
        policy: CleanupPolicy,
    ) -> tokio::task::JoinHandle<RunEnd> {
        let run_id = ready.run_id().to_string();
        let runs = self.clone();
        let sink = progress.clone();
        let task = tokio::spawn(async move { runs.execute(ready, &sink, policy).await });
        self.active.attach(&run_id, task.abort_handle(), progress);
        task
    }

    /// Deletes the run's machine, stack and input files, waits and verifies.
    /// A run in progress in this process is stopped first (its outputs so
    /// far are kept) and recorded as stopped.
    pub async fn delete(
        &self,
        ctx: &AwsContext,
        run_id: &str,
        progress: &dyn ProgressSink,
    ) -> Result<DeleteReport, RunError> {
        let record = self.history.get(run_id)?;
        if let Some(step) = self.active.stop(run_id) {
            self.record_stopped(&record, step, progress);
        }
        let guard = self.active.begin(run_id)?;
        let result = self
            .clean_up(
                run_id,
                pipeline::delete_resources(ctx, &record.resources, progress),
            )
            .await;
        drop(guard);
        Ok(result?)
    }

    fn record_stopped(&self, record: &RunRecord, step: Option<Step>, progress: &dyn ProgressSink) {
        let step = step.or(record.last_step).unwrap_or(Step::Prepare);
        info!(
            run_id = record.run_id,
            step = step.as_str(),
            "run stopped by the user"
        );
        progress.emit(ProgressEvent {
            run_id: record.run_id.clone(),
            step,
            state: StepState::Stopped,
            elapsed_ms: 0,
            message: STOPPED_MESSAGE.to_string(),
            detail: None,
        });
        log_write(
            &record.run_id,
            self.history.set_outcome(
                &record.run_id,
                Outcome::Stopped,
                Some(step),
                Some(STOPPED_MESSAGE),
                None,
            ),
        );
    }

    async fn clean_up(
        &self,
        run_id: &str,
        delete: impl std::future::Future<Output = Result<DeleteReport, PipelineError>>,
    ) -> Result<DeleteReport, PipelineError> {
        log_write(
            run_id,
            self.history.set_cleanup(run_id, Cleanup::Deleting, None),
        );
        let result = delete.await;
        match &result {
            Ok(_) => {
                info!(run_id, "clean-up verified");
                self.mark_ended(run_id);
            }
            Err(e) => warn!(run_id, error = %e, "clean-up failed"),
        }
        log_write(run_id, self.history.record_delete_result(run_id, &result));
        result
    }
}

impl Runs {
    /// The machine is gone: the run's cost stops growing.
    pub fn mark_ended(&self, run_id: &str) {
        let Ok(mut record) = self.history.get(run_id) else {
            return;
        };
        if record.resources.ended_at.is_none() && record.resources.launched_at.is_some() {
            let now = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
            record.resources.ended_at = Some(now);
            log_write(run_id, self.history.save_resources(&record.resources));
        }
    }
}

/// The values given are those of the secrets the request names.
fn check_secrets(request: &TrainRequest, secrets: &RunSecrets) -> Result<(), RunError> {
    if secrets.matches(&request.secrets) {
        return Ok(());
    }
    Err(RunError::Pipeline(PipelineError::State(format!(
        "the run names the secrets [{}] but their values were not read from the keychain",
        request.secrets.join(", ")
    ))))
}

/// The account recorded for CLI runs that used a profile, the sandbox flag
/// or the default chain (not an account saved in the app).
pub const CLI_ACCOUNT: &str = "cli";

/// A failed history write is never silent.
fn log_write(run_id: &str, result: Result<(), crate::history::HistoryError>) {
    if let Err(e) = result {
        tracing::error!(run_id, error = %e, "could not write the run history");
    }
}
