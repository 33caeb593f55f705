//! The run history: SQLite in the app's data folder (WAL, versioned schema).
//! A run's resource ids are written before the AWS call that creates them,
//! so a crash never loses track of something that costs money.

use std::sync::Mutex;

use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, ToSql};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::explain::Explain;
use crate::pipeline::{
    DeleteReport, PipelineError, RunReport, RunResources, RunStateSink, RunSummary, Step,
    TrainRequest,
};

mod caches;
mod open;
mod sweeps;
mod warm;

pub use sweeps::SweepRecord;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    #[error("the run history could not be opened or written: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("the run history holds a record it cannot read: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("the run history cannot be used: {0}")]
    Unusable(String),
    #[error("no run {0} in the history")]
    NotFound(String),
}

impl Explain for HistoryError {
    fn code(&self) -> &'static str {
        match self {
            HistoryError::Db(_) => "history_db",
            HistoryError::Corrupt(_) => "history_corrupt",
            HistoryError::Unusable(_) => "history_unusable",
            HistoryError::NotFound(_) => "run_not_found",
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            HistoryError::NotFound(_) => "Refresh the runs list.".into(),
            _ => "Check that the app's data folder is writable and not full.".into(),
        })
    }
}

/// How the training itself went.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Running,
    Succeeded,
    Failed,
    /// The user stopped it before it finished.
    Stopped,
}

/// Whether the run's cloud resources were deleted (the outputs always stay).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Cleanup {
    /// Nothing deleted yet: the machine or stack may still exist.
    None,
    Deleting,
    Deleted,
    Failed,
}

/// Stored as the serde name (`"succeeded"`, `"deleting"`, `"training"`).
macro_rules! sql_text_enum {
    ($t:ty, $fallback:expr) => {
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                let text = serde_json::to_value(self)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                Ok(ToSqlOutput::from(text))
            }
        }
        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                // An unknown value (a newer app wrote it) reads as the fallback.
                Ok(
                    serde_json::from_value(serde_json::Value::String(text.into()))
                        .unwrap_or($fallback),
                )
            }
        }
    };
}
sql_text_enum!(Outcome, Outcome::Failed);
sql_text_enum!(Cleanup, Cleanup::None);
sql_text_enum!(Step, Step::Prepare);

/// One run as the history keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub run_id: String,
    pub created_at: String,
    pub account_id: Option<String>,
    pub request: Option<TrainRequest>,
    pub resources: RunResources,
    pub outcome: Outcome,
    pub last_step: Option<Step>,
    /// Why the run failed (plain words), if it did.
    pub message: Option<String>,
    /// The output tail that explains the failure (pip error, traceback, stack event).
    pub detail: Option<String>,
    pub outputs_uri: Option<String>,
    pub cleanup: Cleanup,
    /// Why the clean-up failed, if it did.
    pub cleanup_message: Option<String>,
    /// What the machine reported (phases, Python, environment, metrics).
    pub summary: Option<RunSummary>,
    /// What it cost (so far, while the machine may still run).
    pub cost: Option<crate::prices::RunCost>,
    /// The sweep it is one run of, if any.
    #[serde(default)]
    pub sweep_id: Option<String>,
}

pub struct History {
    conn: Mutex<Connection>,
    /// Set when an unreadable history was moved aside at opening.
    moved_aside: Option<MovedAside>,
}

/// A history file that could not be used and was kept beside the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedAside {
    pub path: std::path::PathBuf,
    pub reason: String,
}

impl History {
    /// The unusable file found at opening, if any (the UI says so once).
    pub fn moved_aside(&self) -> Option<&MovedAside> {
        self.moved_aside.as_ref()
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        let guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    /// Runs an UPDATE of one run; `NotFound` when no row has that run id
    /// (the run id must be the first parameter).
    fn update_one(
        &self,
        run_id: &str,
        sql: &str,
        params: &[&dyn ToSql],
    ) -> Result<(), HistoryError> {
        self.with(|c| match c.execute(sql, params)? {
            0 => Err(HistoryError::NotFound(run_id.into())),
            _ => Ok(()),
        })
    }

    /// Inserts or updates the run's resource ids.
    pub fn save_resources(&self, res: &RunResources) -> Result<(), HistoryError> {
        let json = serde_json::to_string(res)?;
        let now = now();
        self.with(|c| {
            c.execute(
                "INSERT INTO runs (run_id, created_at, resources_json) VALUES (?1, ?2, ?3)
                 ON CONFLICT(run_id) DO UPDATE SET resources_json = excluded.resources_json",
                params![res.run_id, now, json],
            )?;
            Ok(())
        })
    }

    /// Records who started the run and with what inputs.
    pub fn attach_request(
        &self,
        run_id: &str,
        account_id: &str,
        request: &TrainRequest,
    ) -> Result<(), HistoryError> {
        let json = serde_json::to_string(request)?;
        self.update_one(
            run_id,
            "UPDATE runs SET account_id = ?2, request_json = ?3 WHERE run_id = ?1",
            params![run_id, account_id, json],
        )
    }

    pub fn set_outcome(
        &self,
        run_id: &str,
        outcome: Outcome,
        last_step: Option<Step>,
        message: Option<&str>,
        outputs_uri: Option<&str>,
    ) -> Result<(), HistoryError> {
        self.update_one(
            run_id,
            "UPDATE runs SET outcome = ?2, last_step = COALESCE(?3, last_step), message = ?4,
             outputs_uri = COALESCE(?5, outputs_uri) WHERE run_id = ?1",
            params![run_id, outcome, last_step, message, outputs_uri],
        )
    }

    pub fn set_cleanup(
        &self,
        run_id: &str,
        cleanup: Cleanup,
        message: Option<&str>,
    ) -> Result<(), HistoryError> {
        self.update_one(
            run_id,
            "UPDATE runs SET cleanup = ?2, cleanup_message = ?3 WHERE run_id = ?1",
            params![run_id, cleanup, message],
        )
    }

    pub fn get(&self, run_id: &str) -> Result<RunRecord, HistoryError> {
        self.with(|c| {
            c.query_row(&format!("{SELECT} WHERE run_id = ?1"), params![run_id], row)
                .optional()?
                .ok_or_else(|| HistoryError::NotFound(run_id.into()))
        })
    }

    /// All runs, newest first. A damaged row is shown as damaged, never
    /// hides the others.
    pub fn list(&self) -> Result<Vec<RunRecord>, HistoryError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("{SELECT} ORDER BY created_at DESC, run_id DESC"))?;
            let rows = stmt.query_map([], row)?;
            let mut out = Vec::new();
            for r in rows {
                match r {
                    Ok(record) => out.push(record),
                    Err(e) => warn!(error = %e, "skipped a run history row that cannot be read"),
                }
            }
            Ok(out)
        })
    }

    /// Records how a run (or a retry) ended.
    pub fn record_run_result(
        &self,
        run_id: &str,
        result: &Result<RunReport, PipelineError>,
        last_step: Option<Step>,
    ) -> Result<(), HistoryError> {
        let (outcome, step, message, uri, detail) = match result {
            Ok(r) => (
                Outcome::Succeeded,
                Some(Step::Outputs),
                None,
                Some(r.outputs_uri.as_str()),
                None,
            ),
            Err(e) => (
                Outcome::Failed,
                last_step,
                Some(e.to_string()),
                None,
                e.detail(),
            ),
        };
        self.set_outcome(run_id, outcome, step, message.as_deref(), uri)?;
        self.update_one(
            run_id,
            "UPDATE runs SET detail = ?2 WHERE run_id = ?1",
            params![run_id, detail],
        )
    }

    /// Records what the machine reported about the run.
    pub fn set_summary(&self, run_id: &str, summary: &RunSummary) -> Result<(), HistoryError> {
        let json = serde_json::to_string(summary)?;
        self.update_one(
            run_id,
            "UPDATE runs SET summary_json = ?2 WHERE run_id = ?1",
            params![run_id, json],
        )
    }

    /// Records how a clean-up ended.
    pub fn record_delete_result(
        &self,
        run_id: &str,
        result: &Result<DeleteReport, PipelineError>,
    ) -> Result<(), HistoryError> {
        match result {
            Ok(_) => self.set_cleanup(run_id, Cleanup::Deleted, None),
            Err(e) => self.set_cleanup(run_id, Cleanup::Failed, Some(&e.to_string())),
        }
    }

    /// Marks the app's runs left `running` or `deleting` by a previous session
    /// (the app was closed mid-run) so the history says what to do about them.
    /// Runs of the CLI (account `cli`) may be going on in another process:
    /// they are left alone.
    pub fn mark_interrupted(&self) -> Result<usize, HistoryError> {
        self.with(|c| {
            let runs = c.execute(
                "UPDATE runs SET outcome = 'failed',
                 message = 'easyTDV was closed during this run; its machine may still be running. Retry or delete the run.'
                 WHERE outcome = 'running' AND account_id IS NOT 'cli'",
                [],
            )?;
            let cleanups = c.execute(
                "UPDATE runs SET cleanup = 'failed',
                 cleanup_message = 'easyTDV was closed while deleting this run. Delete it again.'
                 WHERE cleanup = 'deleting'",
                [],
            )?;
            if runs + cleanups > 0 {
                info!(runs, cleanups, "marked runs interrupted by a closed app");
            }
            Ok(runs + cleanups)
        })
    }

    /// Runs that may still have resources in AWS.
    pub fn with_live_resources(&self) -> Result<Vec<RunRecord>, HistoryError> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|r| r.cleanup != Cleanup::Deleted)
            .collect())
    }
}

const SELECT: &str = "SELECT run_id, created_at, account_id, request_json, resources_json, outcome, last_step, message,
     outputs_uri, cleanup, cleanup_message, detail, summary_json, sweep_id FROM runs";

/// One row; a damaged JSON column shows the run as damaged rather than
/// failing the whole list.
fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
    let run_id: String = r.get(0)?;
    let request: Option<String> = r.get(3)?;
    let resources: String = r.get(4)?;
    let mut damage = Vec::new();
    let request = request.and_then(|text| {
        serde_json::from_str(&text)
            .map_err(|e| damage.push(format!("its inputs cannot be read ({e})")))
            .ok()
    });
    let resources = serde_json::from_str(&resources).unwrap_or_else(|e| {
        damage.push(format!("its resource ids cannot be read ({e})"));
        RunResources {
            run_id: run_id.clone(),
            ..Default::default()
        }
    });
    let mut message: Option<String> = r.get(7)?;
    if !damage.is_empty() {
        warn!(
            run_id,
            damage = damage.join("; "),
            "damaged run history row"
        );
        message = Some(format!(
            "This run's record is damaged: {}.",
            damage.join("; ")
        ));
    }
    let cost = crate::prices::run_cost(
        &resources,
        time::OffsetDateTime::now_utc().unix_timestamp() as f64,
    );
    Ok(RunRecord {
        cost,
        run_id,
        created_at: r.get(1)?,
        account_id: r.get(2)?,
        request,
        resources,
        outcome: r.get(5)?,
        last_step: r.get(6)?,
        message,
        outputs_uri: r.get(8)?,
        cleanup: r.get(9)?,
        cleanup_message: r.get(10)?,
        detail: r.get(11)?,
        summary: r
            .get::<_, Option<String>>(12)?
            .and_then(|t| serde_json::from_str(&t).ok()),
        sweep_id: r.get(13)?,
    })
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl RunStateSink for History {
    fn record(&self, resources: &RunResources) -> Result<(), PipelineError> {
        self.save_resources(resources)
            .map_err(|e| PipelineError::State(e.to_string()))
    }
    fn cache_archive(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<crate::environments::CacheArchive>, PipelineError> {
        self.env_archive(bucket, key)
            .map_err(|e| PipelineError::State(e.to_string()))
    }
    fn record_cache_archive(
        &self,
        archive: &crate::environments::CacheArchive,
    ) -> Result<(), PipelineError> {
        self.record_env_archive(archive)
            .map_err(|e| PipelineError::State(e.to_string()))
    }
    fn keep_warm(&self, machine: &crate::warm::WarmMachine) -> Result<(), PipelineError> {
        History::keep_warm(self, machine).map_err(|e| PipelineError::State(e.to_string()))
    }
    fn claim_warm(
        &self,
        key: &crate::warm::WarmKey,
        now: f64,
    ) -> Result<Option<crate::warm::WarmMachine>, PipelineError> {
        History::claim_warm(self, key, now).map_err(|e| PipelineError::State(e.to_string()))
    }
}

#[cfg(test)]
mod tests;
