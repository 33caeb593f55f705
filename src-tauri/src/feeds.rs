//! Each run's events, sent to every window view that watches the run. Step
//! events are also kept for this session and replayed to a view opened
//! again (or from the history); log lines and metric values are live only:
//! a view reads what came before with `read_log` and `run_metrics`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use easytdv_core::pipeline::{EventSink, ProgressSink, RunEvent};
use tauri::ipc::Channel;

/// At most this many step events are kept per run (oldest dropped).
const KEEP: usize = 1000;

#[derive(Default)]
struct Feed {
    steps: Vec<RunEvent>,
    watchers: Vec<Channel<RunEvent>>,
}

#[derive(Default, Clone)]
pub struct Feeds(Arc<Mutex<HashMap<String, Feed>>>);

impl Feeds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Feed>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends the run's past step events to `channel`, then every new event.
    pub fn watch(&self, run_id: &str, channel: Channel<RunEvent>) {
        let mut feeds = self.lock();
        let feed = feeds.entry(run_id.to_string()).or_default();
        if feed.steps.iter().all(|e| channel.send(e.clone()).is_ok()) {
            feed.watchers.push(channel);
        } else {
            tracing::debug!(run_id, "a run view went away before its replay ended");
        }
    }

    /// A sink for the pipeline that records and fans out its events.
    pub fn sink(&self, first_watcher: Channel<RunEvent>) -> Arc<dyn ProgressSink> {
        let feeds = self.clone();
        let first = Mutex::new(Some(first_watcher));
        Arc::new(EventSink(move |e: RunEvent| feeds.publish(e, &first)))
    }

    /// A sink with no watcher of its own (a sweep's run: its page, opened
    /// later, watches it with `watch`).
    pub fn unwatched_sink(&self) -> Arc<dyn ProgressSink> {
        let feeds = self.clone();
        let none = Mutex::new(None);
        Arc::new(EventSink(move |e: RunEvent| feeds.publish(e, &none)))
    }

    fn publish(&self, event: RunEvent, first: &Mutex<Option<Channel<RunEvent>>>) {
        let mut feeds = self.lock();
        let feed = feeds.entry(event.run_id().to_string()).or_default();
        // The channel of the command that started the work joins on its
        // first event (the run id is known only then).
        if let Some(ch) = first.lock().unwrap_or_else(|p| p.into_inner()).take() {
            feed.watchers.push(ch);
        }
        if matches!(event, RunEvent::Step(_)) {
            if feed.steps.len() == KEEP {
                feed.steps.remove(0);
            }
            feed.steps.push(event.clone());
        }
        // A closed window's channel fails: forget it, the run goes on.
        feed.watchers.retain(|w| w.send(event.clone()).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use easytdv_core::logs::{LogLine, LogName, Stream};
    use easytdv_core::pipeline::{ProgressEvent, Step, StepState};
    use tauri::ipc::InvokeResponseBody;

    fn collector() -> (Channel<RunEvent>, Arc<Mutex<Vec<String>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let channel = Channel::new(move |body: InvokeResponseBody| {
            if let InvokeResponseBody::Json(json) = body {
                let e: serde_json::Value = serde_json::from_str(&json).unwrap();
                let text = match e["kind"].as_str().unwrap() {
                    "step" => e["message"].as_str().unwrap().to_string(),
                    "logLines" => format!("log {}", e["lines"][0]["text"].as_str().unwrap()),
                    other => other.to_string(),
                };
                sink.lock().unwrap().push(text);
            }
            Ok(())
        });
        (channel, got)
    }

    fn event(message: &str) -> ProgressEvent {
        ProgressEvent {
            run_id: "r1".into(),
            step: Step::Prepare,
            state: StepState::Running,
            elapsed_ms: 0,
            message: message.into(),
            detail: None,
        }
    }

    #[test]
    fn a_late_watcher_gets_the_past_steps_then_everything_new() {
        let feeds = Feeds::default();
        let (first, first_got) = collector();
        let sink = feeds.sink(first);
        sink.emit(event("a"));
        let line = LogLine {
            at_ms: 1.0,
            stream: Stream::Out,
            text: "epoch 1".into(),
        };
        sink.log("r1", LogName::Train, std::slice::from_ref(&line), 1);
        sink.emit(event("b"));
        let (late, late_got) = collector();
        feeds.watch("r1", late);
        sink.emit(event("c"));
        sink.log("r1", LogName::Train, &[line], 2);
        assert_eq!(
            *first_got.lock().unwrap(),
            vec!["a", "log epoch 1", "b", "c", "log epoch 1"]
        );
        // Log lines are not replayed (read_log reads them back).
        assert_eq!(
            *late_got.lock().unwrap(),
            vec!["a", "b", "c", "log epoch 1"]
        );
        // Another run's watcher sees nothing of r1.
        let (other, other_got) = collector();
        feeds.watch("r2", other);
        sink.emit(event("d"));
        assert!(other_got.lock().unwrap().is_empty());
    }
}
