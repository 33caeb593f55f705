//! The run history: SQLite in the app's data folder (WAL, versioned schema).
//! A run's resource ids are written before the AWS call that creates them,
//! so a crash never loses track of something that costs money.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::types::{FromSql, FromSqlResult, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, ToSql, TransactionBehavior};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::explain::Explain;
use crate::pipeline::{
    DeleteReport, PipelineError, RunReport, RunResources, RunStateSink, RunSummary, Step,
    TrainRequest,
};

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
    // v3: what the machine reported (phases, Python, environment, final
    // metric values).
    "ALTER TABLE runs ADD COLUMN summary_json TEXT;",
];

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
    /// Opens (or creates) the history. A damaged file, or one written by a
    /// newer easyTDV, is moved aside (see [`History::moved_aside`]) and a
    /// new history is started: the app always starts. Two processes opening
    /// a new history at once both succeed.
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        match Self::open_file(path) {
            Ok(conn) => Self::migrate(conn, None),
            Err(Unusable(reason)) => {
                let aside = move_aside(path, &reason)?;
                warn!(path = %aside.path.display(), reason, "moved an unusable run history aside");
                Self::migrate(
                    Self::open_file(path).map_err(|u| u.into_error())?,
                    Some(aside),
                )
            }
        }
    }

    pub fn in_memory() -> Result<Self, HistoryError> {
        Self::migrate(Connection::open_in_memory()?, None)
    }

    /// The unusable file found at opening, if any (the UI says so once).
    pub fn moved_aside(&self) -> Option<&MovedAside> {
        self.moved_aside.as_ref()
    }

    fn open_file(path: &Path) -> Result<Connection, Unusable> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
        .map_err(Unusable::from)?;
        // Set first: the other pragmas may wait for another process's lock.
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(Unusable::from)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(Unusable::from)?;
        // Writes are rare and each one matters (it may name a billing machine).
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(Unusable::from)?;
        let version = user_version(&conn).map_err(Unusable::from)?;
        if version > MIGRATIONS.len() {
            return Err(Unusable(format!(
                "it was written by a newer easyTDV (schema {version}, this one knows {})",
                MIGRATIONS.len()
            )));
        }
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(Unusable::from)?;
        if check != "ok" {
            return Err(Unusable(format!("the database is damaged ({check})")));
        }
        Ok(conn)
    }

    /// Runs the missing migrations in one immediate transaction: a second
    /// process waits for the first, then finds nothing left to do.
    fn migrate(
        mut conn: Connection,
        moved_aside: Option<MovedAside>,
    ) -> Result<Self, HistoryError> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = user_version(&tx)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(Self {
            conn: Mutex::new(conn),
            moved_aside,
        })
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

/// Why a history file cannot be used as it is.
struct Unusable(String);

impl From<rusqlite::Error> for Unusable {
    fn from(e: rusqlite::Error) -> Self {
        Unusable(e.to_string())
    }
}

impl Unusable {
    fn into_error(self) -> HistoryError {
        HistoryError::Unusable(self.0)
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<usize> {
    conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .map(|v| usize::try_from(v).unwrap_or(usize::MAX))
}

/// Renames the file (and its WAL and shared-memory files) beside itself.
fn move_aside(path: &Path, reason: &str) -> Result<MovedAside, HistoryError> {
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "history.db".into());
    let aside = path.with_file_name(format!("{name}.unreadable-{stamp}"));
    for suffix in ["", "-wal", "-shm"] {
        let from = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if from.exists() {
            let to = std::path::PathBuf::from(format!("{}{suffix}", aside.display()));
            std::fs::rename(&from, &to).map_err(|e| {
                HistoryError::Unusable(format!("{reason}; moving it aside failed: {e}"))
            })?;
        }
    }
    Ok(MovedAside {
        path: aside,
        reason: reason.to_string(),
    })
}

const SELECT: &str = "SELECT run_id, created_at, account_id, request_json, resources_json, outcome, last_step, message,
     outputs_uri, cleanup, cleanup_message, detail, summary_json FROM runs";

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
            budget_usd: None,
            engine: Default::default(),
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

    #[test]
    fn two_processes_opening_a_new_history_at_once_both_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || History::open(&path).map(|h| h.list().map(|l| l.len())))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap().unwrap(), 0);
        }
    }

    #[test]
    fn a_damaged_or_newer_history_is_moved_aside_and_a_new_one_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        std::fs::write(&path, b"this is not a database, just text ".repeat(200)).unwrap();
        let h = History::open(&path).unwrap();
        let aside = h.moved_aside().expect("moved aside").clone();
        assert!(aside.path.exists(), "{aside:?}");
        assert_eq!(h.list().unwrap().len(), 0);
        h.save_resources(&res("20260101-000000-aaaaaa")).unwrap();
        drop(h);
        // Written by a newer easyTDV: kept aside too, never crashes.
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let h = History::open(&path).unwrap();
        assert!(h.moved_aside().unwrap().reason.contains("newer easyTDV"));
        assert_eq!(h.list().unwrap().len(), 0);
        drop(h);
        let h = History::open(&path).unwrap();
        assert!(h.moved_aside().is_none());
    }

    #[test]
    fn one_bad_row_never_hides_the_others() {
        let h = History::in_memory().unwrap();
        for id in ["20260101-000000-aaaaaa", "20260101-000000-bbbbbb"] {
            h.save_resources(&res(id)).unwrap();
        }
        h.with(|c| {
            c.execute(
                "UPDATE runs SET resources_json = '{broken', outcome = 'from-the-future' WHERE run_id = '20260101-000000-aaaaaa'",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        let list = h.list().unwrap();
        assert_eq!(list.len(), 2);
        let bad = list
            .iter()
            .find(|r| r.run_id == "20260101-000000-aaaaaa")
            .unwrap();
        assert!(bad.message.as_deref().unwrap().contains("damaged"));
        assert_eq!(bad.outcome, Outcome::Failed);
        let good = h.get("20260101-000000-bbbbbb").unwrap();
        assert_eq!(good.resources.bucket, "b");
    }

    #[test]
    fn stopped_is_a_real_outcome() {
        let h = History::in_memory().unwrap();
        h.save_resources(&res("20260101-000000-aaaaaa")).unwrap();
        h.set_outcome(
            "20260101-000000-aaaaaa",
            Outcome::Stopped,
            Some(Step::Training),
            Some("Stopped by you before it finished."),
            None,
        )
        .unwrap();
        let got = h.get("20260101-000000-aaaaaa").unwrap();
        assert_eq!(
            (got.outcome, got.last_step),
            (Outcome::Stopped, Some(Step::Training))
        );
        assert!(matches!(
            h.set_cleanup("nope", Cleanup::Deleted, None),
            Err(HistoryError::NotFound(_))
        ));
    }
}
