//! The runs this process is working on. Beginning work on a run hands out a
//! guard; the run stops being active when the guard is dropped, whichever
//! way the work ends (success, error, panic, abort).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::task::AbortHandle;

use super::RunError;
use crate::pipeline::{Step, Tracked};

struct Entry {
    /// Which guard owns the entry: a stopped task's guard, dropped late,
    /// must not end the work that replaced it.
    token: u64,
    /// The background task running the pipeline (`None`: a clean-up, or
    /// work done in the caller's own task).
    task: Option<AbortHandle>,
    /// The run's progress sink: it knows the step under way.
    progress: Option<Arc<Tracked>>,
}

/// Shared registry of active runs (cheap to clone).
#[derive(Clone, Default)]
pub struct ActiveRuns(Arc<Mutex<Registry>>);

#[derive(Default)]
struct Registry {
    entries: HashMap<String, Entry>,
    next_token: u64,
}

/// Proof that this caller works on the run; dropping it ends the work.
pub struct RunGuard {
    runs: ActiveRuns,
    run_id: String,
    token: u64,
}

impl RunGuard {
    pub fn run_id(&self) -> &str {
        &self.run_id
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        let mut reg = self.runs.lock();
        if reg
            .entries
            .get(&self.run_id)
            .is_some_and(|e| e.token == self.token)
        {
            reg.entries.remove(&self.run_id);
        }
    }
}

impl ActiveRuns {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        // The map stays valid whatever panicked while holding it.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks the run active; `Busy` if it already is (a double click).
    pub fn begin(&self, run_id: &str) -> Result<RunGuard, RunError> {
        let mut reg = self.lock();
        if reg.entries.contains_key(run_id) {
            return Err(RunError::Busy(run_id.to_string()));
        }
        reg.next_token += 1;
        let token = reg.next_token;
        reg.entries.insert(
            run_id.to_string(),
            Entry {
                token,
                task: None,
                progress: None,
            },
        );
        Ok(RunGuard {
            runs: self.clone(),
            run_id: run_id.to_string(),
            token,
        })
    }

    /// Remembers the task and progress of an active run, so it can be stopped.
    pub fn attach(&self, run_id: &str, task: AbortHandle, progress: Arc<Tracked>) {
        // Only while the run is still active: a task that already ended must
        // not leave the run looking busy.
        if let Some(entry) = self.lock().entries.get_mut(run_id) {
            entry.task = Some(task);
            entry.progress = Some(progress);
        }
    }

    pub fn is_active(&self, run_id: &str) -> bool {
        self.lock().entries.contains_key(run_id)
    }

    /// True while any run is being worked on (the window asks before closing).
    pub fn any(&self) -> bool {
        !self.lock().entries.is_empty()
    }

    /// Aborts the run's pipeline task if one runs. Returns the step that
    /// was under way (`Some(None)` when stopped before any step reported),
    /// `None` when no task was running.
    pub fn stop(&self, run_id: &str) -> Option<Option<Step>> {
        let mut reg = self.lock();
        let entry = reg.entries.get(run_id)?;
        let task = entry.task.as_ref()?;
        task.abort();
        let step = entry.progress.as_ref().and_then(|p| p.last_step());
        reg.entries.remove(run_id);
        Some(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_ends_the_run_when_dropped() {
        let runs = ActiveRuns::default();
        let guard = runs.begin("r1").unwrap();
        assert!(runs.is_active("r1") && runs.any());
        assert!(matches!(runs.begin("r1"), Err(RunError::Busy(_))));
        drop(guard);
        assert!(!runs.is_active("r1") && !runs.any());
        assert!(runs.begin("r1").is_ok());
    }

    #[tokio::test]
    async fn stop_aborts_the_task_and_names_the_step() {
        let runs = ActiveRuns::default();
        let guard = runs.begin("r1").unwrap();
        let progress = Tracked::new(Arc::new(|_e: crate::pipeline::ProgressEvent| {}));
        crate::pipeline::ProgressSink::emit(
            progress.as_ref(),
            crate::pipeline::ProgressEvent {
                run_id: "r1".into(),
                step: Step::Training,
                state: crate::pipeline::StepState::Running,
                elapsed_ms: 0,
                message: String::new(),
                detail: None,
            },
        );
        let task = tokio::spawn(async move {
            let _guard = guard;
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        });
        runs.attach("r1", task.abort_handle(), progress);
        assert_eq!(runs.stop("r1"), Some(Some(Step::Training)));
        // The clean-up begins before the stopped task has dropped its guard.
        let cleanup = runs.begin("r1").unwrap();
        assert!(task.await.unwrap_err().is_cancelled());
        assert!(
            runs.is_active("r1"),
            "the late guard must not end the clean-up"
        );
        drop(cleanup);
        assert!(!runs.is_active("r1"));
        // Nothing to stop any more; a clean-up without a task is not stoppable.
        assert_eq!(runs.stop("r1"), None);
        let _cleanup = runs.begin("r2").unwrap();
        assert_eq!(runs.stop("r2"), None);
    }
}
