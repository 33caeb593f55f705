//! SHA-256s already computed, kept across runs (`hash-cache.json` in the
//! app's data folder), so a second run of a 5 GB dataset does not read the
//! 5 GB again to learn that nothing changed. An entry holds while the file
//! keeps its size and modification time (to the nanosecond); a file changed
//! in the last seconds is never cached (its time may not show a change
//! made in the same tick). S3 still checks every upload against the hash
//! it names, so a wrong entry could at worst send nothing new: it never
//! corrupts a blob.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The most entries kept (the oldest-looking are dropped first).
const MAX_ENTRIES: usize = 200_000;
/// A file modified less than this long ago is hashed every time.
const SETTLED: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Entry {
    size: u64,
    mtime_ns: u128,
    /// Unix: the inode, device and status-change time (which no tool can
    /// set back, unlike the modification time `touch -r` or `cp -p` keep).
    #[serde(default)]
    identity: Vec<u128>,
    sha256: String,
}

#[derive(Debug, Default)]
pub struct HashCache {
    path: Option<PathBuf>,
    entries: Mutex<HashMap<String, Entry>>,
    dirty: AtomicBool,
}

/// What must not have changed: size, modification time and (Unix) inode,
/// device and status-change time. `None` for a file changed in the last
/// seconds.
fn stamp(meta: &std::fs::Metadata) -> Option<(u64, u128, Vec<u128>)> {
    let modified = meta.modified().ok()?;
    if SystemTime::now()
        .duration_since(modified)
        .map_or(true, |age| age < SETTLED)
    {
        return None;
    }
    let ns = modified.duration_since(UNIX_EPOCH).ok()?.as_nanos();
    #[cfg(unix)]
    let identity = {
        use std::os::unix::fs::MetadataExt;
        let ctime = (meta.ctime() as i128 * 1_000_000_000 + i128::from(meta.ctime_nsec())) as u128;
        vec![u128::from(meta.ino()), u128::from(meta.dev()), ctime]
    };
    #[cfg(not(unix))]
    let identity = Vec::new();
    Some((meta.len(), ns, identity))
}

impl HashCache {
    /// The cache kept at `path` (empty when it is missing or unreadable).
    pub fn open(path: PathBuf) -> Self {
        let entries = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            path: Some(path),
            entries: Mutex::new(entries),
            dirty: AtomicBool::new(false),
        }
    }

    /// The app's own cache, in its data folder.
    pub fn of_this_computer() -> Self {
        Self::open(crate::paths::data_dir().join("hash-cache.json"))
    }

    fn key(path: &Path) -> String {
        path.to_string_lossy().into_owned()
    }

    /// The file's SHA-256 when it is as it was when hashed.
    pub fn get(&self, path: &Path) -> Option<String> {
        let (size, mtime_ns, identity) = stamp(&std::fs::metadata(path).ok()?)?;
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&Self::key(path))
            .filter(|e| e.size == size && e.mtime_ns == mtime_ns && e.identity == identity)
            .map(|e| e.sha256.clone())
    }

    /// Remembers a hash made of the file as `before` (its metadata then):
    /// only when the file still is as it was.
    pub fn put(&self, path: &Path, before: &std::fs::Metadata, sha256: &str) {
        let (Some(then), Some(now)) = (
            stamp(before),
            std::fs::metadata(path).ok().as_ref().and_then(stamp),
        ) else {
            return;
        };
        if then != now {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert(
            Self::key(path),
            Entry {
                size: now.0,
                mtime_ns: now.1,
                identity: now.2,
                sha256: sha256.to_string(),
            },
        );
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Writes the cache back when it changed (private to this user; a
    /// failure only costs hashing again next time).
    pub fn save(&self) {
        let Some(path) = &self.path else { return };
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return;
        }
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if entries.len() > MAX_ENTRIES {
            let mut by_age: Vec<(u128, String)> = entries
                .iter()
                .map(|(k, e)| (e.mtime_ns, k.clone()))
                .collect();
            by_age.sort();
            for (_, k) in by_age.iter().take(entries.len() - MAX_ENTRIES) {
                entries.remove(k);
            }
        }
        let Ok(body) = serde_json::to_vec(&entries) else {
            return;
        };
        if let Some(dir) = path.parent() {
            let _ = crate::private::create_dir(dir);
        }
        // Written whole, then moved in place: a reader never sees half a file.
        let tmp = path.with_extension("json.tmp");
        let written = crate::private::file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .and_then(|mut f| std::io::Write::write_all(&mut f, &body));
        if written.is_ok() {
            let _ = std::fs::rename(&tmp, path);
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(path: &Path) {
        let old = SystemTime::now() - Duration::from_secs(60);
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(old).unwrap();
    }

    #[test]
    fn a_hash_holds_while_the_file_keeps_its_size_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shard.bin");
        std::fs::write(&file, b"one").unwrap();
        let cache = HashCache::open(dir.path().join("cache.json"));
        let meta = std::fs::metadata(&file).unwrap();
        // Just written: not cached (a change in the same tick would not show).
        cache.put(&file, &meta, "aa");
        assert_eq!(cache.get(&file), None);
        settle(&file);
        let meta = std::fs::metadata(&file).unwrap();
        cache.put(&file, &meta, "aa");
        assert_eq!(cache.get(&file).as_deref(), Some("aa"));
        cache.save();
        let again = HashCache::open(dir.path().join("cache.json"));
        assert_eq!(again.get(&file).as_deref(), Some("aa"), "kept across runs");
        // Changed: the entry no longer holds.
        std::fs::write(&file, b"two").unwrap();
        settle(&file);
        assert_eq!(again.get(&file), None);
        // Rewritten with its old modification time put back (`cp -p`): the
        // status-change time tells.
        let cache = HashCache::open(dir.path().join("cache2.json"));
        let meta = std::fs::metadata(&file).unwrap();
        cache.put(&file, &meta, "bb");
        assert_eq!(cache.get(&file).as_deref(), Some("bb"));
        let old_time = meta.modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&file, b"six").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old_time)
            .unwrap();
        #[cfg(unix)]
        assert_eq!(cache.get(&file), None, "same size and time, other content");
    }
}
