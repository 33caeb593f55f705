//! OS notifications when a run ends, through the desktop's notification
//! service (notify-rust over D-Bus). Test seam (debug builds only, see
//! `crate::seams`): with `EASYTDV_NOTIFY_LOG` set, each notification is
//! appended to that file as a JSON line instead.

use std::io::Write;

use easytdv_core::runs::Notifier;

pub struct Desktop;

impl Notifier for Desktop {
    fn notify(&self, title: &str, body: &str) {
        if let Some(path) = crate::seams::notify_log() {
            let line = serde_json::json!({ "title": title, "body": body });
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .and_then(|mut f| writeln!(f, "{line}"));
            if let Err(e) = written {
                tracing::warn!(error = %e, "could not write the notification log");
            }
            return;
        }
        let (title, body) = (title.to_string(), body.to_string());
        // A D-Bus round trip: kept off the async runtime's threads.
        std::thread::spawn(move || {
            let shown = notify_rust::Notification::new()
                .appname("easyTDV")
                .summary(&title)
                .body(&body)
                .show();
            if let Err(e) = shown {
                tracing::warn!(error = %e, title, "the notification could not be shown");
            }
        });
    }
}
