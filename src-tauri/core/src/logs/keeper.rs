//! A progress sink that keeps a run's log lines on this computer (so the
//! log panel can read any window of them, and they stay readable after the
//! run and its clean-up) before passing everything on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;

use super::line::{LogLine, LogName};
use super::metrics::MetricPoint;
use super::store::LogFile;
use crate::pipeline::{ProgressEvent, ProgressSink};

pub struct Keeper {
    data_dir: PathBuf,
    inner: Arc<dyn ProgressSink>,
    /// Open logs (their line index stays in memory while the run goes on).
    files: Mutex<HashMap<(String, LogName), Arc<LogFile>>>,
}

impl Keeper {
    pub fn new(data_dir: PathBuf, inner: Arc<dyn ProgressSink>) -> Self {
        Self {
            data_dir,
            inner,
            files: Mutex::new(HashMap::new()),
        }
    }

    fn file(&self, run_id: &str, name: LogName) -> Arc<LogFile> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files
            .entry((run_id.to_string(), name))
            .or_insert_with(|| Arc::new(LogFile::new(&self.data_dir, run_id, name)))
            .clone()
    }
}

impl ProgressSink for Keeper {
    fn emit(&self, event: ProgressEvent) {
        self.inner.emit(event);
    }

    fn log_reset(&self, run_id: &str, name: LogName) {
        if let Err(e) = self.file(run_id, name).reset() {
            tracing::error!(run_id, error = %e, "could not start the run's local log");
        }
        self.inner.log_reset(run_id, name);
    }

    fn log(&self, run_id: &str, name: LogName, lines: &[LogLine], _total: usize) {
        let file = self.file(run_id, name);
        if let Err(e) = file.append(lines) {
            tracing::error!(run_id, error = %e, "could not keep the run's log lines");
        }
        let total = file.len().unwrap_or_else(|e| {
            tracing::error!(run_id, error = %e, "could not count the run's log lines");
            0
        });
        self.inner.log(run_id, name, lines, total);
    }

    fn metrics(&self, run_id: &str, points: &[MetricPoint]) {
        self.inner.metrics(run_id, points);
    }
}
