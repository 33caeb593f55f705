//! A run's logs on this computer: `<data dir>/runs/<run-id>/<name>.log`, the
//! lines as the machine wrote them, appended as they arrive. Reading a
//! window of lines uses an index of line starts, so a log of a million
//! lines is never loaded whole.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::line::{LogLine, LogName};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    #[error("the log {path} could not be read or written: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl crate::explain::Explain for LogError {
    fn code(&self) -> &'static str {
        "log_io"
    }
    fn hint(&self) -> Option<String> {
        Some("Check that the easyTDV data folder is writable and not full.".into())
    }
}

/// One log of one run on disk.
pub struct LogFile {
    path: PathBuf,
    /// Byte offset of each line's start.
    index: Mutex<Option<Vec<u64>>>,
}

/// True for what may name a run's folder: the shape of the app's run ids
/// (`20260101-120000-a1b2c3`, letters, digits, `-` and `_`; "r1" in tests),
/// never a path (`..`, `/`, `\\`, empty). Ids from outside are checked
/// with this and against the history before a path is built from them.
pub fn is_run_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && !id.starts_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Where a run's log is kept. `run_id` is the app's own (from the history
/// or a run it started), never one from the webview unchecked.
pub fn log_path(data_dir: &Path, run_id: &str, name: LogName) -> PathBuf {
    data_dir
        .join("runs")
        .join(run_id)
        .join(format!("{}.log", name.as_str()))
}

impl LogFile {
    pub fn new(data_dir: &Path, run_id: &str, name: LogName) -> Self {
        Self {
            path: log_path(data_dir, run_id, name),
            index: Mutex::new(None),
        }
    }

    fn io(&self, source: std::io::Error) -> LogError {
        LogError::Io {
            path: self.path.clone(),
            source,
        }
    }

    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// The run's folder (0700: the data folder is its owner's only).
    fn make_dir(&self) -> Result<(), LogError> {
        if let Some(dir) = self.path.parent() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|e| self.io(e))?;
        }
        Ok(())
    }

    /// Empties the file (a whole log is about to be read again from S3).
    pub fn reset(&self) -> Result<(), LogError> {
        self.make_dir()?;
        crate::private::file_options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        *self.lock() = Some(Vec::new());
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Vec<u64>>> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends lines (one per line, no embedded newlines).
    pub fn append(&self, lines: &[LogLine]) -> Result<(), LogError> {
        if lines.is_empty() {
            return Ok(());
        }
        self.make_dir()?;
        let mut index = self.lock();
        let mut file = crate::private::file_options()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        let pos = file.seek(SeekFrom::End(0)).map_err(|e| self.io(e))?;
        let mut text = String::new();
        let mut starts = Vec::with_capacity(lines.len());
        for line in lines {
            starts.push(pos + text.len() as u64);
            text.push_str(&line.to_raw().replace('\n', " "));
            text.push('\n');
        }
        file.write_all(text.as_bytes()).map_err(|e| self.io(e))?;
        if let Some(idx) = index.as_mut() {
            idx.extend(starts);
        }
        Ok(())
    }

    /// Builds the index of line starts if it is not there yet.
    fn with_index<T>(
        &self,
        empty: T,
        f: impl FnOnce(&[u64], &mut File) -> Result<T, LogError>,
    ) -> Result<T, LogError> {
        let mut guard = self.lock();
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            // A log that does not exist yet reads as empty.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(empty),
            Err(e) => return Err(self.io(e)),
        };
        if guard.is_none() {
            let mut starts = Vec::new();
            let mut reader = BufReader::new(&mut file);
            let mut pos = 0u64;
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = reader.read_until(b'\n', &mut buf).map_err(|e| self.io(e))?;
                if n == 0 {
                    break;
                }
                if buf.ends_with(b"\n") {
                    starts.push(pos);
                }
                pos += n as u64;
            }
            *guard = Some(starts);
        }
        let index = guard.as_deref().unwrap_or(&[]);
        f(index, &mut file)
    }

    /// How many lines the log has.
    pub fn len(&self) -> Result<usize, LogError> {
        self.with_index(0, |idx, _| Ok(idx.len()))
    }

    pub fn is_empty(&self) -> Result<bool, LogError> {
        Ok(self.len()? == 0)
    }

    /// Lines `from..from+count` (fewer at the end).
    pub fn read(&self, from: usize, count: usize) -> Result<Vec<LogLine>, LogError> {
        self.with_index(Vec::new(), |idx, file| {
            if from >= idx.len() || count == 0 {
                return Ok(Vec::new());
            }
            let end_line = (from + count).min(idx.len());
            let start = idx[from];
            let end = match idx.get(end_line) {
                Some(e) => *e,
                None => file.seek(SeekFrom::End(0)).map_err(|e| self.io(e))?,
            };
            file.seek(SeekFrom::Start(start)).map_err(|e| self.io(e))?;
            let mut buf = vec![0; (end - start) as usize];
            file.read_exact(&mut buf).map_err(|e| self.io(e))?;
            Ok(String::from_utf8_lossy(&buf)
                .lines()
                .take(end_line - from)
                .map(LogLine::parse)
                .collect())
        })
    }

    /// The next line at or after `from` (or before, going back) whose text
    /// contains `needle`, ignoring case.
    pub fn search(
        &self,
        needle: &str,
        from: usize,
        forward: bool,
    ) -> Result<Option<usize>, LogError> {
        let needle = needle.to_lowercase();
        if needle.is_empty() {
            return Ok(None);
        }
        let total = self.len()?;
        const BLOCK: usize = 20_000;
        if forward {
            let mut at = from;
            while at < total {
                for (i, line) in self.read(at, BLOCK)?.iter().enumerate() {
                    if line.text.to_lowercase().contains(&needle) {
                        return Ok(Some(at + i));
                    }
                }
                at += BLOCK;
            }
        } else {
            let mut end = from.min(total.saturating_sub(1)) + 1;
            while end > 0 {
                let start = end.saturating_sub(BLOCK);
                let lines = self.read(start, end - start)?;
                if let Some(i) = lines
                    .iter()
                    .rposition(|l| l.text.to_lowercase().contains(&needle))
                {
                    return Ok(Some(start + i));
                }
                end = start;
            }
        }
        Ok(None)
    }

    /// The whole log as plain text (for "Save log…").
    pub fn copy_text_to(&self, target: &Path) -> Result<usize, LogError> {
        let total = self.len()?;
        let mut out = File::create(target).map_err(|e| LogError::Io {
            path: target.to_path_buf(),
            source: e,
        })?;
        let mut at = 0;
        while at < total {
            let mut text = String::new();
            for line in self.read(at, 50_000)? {
                text.push_str(&line.text);
                text.push('\n');
            }
            out.write_all(text.as_bytes()).map_err(|e| LogError::Io {
                path: target.to_path_buf(),
                source: e,
            })?;
            at += 50_000;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Stream;

    fn line(i: usize) -> LogLine {
        LogLine {
            at_ms: 1_000.0 + i as f64,
            stream: if i.is_multiple_of(7) {
                Stream::Err
            } else {
                Stream::Out
            },
            text: format!("epoch {i} loss {}", 1.0 / (i + 1) as f64),
        }
    }

    #[test]
    fn windows_of_a_big_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = LogFile::new(dir.path(), "r1", LogName::Train);
        assert_eq!(log.len().unwrap(), 0);
        assert!(log.read(0, 10).unwrap().is_empty());
        for block in 0..20 {
            let lines: Vec<_> = (block * 5000..(block + 1) * 5000).map(line).collect();
            log.append(&lines).unwrap();
        }
        assert_eq!(log.len().unwrap(), 100_000);
        let window = log.read(54_321, 3).unwrap();
        assert_eq!(window, vec![line(54_321), line(54_322), line(54_323)]);
        assert_eq!(log.read(99_999, 10).unwrap(), vec![line(99_999)]);
        // A fresh reader builds its index from the file.
        let again = LogFile::new(dir.path(), "r1", LogName::Train);
        assert_eq!(again.len().unwrap(), 100_000);
        assert_eq!(again.read(7, 1).unwrap(), vec![line(7)]);
        assert_eq!(again.search("EPOCH 77777 ", 0, true).unwrap(), Some(77_777));
        assert_eq!(again.search("epoch 12 ", 90_000, false).unwrap(), Some(12));
        assert_eq!(again.search("nothing like it", 0, true).unwrap(), None);
        let out = dir.path().join("saved.txt");
        assert_eq!(again.copy_text_to(&out).unwrap(), 100_000);
        assert!(std::fs::read_to_string(&out)
            .unwrap()
            .starts_with("epoch 0 loss 1\n"));
    }

    #[cfg(unix)]
    #[test]
    fn a_runs_log_is_its_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let log = LogFile::new(dir.path(), "r1", LogName::Install);
        log.append(&[line(1)]).unwrap();
        assert_eq!(mode(&dir.path().join("runs")), 0o700);
        assert_eq!(mode(&dir.path().join("runs/r1")), 0o700);
        assert_eq!(mode(&dir.path().join("runs/r1/install.log")), 0o600);
        let fetched = LogFile::new(dir.path(), "r2", LogName::Train);
        fetched.reset().unwrap();
        assert_eq!(mode(&dir.path().join("runs/r2/train.log")), 0o600);
    }

    #[test]
    fn run_ids_never_name_a_path() {
        for ok in ["20260101-120000-a1b2c3", "r1", "run_2"] {
            assert!(is_run_id(ok), "{ok}");
        }
        let long = "a".repeat(65);
        for bad in [
            "",
            ".",
            "..",
            "../../etc/passwd",
            "/etc/passwd",
            "a/b",
            "a\\b",
            "20260101-120000-a1b2c3/..",
            "-rf",
            "x\0y",
            "r 1",
            "é",
            long.as_str(),
        ] {
            assert!(!is_run_id(bad), "{bad:?}");
        }
    }
}
