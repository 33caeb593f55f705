//! What can stop an action on a recorded run (start, retry, stop, delete).

use crate::explain::Explain;
use crate::history::HistoryError;
use crate::pipeline::PipelineError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("run {0} is already being worked on")]
    Busy(String),
    #[error("run {0} was started outside the app (or its inputs were not recorded), so it cannot be retried here")]
    Incomplete(String),
    #[error(
        "run {0} handed its machine on to be kept warm for the next run: it cannot be retried"
    )]
    HandedOn(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl Explain for RunError {
    fn code(&self) -> &'static str {
        match self {
            RunError::Busy(_) => "run_busy",
            RunError::Incomplete(_) => "run_incomplete",
            RunError::HandedOn(_) => "run_handed_on",
            RunError::Pipeline(e) => e.code(),
            RunError::History(e) => e.code(),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            RunError::Busy(_) => Some("Wait for the current step to finish.".into()),
            RunError::Incomplete(_) => Some("Delete it, then start a new run.".into()),
            RunError::HandedOn(_) => Some(
                "It finished; use \"Run again with changes\" for a new run (it starts on that machine while it waits).".into(),
            ),
            RunError::Pipeline(e) => e.hint(),
            RunError::History(e) => e.hint(),
        }
    }
}
