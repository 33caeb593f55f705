//! Each run's progress events, kept in memory for this session and sent to
//! every window view that watches the run, so leaving a run's page and coming
//! back (or opening it from the history) shows the whole timeline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use easytdv_core::pipeline::{ProgressEvent, ProgressSink};
use tauri::ipc::Channel;

/// At most this many events are kept per run (oldest dropped).
const KEEP: usize = 1000;

#[derive(Default)]
struct Feed {
    events: Vec<ProgressEvent>,
    watchers: Vec<Channel<ProgressEvent>>,
}

#[derive(Default, Clone)]
pub struct Feeds(Arc<Mutex<HashMap<String, Feed>>>);

impl Feeds {
    /// Sends the run's past events to `channel`, then every new one.
    pub fn watch(&self, run_id: &str, channel: Channel<ProgressEvent>) {
        let Ok(mut feeds) = self.0.lock() else { return };
        let feed = feeds.entry(run_id.to_string()).or_default();
        if feed.events.iter().all(|e| channel.send(e.clone()).is_ok()) {
            feed.watchers.push(channel);
        }
    }

    /// A sink for the pipeline that records and fans out its events.
    pub fn sink(&self, first_watcher: Channel<ProgressEvent>) -> Arc<dyn ProgressSink> {
        let feeds = self.clone();
        let first = Mutex::new(Some(first_watcher));
        Arc::new(move |e: ProgressEvent| feeds.publish(e, &first))
    }

    fn publish(&self, event: ProgressEvent, first: &Mutex<Option<Channel<ProgressEvent>>>) {
        let Ok(mut feeds) = self.0.lock() else { return };
        let feed = feeds.entry(event.run_id.clone()).or_default();
        // The channel of the command that started the work joins on its
        // first event (the run id is known only then).
        if let Some(ch) = first.lock().ok().and_then(|mut f| f.take()) {
            feed.watchers.push(ch);
        }
        if feed.events.len() == KEEP {
            feed.events.remove(0);
        }
        feed.events.push(event.clone());
        // A closed window's channel fails: forget it, the run goes on.
        feed.watchers.retain(|w| w.send(event.clone()).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use easytdv_core::pipeline::{Step, StepState};
    use tauri::ipc::InvokeResponseBody;

    fn collector() -> (Channel<ProgressEvent>, Arc<Mutex<Vec<String>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        let channel = Channel::new(move |body: InvokeResponseBody| {
            if let InvokeResponseBody::Json(json) = body {
                let e: serde_json::Value = serde_json::from_str(&json).unwrap();
                sink.lock()
                    .unwrap()
                    .push(e["message"].as_str().unwrap().to_string());
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
    fn a_late_watcher_gets_the_past_then_the_new_events() {
        let feeds = Feeds::default();
        let (first, first_got) = collector();
        let sink = feeds.sink(first);
        sink.emit(event("a"));
        sink.emit(event("b"));
        let (late, late_got) = collector();
        feeds.watch("r1", late);
        sink.emit(event("c"));
        assert_eq!(*first_got.lock().unwrap(), vec!["a", "b", "c"]);
        assert_eq!(*late_got.lock().unwrap(), vec!["a", "b", "c"]);
        // Another run's watcher sees nothing of r1.
        let (other, other_got) = collector();
        feeds.watch("r2", other);
        sink.emit(event("d"));
        assert!(other_got.lock().unwrap().is_empty());
    }
}
