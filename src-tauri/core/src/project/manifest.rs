//! The run's manifest: each file's path in the project, SHA-256, size and
//! mode. The files themselves go to the bucket once, named by their
//! SHA-256 (`easytdv/blobs/<sha256>`); the manifest (`<run>/project.json`)
//! says where each goes, and its own SHA-256 travels in the command the
//! machine runs, so the machine trusts nothing it cannot check.

use std::io::Read;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::ProjectError;
use super::hash_cache::HashCache;
use super::select::{SelectedFile, Selection};

/// The manifest's format (the machine's helper reads this one).
pub const FORMAT: u32 = 1;
/// Longest path in a manifest (and in a tar member name with its prefix).
pub const MAX_PATH: usize = 1024;

/// One file of the project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// 0o755 (executable) or 0o644.
    pub mode: u32,
}

/// A project as sent: its entry script and files, sorted by path.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    pub entry: String,
    pub files: Vec<ManifestFile>,
}

/// A path a manifest may hold: relative, `/`-separated, normalised (no
/// empty, `.` or `..` part), no NUL or backslash, at most [`MAX_PATH`] bytes.
pub fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_PATH
        && !path.starts_with('/')
        && !path.contains(['\0', '\\'])
        && !path.chars().any(char::is_control)
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Manifest {
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The SHA-256 of [`Manifest::to_bytes`]: the machine checks the manifest against it.
    pub fn sha256(&self) -> String {
        hex(&Sha256::digest(self.to_bytes()))
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Reads a manifest and checks every path and digest (what the machine's
    /// helper checks too).
    pub fn parse(bytes: &[u8]) -> Result<Self, ProjectError> {
        let bad = ProjectError::BadManifest;
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if m.format != FORMAT {
            return Err(bad(format!("format {} is not {FORMAT}", m.format)));
        }
        let mut last: Option<&str> = None;
        for f in &m.files {
            if !safe_path(&f.path) {
                return Err(bad(format!("unsafe path {:?}", f.path)));
            }
            if !is_sha256(&f.sha256) {
                return Err(bad(format!("{}: bad digest", f.path)));
            }
            if last.is_some_and(|l| l >= f.path.as_str()) {
                return Err(bad(format!("{}: not sorted, or twice", f.path)));
            }
            last = Some(&f.path);
        }
        if !m.files.iter().any(|f| f.path == m.entry) {
            return Err(bad(format!("the entry {} is not in the files", m.entry)));
        }
        Ok(m)
    }
}

/// The SHA-256 of one file, with the bytes read (blocking).
pub fn hash_file(file: &SelectedFile) -> Result<(String, u64), ProjectError> {
    let unreadable = |source| ProjectError::Unreadable {
        path: file.path.clone(),
        source,
    };
    let mut f = std::fs::File::open(&file.path).map_err(unreadable)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(unreadable)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex(&h.finalize()), size))
}

/// A file's SHA-256 and size: from `cache` when it holds, else read.
fn hash_cached(file: &SelectedFile, cache: &HashCache) -> Result<(String, u64), ProjectError> {
    if let Some(sha) = cache.get(&file.path) {
        let size = std::fs::metadata(&file.path).map_or(file.size, |m| m.len());
        return Ok((sha, size));
    }
    let before = std::fs::metadata(&file.path);
    let (sha, size) = hash_file(file)?;
    if let Ok(before) = before {
        if before.len() == size {
            cache.put(&file.path, &before, &sha);
        }
    }
    Ok((sha, size))
}

/// Hashes every selected file (blocking: call it from `spawn_blocking`),
/// on `threads` threads; `progress` hears the bytes hashed so far.
pub fn build(
    selection: &Selection,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Manifest, ProjectError> {
    build_cached(selection, threads, progress, &HashCache::default())
}

/// [`build`], taking a file's SHA-256 from `cache` when the file is as it
/// was when hashed, and keeping the new ones there (saved at the end).
pub fn build_cached(
    selection: &Selection,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
    cache: &HashCache,
) -> Result<Manifest, ProjectError> {
    let manifest = build_with(selection, threads, progress, cache)?;
    cache.save();
    Ok(manifest)
}

fn build_with(
    selection: &Selection,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
    cache: &HashCache,
) -> Result<Manifest, ProjectError> {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let files = &selection.files;
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    type Slot = std::sync::Mutex<Option<Result<(String, u64), ProjectError>>>;
    let results: Vec<Slot> = files.iter().map(|_| Slot::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, 8).min(files.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i) else { return };
                let r = hash_cached(file, cache);
                if let Ok((_, n)) = &r {
                    progress(done.fetch_add(*n, Ordering::Relaxed) + n);
                }
                *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
            });
        }
    });
    let mut out = Vec::with_capacity(files.len());
    for (file, slot) in files.iter().zip(results) {
        let result = slot
            .into_inner()
            .unwrap_or_else(|p| p.into_inner())
            .ok_or_else(|| ProjectError::ChangedWhileSending(file.rel.clone()))?;
        let (sha256, size) = result?;
        out.push(ManifestFile {
            path: file.rel.clone(),
            sha256,
            size,
            mode: if file.executable { 0o755 } else { 0o644 },
        });
    }
    Ok(Manifest {
        format: FORMAT,
        entry: selection.entry.clone(),
        files: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_normalised_relative_paths_are_safe() {
        for ok in [
            "train.py",
            "data/points.csv",
            "a/b/c.txt",
            ".easytdvignore",
            "x..y",
        ] {
            assert!(safe_path(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            ".",
            "..",
            "a\\..\\b",
            "a\0b",
            "a\nb",
            &"x".repeat(MAX_PATH + 1),
        ] {
            assert!(!safe_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_manifest_reads_back_and_refuses_what_the_machine_refuses() {
        let m = Manifest {
            format: FORMAT,
            entry: "train.py".into(),
            files: vec![
                ManifestFile {
                    path: "model.py".into(),
                    sha256: "a".repeat(64),
                    size: 3,
                    mode: 0o644,
                },
                ManifestFile {
                    path: "train.py".into(),
                    sha256: "b".repeat(64),
                    size: 4,
                    mode: 0o755,
                },
            ],
        };
        assert_eq!(Manifest::parse(&m.to_bytes()).unwrap(), m);
        assert_eq!(m.sha256().len(), 64);
        let mut evil = m.clone();
        evil.files[0].path = "../../root/.ssh/authorized_keys".into();
        assert!(Manifest::parse(&evil.to_bytes())
            .unwrap_err()
            .to_string()
            .contains("unsafe"));
        let mut twice = m.clone();
        twice.files[1].path = "model.py".into();
        twice.entry = "model.py".into();
        assert!(Manifest::parse(&twice.to_bytes()).is_err());
        let mut upper = m;
        upper.files[0].sha256 = "A".repeat(64);
        assert!(Manifest::parse(&upper.to_bytes()).is_err());
    }
}
