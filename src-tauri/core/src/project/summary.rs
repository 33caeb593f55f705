//! What the Code step and `easytdv train` show before anything is sent:
//! how many files, how big, the largest ones, and a warning when the
//! project looks like it holds data.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::ProjectError;
use super::requirements::{self, Included};
use super::select::{self, relative, Selection};
use super::words::{bytes, files};

/// Above this many bytes the project gets a warning.
pub const WARN_BYTES: u64 = 100_000_000;
/// A file this big is probably data.
pub const BIG_FILE: u64 = 10_000_000;
/// The longest path of the script or requirements file in the project
/// (both travel in the machine's command, which stays small).
pub const MAX_NAMED_PATH: usize = 300;
/// How many of the largest files are shown.
const SHOWN: usize = 5;

/// The checked project of a run: its files, where its requirements file is
/// in it, and what that file includes.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectInputs {
    pub selection: Selection,
    /// The requirements file's path in the project (`None`: it is elsewhere).
    pub requirements: Option<String>,
    pub included: Vec<Included>,
}

/// Checks the project at `root` for the entry script `entry` and the
/// requirements file `requirements`, and selects its files.
pub fn check(
    root: &Path,
    entry: &Path,
    requirements: &Path,
) -> Result<ProjectInputs, ProjectError> {
    check_optional(root, entry, Some(requirements))
}

/// [`check`], with no requirements file yet (the Code step before one is chosen).
pub fn check_optional(
    root: &Path,
    entry: &Path,
    requirements: Option<&Path>,
) -> Result<ProjectInputs, ProjectError> {
    let croot = match std::fs::canonicalize(root) {
        Ok(c) => c,
        Err(_) if !root.exists() => return Err(ProjectError::RootMissing(root.into())),
        Err(source) => {
            return Err(ProjectError::Unreadable {
                path: root.into(),
                source,
            })
        }
    };
    if !croot.is_dir() {
        return Err(ProjectError::RootNotAFolder(root.into()));
    }
    check_entry(root, entry)?;
    let included = match requirements {
        Some(r) => requirements::includes(&croot, r)?,
        None => Vec::new(),
    };
    let mut also: Vec<PathBuf> = requirements.iter().map(|r| r.to_path_buf()).collect();
    also.extend(included.iter().map(|i| i.path.clone()));
    let selection = select::select(root, entry, &also)?;
    let requirements = requirements
        .and_then(|r| std::fs::canonicalize(r).ok())
        .and_then(|c| relative(&selection.root, &c));
    for named in std::iter::once(&selection.entry).chain(requirements.as_ref()) {
        if named.len() > MAX_NAMED_PATH {
            return Err(ProjectError::PathTooLong(named.clone(), MAX_NAMED_PATH));
        }
    }
    Ok(ProjectInputs {
        selection,
        requirements,
        included,
    })
}

/// The entry script must be inside the project folder (checked first: the
/// other mistakes follow from that one).
pub fn check_entry(root: &Path, entry: &Path) -> Result<(), ProjectError> {
    let croot = std::fs::canonicalize(root).map_err(|_| ProjectError::RootMissing(root.into()))?;
    match std::fs::canonicalize(entry)
        .ok()
        .and_then(|e| relative(&croot, &e))
    {
        Some(_) => Ok(()),
        None => Err(ProjectError::EntryOutside {
            entry: entry.into(),
            root: root.into(),
        }),
    }
}

/// One of the largest files.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProjectFile {
    pub path: String,
    pub size_bytes: f64,
    /// "1.2 GB", as the rest of the summary says sizes.
    pub size: String,
}

/// What will be sent.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSummary {
    /// The project folder.
    pub root: PathBuf,
    /// The entry script's path in the project.
    pub entry: String,
    pub file_count: u32,
    pub total_bytes: f64,
    /// "214 files, 1.3 MB".
    pub headline: String,
    /// The largest files, largest first.
    pub largest: Vec<ProjectFile>,
    /// "1.2 GB in 3 files: is this data? …" when the project is large.
    pub warning: Option<String>,
    /// Files not sent and why (links out of the project, special files).
    pub notes: Vec<String>,
    /// Folders and files easyTDV never sends that are in the project (`.git`, `__pycache__`).
    pub never_sent: Vec<String>,
    /// The requirements file's path in the project, when it is in it.
    pub requirements: Option<String>,
}

/// The warning for a large project (`None`: it is small).
pub fn warning(selection: &Selection) -> Option<String> {
    let total = selection.total_bytes();
    if total <= WARN_BYTES {
        return None;
    }
    let big: Vec<_> = selection
        .files
        .iter()
        .filter(|f| f.size >= BIG_FILE)
        .collect();
    if big.is_empty() {
        return Some(format!(
            "{} in {}: the first run takes a while to send it (later runs send only what changed)",
            bytes(total),
            files(selection.files.len())
        ));
    }
    let big_total: u64 = big.iter().map(|f| f.size).sum();
    Some(format!(
        "{} in {}: is this data? Put it in the data folder instead, or list it in {} so it is not sent as code",
        bytes(big_total),
        files(big.len()),
        select::IGNORE_FILE
    ))
}

impl ProjectSummary {
    pub fn of(inputs: &ProjectInputs) -> Self {
        let s = &inputs.selection;
        Self {
            root: s.root.clone(),
            entry: s.entry.clone(),
            file_count: u32::try_from(s.files.len()).unwrap_or(u32::MAX),
            total_bytes: s.total_bytes() as f64,
            headline: format!("{}, {}", files(s.files.len()), bytes(s.total_bytes())),
            largest: select::largest(&s.files, SHOWN)
                .into_iter()
                .map(|f| ProjectFile {
                    path: f.rel.clone(),
                    size_bytes: f.size as f64,
                    size: bytes(f.size),
                })
                .collect(),
            warning: warning(s),
            notes: s.notes.clone(),
            never_sent: s.never_sent.clone(),
            requirements: inputs.requirements.clone(),
        }
    }

    /// One line: "214 files, 1.3 MB".
    pub fn line(&self) -> String {
        self.headline.clone()
    }
}
