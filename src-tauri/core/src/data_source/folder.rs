//! A folder on this computer as a run's data: its files are selected with
//! the project's rules (its own `.gitignore`/`.easytdvignore`, the defaults,
//! links kept inside), hashed, and sent as the project's blobs are
//! (`easytdv/blobs/<sha256>`, only what the bucket lacks): a dataset goes up
//! once for every run that uses it.

use std::path::Path;

use super::manifest::{DataFile, DataManifest, MAX_FILES};
use super::DataError;
use crate::project::{self, ProjectError, Selection};

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
