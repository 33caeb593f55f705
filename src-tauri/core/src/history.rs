//! The run history: SQLite in the app's data folder (WAL, versioned schema).
//! A run's resource ids are written before the AWS call that creates them,
//! so a crash never loses track of something that costs money.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::explain::Explain;
use crate::pipeline::{
    DeleteReport, PipelineError, RunReport, RunResources, RunStateSink, Step, TrainRequest,
};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    #[error("the run history could not be opened or written: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("the run history holds a record it cannot read: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("no run {0} in the history")]
    NotFound(String),
}

impl Explain for HistoryError {
    fn code(&self) -> &'static str {
        match self {
            HistoryError::Db(_) => "history_db",
            HistoryError::Corrupt(_) => "history_corrupt",
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

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Running => "running",
        Outcome::Succeeded => "succeeded",
        Outcome::Failed => "failed",
    }
}

fn parse_outcome(s: &str) -> Outcome {
    match s {
        "succeeded" => Outcome::Succeeded,
        "failed" => Outcome::Failed,
        _ => Outcome::Running,
    }
}

fn cleanup_str(c: Cleanup) -> &'static str {
    match c {
        Cleanup::None => "none",
        Cleanup::Deleting => "deleting",
        Cleanup::Deleted => "deleted",
        Cleanup::Failed => "failed",
    }
}

fn parse_cleanup(s: &str) -> Cleanup {
    match s {
        "deleting" => Cleanup::Deleting,
        "deleted" => Cleanup::Deleted,
        "failed" => Cleanup::Failed,
        _ => Cleanup::None,
    }
}

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
}

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        account_id TEXT,
        request_json TEXT,
        resources_json TEXT NOT NULL,
        outcome TEXT NOT NULL DEFAULT 'running',
        last_step TEXT,
        message TEXT,
        outputs_uri TEXT
    );
    CREATE INDEX runs_created ON runs(created_at);",
    // v2: the clean-up is tracked apart from the run's outcome, so a deleted
    // run still shows whether its training succeeded.
    "ALTER TABLE runs ADD COLUMN cleanup TEXT NOT NULL DEFAULT 'none';
    ALTER TABLE runs ADD COLUMN cleanup_message TEXT;
    ALTER TABLE runs ADD COLUMN detail TEXT;
    UPDATE runs SET cleanup = CASE outcome WHEN 'deleted' THEN 'deleted' ELSE 'failed' END,
        outcome = 'failed'
        WHERE outcome IN ('deleted', 'deleting', 'delete_failed');",
];

pub struct History {
    conn: Mutex<Connection>,
}

impl History {
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::migrate(conn)
    }

    pub fn in_memory() -> Result<Self, HistoryError> {
        Self::migrate(Connection::open_in_memory()?)
    }

    fn migrate(mut conn: Connection) -> Result<Self, HistoryError> {
        let version: usize =
            conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
        let tx = conn.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        let guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&guard)
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
        self.with(|c| {
            let n = c.execute(
                "UPDATE runs SET account_id = ?2, request_json = ?3 WHERE run_id = ?1",
                params![run_id, account_id, json],
            )?;
            if n == 0 {
                return Err(HistoryError::NotFound(run_id.into()));
            }
            Ok(())
        })
    }

    pub fn set_outcome(
        &self,
        run_id: &str,
        outcome: Outcome,
        last_step: Option<Step>,
        message: Option<&str>,
        outputs_uri: Option<&str>,
    ) -> Result<(), HistoryError> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE runs SET outcome = ?2, last_step = COALESCE(?3, last_step), message = ?4,
                 outputs_uri = COALESCE(?5, outputs_uri) WHERE run_id = ?1",
                params![
                    run_id,
                    outcome_str(outcome),
                    last_step.map(Step::as_str),
                    message,
                    outputs_uri
                ],
            )?;
            if n == 0 {
                return Err(HistoryError::NotFound(run_id.into()));
            }
            Ok(())
        })
    }

    pub fn set_cleanup(
        &self,
        run_id: &str,
        cleanup: Cleanup,
        message: Option<&str>,
    ) -> Result<(), HistoryError> {
        self.with(|c| {
            let n = c.execute(
                "UPDATE runs SET cleanup = ?2, cleanup_message = ?3 WHERE run_id = ?1",
                params![run_id, cleanup_str(cleanup), message],
            )?;
            if n == 0 {
                return Err(HistoryError::NotFound(run_id.into()));
            }
            Ok(())
        })
    }

    pub fn get(&self, run_id: &str) -> Result<RunRecord, HistoryError> {
        self.with(|c| {
            c.query_row(&format!("{SELECT} WHERE run_id = ?1"), params![run_id], row)
                .optional()?
                .ok_or_else(|| HistoryError::NotFound(run_id.into()))?
        })
    }

    /// All runs, newest first.
    pub fn list(&self) -> Result<Vec<RunRecord>, HistoryError> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!("{SELECT} ORDER BY created_at DESC, run_id DESC"))?;
            let rows = stmt.query_map([], row)?;
            rows.map(|r| r.map_err(HistoryError::from).and_then(|x| x))
                .collect()
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
        self.with(|c| {
            c.execute(
                "UPDATE runs SET detail = ?2 WHERE run_id = ?1",
                params![run_id, detail],
            )?;
            Ok(())
        })
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
     outputs_uri, cleanup, cleanup_message, detail FROM runs";

type RowResult = Result<RunRecord, HistoryError>;

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RowResult> {
    let request: Option<String> = r.get(3)?;
    let resources: String = r.get(4)?;
    let outcome: String = r.get(5)?;
    let last_step: Option<String> = r.get(6)?;
    let cleanup: String = r.get(9)?;
    let build = || -> RowResult {
        Ok(RunRecord {
            run_id: r.get(0)?,
            created_at: r.get(1)?,
            account_id: r.get(2)?,
            request: request.as_deref().map(serde_json::from_str).transpose()?,
            resources: serde_json::from_str(&resources)?,
            outcome: parse_outcome(&outcome),
            last_step: last_step
                .map(|s| serde_json::from_value(serde_json::Value::String(s)))
                .transpose()?,
            message: r.get(7)?,
            outputs_uri: r.get(8)?,
            cleanup: parse_cleanup(&cleanup),
            cleanup_message: r.get(10)?,
            detail: r.get(11)?,
        })
    };
    Ok(build())
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(id: &str) -> RunResources {
        RunResources {
            run_id: id.into(),
            bucket: "b".into(),
            prefix: format!("easytdv/runs/{id}"),
            ..Default::default()
        }
    }

    #[test]
    fn a_cli_run_in_progress_is_not_marked_interrupted() {
        let h = History::in_memory().unwrap();
        let req = TrainRequest {
            script_path: "train.py".into(),
            requirements_path: "requirements.txt".into(),
            instance_type: "t3.medium".into(),
            disk_gb: 30,
            region: "eu-west-3".into(),
            bucket: "b".into(),
            ami: None,
            max_runtime_hours: 24,
        };
        for (id, account) in [
            ("20260101-000000-cccccc", "cli"),
            ("20260101-000000-dddddd", "acc-1"),
        ] {
            h.save_resources(&res(id)).unwrap();
            h.attach_request(id, account, &req).unwrap();
        }
        assert_eq!(h.mark_interrupted().unwrap(), 1);
        assert_eq!(
            h.get("20260101-000000-cccccc").unwrap().outcome,
            Outcome::Running
        );
        assert_eq!(
            h.get("20260101-000000-dddddd").unwrap().outcome,
            Outcome::Failed
        );
    }

    #[test]
    fn round_trip_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(&dir.path().join("history.db")).unwrap();
        h.save_resources(&res("20260101-000000-aaaaaa")).unwrap();
        let mut r = res("20260101-000000-aaaaaa");
        r.instance_id = Some("i-1".into());
        h.save_resources(&r).unwrap();
        h.set_outcome(
            &r.run_id,
            Outcome::Failed,
            Some(Step::Training),
            Some("boom"),
            None,
        )
        .unwrap();
        let got = h.get(&r.run_id).unwrap();
        assert_eq!(got.resources.instance_id.as_deref(), Some("i-1"));
        assert_eq!(
            (got.outcome, got.last_step, got.message.as_deref()),
            (Outcome::Failed, Some(Step::Training), Some("boom"))
        );
        assert_eq!(got.cleanup, Cleanup::None);
        // Deleting keeps what the run achieved; an interrupted clean-up says so.
        h.set_cleanup(&r.run_id, Cleanup::Deleting, None).unwrap();
        assert_eq!(h.mark_interrupted().unwrap(), 1);
        let got = h.get(&r.run_id).unwrap();
        assert_eq!(
            (got.outcome, got.cleanup),
            (Outcome::Failed, Cleanup::Failed)
        );
        assert!(got.cleanup_message.unwrap().contains("Delete it again"));
        h.set_cleanup(&r.run_id, Cleanup::Deleted, None).unwrap();
        assert!(h.with_live_resources().unwrap().is_empty());
        assert!(matches!(h.get("nope"), Err(HistoryError::NotFound(_))));
        drop(h);
        // Reopening keeps the data and does not re-run migrations.
        let h = History::open(&dir.path().join("history.db")).unwrap();
        assert_eq!(h.list().unwrap().len(), 1);
    }
}
