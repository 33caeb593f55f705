//! Text helpers: steps and statuses in plain words.

use std::time::Duration;

/// The last line the user's script printed (not our own `easytdv:` lines).
pub(crate) fn last_line(text: &str) -> String {
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("easytdv:"))
        .unwrap_or("done")
        .chars()
        .take(160)
        .collect()
}

/// A stack status in plain words.
pub(crate) fn stack_words(status: &str) -> String {
    match status {
        "CREATE_IN_PROGRESS" => {
            "AWS is creating the roles, security group and launch function".into()
        }
        "CREATE_COMPLETE" => "Cloud resources are ready".into(),
        "ROLLBACK_IN_PROGRESS" | "ROLLBACK_COMPLETE" | "CREATE_FAILED" => {
            "Something failed; AWS is undoing what it created".into()
        }
        other => format!("Stack status: {other}"),
    }
}

pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words() {
        let out =
            "epoch 1\nloss=0.1\neasytdv: outputs uploaded (1 files)\neasytdv: training finished\n";
        assert_eq!(last_line(out), "loss=0.1");
        assert_eq!(last_line("easytdv: training finished\n"), "done");
        assert_eq!(stack_words("CREATE_COMPLETE"), "Cloud resources are ready");
        assert!(stack_words("UPDATE_IN_PROGRESS").contains("UPDATE_IN_PROGRESS"));
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(Duration::from_secs(42)), "42 s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(human_duration(Duration::from_secs(7260)), "2 h 1 min");
    }
}
