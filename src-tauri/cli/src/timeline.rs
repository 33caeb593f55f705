//! Prints progress events as a timeline with elapsed times.

use std::sync::Mutex;
use std::time::Instant;

use easytdv_core::logs::{LogLine, LogName, MetricPoint, Stream};
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
        // The log lines below say it better than "still running (12 s): …".
        if e.state == StepState::Running
            && (e.message.contains(" is running (")
                || e.message.starts_with("Installing your packages ("))
        {
            return;
        }
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

    fn log(&self, _run_id: &str, _name: LogName, lines: &[LogLine], _total: usize) {
        for line in lines {
            match line.stream {
                Stream::Out => println!("            │ {}", line.text),
                Stream::Err => println!("            ! {}", line.text),
            }
        }
    }

    fn metrics(&self, _run_id: &str, points: &[MetricPoint]) {
        println!("            ▸ {}", metrics_line(points));
    }
}

/// The latest value of each metric in a batch: `loss=0.21 acc=0.93 (step 3)`.
pub fn metrics_line(points: &[MetricPoint]) -> String {
    let mut latest: Vec<(&str, f64)> = Vec::new();
    for p in points {
        match latest.iter_mut().find(|(n, _)| *n == p.name) {
            Some(slot) => slot.1 = p.value,
            None => latest.push((&p.name, p.value)),
        }
    }
    let mut text: Vec<String> = latest.iter().map(|(n, v)| format!("{n}={v}")).collect();
    if let Some(step) = points.last().and_then(|p| p.step) {
        text.push(format!("(step {step})"));
    }
    text.join(" ")
}
