//! What the OS notification says when a run ends, and who is told.

use crate::pipeline::{PipelineError, RunResources};

/// What the OS notification says when a run ends: finished, failed, or
/// stopped by the machine's own safety stop (maximum run time or budget cap).
pub fn end_notice<T>(
    script: &str,
    result: &Result<T, PipelineError>,
    res: &RunResources,
    now_secs: f64,
) -> (String, String) {
    let Err(e) = result else {
        return (
            "Training finished".into(),
            format!("{script} finished; its outputs are in your bucket."),
        );
    };
    // (After a relaunch, the machine's stop is what its earlier ones left.)
    let stop_at = res
        .launched_at
        .filter(|_| res.safety_stop_hours.is_some())
        .map(|t| crate::prices::machine_hours(res, t, now_secs).1);
    // A machine that vanished at (or after) its safety stop stopped itself.
    if stop_at.is_some_and(|at| now_secs + 60.0 >= at) {
        let hours = res.safety_stop_hours.unwrap_or_default();
        return (
            "Machine stopped by its safety stop".into(),
            format!(
                "{script} ran until the safety stop ({}): the machine stopped itself, so it costs nothing more. Outputs written so far are in your bucket.",
                crate::pipeline::human_duration(std::time::Duration::from_secs_f64(hours * 3600.0))
            ),
        );
    }
    ("Training failed".into(), format!("{script}: {e}"))
}

/// Told when a run ends (OS notifications in the app).
pub trait Notifier: Send + Sync {
    fn notify(&self, title: &str, body: &str);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(launched: Option<f64>, hours: Option<f64>) -> RunResources {
        RunResources {
            launched_at: launched,
            safety_stop_hours: hours,
            ..Default::default()
        }
    }

    #[test]
    fn the_notification_tells_success_failure_and_the_safety_stop() {
        let ok: Result<(), PipelineError> = Ok(());
        let failed: Result<(), PipelineError> = Err(PipelineError::InstanceLost {
            instance_id: "i-1".into(),
            state: "terminated".into(),
        });
        let (title, body) = end_notice("train.py", &ok, &res(Some(0.0), Some(1.0)), 10.0);
        assert_eq!(title, "Training finished");
        assert!(body.starts_with("train.py finished"));
        // Lost long before its safety stop: a failure.
        let (title, body) = end_notice("train.py", &failed, &res(Some(0.0), Some(2.0)), 600.0);
        assert_eq!(title, "Training failed");
        assert!(body.starts_with("train.py: "), "{body}");
        // Gone at its safety stop (a budget cap of 30 min here).
        let (title, body) = end_notice("train.py", &failed, &res(Some(0.0), Some(0.5)), 1_790.0);
        assert_eq!(title, "Machine stopped by its safety stop");
        assert!(body.contains("30 min") || body.contains("30m"), "{body}");
        // No machine launched: a failure.
        let (title, _) = end_notice("train.py", &failed, &res(None, Some(0.5)), 5_000.0);
        assert_eq!(title, "Training failed");
    }
}
