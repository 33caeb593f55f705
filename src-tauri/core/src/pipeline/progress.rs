//! Where progress and run state go: the app forwards events to the UI, the
//! history store persists resource ids, the CLI prints a timeline.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::error::PipelineError;
use super::model::{ProgressEvent, RunResources, Step, StepState};

/// Receives progress events. Must be cheap: it is called from the pipeline.
pub trait ProgressSink: Send + Sync {
    fn emit(&self, event: ProgressEvent);
}

/// Receives the run's resource ids before each AWS call that creates one.
pub trait RunStateSink: Send + Sync {
    fn record(&self, resources: &RunResources) -> Result<(), PipelineError>;
}

impl<F: Fn(ProgressEvent) + Send + Sync> ProgressSink for F {
    fn emit(&self, event: ProgressEvent) {
        self(event)
    }
}

/// Keeps the latest resources in memory (tests, and runs without history).
#[derive(Default, Clone)]
pub struct MemoryState(pub Arc<Mutex<Option<RunResources>>>);

impl MemoryState {
    pub fn latest(&self) -> Option<RunResources> {
        self.0.lock().ok().and_then(|g| g.clone())
    }
}

impl RunStateSink for MemoryState {
    fn record(&self, resources: &RunResources) -> Result<(), PipelineError> {
        let mut guard = self
            .0
            .lock()
            .map_err(|_| PipelineError::State("lock poisoned".into()))?;
        *guard = Some(resources.clone());
        Ok(())
    }
}

/// Collects every event (tests and benchmarks).
#[derive(Default, Clone)]
pub struct EventLog(pub Arc<Mutex<Vec<ProgressEvent>>>);

impl EventLog {
    pub fn events(&self) -> Vec<ProgressEvent> {
        self.0.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

impl ProgressSink for EventLog {
    fn emit(&self, event: ProgressEvent) {
        if let Ok(mut g) = self.0.lock() {
            g.push(event);
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
}
