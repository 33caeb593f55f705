//! What can be wrong with a project folder, told with what to do.

use std::path::PathBuf;

use super::words::bytes;
use crate::explain::Explain;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    #[error("the project folder {} does not exist", .0.display())]
    RootMissing(PathBuf),
    #[error("the project folder {} is not a folder", .0.display())]
    RootNotAFolder(PathBuf),
    #[error("the training script {} is not inside the project folder {}", .entry.display(), .root.display())]
    EntryOutside { entry: PathBuf, root: PathBuf },
    #[error(
        "the project folder holds more than {max} files (after .gitignore and .easytdvignore)"
    )]
    TooManyFiles { max: usize },
    #[error("the project is {} in {files} files, more than the {} easyTDV sends as code; the largest: {}", bytes(*.total), bytes(*.max), .largest.join(", "))]
    TooLarge {
        total: u64,
        max: u64,
        files: usize,
        /// "data/train.csv (1.1 GB)", largest first.
        largest: Vec<String>,
    },
    #[error("{} cannot be read: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file} line {line}: {target} is {why}")]
    BadInclude {
        file: String,
        line: usize,
        target: String,
        why: &'static str,
    },
    #[error("{file} line {line} uses a package index over plain http:// ({url}): the install would fail on the machine, and the packages could be altered on the way")]
    InsecureIndex {
        file: String,
        line: usize,
        url: String,
    },
    #[error("the path {0} is too long for the machine's command (at most {1} bytes)")]
    PathTooLong(String, usize),
    #[error("the project's manifest cannot be read: {0}")]
    BadManifest(String),
    #[error("{} changed while easyTDV was sending it", .0)]
    ChangedWhileSending(String),
    #[error("the project is {} in {files} files: a SageMaker job's code is sent whole on every run, at most {}", bytes(*.total), bytes(*.max))]
    TooLargeForSageMaker { total: u64, max: u64, files: usize },
    #[error("{} is not beside the project's pyproject.toml at the root of the project folder {}: uv installs a uv.lock only with its pyproject.toml", .lock.display(), .root.display())]
    LockWithoutProject { lock: PathBuf, root: PathBuf },
}

impl Explain for ProjectError {
    fn code(&self) -> &'static str {
        match self {
            ProjectError::RootMissing(_) => "project_missing",
            ProjectError::TooLargeForSageMaker { .. } => "project_too_large_for_sagemaker",
            ProjectError::BadManifest(_) => "project_bad_manifest",
            ProjectError::RootNotAFolder(_) => "project_not_a_folder",
            ProjectError::EntryOutside { .. } => "entry_outside_project",
            ProjectError::TooManyFiles { .. } => "project_too_many_files",
            ProjectError::TooLarge { .. } => "project_too_large",
            ProjectError::Unreadable { .. } => "project_file_unreadable",
            ProjectError::BadInclude { .. } => "requirements_bad_include",
            ProjectError::InsecureIndex { .. } => "requirements_insecure_index",
            ProjectError::PathTooLong(..) => "project_path_too_long",
            ProjectError::ChangedWhileSending(_) => "project_changed_while_sending",
            ProjectError::LockWithoutProject { .. } => "uv_lock_without_pyproject",
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            ProjectError::RootMissing(_) | ProjectError::RootNotAFolder(_) => {
                "Choose the project folder again (the folder that holds your training script).".into()
            }
            ProjectError::EntryOutside { .. } => {
                "Choose a project folder that contains the script, or a script inside the project folder.".into()
            }
            ProjectError::TooManyFiles { .. } => {
                "Choose the folder that holds your code only, or list what is not code (data, environments, results) in a .easytdvignore file there.".into()
            }
            ProjectError::TooLarge { .. } => {
                "Keep data out of the code: list those files in a .easytdvignore file (same rules as .gitignore), or choose a folder that holds your code only.".into()
            }
            ProjectError::Unreadable { .. } => {
                "Check the file's permissions, or list it in a .easytdvignore file in the project folder so it is not sent.".into()
            }
            ProjectError::BadInclude { .. } => {
                "A -r or -c line must name a file inside the project folder, by a path relative to the requirements file.".into()
            }
            ProjectError::InsecureIndex { .. } => {
                "Use the index's https:// address.".into()
            }
            ProjectError::PathTooLong(..) => {
                "Move the script (or requirements file) closer to the project folder, or choose a project folder nearer to it.".into()
            }
            ProjectError::BadManifest(_) => {
                "The run's project.json was changed after easyTDV wrote it: launch the run again.".into()
            }
            ProjectError::TooLargeForSageMaker { .. } => {
                "Keep data out of the code (list it in a .easytdvignore file), or choose \"One machine (EC2)\", which sends only the files that changed.".into()
            }
            ProjectError::ChangedWhileSending(_) => {
                "Wait until the file stops changing (a program may still be writing it), then start again.".into()
            }
            ProjectError::LockWithoutProject { .. } => {
                "Choose the folder that holds pyproject.toml and uv.lock as the project folder, or use a requirements.txt.".into()
            }
        })
    }
}
