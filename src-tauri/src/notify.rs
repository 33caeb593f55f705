//! OS notifications when a run ends: the desktop's notification service
//! through notify-rust on Linux (D-Bus) and Windows (toasts); on macOS
//! through `osascript` (Notification Center), which needs no crate built
//! against Apple's SDK. Test seam (debug builds only, see
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
        // A D-Bus round trip or a process: kept off the async runtime's threads.
        std::thread::spawn(move || {
            if let Err(e) = show(&title, &body) {
                tracing::warn!(error = %e, title, "the notification could not be shown");
            }
        });
    }
}

#[cfg(not(target_os = "macos"))]
fn show(title: &str, body: &str) -> Result<(), String> {
    notify_rust::Notification::new()
        .appname("easyTDV")
        .summary(title)
        .body(body)
        .show()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The title and body are the script's arguments, never part of its text.
#[cfg(target_os = "macos")]
fn show(title: &str, body: &str) -> Result<(), String> {
    let status = std::process::Command::new("/usr/bin/osascript")
        .args([
            "-e",
            "on run argv",
            "-e",
            "display notification (item 2 of argv) with title (item 1 of argv)",
            "-e",
            "end run",
            title,
            body,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| e.to_string())?;
    status
        .success()
        .then_some(())
        .ok_or_else(|| format!("osascript ended with {status}"))
}
