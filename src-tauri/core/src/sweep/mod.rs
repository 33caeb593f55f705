//! Sweeps (issue 25): one wizard, several runs with different arguments,
//! in parallel on several machines or one after another on one machine
//! kept warm, kept in the history as one thing with its best run named.
//!
//! A sweep is only a plan and the runs it became: each run is an ordinary
//! run ([`crate::runs::Runs`]) that knows its sweep, so retrying, deleting,
//! logs, metrics and costs are those of runs.

mod best;
mod drive;
mod plan;
mod stop;
mod view;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use best::{best_run, default_by, lower_is_better, metric_names, BestBy, BestRun};
pub use drive::{Job, ProgressFactory, SweepEnd, SweepStart};
pub use plan::{
    GridAxis, PlannedRun, SweepMode, SweepPlan, SweepRequest, SweepValues, HANDOVER_WARM_MIN,
    MAX_AT_ONCE, MAX_RUNS,
};
pub use view::SweepView;

use crate::explain::Explain;
use crate::history::{HistoryError, SweepRecord};
use crate::pipeline::{ArgsError, PipelineError};
use crate::runs::{RunError, Runs};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    #[error("a sweep tries at least two runs: give a second value (or a second line)")]
    TooFew,
    #[error("this sweep would make {0} runs; one sweep makes at most {MAX_RUNS}")]
    TooMany(usize),
    #[error("two runs would have the same arguments ({0})")]
    SameTwice(String),
    #[error("the arguments \"{0}\" cannot be used: {1}")]
    BadLine(String, ArgsError),
    #[error("\"{0}\" is not an argument name: write it without dashes, like lr or batch_size")]
    BadName(String),
    #[error("the argument {0} is given twice")]
    NameTwice(String),
    #[error("the argument {0} has no value (or an empty one)")]
    NoValues(String),
    #[error("one machine for all runs is for EC2 runs: SageMaker runs each one as its own job")]
    OneMachineIsEc2,
    #[error("{0} machines at once: choose 1 to {MAX_AT_ONCE}")]
    BadAtOnce(u32),
    #[error("\"{0}\" is not a sweep of the history")]
    NotASweep(String),
    #[error("sweep {0} is already running here")]
    Busy(String),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl Explain for SweepError {
    fn code(&self) -> &'static str {
        match self {
            SweepError::TooFew => "sweep_too_few",
            SweepError::TooMany(_) => "sweep_too_many",
            SweepError::SameTwice(_) => "sweep_same_twice",
            SweepError::BadLine(..) => "sweep_bad_line",
            SweepError::BadName(_) => "sweep_bad_name",
            SweepError::NameTwice(_) => "sweep_name_twice",
            SweepError::NoValues(_) => "sweep_no_values",
            SweepError::OneMachineIsEc2 => "sweep_one_machine_ec2",
            SweepError::BadAtOnce(_) => "sweep_bad_at_once",
            SweepError::NotASweep(_) => "sweep_not_found",
            SweepError::Busy(_) => "sweep_busy",
            SweepError::Run(e) => e.code(),
            SweepError::History(e) => e.code(),
            SweepError::Pipeline(e) => e.code(),
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            SweepError::TooFew => "Add a value, or run it as a single run.".into(),
            SweepError::TooMany(_) => "Try fewer values, or split the sweep in two.".into(),
            SweepError::SameTwice(_) | SweepError::NameTwice(_) | SweepError::NoValues(_) => {
                "Fix the values and try again.".into()
            }
            SweepError::BadLine(..) => "Fix that line: quote a value with spaces.".into(),
            SweepError::BadName(_) => "Use the name your script reads after --.".into(),
            SweepError::OneMachineIsEc2 => "Choose \"in parallel\" for SageMaker.".into(),
            SweepError::BadAtOnce(_) => "Choose how many machines may run at once.".into(),
            SweepError::NotASweep(_) => "Open the sweep from the Runs list.".into(),
            SweepError::Busy(_) => "Wait for it, or stop it first.".into(),
            SweepError::Run(e) => return e.hint(),
            SweepError::History(e) => return e.hint(),
            SweepError::Pipeline(e) => return e.hint(),
        })
    }
}

/// A sweep id: `sweep-` and a run id's shape.
pub fn new_sweep_id() -> String {
    format!("sweep-{}", crate::pipeline::new_run_id())
}

/// Whether an id from outside is shaped like a sweep id (checked before it
/// is looked up).
pub fn is_sweep_id(id: &str) -> bool {
    id.starts_with("sweep-") && crate::logs::is_run_id(id)
}

/// A sweep being driven by this process: stop asks it not to start more.
#[derive(Default)]
struct Live {
    stopped: AtomicBool,
}

/// The sweeps of one history, and those this process drives.
pub struct Sweeps {
    runs: Arc<Runs>,
    live: Mutex<HashMap<String, Arc<Live>>>,
}

impl Sweeps {
    pub fn new(runs: Arc<Runs>) -> Self {
        Self {
            runs,
            live: Mutex::new(HashMap::new()),
        }
    }

    pub fn runs(&self) -> &Arc<Runs> {
        &self.runs
    }

    /// A sweep of the history by an id that came from outside.
    pub fn record(&self, sweep_id: &str) -> Result<SweepRecord, SweepError> {
        if !is_sweep_id(sweep_id) {
            return Err(SweepError::NotASweep(sweep_id.chars().take(80).collect()));
        }
        match self.runs.history().get_sweep(sweep_id) {
            Err(HistoryError::NotFound(_)) => Err(SweepError::NotASweep(sweep_id.into())),
            other => Ok(other?),
        }
    }

    /// `Busy` while this process drives the sweep (a second drive would
    /// start its runs twice).
    pub fn ensure_idle(&self, sweep_id: &str) -> Result<(), SweepError> {
        if self.is_live(sweep_id) {
            return Err(SweepError::Busy(sweep_id.into()));
        }
        Ok(())
    }

    /// True while this process starts the sweep's runs.
    pub fn is_live(&self, sweep_id: &str) -> bool {
        self.lock().contains_key(sweep_id)
    }

    /// The metric the user ranks the sweep by (`None`: the default).
    pub fn set_best_by(&self, sweep_id: &str, by: Option<&BestBy>) -> Result<(), SweepError> {
        let record = self.record(sweep_id)?;
        Ok(self
            .runs
            .history()
            .set_sweep_best_by(&record.sweep_id, by)?)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Live>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn begin(&self, sweep_id: &str) -> Result<Arc<Live>, SweepError> {
        let mut live = self.lock();
        if live.contains_key(sweep_id) {
            return Err(SweepError::Busy(sweep_id.into()));
        }
        let l = Arc::new(Live::default());
        live.insert(sweep_id.into(), l.clone());
        Ok(l)
    }

    fn end(&self, sweep_id: &str) {
        self.lock().remove(sweep_id);
    }

    /// No more runs of the sweep start (those under way go on).
    fn hold(&self, sweep_id: &str) {
        if let Some(l) = self.lock().get(sweep_id) {
            l.stopped.store(true, Ordering::SeqCst);
        }
        if let Err(e) = self.runs.history().set_sweep_stopped(sweep_id, true) {
            tracing::error!(sweep_id, error = %e, "could not record the sweep as stopped");
        }
    }
}
