//! Prints progress events as a timeline with elapsed times.

use std::sync::Mutex;
use std::time::Instant;

use easytdv_core::pipeline::{ProgressEvent, ProgressSink, Step, StepState};

pub struct Timeline {
    start: Instant,
    last: Mutex<Option<(Step, StepState, String)>>,
}

impl Timeline {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            last: Mutex::new(None),
        }
    }
}

impl ProgressSink for Timeline {
    fn emit(&self, e: ProgressEvent) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let key = (e.step, e.state, e.message.clone());
        if last.as_ref() == Some(&key) {
            return;
        }
        *last = Some(key);
        let mark = match e.state {
            StepState::Running => "…",
            StepState::Done => "✓",
            StepState::Failed => "✗",
            StepState::Skipped => "-",
            StepState::Stopped => "■",
        };
        let total = self.start.elapsed().as_secs_f64();
        let step = e.elapsed_ms as f64 / 1000.0;
        println!(
            "[{total:7.1}s] {mark} {:<22} {:>6.1}s  {}",
            e.step.label(),
            step,
            e.message
        );
    }
}
