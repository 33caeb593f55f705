//! A machine kept warm after a run, for the next one (issue 22, item 3).
//!
//! After a successful EC2 run whose request asks for it, the machine stays
//! on for `keep_warm_minutes` and stops itself then (train.sh schedules its
//! own shutdown: it holds with the app closed). The run hands it on: its
//! clean-up leaves it running, and the history's table of warm machines
//! holds it. The next run with the same account, region, machine type,
//! image, disk, bucket and base role takes it (one atomic delete of its row:
//! two runs never share a machine), sends its inputs as usual, and finds the
//! environment in place when its requirements did not change. "Stop now"
//! takes the row the same way and terminates the machine.

mod services;

use serde::{Deserialize, Serialize};

use crate::aws::AwsContext;
use crate::pipeline::{Engine, InputError, PipelineError, TrainRequest};

/// The longest a machine may be kept warm (train.sh's own bound too).
pub const MAX_KEEP_WARM_MIN: u32 = 120;
/// A warm machine is taken only with this much of its time left: the run's
/// first command (which moves its stop to the run's own maximum run time)
/// reaches it after the inputs are sent, and its own stop is minute-rounded.
pub const CLAIM_MARGIN_SECS: f64 = 300.0;
/// A warm machine still running this long after its own stop is ended by
/// the app (a reboot, or a script, may have cancelled the machine's stop).
pub const OVERDUE_AFTER_SECS: f64 = 180.0;
/// The leftovers check leaves a machine kept warm alone until this long
/// after its stop; then, if it still runs, it is a leftover.
pub const FORGET_AFTER_SECS: f64 = 600.0;
/// A row nobody could check (its account gone) is dropped after a day.
pub const DROP_AFTER_SECS: f64 = 86_400.0;

/// A keep-warm time the run can have: EC2 only, 1 to [`MAX_KEEP_WARM_MIN`].
pub fn check_request(request: &TrainRequest) -> Result<(), InputError> {
    let Some(minutes) = request.keep_warm_minutes else {
        return Ok(());
    };
    if request.engine != Engine::Ec2 {
        return Err(InputError::KeepWarmNotOnSageMaker);
    }
    if !(1..=MAX_KEEP_WARM_MIN).contains(&minutes) {
        return Err(InputError::BadKeepWarm(minutes));
    }
    Ok(())
}

/// A run's machine, handed on to be kept warm (in the run's resources).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KeptWarm {
    pub instance_id: String,
    /// Unix seconds when it stops itself (as the machine said).
    pub until: f64,
}

/// What a run needs of a warm machine to use it: exactly the machine it
/// would launch (same image and disk), reaching the same bucket with the
/// same role (a base replaced since has another role id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmKey {
    pub aws_account: String,
    pub region: String,
    pub instance_type: String,
    pub image_id: String,
    pub disk_gb: u32,
    pub bucket: String,
    pub machine_role_id: String,
    /// The project's folder on this computer, hashed: a machine serves the
    /// same project again, never another one (whatever a script leaves on
    /// the machine's disk stays with its own project).
    pub project: String,
    /// `spot` or `on-demand`: a spot machine only for a run that asks for
    /// spot (AWS may take it back), an on-demand one only for one that does not.
    pub market: String,
}

impl WarmKey {
    /// One string the history matches on.
    pub fn text(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}|{}|{}|{}",
            self.aws_account,
            self.region,
            self.instance_type,
            self.image_id,
            self.disk_gb,
            self.bucket,
            self.machine_role_id,
            self.project,
            self.market
        )
    }
}

/// A machine kept warm, waiting for the next run.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WarmMachine {
    pub instance_id: String,
    /// The app's account that ran it (the history's; `cli` for the CLI's).
    pub account_id: String,
    pub aws_account: String,
    pub region: String,
    pub instance_type: String,
    pub image_id: String,
    pub disk_gb: u32,
    pub bucket: String,
    pub machine_role_id: String,
    /// The project's key ([`project_key`]).
    #[serde(default)]
    pub project: String,
    /// `spot` or `on-demand`.
    #[serde(default)]
    pub market: String,
    /// The environment cache key of what is installed on it: a run with the
    /// same needs no install at all.
    #[serde(default)]
    pub cache_key: Option<String>,
    pub zone: Option<String>,
    /// Machine and disk, as priced at the last run's launch.
    pub usd_per_hour: Option<f64>,
    /// Unix seconds: kept warm since, and until (it stops itself then).
    pub since: f64,
    pub until: f64,
    /// The last run that used it.
    pub run_id: String,
}

impl WarmMachine {
    pub fn key(&self) -> WarmKey {
        WarmKey {
            aws_account: self.aws_account.clone(),
            region: self.region.clone(),
            instance_type: self.instance_type.clone(),
            image_id: self.image_id.clone(),
            disk_gb: self.disk_gb,
            bucket: self.bucket.clone(),
            machine_role_id: self.machine_role_id.clone(),
            project: self.project.clone(),
            market: self.market.clone(),
        }
    }

    /// What it has cost since it was kept warm (`None`: price unknown).
    pub fn cost_so_far(&self, now: f64) -> Option<f64> {
        let hours = ((now.min(self.until) - self.since) / 3600.0).max(0.0);
        self.usd_per_hour.map(|p| p * hours)
    }
}

/// Terminates a warm machine (taken from the history first, so no run takes
/// it meanwhile) and waits until it is gone.
pub async fn stop(ctx: &AwsContext, machine: &WarmMachine) -> Result<(), PipelineError> {
    crate::pipeline::terminate_machines(ctx, std::slice::from_ref(&machine.instance_id)).await?;
    Ok(())
}

/// A project folder's key: the SHA-256 of its path (the path itself stays
/// on this computer).
pub fn project_key(root: &std::path::Path) -> String {
    use sha2::Digest;
    format!(
        "{:x}",
        sha2::Sha256::digest(root.to_string_lossy().as_bytes())
    )
}

/// Unix seconds of the machine's own `2026-12-07T10:42:00Z`.
pub fn parse_until(iso: &str) -> Option<f64> {
    time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp() as f64)
}

/// `10:42 UTC` of Unix seconds.
pub fn utc_clock(secs: f64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .map(|t| format!("{:02}:{:02} UTC", t.hour(), t.minute()))
        .unwrap_or_default()
}

/// Now, in Unix seconds.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(engine: Engine, minutes: Option<u32>) -> TrainRequest {
        TrainRequest {
            engine,
            keep_warm_minutes: minutes,
            ..Default::default()
        }
    }

    #[test]
    fn only_an_ec2_run_keeps_its_machine_warm_and_for_at_most_two_hours() {
        assert!(check_request(&request(Engine::Ec2, None)).is_ok());
        assert!(check_request(&request(Engine::Ec2, Some(10))).is_ok());
        assert!(check_request(&request(Engine::Ec2, Some(120))).is_ok());
        assert_eq!(
            check_request(&request(Engine::Ec2, Some(0))),
            Err(InputError::BadKeepWarm(0))
        );
        assert_eq!(
            check_request(&request(Engine::Ec2, Some(121))),
            Err(InputError::BadKeepWarm(121))
        );
        let sm = Engine::SageMaker {
            instance_count: 1,
            spot: false,
        };
        assert_eq!(
            check_request(&request(sm, Some(10))),
            Err(InputError::KeepWarmNotOnSageMaker)
        );
        assert!(check_request(&request(sm, None)).is_ok());
    }

    #[test]
    fn the_machines_own_time_is_read_and_the_cost_stops_at_its_stop() {
        assert_eq!(parse_until("1970-01-01T00:10:00Z"), Some(600.0));
        assert_eq!(parse_until("soon"), None);
        let m = WarmMachine {
            instance_id: "i-1".into(),
            account_id: "a".into(),
            aws_account: "123456789012".into(),
            region: "eu-west-3".into(),
            instance_type: "t3.medium".into(),
            image_id: "ami-1".into(),
            disk_gb: 30,
            bucket: "b".into(),
            machine_role_id: "AROA1".into(),
            project: "p".into(),
            market: "on-demand".into(),
            cache_key: None,
            zone: None,
            usd_per_hour: Some(0.06),
            since: 0.0,
            until: 1800.0,
            run_id: "r".into(),
        };
        assert!((m.cost_so_far(900.0).unwrap() - 0.015).abs() < 1e-9);
        assert!((m.cost_so_far(99_999.0).unwrap() - 0.03).abs() < 1e-9);
        assert_ne!(
            m.key().text(),
            WarmKey {
                disk_gb: 31,
                ..m.key()
            }
            .text()
        );
    }
}
