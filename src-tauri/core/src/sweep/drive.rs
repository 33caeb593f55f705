//! Starting a sweep's runs: at most so many at once, the first one alone
//! until its environment is in place (the inputs are sent and the
//! environment built once), then the others; stop, delete and retry.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::{info, warn};

use super::{Live, SweepError, SweepMode, SweepRequest, Sweeps};
use crate::aws::AwsContext;
use crate::history::{Cleanup, Outcome, SweepRecord};
use crate::pipeline::{self, machine, quotas, Engine, Step, Tracked};
use crate::runs::{CleanupPolicy, Ready, RunEnd, RunError};
use crate::secrets::RunSecrets;

/// The others wait at most this long, once the first run trains, for its
/// environment to be saved (a save that fails is not waited for).
const LEADER_SAVE_WAIT: Duration = Duration::from_secs(120);

/// A new progress sink for each run the sweep starts.
pub type ProgressFactory = Arc<dyn Fn() -> Arc<Tracked> + Send + Sync>;

/// Who drives a sweep, with what.
#[derive(Clone)]
pub struct SweepStart {
    pub ctx: AwsContext,
    pub account_id: String,
    pub secrets: RunSecrets,
    pub policy: CleanupPolicy,
    pub progress: ProgressFactory,
}

/// One planned run to start: anew, or a failed one again from its step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    New(usize),
    Resume {
        index: usize,
        run_id: String,
        from: Step,
    },
}

impl Job {
    fn index(&self) -> usize {
        match self {
            Job::New(i) | Job::Resume { index: i, .. } => *i,
        }
    }
}

/// How a sweep's drive ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepEnd {
    pub succeeded: usize,
    pub failed: usize,
    /// Stopped by the user, or never started (stop, a failure).
    pub not_finished: usize,
    /// Why the sweep stopped starting runs, if it did by itself.
    pub stopped_because: Option<String>,
}

impl Sweeps {
    /// Checks the sweep (values, every run's inputs, the vCPU quota for the
    /// machines at once) and records it; nothing is created in AWS.
    pub async fn open(
        &self,
        request: SweepRequest,
        start: &SweepStart,
    ) -> Result<SweepRecord, SweepError> {
        let plan = request.plan()?;
        // The runs differ only in their arguments (checked by the plan): the
        // files are read once; a notebook's parameters are checked per run
        // against its parameters cell.
        let notebook = pipeline::notebook::is_notebook(&request.base.script_path);
        for i in 0..plan.runs.len() {
            if i == 0 || notebook {
                pipeline::check_request(&request.run_request(&plan, i))?;
            }
        }
        if request.base.engine == Engine::Ec2 {
            let info = machine::describe_type(&start.ctx, &request.base.instance_type).await?;
            quotas::check_vcpus_times(&start.ctx, &info, plan.at_once).await?;
        }
        // Each run's share of the budget must buy it some time (else every
        // run would stop at its first step, after the sweep is recorded).
        if let (Some(prices), Some(share)) = (self.runs.prices(), plan.budget_per_run) {
            let base = &request.base;
            let hours = f64::from(base.max_runtime_hours);
            match base.engine {
                Engine::Ec2 => {
                    prices
                        .quote(
                            &start.ctx,
                            &base.instance_type,
                            base.disk_gb,
                            hours,
                            Some(share),
                        )
                        .await?;
                }
                Engine::SageMaker { instance_count, .. } => {
                    prices
                        .training_quote(
                            &start.ctx,
                            &base.instance_type,
                            instance_count,
                            hours,
                            Some(share),
                        )
                        .await?;
                }
            }
        }
        let id = super::new_sweep_id();
        let record = self
            .runs
            .history()
            .create_sweep(&id, &start.account_id, &request, &plan)?;
        info!(sweep_id = id, runs = plan.runs.len(), "sweep opened");
        Ok(record)
    }

    /// Every planned run, anew.
    pub fn all_jobs(record: &SweepRecord) -> Vec<Job> {
        (0..record.plan.runs.len()).map(Job::New).collect()
    }

    /// The runs to try again: a failed or stopped one from its failed step
    /// while its resources are there, anew otherwise; one never started, anew.
    pub fn retry_jobs(&self, record: &SweepRecord) -> Vec<Job> {
        let history = self.runs.history();
        record
            .run_ids
            .iter()
            .enumerate()
            .filter_map(|(index, id)| {
                let Some(id) = id else {
                    return Some(Job::New(index));
                };
                let run = history.get(id).ok()?;
                match run.outcome {
                    Outcome::Succeeded | Outcome::Running => None,
                    Outcome::Failed
                        if run.cleanup != Cleanup::Deleted
                            && run.resources.kept_warm.is_none()
                            && run.last_step.is_some_and(|s| s != Step::Prepare) =>
                    {
                        Some(Job::Resume {
                            index,
                            run_id: id.clone(),
                            from: run.last_step.unwrap_or(Step::Prepare),
                        })
                    }
                    _ => Some(Job::New(index)),
                }
            })
            .collect()
    }

    /// Starts `jobs` in the background.
    pub fn spawn(self: &Arc<Self>, sweep_id: &str, start: SweepStart, jobs: Vec<Job>) {
        let me = self.clone();
        let id = sweep_id.to_string();
        tokio::spawn(async move {
            if let Err(e) = me.drive(&id, start, jobs).await {
                warn!(sweep_id = id, error = %e, "the sweep could not go on");
            }
        });
    }

    /// Starts `jobs` (at most the plan's number at once) and waits for all.
    pub async fn drive(
        &self,
        sweep_id: &str,
        start: SweepStart,
        jobs: Vec<Job>,
    ) -> Result<SweepEnd, SweepError> {
        let record = self.record(sweep_id)?;
        let live = self.begin(sweep_id)?;
        let result = self.drive_live(&record, &live, start, jobs).await;
        self.end(sweep_id);
        let end = result?;
        self.tell_end(&record, &end);
        Ok(end)
    }

    async fn drive_live(
        &self,
        record: &SweepRecord,
        live: &Live,
        start: SweepStart,
        jobs: Vec<Job>,
    ) -> Result<SweepEnd, SweepError> {
        let history = self.runs.history();
        history.set_sweep_stopped(&record.sweep_id, false)?;
        let at_once = record.plan.at_once.max(1) as usize;
        let mut end = SweepEnd::default();
        let total = jobs.len();
        let mut started = 0;
        // The first run goes alone until its training begins: the others
        // then find the inputs sent and the environment saved.
        let mut lead = matches!(record.request.mode, SweepMode::Parallel { at_once } if at_once > 1)
            && jobs.len() > 1;
        let mut set: JoinSet<(String, Result<RunEnd, tokio::task::JoinError>)> = JoinSet::new();
        for job in jobs {
            while set.len() >= at_once {
                let Some(done) = set.join_next().await else {
                    break;
                };
                self.count(record, &start, done, &mut end).await;
            }
            if live.stopped.load(Ordering::SeqCst) {
                break;
            }
            if let Job::New(index) = &job {
                self.clear_earlier_attempt(record, &start, *index).await;
            }
            let (ready, tracked) = match self.open_job(record, &start, &job) {
                Ok(x) => x,
                Err(e) => {
                    warn!(sweep_id = record.sweep_id, error = %e, "a run of the sweep could not start");
                    end.failed += 1;
                    started += 1;
                    if record.request.stop_on_failure {
                        end.stopped_because = Some(format!("a run could not start: {e}"));
                        let tracked = (start.progress)();
                        self.stop_all(&start.ctx, &record.sweep_id, tracked.as_ref())
                            .await;
                    }
                    continue;
                }
            };
            let run_id = ready.run_id().to_string();
            history.set_sweep_run(&record.sweep_id, job.index(), &run_id)?;
            // "Stop all" pressed while the run was being opened: it never
            // starts (nothing of it was created yet).
            if live.stopped.load(Ordering::SeqCst) {
                history.set_outcome(
                    &run_id,
                    Outcome::Stopped,
                    Some(Step::Prepare),
                    Some(crate::runs::STOPPED_MESSAGE),
                    None,
                )?;
                history.set_cleanup(&run_id, Cleanup::Deleted, None)?;
                drop(ready);
                started += 1;
                end.not_finished += 1;
                break;
            }
            let task = self.runs.spawn_joined(ready, tracked.clone(), start.policy);
            let id = run_id.clone();
            set.spawn(async move { (id, task.await) });
            started += 1;
            // A stop that read the sweep's runs just before this one was
            // recorded, or found it not attached yet: stopped here.
            if live.stopped.load(Ordering::SeqCst) {
                let tracked = (start.progress)();
                if let Err(e) = self
                    .runs
                    .delete(&start.ctx, &run_id, tracked.as_ref())
                    .await
                {
                    warn!(run_id, error = %e, "a run started as the sweep was stopped could not be stopped");
                }
            }
            if std::mem::take(&mut lead) {
                self.follow_leader(
                    record,
                    &start,
                    live,
                    (&run_id, &tracked),
                    &mut set,
                    &mut end,
                )
                .await;
            }
        }
        while let Some(done) = set.join_next().await {
            self.count(record, &start, done, &mut end).await;
        }
        end.not_finished += total - started;
        Ok(end)
    }

    /// Waits until the first run trains with its environment saved (or
    /// ends); one that fails before its training stops the sweep: the others
    /// would fail the same way.
    async fn follow_leader(
        &self,
        record: &SweepRecord,
        start: &SweepStart,
        live: &Live,
        leader: (&str, &Tracked),
        set: &mut JoinSet<(String, Result<RunEnd, tokio::task::JoinError>)>,
        end: &mut SweepEnd,
    ) {
        let (run_id, tracked) = leader;
        let mut training_since: Option<std::time::Instant> = None;
        loop {
            if matches!(tracked.last_step(), Some(Step::Training | Step::Outputs)) {
                let since = *training_since.get_or_insert_with(std::time::Instant::now);
                if self.environment_saved(run_id) || since.elapsed() > LEADER_SAVE_WAIT {
                    return;
                }
            }
            tokio::select! {
                done = set.join_next() => {
                    let Some(done) = done else { return };
                    let ok = matches!(&done, Ok((_, Ok(e))) if e.result.is_ok());
                    let before_training = !matches!(
                        tracked.last_step(),
                        Some(Step::Training | Step::Outputs)
                    );
                    // (A run the user stopped is not a failure to learn from.)
                    let stopped = live.stopped.load(Ordering::SeqCst);
                    self.count(record, start, done, end).await;
                    if !ok && before_training && !stopped {
                        self.hold(&record.sweep_id);
                        end.stopped_because.get_or_insert_with(|| {
                            "the first run failed before its training began: the others would fail the same way. Fix it, then press Retry".into()
                        });
                    }
                    return;
                }
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    /// The run's environment is in the cache (saved by it, or there
    /// before), or it has none to save.
    fn environment_saved(&self, run_id: &str) -> bool {
        let history = self.runs.history();
        let Ok(run) = history.get(run_id) else {
            return true;
        };
        match &run.resources.cache_key {
            None => true,
            Some(key) => history
                .env_archive(&run.resources.bucket, key)
                .is_ok_and(|a| a.is_some()),
        }
    }

    /// A planned run started anew (a retry) whose earlier attempt still
    /// has something in the cloud: that is deleted first (it leaves the
    /// sweep when the new one takes its place).
    async fn clear_earlier_attempt(&self, record: &SweepRecord, start: &SweepStart, index: usize) {
        let history = self.runs.history();
        let Ok(now) = history.get_sweep(&record.sweep_id) else {
            return;
        };
        let Some(Some(old)) = now.run_ids.get(index) else {
            return;
        };
        let Ok(run) = history.get(old) else { return };
        if run.cleanup == Cleanup::Deleted || self.runs.active().is_active(old) {
            return;
        }
        let tracked = (start.progress)();
        if let Err(e) = self.runs.delete(&start.ctx, old, tracked.as_ref()).await {
            warn!(run_id = old, error = %e, "an earlier attempt of a sweep's run could not be deleted");
        }
    }

    fn open_job(
        &self,
        record: &SweepRecord,
        start: &SweepStart,
        job: &Job,
    ) -> Result<(Ready, Arc<Tracked>), RunError> {
        let tracked = (start.progress)();
        let mut ready = match job {
            Job::New(index) => self.runs.open_with_secrets(
                start.ctx.clone(),
                &start.account_id,
                record.request.run_request(&record.plan, *index),
                start.secrets.clone(),
                tracked.clone(),
            )?,
            Job::Resume { run_id, from, .. } => {
                let retry = self.runs.retryable(run_id)?;
                self.runs.resume_with_secrets(
                    start.ctx.clone(),
                    retry,
                    *from,
                    start.secrets.clone(),
                    tracked.clone(),
                )?
            }
        };
        ready.quiet = true;
        Ok((ready, tracked))
    }

    /// Counts a run that ended; a failure stops the others when the sweep
    /// asks for it.
    async fn count(
        &self,
        record: &SweepRecord,
        start: &SweepStart,
        done: Result<(String, Result<RunEnd, tokio::task::JoinError>), tokio::task::JoinError>,
        end: &mut SweepEnd,
    ) {
        let Ok((run_id, result)) = done else {
            end.not_finished += 1;
            return;
        };
        match result {
            Ok(e) if e.result.is_ok() => end.succeeded += 1,
            Ok(_) => {
                end.failed += 1;
                if record.request.stop_on_failure && end.stopped_because.is_none() {
                    end.stopped_because = Some(format!(
                        "run {run_id} failed and the sweep stops on the first failure"
                    ));
                    let tracked = (start.progress)();
                    self.stop_all(&start.ctx, &record.sweep_id, tracked.as_ref())
                        .await;
                }
            }
            // Stopped: its task was cancelled.
            Err(_) => end.not_finished += 1,
        }
    }
}
