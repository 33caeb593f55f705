//! What a run costs: its machine's $/hour and its disk's, times the time
//! the machine lived (from launch to clean-up, or until now, never past
//! its safety stop).

use serde::{Deserialize, Serialize};

use crate::pipeline::{PipelineError, RunResources};

/// AWS bills storage per GB-month of 730 hours.
pub const HOURS_PER_MONTH: f64 = 730.0;
/// S3 Standard, $ per GB-month (us-east-1's first tier; other regions are
/// within a few tenths of a cent): for "a few cents a month" figures.
pub const S3_GB_MONTH: f64 = 0.023;

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunCost {
    /// Dollars so far (or in all, once the machine is gone).
    pub usd: f64,
    /// Machine and disk together, per hour.
    pub usd_per_hour: f64,
    pub hours: f64,
    /// The machine may still be running (the cost still grows).
    pub growing: bool,
    /// SageMaker spot: what the same seconds would have cost on demand,
    /// less what was billed (`None`: not a spot job, or not ended yet).
    #[serde(default)]
    pub spot_saved_usd: Option<f64>,
}

/// The shortest safety stop a budget cap may set (3 minutes).
pub const MIN_SAFETY_HOURS: f64 = 0.05;

/// When the machine stops itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SafetyStop {
    pub hours: f64,
    /// A budget was given but the price is unknown: the maximum run time holds.
    pub budget_ignored: bool,
}

/// The safety stop: the maximum run time, or earlier when a budget cap
/// (dollars ÷ $/hour) is spent first. A cap that buys less than
/// [`MIN_SAFETY_HOURS`] is refused.
pub fn safety_stop(
    max_hours: f64,
    budget_usd: Option<f64>,
    usd_per_hour: Option<f64>,
) -> Result<SafetyStop, PipelineError> {
    match (budget_usd, usd_per_hour) {
        (Some(cap), Some(rate)) if rate > 0.0 => {
            let hours = (cap / rate).min(max_hours);
            if hours < MIN_SAFETY_HOURS {
                return Err(PipelineError::BudgetTooSmall {
                    budget: cap,
                    usd_per_hour: rate,
                });
            }
            Ok(SafetyStop {
                hours,
                budget_ignored: false,
            })
        }
        (budget, _) => Ok(SafetyStop {
            hours: max_hours,
            budget_ignored: budget.is_some() && usd_per_hour.is_none(),
        }),
    }
}

/// $/hour of a machine with its disk.
pub fn hourly_total(machine_usd_per_hour: f64, disk_gb: u32, gp3_gb_month: Option<f64>) -> f64 {
    machine_usd_per_hour + f64::from(disk_gb) * gp3_gb_month.unwrap_or(0.0) / HOURS_PER_MONTH
}

/// Hours the run's current machine (launched at `start`) ran until its
/// end, or `now_secs`, at most until its safety stop (what is left of the
/// run's after its earlier machines); and that stop, in Unix seconds.
pub fn machine_hours(res: &RunResources, start: f64, now_secs: f64) -> (f64, f64) {
    let stop = res
        .safety_stop_hours
        .map(|h| start + (h - res.earlier_hours) * 3600.0)
        .unwrap_or(f64::INFINITY);
    let end = res.ended_at.unwrap_or(now_secs).min(stop);
    (((end - start) / 3600.0).max(0.0), stop)
}

/// The cost of a run as its resources record it; `None` before a machine
/// was launched or when its price is unknown.
pub fn run_cost(res: &RunResources, now_secs: f64) -> Option<RunCost> {
    let rate = res.usd_per_hour?;
    let machines = f64::from(res.machines.max(1));
    // An ended SageMaker job: the seconds it billed per machine.
    if let Some(billable) = res.billable_seconds {
        let hours = billable / 3600.0;
        let saved = res
            .training_seconds
            .filter(|t| *t > billable)
            .map(|t| rate * machines * (t - billable) / 3600.0);
        return Some(RunCost {
            usd: rate * hours * machines,
            usd_per_hour: rate * machines,
            hours,
            growing: false,
            spot_saved_usd: saved,
        });
    }
    // The run's earlier machines (a relaunch), then the current one.
    let earlier = (res.earlier_hours > 0.0).then_some((res.earlier_hours, res.earlier_usd));
    let Some(start) = res.launched_at else {
        let (hours, usd) = earlier?;
        return Some(RunCost {
            usd,
            usd_per_hour: rate * machines,
            hours,
            growing: false,
            spot_saved_usd: None,
        });
    };
    let (hours, stop) = machine_hours(res, start, now_secs);
    Some(RunCost {
        usd: rate * hours * machines + res.earlier_usd,
        usd_per_hour: rate * machines,
        hours: hours + res.earlier_hours,
        growing: res.ended_at.is_none() && now_secs < stop,
        spot_saved_usd: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relaunched_run_counts_its_earlier_machines_in_its_cost_and_safety_stop() {
        // A 2 h safety stop; the first machine ran 30 min (AWS took it back).
        let mut res = RunResources {
            usd_per_hour: Some(1.0),
            launched_at: Some(0.0),
            ended_at: Some(1800.0),
            safety_stop_hours: Some(2.0),
            ..Default::default()
        };
        assert_eq!(machine_hours(&res, 0.0, 99_999.0).0, 0.5);
        // Carried over at the relaunch (as `Train::count_earlier_machine` does).
        res.earlier_hours = 0.5;
        res.earlier_usd = 0.5;
        res.launched_at = None;
        res.ended_at = None;
        let between = run_cost(&res, 5000.0).unwrap();
        assert_eq!(
            (between.usd, between.hours, between.growing),
            (0.5, 0.5, false)
        );
        // The new machine, at a spot price of $0.25/h, stops 1.5 h after its launch.
        res.launched_at = Some(10_000.0);
        res.usd_per_hour = Some(0.25);
        let (hours, stop) = machine_hours(&res, 10_000.0, 10_000.0 + 3600.0);
        assert_eq!((hours, stop), (1.0, 10_000.0 + 1.5 * 3600.0));
        let c = run_cost(&res, 10_000.0 + 3600.0).unwrap();
        assert_eq!((c.usd, c.hours, c.growing), (0.75, 1.5, true));
        // Past its stop the cost stops growing: 2 h in all, as asked.
        let c = run_cost(&res, 10_000.0 + 9.0 * 3600.0).unwrap();
        assert_eq!((c.usd, c.hours, c.growing), (0.875, 2.0, false));
    }

    #[test]
    fn budget_cap_sets_the_safety_stop() {
        // $2 at $0.50/h buys 4 h, under the 24 h maximum.
        let s = safety_stop(24.0, Some(2.0), Some(0.5)).unwrap();
        assert_eq!((s.hours, s.budget_ignored), (4.0, false));
        // A generous cap never goes past the maximum run time.
        assert_eq!(
            safety_stop(24.0, Some(100.0), Some(0.5)).unwrap().hours,
            24.0
        );
        // Unknown price: the cap cannot apply, and the user is told.
        let s = safety_stop(24.0, Some(2.0), None).unwrap();
        assert_eq!((s.hours, s.budget_ignored), (24.0, true));
        assert!(!safety_stop(24.0, None, None).unwrap().budget_ignored);
        // One cent on a $1/h machine buys 36 s: refused.
        assert!(matches!(
            safety_stop(24.0, Some(0.01), Some(1.0)),
            Err(PipelineError::BudgetTooSmall { .. })
        ));
    }

    #[test]
    fn elapsed_times_price_never_past_the_safety_stop() {
        let mut res = RunResources {
            usd_per_hour: Some(hourly_total(1.0, 73, Some(0.1))),
            launched_at: Some(1000.0),
            safety_stop_hours: Some(2.0),
            ..Default::default()
        };
        assert!((res.usd_per_hour.unwrap() - 1.01).abs() < 1e-9);
        let c = run_cost(&res, 1000.0 + 1800.0).unwrap();
        assert!((c.usd - 0.505).abs() < 1e-9 && c.growing, "{c:?}");
        // Days later, a machine never cleaned up stopped itself at 2 h.
        let c = run_cost(&res, 1000.0 + 10.0 * 86400.0).unwrap();
        assert!((c.hours - 2.0).abs() < 1e-9 && !c.growing);
        res.ended_at = Some(1000.0 + 3600.0);
        let c = run_cost(&res, 9e9).unwrap();
        assert!((c.usd - 1.01).abs() < 1e-9 && !c.growing);
        res.usd_per_hour = None;
        assert_eq!(run_cost(&res, 0.0), None);
    }

    #[test]
    fn a_sagemaker_job_costs_its_billable_seconds_on_each_machine() {
        let res = RunResources {
            usd_per_hour: Some(0.5),
            machines: 2,
            launched_at: Some(0.0),
            ended_at: Some(7200.0),
            training_seconds: Some(3600.0),
            billable_seconds: Some(1800.0),
            ..Default::default()
        };
        let c = run_cost(&res, 9e9).unwrap();
        // 2 machines × $0.50 × 0.5 h billed; the other half hour was spot's saving.
        assert!((c.usd - 0.5).abs() < 1e-9 && !c.growing, "{c:?}");
        assert!((c.usd_per_hour - 1.0).abs() < 1e-9);
        assert!((c.spot_saved_usd.unwrap() - 0.5).abs() < 1e-9);
    }
}
