//! Which files of the project folder are sent: everything below the root
//! except what `.gitignore` and `.easytdvignore` rule out (git's rules, read
//! by the `ignore` crate, ripgrep's walker) and what is never code (`.git`,
//! `__pycache__`, virtual environments, `node_modules`, notebook
//! checkpoints, compiled Python). Only files below the root are read: no
//! `.gitignore` of a parent folder, no global git configuration, and a link
//! is followed only when it lands inside the project (a link out is skipped
//! with a note, never read).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::error::ProjectError;

/// Names never sent (folders or files), wherever they are in the project.
pub const NEVER_SENT: [&str; 13] = [
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    ".venv",
    "venv",
    "node_modules",
    ".ipynb_checkpoints",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".DS_Store",
    // The machine's own downloads folder (templates/instance/easytdv_helper.py).
    ".easytdv-incoming",
];

/// File name endings never sent (compiled Python).
const NEVER_SENT_ENDINGS: [&str; 2] = [".pyc", ".pyo"];

/// The project-specific rules file (the same syntax as `.gitignore`).
pub const IGNORE_FILE: &str = ".easytdvignore";

/// At most this many files are sent.
pub const MAX_FILES: usize = 20_000;
/// At most this many bytes are sent as code (data belongs elsewhere).
pub const MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// One file to send.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedFile {
    /// Its path in the project, `/`-separated (`src/model.py`).
    pub rel: String,
    /// Where it is read from (for a link inside the project: its target).
    pub path: PathBuf,
    pub size: u64,
    pub executable: bool,
    pub modified: Option<SystemTime>,
}

/// The files of a project, sorted by path, and what was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The project folder, canonical (links resolved).
    pub root: PathBuf,
    /// The entry script's path in the project.
    pub entry: String,
    pub files: Vec<SelectedFile>,
    /// What was skipped and why ("data/big.csv is a link to a file outside the project: not sent").
    pub notes: Vec<String>,
    /// Folders and files left out by the defaults (`.git`, `src/__pycache__`).
    pub never_sent: Vec<String>,
}

impl Selection {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    pub fn file(&self, rel: &str) -> Option<&SelectedFile> {
        self.files
            .binary_search_by(|f| f.rel.as_str().cmp(rel))
            .ok()
            .map(|i| &self.files[i])
    }

    /// What changes when a file is edited: each file's path, size and time.
    pub fn fingerprint(&self) -> Vec<(String, u64, Option<SystemTime>)> {
        self.files
            .iter()
            .map(|f| (f.rel.clone(), f.size, f.modified))
            .collect()
    }
}

/// The project folder of a script: `root` when given, else the script's folder.
pub fn project_root(script: &Path, root: Option<&Path>) -> PathBuf {
    match root {
        Some(r) => r.to_path_buf(),
        None => script
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    }
}

fn canonical(path: &Path) -> Result<PathBuf, ProjectError> {
    std::fs::canonicalize(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ProjectError::RootMissing(path.to_path_buf()),
        _ => ProjectError::Unreadable {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// `path` (canonical) relative to `root` (canonical), `/`-separated; `None`
/// when it is not below the root.
pub fn relative(root: &Path, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(root).ok()?;
    let mut parts = Vec::new();
    for c in rest.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str()?.to_string()),
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

fn never_sent(name: &str) -> bool {
    NEVER_SENT.contains(&name) || NEVER_SENT_ENDINGS.iter().any(|e| name.ends_with(e))
}

fn executable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

/// Opens the file once: a file that cannot be read is told now, not halfway
/// through the upload.
fn readable(path: &Path) -> Result<(), ProjectError> {
    std::fs::File::open(path)
        .map(|_| ())
        .map_err(|source| ProjectError::Unreadable {
            path: path.to_path_buf(),
            source,
        })
}

fn selected(rel: String, path: PathBuf, meta: &std::fs::Metadata) -> SelectedFile {
    SelectedFile {
        rel,
        path,
        size: meta.len(),
        executable: executable(meta),
        modified: meta.modified().ok(),
    }
}

/// Selects the files of the project at `root` whose entry script is
/// `entry`; `also` are files that are sent even when a rule leaves them out
/// (the requirements file and what it includes). Refuses an entry outside
/// the root, a file that cannot be read, more than [`MAX_FILES`] files or
/// [`MAX_BYTES`] bytes.
pub fn select(root: &Path, entry: &Path, also: &[PathBuf]) -> Result<Selection, ProjectError> {
    select_with(root, Some(entry), also, MAX_FILES, MAX_BYTES)
}

/// A data folder's files: the same rules as a project's (its own
/// `.gitignore`/`.easytdvignore`, the defaults, links kept inside), no entry
/// script, and a data set's limits (`max_files`, `max_bytes`).
pub fn select_folder(
    root: &Path,
    max_files: usize,
    max_bytes: u64,
) -> Result<Selection, ProjectError> {
    select_with(root, None, &[], max_files, max_bytes)
}

fn select_with(
    root: &Path,
    entry: Option<&Path>,
    also: &[PathBuf],
    max_files: usize,
    max_bytes: u64,
) -> Result<Selection, ProjectError> {
    let meta = std::fs::metadata(root).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ProjectError::RootMissing(root.to_path_buf()),
        _ => ProjectError::Unreadable {
            path: root.to_path_buf(),
            source,
        },
    })?;
    if !meta.is_dir() {
        return Err(ProjectError::RootNotAFolder(root.to_path_buf()));
    }
    let croot = canonical(root)?;
    let entry_rel = match entry {
        Some(entry) => match std::fs::canonicalize(entry) {
            Ok(c) => relative(&croot, &c),
            Err(_) => None,
        }
        .ok_or_else(|| ProjectError::EntryOutside {
            entry: entry.to_path_buf(),
            root: root.to_path_buf(),
        })?,
        None => String::new(),
    };

    let skipped = Arc::new(Mutex::new(BTreeSet::new()));
    let mut walker = ignore::WalkBuilder::new(&croot);
    let seen = skipped.clone();
    let filter_root = croot.clone();
    walker
        .standard_filters(false)
        .hidden(false)
        .parents(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .ignore(false)
        .follow_links(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |e| {
            let name = e.file_name().to_string_lossy();
            if e.depth() > 0 && never_sent(&name) {
                if let Some(rel) = relative(&filter_root, e.path()) {
                    seen.lock().unwrap_or_else(|p| p.into_inner()).insert(rel);
                }
                return false;
            }
            true
        });

    let mut files = Vec::new();
    let mut notes = Vec::new();
    for item in walker.build() {
        let item = match item {
            Ok(i) => i,
            Err(e) => match e.io_error() {
                Some(io) => {
                    let path = error_path(&e).unwrap_or_else(|| croot.clone());
                    return Err(ProjectError::Unreadable {
                        path,
                        source: std::io::Error::new(io.kind(), io.to_string()),
                    });
                }
                None => {
                    notes.push(format!("a rule could not be read: {e}"));
                    continue;
                }
            },
        };
        if item.depth() == 0 {
            continue;
        }
        let Some(rel) = relative(&croot, item.path()) else {
            notes.push(format!(
                "{} has a name that is not valid text: not sent",
                item.path().display()
            ));
            continue;
        };
        let Some(kind) = item.file_type() else {
            continue;
        };
        if kind.is_dir() {
            continue;
        }
        if !super::manifest::safe_path(&rel) {
            notes.push(format!(
                "{rel}: a name with a backslash, or a path too long, cannot be sent"
            ));
            continue;
        }
        if kind.is_symlink() {
            if let Some(file) = inside_link(&croot, rel, item.path(), &mut notes)? {
                files.push(file);
            }
        } else if kind.is_file() {
            let meta = item.metadata().map_err(|e| ProjectError::Unreadable {
                path: item.path().to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
            readable(item.path())?;
            files.push(selected(rel, item.path().to_path_buf(), &meta));
        } else {
            notes.push(format!("{rel} is not a regular file: not sent"));
        }
        if files.len() > max_files {
            return Err(ProjectError::TooManyFiles { max: max_files });
        }
    }

    // The script and the requirements go even when a rule leaves them out.
    let mut wanted: Vec<PathBuf> = entry.iter().map(|e| e.to_path_buf()).collect();
    wanted.extend(also.iter().cloned());
    for path in wanted {
        let Ok(c) = std::fs::canonicalize(&path) else {
            continue;
        };
        let Some(rel) = relative(&croot, &c) else {
            continue;
        };
        if files.iter().any(|f| f.rel == rel) {
            continue;
        }
        let meta = std::fs::metadata(&c).map_err(|source| ProjectError::Unreadable {
            path: path.clone(),
            source,
        })?;
        if meta.is_file() {
            readable(&c)?;
            notes.push(format!(
                "{rel} is left out by a rule in .gitignore or {IGNORE_FILE}: sent all the same (the run needs it)"
            ));
            files.push(selected(rel, c, &meta));
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));

    let total: u64 = files.iter().map(|f| f.size).sum();
    if total > max_bytes {
        return Err(ProjectError::TooLarge {
            total,
            max: max_bytes,
            files: files.len(),
            largest: largest(&files, 5)
                .iter()
                .map(|f| format!("{} ({})", f.rel, super::words::bytes(f.size)))
                .collect(),
        });
    }
    let never_sent = skipped.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(Selection {
        root: croot,
        entry: entry_rel,
        files,
        notes,
        never_sent: never_sent.into_iter().collect(),
    })
}

/// A link: its target's content when the target is a file inside the
/// project; otherwise a note, and nothing is read.
fn inside_link(
    root: &Path,
    rel: String,
    link: &Path,
    notes: &mut Vec<String>,
) -> Result<Option<SelectedFile>, ProjectError> {
    let target = match std::fs::canonicalize(link) {
        Ok(t) => t,
        Err(_) => {
            notes.push(format!("{rel} is a link to nothing: not sent"));
            return Ok(None);
        }
    };
    if relative(root, &target).is_none() {
        notes.push(format!(
            "{rel} is a link to {}, outside the project: not sent (easyTDV never follows a link out of the project)",
            target.display()
        ));
        return Ok(None);
    }
    let meta = std::fs::metadata(&target).map_err(|source| ProjectError::Unreadable {
        path: link.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        notes.push(format!(
            "{rel} is a link to a folder: not sent (the folder itself is, where it is)"
        ));
        return Ok(None);
    }
    readable(&target)?;
    Ok(Some(selected(rel, target, &meta)))
}

fn error_path(e: &ignore::Error) -> Option<PathBuf> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Partial(errs) => errs.iter().find_map(error_path),
        _ => None,
    }
}

/// The `n` largest files, largest first.
pub fn largest(files: &[SelectedFile], n: usize) -> Vec<&SelectedFile> {
    let mut all: Vec<&SelectedFile> = files.iter().collect();
    all.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.rel.cmp(&b.rel)));
    all.truncate(n);
    all
}

#[cfg(test)]
#[path = "select_tests.rs"]
mod tests;
