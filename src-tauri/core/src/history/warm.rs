//! The machines kept warm for the next run. A row is taken by deleting it:
//! of two runs (or a run and "Stop now") asking at once, in one process or
//! two, exactly one deletes it and gets the machine.

use rusqlite::{params, OptionalExtension};

use super::{History, HistoryError};
use crate::warm::{WarmKey, WarmMachine, CLAIM_MARGIN_SECS, DROP_AFTER_SECS};

impl History {
    /// Keeps a machine warm (its account is the run's, as the history
    /// recorded it).
    pub fn keep_warm(&self, machine: &WarmMachine) -> Result<(), HistoryError> {
        let mut m = machine.clone();
        if let Ok(record) = self.get(&m.run_id) {
            m.account_id = record.account_id.unwrap_or_default();
        }
        let json = serde_json::to_string(&m)?;
        self.with(|c| {
            c.execute(
                "INSERT INTO warm_machines (instance_id, match_key, until, machine_json)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(instance_id) DO UPDATE SET match_key = excluded.match_key,
                 until = excluded.until, machine_json = excluded.machine_json",
                params![m.instance_id, m.key().text(), m.until, json],
            )?;
            Ok(())
        })
    }

    /// Takes the warm machine a run with this key may use (the one kept
    /// longest, with at least [`CLAIM_MARGIN_SECS`] left): it is no longer
    /// warm, it is the run's.
    pub fn claim_warm(&self, key: &WarmKey, now: f64) -> Result<Option<WarmMachine>, HistoryError> {
        let text = key.text();
        self.with(|c| {
            let mut found = c.prepare(
                "SELECT instance_id FROM warm_machines WHERE match_key = ?1 AND until > ?2
                 ORDER BY until DESC",
            )?;
            let ids = found
                .query_map(params![text, now + CLAIM_MARGIN_SECS], |r| {
                    r.get::<_, String>(0)
                })?
                .collect::<Result<Vec<_>, _>>()?;
            for id in ids {
                if let Some(m) = take(c, &id)? {
                    return Ok(Some(m));
                }
            }
            Ok(None)
        })
    }

    /// Takes one warm machine by its id (to stop it): `None` when it is not
    /// warm (any more).
    pub fn take_warm(&self, instance_id: &str) -> Result<Option<WarmMachine>, HistoryError> {
        self.with(|c| take(c, instance_id))
    }

    /// The machines kept warm (past their stop too, until the app checked
    /// they are gone); rows a day past their stop are dropped.
    pub fn warm_machines(&self, now: f64) -> Result<Vec<WarmMachine>, HistoryError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM warm_machines WHERE until < ?1",
                params![now - DROP_AFTER_SECS],
            )?;
            let mut rows = c.prepare("SELECT machine_json FROM warm_machines ORDER BY until")?;
            let texts = rows
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            texts.iter().map(|t| Ok(serde_json::from_str(t)?)).collect()
        })
    }
}

/// Deletes the row and returns what it held, if this call deleted it.
fn take(c: &rusqlite::Connection, instance_id: &str) -> Result<Option<WarmMachine>, HistoryError> {
    let json: Option<String> = c
        .query_row(
            "DELETE FROM warm_machines WHERE instance_id = ?1 RETURNING machine_json",
            params![instance_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(match json {
        Some(j) => Some(serde_json::from_str(&j)?),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(id: &str, disk: u32, until: f64) -> WarmMachine {
        WarmMachine {
            instance_id: id.into(),
            account_id: String::new(),
            aws_account: "123456789012".into(),
            region: "eu-west-3".into(),
            instance_type: "t3.medium".into(),
            image_id: "ami-1".into(),
            disk_gb: disk,
            bucket: "b".into(),
            machine_role_id: "AROA1".into(),
            project: "p".into(),
            market: "on-demand".into(),
            cache_key: None,
            zone: None,
            usd_per_hour: Some(0.05),
            since: 0.0,
            until,
            run_id: "20261207-101500-a1b2c3".into(),
        }
    }

    #[test]
    fn a_warm_machine_goes_to_one_run_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite");
        let a = History::open(&path).unwrap();
        let b = History::open(&path).unwrap(); // another process's
        a.keep_warm(&machine("i-1", 30, 10_000.0)).unwrap();
        a.keep_warm(&machine("i-2", 40, 10_000.0)).unwrap();
        let key = machine("i-x", 30, 0.0).key();
        let first = a.claim_warm(&key, 1_000.0).unwrap();
        assert_eq!(first.map(|m| m.instance_id).as_deref(), Some("i-1"));
        // Taken: neither this history nor the other gives it again.
        assert_eq!(b.claim_warm(&key, 1_000.0).unwrap(), None);
        assert_eq!(a.claim_warm(&key, 1_000.0).unwrap(), None);
        // Another disk: another machine.
        let other = machine("i-x", 40, 0.0).key();
        assert_eq!(b.take_warm("i-2").unwrap().map(|m| m.disk_gb), Some(40));
        assert_eq!(a.claim_warm(&other, 1_000.0).unwrap(), None);
    }

    #[test]
    fn a_machine_about_to_stop_itself_is_not_taken_and_is_dropped_a_day_later() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(&dir.path().join("h.sqlite")).unwrap();
        h.keep_warm(&machine("i-1", 30, 1_000.0)).unwrap();
        let key = machine("i-1", 30, 0.0).key();
        assert_eq!(
            h.claim_warm(&key, 1_000.0 - CLAIM_MARGIN_SECS + 1.0)
                .unwrap(),
            None
        );
        assert_eq!(h.warm_machines(1_000.0).unwrap().len(), 1);
        assert_eq!(h.warm_machines(1_000.0 + 3_600.0).unwrap().len(), 1);
        assert_eq!(
            h.warm_machines(1_000.0 + DROP_AFTER_SECS + 1.0).unwrap(),
            vec![]
        );
    }

    #[test]
    fn many_runs_asking_at_once_get_the_machine_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.sqlite");
        History::open(&path)
            .unwrap()
            .keep_warm(&machine("i-1", 30, 10_000.0))
            .unwrap();
        let key = machine("i-1", 30, 0.0).key();
        let got: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (path, key) = (path.clone(), key.clone());
                    s.spawn(move || {
                        let h = History::open(&path).unwrap();
                        h.claim_warm(&key, 0.0).unwrap().is_some() as usize
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(got, 1);
    }
}
