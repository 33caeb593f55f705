//! Sweeps in the history: what was asked, the runs planned, and the run
//! each one became (`None` while it waits, or when it never started).

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{now, History, HistoryError};
use crate::sweep::{BestBy, SweepPlan, SweepRequest};

/// One sweep as the history keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SweepRecord {
    pub sweep_id: String,
    pub created_at: String,
    pub account_id: String,
    pub request: SweepRequest,
    pub plan: SweepPlan,
    /// The run each planned run became, in the plan's order.
    pub run_ids: Vec<Option<String>>,
    /// "Stop all" was pressed (or a run failed with stop-on-failure): the
    /// runs not started yet never start.
    pub stopped: bool,
    /// The metric the user ranks the runs by (`None`: the default one).
    pub best_by: Option<BestBy>,
}

const SELECT: &str = "SELECT sweep_id, created_at, account_id, request_json, plan_json,
    run_ids_json, stopped, best_by_json FROM sweeps";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<SweepRecord, serde_json::Error>> {
    let json = |i: usize| r.get::<_, String>(i);
    let (request, plan, run_ids) = (json(3)?, json(4)?, json(5)?);
    let best_by: Option<String> = r.get(7)?;
    let (sweep_id, created_at, account_id, stopped) =
        (r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(6)? != 0);
    Ok((|| {
        Ok(SweepRecord {
            sweep_id,
            created_at,
            account_id,
            request: serde_json::from_str(&request)?,
            plan: serde_json::from_str(&plan)?,
            run_ids: serde_json::from_str(&run_ids)?,
            stopped,
            best_by: best_by.map(|t| serde_json::from_str(&t)).transpose()?,
        })
    })())
}

impl History {
    /// Records a new sweep (no run started yet); returns it.
    pub fn create_sweep(
        &self,
        sweep_id: &str,
        account_id: &str,
        request: &SweepRequest,
        plan: &SweepPlan,
    ) -> Result<SweepRecord, HistoryError> {
        let record = SweepRecord {
            sweep_id: sweep_id.into(),
            created_at: now(),
            account_id: account_id.into(),
            request: request.clone(),
            plan: plan.clone(),
            run_ids: vec![None; plan.runs.len()],
            stopped: false,
            best_by: None,
        };
        let (request, plan, ids) = (
            serde_json::to_string(&record.request)?,
            serde_json::to_string(&record.plan)?,
            serde_json::to_string(&record.run_ids)?,
        );
        self.with(|c| {
            c.execute(
                "INSERT INTO sweeps (sweep_id, created_at, account_id, request_json, plan_json, run_ids_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![record.sweep_id, record.created_at, account_id, request, plan, ids],
            )?;
            Ok(())
        })?;
        Ok(record)
    }

    pub fn get_sweep(&self, sweep_id: &str) -> Result<SweepRecord, HistoryError> {
        self.with(|c| {
            c.query_row(
                &format!("{SELECT} WHERE sweep_id = ?1"),
                params![sweep_id],
                row,
            )
            .optional()?
            .ok_or_else(|| HistoryError::NotFound(sweep_id.into()))?
            .map_err(HistoryError::from)
        })
    }

    /// All sweeps, newest first (a damaged row is skipped and logged).
    pub fn list_sweeps(&self) -> Result<Vec<SweepRecord>, HistoryError> {
        self.with(|c| {
            let mut stmt =
                c.prepare(&format!("{SELECT} ORDER BY created_at DESC, sweep_id DESC"))?;
            let rows = stmt.query_map([], row)?;
            let mut out = Vec::new();
            for r in rows {
                match r? {
                    Ok(s) => out.push(s),
                    Err(e) => tracing::warn!(error = %e, "skipped a sweep that cannot be read"),
                }
            }
            Ok(out)
        })
    }

    /// The planned run `index` became run `run_id` (recorded on both sides,
    /// in one transaction).
    pub fn set_sweep_run(
        &self,
        sweep_id: &str,
        index: usize,
        run_id: &str,
    ) -> Result<(), HistoryError> {
        self.with(|c| {
            let tx = c.unchecked_transaction()?;
            let ids: String = tx
                .query_row(
                    "SELECT run_ids_json FROM sweeps WHERE sweep_id = ?1",
                    params![sweep_id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| HistoryError::NotFound(sweep_id.into()))?;
            let mut ids: Vec<Option<String>> = serde_json::from_str(&ids)?;
            let Some(slot) = ids.get_mut(index) else {
                return Err(HistoryError::Unusable(format!(
                    "sweep {sweep_id} has no run {index}"
                )));
            };
            // An earlier attempt replaced (a run retried anew) leaves the
            // sweep: it is its own row of the history again, with its cost
            // and whatever it still has in the cloud in plain sight.
            if let Some(old) = slot.replace(run_id.into()).filter(|o| o != run_id) {
                tx.execute(
                    "UPDATE runs SET sweep_id = NULL WHERE run_id = ?1",
                    params![old],
                )?;
            }
            tx.execute(
                "UPDATE sweeps SET run_ids_json = ?2 WHERE sweep_id = ?1",
                params![sweep_id, serde_json::to_string(&ids)?],
            )?;
            tx.execute(
                "UPDATE runs SET sweep_id = ?2 WHERE run_id = ?1",
                params![run_id, sweep_id],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn set_sweep_stopped(&self, sweep_id: &str, stopped: bool) -> Result<(), HistoryError> {
        self.with(|c| {
            match c.execute(
                "UPDATE sweeps SET stopped = ?2 WHERE sweep_id = ?1",
                params![sweep_id, stopped],
            )? {
                0 => Err(HistoryError::NotFound(sweep_id.into())),
                _ => Ok(()),
            }
        })
    }

    pub fn set_sweep_best_by(
        &self,
        sweep_id: &str,
        by: Option<&BestBy>,
    ) -> Result<(), HistoryError> {
        let json = by.map(serde_json::to_string).transpose()?;
        self.with(|c| {
            match c.execute(
                "UPDATE sweeps SET best_by_json = ?2 WHERE sweep_id = ?1",
                params![sweep_id, json],
            )? {
                0 => Err(HistoryError::NotFound(sweep_id.into())),
                _ => Ok(()),
            }
        })
    }
}
