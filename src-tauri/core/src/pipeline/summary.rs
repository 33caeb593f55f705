//! What the machine reports about a run: the instance scripts' own
//! `easytdv: …` lines (phases and their seconds, Python, installer,
//! environment cache, shutdown notice) and the script's last stderr lines.

use super::model::{Phase, RunSummary};
use crate::logs::LogName;

impl RunSummary {
    /// One of the instance scripts' own `easytdv: …` lines.
    pub(super) fn note(&mut self, name: LogName, text: &str) {
        let mut words = text.split_whitespace();
        match (words.next(), words.next()) {
            (Some("phase"), Some(phase)) => {
                if let Some(secs) = words.next().and_then(|s| s.parse::<f64>().ok()) {
                    self.phases.push(Phase {
                        log: name,
                        name: phase.to_string(),
                        seconds: secs,
                    });
                }
            }
            (Some("python"), Some(version)) => self.python = Some(version.to_string()),
            (Some("installer"), Some(_)) => {
                self.installer = Some(text.trim_start_matches("installer ").to_string());
            }
            (Some("no"), Some("requirements")) => {
                self.environment = Some("no extra packages to install".into())
            }
            (Some("cache"), Some("hit")) => {
                let date = words.nth(1).unwrap_or("an earlier run");
                self.environment = Some(format!("reused the environment of {}", short_date(date)));
            }
            (Some("cache"), Some("miss")) => {
                self.environment = Some("first install of these requirements".into())
            }
            (Some("cache"), Some("corrupt")) => {
                self.environment =
                    Some("the saved environment was damaged: installed afresh".into())
            }
            (Some("using"), Some("the")) if text.contains("preinstalled torch") => {
                self.preinstalled = Some(text.to_string());
            }
            (Some("machine"), Some("will")) => self.shutdown_notice = Some(text.to_string()),
            (Some("machine"), Some("kept")) if name == LogName::Train => {
                // "machine kept warm until <ISO> for the next run"
                self.kept_warm_until = words.nth(2).map(str::to_string);
            }
            (Some("environment"), Some("reused")) => {
                self.environment =
                    Some("already on this machine (kept warm since an earlier run)".into())
            }
            _ => {}
        }
    }

    /// Keeps the last stderr lines of the script (a traceback's end, an
    /// installer's error).
    pub(super) fn push_error(&mut self, line: &str) {
        self.error_tail.push(line.to_string());
        if self.error_tail.len() > 40 {
            self.error_tail.remove(0);
        }
    }
}

/// `2026-12-01T10:20:30Z` → `2026-12-01 10:20 UTC`.
fn short_date(iso: &str) -> String {
    match (iso.get(..10), iso.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t} UTC"),
        _ => iso.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machines_own_lines_fill_the_summary() {
        let mut s = RunSummary::default();
        s.note(LogName::Install, "phase download 0.412");
        s.note(LogName::Install, "python 3.12.8");
        s.note(LogName::Install, "installer uv 0.13.9");
        s.note(LogName::Install, "cache hit 3f2a 2026-12-01T10:20:30Z");
        s.note(LogName::Train, "phase train 12.5");
        s.note(
            LogName::Train,
            "machine will shut down at 2026-12-02T11:00:00Z unless you retry",
        );
        assert_eq!(s.python.as_deref(), Some("3.12.8"));
        assert_eq!(s.installer.as_deref(), Some("uv 0.13.9"));
        assert_eq!(
            s.environment.as_deref(),
            Some("reused the environment of 2026-12-01 10:20 UTC")
        );
        assert_eq!(s.phases.len(), 2);
        assert_eq!(
            (s.phases[1].name.as_str(), s.phases[1].seconds),
            ("train", 12.5)
        );
        assert!(s
            .shutdown_notice
            .as_deref()
            .unwrap()
            .contains("unless you retry"));
        s.note(LogName::Install, "cache miss 3f2a");
        assert_eq!(
            s.environment.as_deref(),
            Some("first install of these requirements")
        );
    }
}
