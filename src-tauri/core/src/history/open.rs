//! Opening the history: the file's checks, the schema's migrations, and a
//! damaged (or newer) file moved aside so the app always starts.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tracing::warn;

use super::{History, HistoryError, MovedAside};

pub(super) const MIGRATIONS: &[&str] = &[
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
    // v4: the environment archives the app vouches for (the SHA-256 a machine
    // reported when its save ended), one per bucket and cache key: the next
    // run restores that archive only when its bytes have this digest.
    "CREATE TABLE env_archives (
        bucket TEXT NOT NULL,
        key TEXT NOT NULL,
        archive TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        run_id TEXT NOT NULL,
        saved_at TEXT NOT NULL,
        PRIMARY KEY (bucket, key)
    );",
    // v5: machines kept warm for the next run (the row is taken, deleted,
    // by the one run that uses it).
    "CREATE TABLE warm_machines (
        instance_id TEXT PRIMARY KEY,
        match_key TEXT NOT NULL,
        until REAL NOT NULL,
        machine_json TEXT NOT NULL
    );",
    // v6: sweeps (one wizard, several runs): the request, its planned runs
    // and the run each became; a run knows its sweep.
    "CREATE TABLE sweeps (
        sweep_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        account_id TEXT NOT NULL,
        request_json TEXT NOT NULL,
        plan_json TEXT NOT NULL,
        run_ids_json TEXT NOT NULL,
        stopped INTEGER NOT NULL DEFAULT 0,
        best_by_json TEXT
    );
    ALTER TABLE runs ADD COLUMN sweep_id TEXT;",
];

impl History {
    /// Opens (or creates) the history. A damaged file, or one written by a
    /// newer easyTDV, is moved aside (see [`History::moved_aside`]) and a
    /// new history is started: the app always starts. Two processes opening
    /// a new history at once both succeed.
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        let mut waited = 0;
        let opened = loop {
            match Self::open_file(path) {
                // Another process holds a lock (it is opening or migrating
                // the same history): the file is fine, so it is never moved
                // aside for that; wait, up to about 20 s.
                Err(u) if u.busy && waited < 200 => {
                    waited += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(u) if u.busy => {
                    return Err(HistoryError::Unusable(format!(
                        "another easyTDV keeps the run history locked ({}): close it and try again",
                        u.reason
                    )))
                }
                other => break other,
            }
        };
        match opened {
            Ok(conn) => Self::migrate(conn, None),
            Err(Unusable { reason, .. }) => {
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
            return Err(Unusable::new(format!(
                "it was written by a newer easyTDV (schema {version}, this one knows {})",
                MIGRATIONS.len()
            )));
        }
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(Unusable::from)?;
        if check != "ok" {
            return Err(Unusable::new(format!("the database is damaged ({check})")));
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
}

/// Why a history file cannot be used as it is, or (`busy`) cannot be yet:
/// another process holds a lock on it.
struct Unusable {
    reason: String,
    busy: bool,
}

impl Unusable {
    fn new(reason: String) -> Self {
        Self {
            reason,
            busy: false,
        }
    }

    fn into_error(self) -> HistoryError {
        HistoryError::Unusable(self.reason)
    }
}

impl From<rusqlite::Error> for Unusable {
    fn from(e: rusqlite::Error) -> Self {
        Self {
            busy: is_busy(&e),
            reason: e.to_string(),
        }
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED: another connection holds a lock.
pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
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
