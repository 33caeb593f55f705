//! The environment archives the app vouches for: the SHA-256 and size a
//! machine reported when its save of `easytdv/cache/<key>.*` ended, one row
//! per bucket and key (a later save of the same key replaces it).

use rusqlite::{params, OptionalExtension};

use super::{now, History, HistoryError};
use crate::environments::CacheArchive;

impl History {
    /// Records (or replaces) the archive saved for its bucket and key.
    pub fn record_env_archive(&self, a: &CacheArchive) -> Result<(), HistoryError> {
        let size = i64::try_from(a.size).unwrap_or(i64::MAX);
        self.with(|c| {
            c.execute(
                "INSERT INTO env_archives (bucket, key, archive, sha256, size, run_id, saved_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(bucket, key) DO UPDATE SET archive = excluded.archive,
                 sha256 = excluded.sha256, size = excluded.size, run_id = excluded.run_id,
                 saved_at = excluded.saved_at",
                params![a.bucket, a.key, a.archive, a.sha256, size, a.run_id, now()],
            )?;
            Ok(())
        })
    }

    /// The archive recorded for this bucket and key, if any.
    pub fn env_archive(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<CacheArchive>, HistoryError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT archive, sha256, size, run_id FROM env_archives WHERE bucket = ?1 AND key = ?2",
                params![bucket, key],
                |r| {
                    Ok(CacheArchive {
                        bucket: bucket.to_string(),
                        key: key.to_string(),
                        archive: r.get(0)?,
                        sha256: r.get(1)?,
                        size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                        run_id: r.get(3)?,
                    })
                },
            )
            .optional()?)
        })
    }

    /// Forgets a deleted cached environment.
    pub fn forget_env_archive(&self, bucket: &str, key: &str) -> Result<(), HistoryError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM env_archives WHERE bucket = ?1 AND key = ?2",
                params![bucket, key],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(key: &str, sha: &str) -> CacheArchive {
        CacheArchive {
            bucket: "b".into(),
            key: key.into(),
            archive: format!("{key}.tar.zst"),
            sha256: sha.into(),
            size: 1234,
            run_id: "20261126-142700-a1b2c3".into(),
        }
    }

    #[test]
    fn an_archive_is_recorded_replaced_and_forgotten_per_bucket_and_key() {
        let h = History::in_memory().unwrap();
        let k = "ab".repeat(32);
        assert_eq!(h.env_archive("b", &k).unwrap(), None);
        h.record_env_archive(&archive(&k, &"01".repeat(32)))
            .unwrap();
        h.record_env_archive(&archive(&k, &"02".repeat(32)))
            .unwrap();
        assert_eq!(
            h.env_archive("b", &k).unwrap(),
            Some(archive(&k, &"02".repeat(32)))
        );
        assert_eq!(h.env_archive("other-bucket", &k).unwrap(), None);
        h.forget_env_archive("b", &k).unwrap();
        assert_eq!(h.env_archive("b", &k).unwrap(), None);
    }

    #[test]
    fn a_history_of_schema_3_gains_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            for sql in &super::super::open::MIGRATIONS[..3] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 3).unwrap();
        }
        let h = History::open(&path).unwrap();
        assert!(h.moved_aside().is_none());
        h.record_env_archive(&archive(&"cd".repeat(32), &"03".repeat(32)))
            .unwrap();
    }
}
