//! A sweep as its page shows it: its runs, what they cost, the best one.

use serde::Serialize;

use super::{best, BestBy, BestRun, SweepError, Sweeps};
use crate::history::{RunRecord, SweepRecord};

/// A sweep, its runs (in the plan's order; `None`: not started), the
/// metrics they reported and the best run by the chosen (or default) one.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SweepView {
    pub sweep: SweepRecord,
    pub runs: Vec<Option<RunRecord>>,
    /// True while this process starts its runs (the others wait their turn).
    pub live: bool,
    pub metrics: Vec<String>,
    /// The user's choice, else the default one (`None`: no metric to rank by).
    pub best_by: Option<BestBy>,
    pub best: Option<BestRun>,
    /// What the runs cost so far, together.
    pub cost_usd: f64,
    /// True while any of its runs may still cost (a machine up).
    pub cost_growing: bool,
}

impl Sweeps {
    pub fn view(&self, sweep_id: &str) -> Result<SweepView, SweepError> {
        let sweep = self.record(sweep_id)?;
        let history = self.runs.history();
        let runs: Vec<Option<RunRecord>> = sweep
            .run_ids
            .iter()
            .map(|id| id.as_ref().and_then(|id| history.get(id).ok()))
            .collect();
        let present: Vec<RunRecord> = runs.iter().flatten().cloned().collect();
        let metrics = best::metric_names(&present);
        let best_by = sweep.best_by.clone().or_else(|| best::default_by(&metrics));
        let best = best_by.as_ref().and_then(|by| best::best_run(&present, by));
        let cost_usd = present
            .iter()
            .filter_map(|r| r.cost.as_ref())
            .map(|c| c.usd)
            .sum();
        let cost_growing = present
            .iter()
            .any(|r| r.cost.as_ref().is_some_and(|c| c.growing));
        Ok(SweepView {
            live: self.is_live(&sweep.sweep_id),
            sweep,
            runs,
            metrics,
            best_by,
            best,
            cost_usd,
            cost_growing,
        })
    }
}
