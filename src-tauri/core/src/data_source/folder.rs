//! A folder on this computer as a run's data: its files are selected with
//! the project's rules (its own `.gitignore`/`.easytdvignore`, the defaults,
//! links kept inside), hashed, and sent as the project's blobs are
//! (`easytdv/blobs/<sha256>`, only what the bucket lacks): a dataset goes up
//! once for every run that uses it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::manifest::{DataFile, DataManifest, MAX_FILES};
use super::DataError;
use crate::project::words::{bytes, files};
use crate::project::{self, ProjectError, ProjectFile, Selection};

/// The most a data folder may weigh (S3 takes 5 TB an object; this bounds
/// a mistake, such as a whole disk picked as the data).
pub const MAX_BYTES: u64 = 1 << 40;

/// The folder's files, checked: it exists, is a folder and holds a file.
pub fn select(path: &Path) -> Result<Selection, DataError> {
    let meta = std::fs::metadata(path).map_err(|_| DataError::NoFolder(path.to_path_buf()))?;
    if !meta.is_dir() {
        return Err(DataError::NotAFolder(path.to_path_buf()));
    }
    let selection =
        project::select::select_folder(path, MAX_FILES, MAX_BYTES).map_err(|e| match e {
            ProjectError::TooManyFiles { max } => DataError::TooManyFiles {
                url: path.display().to_string(),
                max,
            },
            other => DataError::Project(other),
        })?;
    if selection.files.is_empty() {
        return Err(DataError::EmptyFolder(path.to_path_buf()));
    }
    Ok(selection)
}

/// How many of the largest files a summary names.
const SHOWN: usize = 5;

/// What the wizard shows of a data folder before anything is sent.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DataFolderSummary {
    /// The folder as chosen (send it back as the run's data).
    pub path: PathBuf,
    pub file_count: u32,
    pub total_bytes: f64,
    /// "2 files, 1.2 MB".
    pub headline: String,
    /// The largest files, largest first.
    pub largest: Vec<ProjectFile>,
    /// Files not sent and why (links out of the folder, special files).
    pub notes: Vec<String>,
    /// Folders and files easyTDV never sends that are in it (`.git`, `__pycache__`).
    pub never_sent: Vec<String>,
}

/// The folder's files in words: how many, how big, the largest (nothing
/// is read but their sizes).
pub fn summary(path: &Path) -> Result<DataFolderSummary, DataError> {
    let s = select(path)?;
    Ok(DataFolderSummary {
        path: path.to_path_buf(),
        file_count: u32::try_from(s.files.len()).unwrap_or(u32::MAX),
        total_bytes: s.total_bytes() as f64,
        headline: format!("{}, {}", files(s.files.len()), bytes(s.total_bytes())),
        largest: project::select::largest(&s.files, SHOWN)
            .into_iter()
            .map(|f| ProjectFile {
                path: f.rel.clone(),
                size_bytes: f.size as f64,
                size: bytes(f.size),
            })
            .collect(),
        notes: s.notes.clone(),
        never_sent: s.never_sent.clone(),
    })
}

/// The data manifest of a hashed folder: each file from its blob.
pub fn data_manifest(label: String, built: &project::Manifest) -> DataManifest {
    DataManifest::new(
        label,
        built
            .files
            .iter()
            .map(|f| DataFile {
                path: f.path.clone(),
                size: f.size,
                sha256: Some(f.sha256.clone()),
                url: None,
                etag: None,
                version: None,
            })
            .collect(),
    )
}

/// Where the data folder is inside the project, if it is (`data`, or
/// `inputs/points`): the machine links that path to `$DATA_DIR` too, so a
/// script that reads `data/points.csv` finds it.
pub fn inside_project(project_root: &Path, data: &Path) -> Option<String> {
    let root = std::fs::canonicalize(project_root).ok()?;
    let data = std::fs::canonicalize(data).ok()?;
    project::select::relative(&root, &data)
}
