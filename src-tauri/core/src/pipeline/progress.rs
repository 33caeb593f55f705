//! Where progress and run state go: the app forwards events to the UI, the
//! history store persists resource ids, the CLI prints a timeline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::error::PipelineError;
use super::model::{ProgressEvent, RunResources, Step, StepState};
use crate::environments::CacheArchive;
use crate::logs::{LogLine, LogName, MetricPoint};
use crate::warm::{WarmKey, WarmMachine};

/// Receives progress events. Must be cheap: it is called from the pipeline.
pub trait ProgressSink: Send + Sync {
    fn emit(&self, event: ProgressEvent);
    /// A step starts reading one of the run's logs from its beginning.
    fn log_reset(&self, _run_id: &str, _name: LogName) {}
    /// New lines of one of the run's logs; `total`: the log's length once
    /// they are added, when known (0 otherwise).
    fn log(&self, _run_id: &str, _name: LogName, _lines: &[LogLine], _total: usize) {}
    /// New values of the script's metrics.
    fn metrics(&self, _run_id: &str, _points: &[MetricPoint]) {}
}

/// Receives the run's resource ids before each AWS call that creates one,
/// and keeps the environment archives the app vouches for.
pub trait RunStateSink: Send + Sync {
    fn record(&self, resources: &RunResources) -> Result<(), PipelineError>;
    /// The archive recorded for this cache key in this bucket, if any: the
    /// machine restores nothing else. (A sink that keeps none: no restore.)
    fn cache_archive(
        &self,
        _bucket: &str,
        _key: &str,
    ) -> Result<Option<CacheArchive>, PipelineError> {
        Ok(None)
    }
    /// A machine saved this archive (it replaces what was recorded for its key).
    fn record_cache_archive(&self, _archive: &CacheArchive) -> Result<(), PipelineError> {
        Ok(())
    }
    /// Keeps a run's machine warm for the next run. (A sink that keeps none
    /// refuses: the machine then ends with its run.)
    fn keep_warm(&self, _machine: &WarmMachine) -> Result<(), PipelineError> {
        Err(PipelineError::State(
            "no history to keep a warm machine in".into(),
        ))
    }
    /// Takes a warm machine a run with this key may use (see
    /// [`crate::history::History::claim_warm`]).
    fn claim_warm(&self, _key: &WarmKey, _now: f64) -> Result<Option<WarmMachine>, PipelineError> {
        Ok(None)
    }
}

impl<F: Fn(ProgressEvent) + Send + Sync> ProgressSink for F {
    fn emit(&self, event: ProgressEvent) {
        self(event)
    }
}

/// Keeps the latest resources and the recorded cache archives in memory
/// (tests, and runs without history).
#[derive(Default, Clone)]
pub struct MemoryState {
    resources: Arc<Mutex<Option<RunResources>>>,
    archives: Arc<Mutex<HashMap<(String, String), CacheArchive>>>,
    warm: Arc<Mutex<Vec<WarmMachine>>>,
}

impl MemoryState {
    pub fn latest(&self) -> Option<RunResources> {
        self.resources.lock().ok().and_then(|g| g.clone())
    }
}

fn poisoned<T>(_: T) -> PipelineError {
    PipelineError::State("lock poisoned".into())
}

impl RunStateSink for MemoryState {
    fn record(&self, resources: &RunResources) -> Result<(), PipelineError> {
        *self.resources.lock().map_err(poisoned)? = Some(resources.clone());
        Ok(())
    }
    fn cache_archive(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<CacheArchive>, PipelineError> {
        let map = self.archives.lock().map_err(poisoned)?;
        Ok(map.get(&(bucket.to_string(), key.to_string())).cloned())
    }
    fn record_cache_archive(&self, archive: &CacheArchive) -> Result<(), PipelineError> {
        let mut map = self.archives.lock().map_err(poisoned)?;
        map.insert(
            (archive.bucket.clone(), archive.key.clone()),
            archive.clone(),
        );
        Ok(())
    }
    fn keep_warm(&self, machine: &WarmMachine) -> Result<(), PipelineError> {
        let mut warm = self.warm.lock().map_err(poisoned)?;
        warm.retain(|m| m.instance_id != machine.instance_id);
        warm.push(machine.clone());
        Ok(())
    }
    fn claim_warm(&self, key: &WarmKey, now: f64) -> Result<Option<WarmMachine>, PipelineError> {
        let mut warm = self.warm.lock().map_err(poisoned)?;
        let found = warm
            .iter()
            .position(|m| m.key() == *key && m.until > now + crate::warm::CLAIM_MARGIN_SECS);
        Ok(found.map(|i| warm.remove(i)))
    }
}

impl MemoryState {
    /// The machines kept warm and not taken (a benchmark stops them at its end).
    pub fn warm_machines(&self) -> Vec<WarmMachine> {
        self.warm.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

/// Collects every event, log line and metric value (tests and benchmarks).
#[derive(Default, Clone)]
pub struct EventLog {
    events: Arc<Mutex<Vec<ProgressEvent>>>,
    lines: Arc<Mutex<Vec<(LogName, LogLine)>>>,
    metrics: Arc<Mutex<Vec<MetricPoint>>>,
}

impl EventLog {
    pub fn events(&self) -> Vec<ProgressEvent> {
        self.events.lock().map(|g| g.clone()).unwrap_or_default()
    }
    pub fn lines(&self) -> Vec<(LogName, LogLine)> {
        self.lines.lock().map(|g| g.clone()).unwrap_or_default()
    }
    pub fn metrics(&self) -> Vec<MetricPoint> {
        self.metrics.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

impl ProgressSink for EventLog {
    fn emit(&self, event: ProgressEvent) {
        if let Ok(mut g) = self.events.lock() {
            g.push(event);
        }
    }
    fn log(&self, _run_id: &str, name: LogName, lines: &[LogLine], _total: usize) {
        if let Ok(mut g) = self.lines.lock() {
            g.extend(lines.iter().map(|l| (name, l.clone())));
        }
    }
    fn metrics(&self, _run_id: &str, points: &[MetricPoint]) {
        if let Ok(mut g) = self.metrics.lock() {
            g.extend_from_slice(points);
        }
    }
}

/// Where a step timer sends its events: a sink it shares (a `Train`'s
/// steps, which need `&mut self` meanwhile) or one it borrows.
pub(crate) enum SinkRef<'a> {
    Shared(Arc<dyn ProgressSink>),
    Borrowed(&'a dyn ProgressSink),
}

impl SinkRef<'_> {
    fn get(&self) -> &dyn ProgressSink {
        match self {
            SinkRef::Shared(s) => s.as_ref(),
            SinkRef::Borrowed(s) => *s,
        }
    }
}

/// Times one step and emits its events.
pub(crate) struct StepTimer<'a> {
    sink: SinkRef<'a>,
    run_id: String,
    step: Step,
    start: Instant,
}

impl<'a> StepTimer<'a> {
    pub fn start(sink: SinkRef<'a>, run_id: &str, step: Step, message: impl Into<String>) -> Self {
        let timer = Self {
            sink,
            run_id: run_id.to_string(),
            step,
            start: Instant::now(),
        };
        timer.emit(StepState::Running, message.into(), None);
        timer
    }

    pub fn update(&self, message: impl Into<String>) {
        self.emit(StepState::Running, message.into(), None);
    }

    pub fn done(self, message: impl Into<String>) {
        self.emit(StepState::Done, message.into(), None);
    }

    pub fn fail(self, err: &PipelineError) {
        self.emit(
            StepState::Failed,
            err.to_string(),
            err.detail().map(str::to_string),
        );
    }

    /// Ends the step with `result`'s outcome and passes the result through.
    pub fn finish<T>(
        self,
        result: Result<T, PipelineError>,
        message: impl FnOnce(&T) -> String,
    ) -> Result<T, PipelineError> {
        match &result {
            Ok(v) => {
                let m = message(v);
                self.done(m)
            }
            Err(e) => self.fail(e),
        }
        result
    }

    fn emit(&self, state: StepState, message: String, detail: Option<String>) {
        let elapsed_ms = u32::try_from(self.start.elapsed().as_millis()).unwrap_or(u32::MAX);
        self.sink.get().emit(ProgressEvent {
            run_id: self.run_id.clone(),
            step: self.step,
            state,
            elapsed_ms,
            message,
            detail,
        });
    }
}

/// Forwards events and remembers the step of the last one (where a failure
/// happened), for the history.
pub struct Tracked {
    inner: Arc<dyn ProgressSink>,
    last: Mutex<Option<Step>>,
}

impl Tracked {
    pub fn new(inner: Arc<dyn ProgressSink>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            last: Mutex::new(None),
        })
    }

    pub fn last_step(&self) -> Option<Step> {
        self.last.lock().ok().and_then(|l| *l)
    }
}

impl ProgressSink for Tracked {
    fn emit(&self, event: ProgressEvent) {
        if let Ok(mut l) = self.last.lock() {
            *l = Some(event.step);
        }
        self.inner.emit(event);
    }
    fn log_reset(&self, run_id: &str, name: LogName) {
        self.inner.log_reset(run_id, name);
    }
    fn log(&self, run_id: &str, name: LogName, lines: &[LogLine], total: usize) {
        self.inner.log(run_id, name, lines, total);
    }
    fn metrics(&self, run_id: &str, points: &[MetricPoint]) {
        self.inner.metrics(run_id, points);
    }
}

/// Everything a run view is told while a run goes on, as one stream.
#[derive(Debug, Clone, serde::Serialize, specta::Type, PartialEq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum RunEvent {
    /// A step started, moved on, or ended.
    Step(ProgressEvent),
    /// A log of the run starts again from its beginning (a new attempt).
    #[serde(rename_all = "camelCase")]
    LogReset { run_id: String, log: LogName },
    /// New lines of a log (at most [`LIVE_LINES`]: the log panel reads any
    /// other window with `read_log`); `total` lines in all.
    #[serde(rename_all = "camelCase")]
    LogLines {
        run_id: String,
        log: LogName,
        total: u32,
        lines: Vec<LogLine>,
    },
    /// New values of the script's metrics.
    #[serde(rename_all = "camelCase")]
    Metrics {
        run_id: String,
        points: Vec<MetricPoint>,
    },
}

/// The most lines one live event carries.
pub const LIVE_LINES: usize = 500;

impl RunEvent {
    pub fn run_id(&self) -> &str {
        match self {
            RunEvent::Step(e) => &e.run_id,
            RunEvent::LogReset { run_id, .. }
            | RunEvent::LogLines { run_id, .. }
            | RunEvent::Metrics { run_id, .. } => run_id,
        }
    }
}

/// A sink that turns everything into [`RunEvent`]s for `send`.
pub struct EventSink<F: Fn(RunEvent) + Send + Sync>(pub F);

impl<F: Fn(RunEvent) + Send + Sync> ProgressSink for EventSink<F> {
    fn emit(&self, event: ProgressEvent) {
        (self.0)(RunEvent::Step(event));
    }
    fn log_reset(&self, run_id: &str, name: LogName) {
        (self.0)(RunEvent::LogReset {
            run_id: run_id.to_string(),
            log: name,
        });
    }
    fn log(&self, run_id: &str, name: LogName, lines: &[LogLine], total: usize) {
        let from = lines.len().saturating_sub(LIVE_LINES);
        (self.0)(RunEvent::LogLines {
            run_id: run_id.to_string(),
            log: name,
            total: u32::try_from(total).unwrap_or(u32::MAX),
            lines: lines[from..].to_vec(),
        });
    }
    fn metrics(&self, run_id: &str, points: &[MetricPoint]) {
        (self.0)(RunEvent::Metrics {
            run_id: run_id.to_string(),
            points: points.to_vec(),
        });
    }
}
