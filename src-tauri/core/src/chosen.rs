//! Paths that come back from the webview are used only when the backend
//! handed them out. Files: the ones the person chose outside the webview
//! (the native file dialog, a drop on the window, the app's own example).
//! Folders: the ones the app made (a download's folder) and its data folder.
//! Files opened with the desktop's default app: only those the app wrote
//! (a download's executed notebook).
//! Anything else is refused before the file system is touched, so a script
//! running in the webview cannot read `~/.aws/credentials` through a file
//! check (whose answer lists a requirements file's lines), start a run that
//! uploads it, or have the desktop open whatever it names.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::data_source::DataSource;
use crate::explain::Explain;
use crate::pipeline::{read_input, CheckedFile, FileKind, InputError, TrainRequest};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChosenError {
    #[error("easyTDV reads only the files you choose: {} was not chosen with the file picker or dropped on the window", .0.display())]
    FileNotChosen(PathBuf),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("easyTDV reads only the folders you choose: {} was not chosen as the project folder, nor is it the folder of a script you chose", .0.display())]
    ProjectNotChosen(PathBuf),
    #[error("easyTDV reads only the folders you choose: {} was not chosen as the data folder", .0.display())]
    DataNotChosen(PathBuf),
    #[error("{} has no train.py (nor main.py): choose the script that trains your model", .0.display())]
    NoScriptInFolder(PathBuf),
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    #[error("easyTDV opens only the folders it made (a download's folder, its data folder), not {}", .0.display())]
    FolderNotOurs(PathBuf),
    #[error("{} is no longer a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error("easyTDV opens only the files it downloaded (a run's executed notebook), not {}", .0.display())]
    FileNotOurs(PathBuf),
    #[error("{} is no longer the file easyTDV downloaded", .0.display())]
    NotAFile(PathBuf),
    #[error("the folder {path} could not be opened: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Explain for ChosenError {
    fn code(&self) -> &'static str {
        match self {
            ChosenError::FileNotChosen(_) => "file_not_chosen",
            ChosenError::Input(e) => e.code(),
            ChosenError::ProjectNotChosen(_) => "project_not_chosen",
            ChosenError::DataNotChosen(_) => "data_not_chosen",
            ChosenError::NoScriptInFolder(_) => "no_script_in_folder",
            ChosenError::Project(e) => e.code(),
            ChosenError::FolderNotOurs(_) => "folder_not_ours",
            ChosenError::NotAFolder(_) => "not_a_folder",
            ChosenError::FileNotOurs(_) => "file_not_ours",
            ChosenError::NotAFile(_) => "not_a_file",
            ChosenError::Open { .. } => "open_folder",
        }
    }
    fn hint(&self) -> Option<String> {
        match self {
            ChosenError::FileNotChosen(_) => {
                Some("Choose the file with the file picker, or drag it onto the window.".into())
            }
            ChosenError::Input(e) => e.hint(),
            ChosenError::ProjectNotChosen(_) => Some(
                "Choose the project folder with \"Choose another folder\", or drag it onto the window.".into(),
            ),
            ChosenError::DataNotChosen(_) => Some(
                "Choose the data folder with \"Choose a data folder\", or drag it onto the window.".into(),
            ),
            ChosenError::NoScriptInFolder(_) => {
                Some("Choose the training script (a .py file) in that folder.".into())
            }
            ChosenError::Project(e) => e.hint(),
            ChosenError::FolderNotOurs(p)
            | ChosenError::NotAFolder(p)
            | ChosenError::FileNotOurs(p)
            | ChosenError::NotAFile(p)
            | ChosenError::Open { path: p, .. } => Some(format!(
                "Open {} in your file manager yourself.",
                p.display()
            )),
        }
    }
}

/// The files chosen and the folders made in this session.
#[derive(Debug, Default)]
pub struct Chosen {
    files: Mutex<HashSet<PathBuf>>,
    folders: Mutex<HashSet<PathBuf>>,
    /// Files the app downloaded that the desktop may open (executed notebooks).
    made_files: Mutex<HashSet<PathBuf>>,
    /// Project folders: chosen with the dialog, or the folder of a script
    /// that was chosen (a folder dropped on the window is among `files`).
    roots: Mutex<HashSet<PathBuf>>,
    /// Data folders chosen with the dialog.
    data_folders: Mutex<HashSet<PathBuf>>,
}

/// What the Code step shows of a project: what will be sent, the script
/// and the requirements file found in it.
#[derive(Debug, Clone, serde::Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProjectView {
    /// The project folder as chosen (send it back as the run's
    /// `projectDir`); `None`: the script's own folder.
    pub project_dir: Option<PathBuf>,
    pub summary: crate::project::ProjectSummary,
    pub script: CheckedFile,
    /// The requirements file asked for, else `requirements.txt` in the folder.
    pub requirements: Option<CheckedFile>,
}

/// The script a folder holds by default.
const DEFAULT_SCRIPTS: [&str; 2] = ["train.py", "main.py"];

fn lock(set: &Mutex<HashSet<PathBuf>>) -> MutexGuard<'_, HashSet<PathBuf>> {
    set.lock().unwrap_or_else(|p| p.into_inner())
}

impl Chosen {
    /// A file the person chose outside the webview.
    pub fn add_file(&self, path: &Path) {
        lock(&self.files).insert(path.to_path_buf());
    }

    /// A folder the app made (or its data folder).
    pub fn add_folder(&self, path: &Path) {
        lock(&self.folders).insert(path.to_path_buf());
    }

    fn check_chosen(&self, path: &Path) -> Result<(), ChosenError> {
        if lock(&self.files).contains(path) {
            Ok(())
        } else {
            Err(ChosenError::FileNotChosen(path.to_path_buf()))
        }
    }

    /// Reads and checks a chosen file (its package list goes back to the
    /// webview: the person chose the file); any other path is refused unread.
    /// A script's folder becomes its project folder.
    pub fn check_file(&self, kind: FileKind, path: &Path) -> Result<CheckedFile, ChosenError> {
        self.check_chosen(path)?;
        let file = read_input(kind, path)?.0;
        if kind == FileKind::Script {
            if let Some(parent) = path.parent() {
                lock(&self.roots).insert(parent.to_path_buf());
            }
        }
        Ok(file)
    }

    /// A project folder the person chose with the dialog.
    pub fn add_project_root(&self, path: &Path) {
        lock(&self.roots).insert(path.to_path_buf());
    }

    /// A data folder the person chose with the dialog.
    pub fn add_data_folder(&self, path: &Path) {
        lock(&self.data_folders).insert(path.to_path_buf());
    }

    /// A recorded run's project folder and data folder become chosen again
    /// ("Run again with changes": the paths come from the history, not from
    /// the webview); what the data folder holds now, if it still does.
    pub fn add_recorded(
        &self,
        request: &TrainRequest,
    ) -> Option<crate::data_source::folder::DataFolderSummary> {
        if let Some(root) = &request.project_dir {
            self.add_project_root(root);
        }
        let Some(DataSource::Folder { path }) = &request.data else {
            return None;
        };
        self.add_data_folder(path);
        crate::data_source::folder::summary(path).ok()
    }

    /// A run's data folder: one chosen with the dialog (or a recorded run's),
    /// compared as given. Not "any folder inside the project": the project
    /// folder is often just a chosen script's folder (a home folder, even),
    /// and a folder inside it may be one its rules keep out (`.git`, a
    /// gitignored `secrets/`). An S3 location names nothing on this computer.
    pub fn check_data(&self, data: Option<&DataSource>) -> Result<(), ChosenError> {
        let Some(DataSource::Folder { path }) = data else {
            return Ok(());
        };
        if lock(&self.data_folders).contains(path) {
            Ok(())
        } else {
            Err(ChosenError::DataNotChosen(path.to_path_buf()))
        }
    }

    /// The folder was chosen (dialog, drop) or is a chosen script's folder:
    /// compared as given, so `..` leads nowhere.
    fn check_root(&self, root: &Path) -> Result<(), ChosenError> {
        if lock(&self.roots).contains(root) || lock(&self.files).contains(root) {
            Ok(())
        } else {
            Err(ChosenError::ProjectNotChosen(root.to_path_buf()))
        }
    }

    /// A file chosen itself, or inside the chosen project folder `root`
    /// (links resolved: a link out of the folder is not inside it).
    fn check_chosen_in(&self, root: &Path, path: &Path) -> Result<(), ChosenError> {
        if self.check_chosen(path).is_ok() {
            return Ok(());
        }
        let inside = match (std::fs::canonicalize(root), std::fs::canonicalize(path)) {
            (Ok(r), Ok(p)) => crate::project::select::relative(&r, &p).is_some(),
            _ => false,
        };
        if inside {
            Ok(())
        } else {
            Err(ChosenError::FileNotChosen(path.to_path_buf()))
        }
    }

    /// A requirements file chosen itself, or the project's own
    /// `requirements.txt` (its lines go back to the webview: never a file the
    /// webview names inside the folder).
    fn check_requirements(&self, root: &Path, path: &Path) -> Result<(), ChosenError> {
        if self.check_chosen(path).is_ok() || path == root.join("requirements.txt") {
            Ok(())
        } else {
            Err(ChosenError::FileNotChosen(path.to_path_buf()))
        }
    }

    /// A run starts only from a chosen project folder, a script chosen or
    /// inside it, and a requirements file chosen or the folder's own.
    pub fn check_request(&self, request: &TrainRequest) -> Result<(), ChosenError> {
        let root =
            crate::project::project_root(&request.script_path, request.project_dir.as_deref());
        self.check_root(&root)?;
        self.check_chosen_in(&root, &request.script_path)?;
        self.check_requirements(&root, &request.requirements_path)?;
        self.check_data(request.data.as_ref())
    }

    /// What will be sent of a project: `root` (a chosen folder, or `None`:
    /// the script's folder), its script (`None`: train.py or main.py in the
    /// folder) and requirements file (`None`: requirements.txt in it, if any).
    pub fn project(
        &self,
        root: Option<&Path>,
        script: Option<&Path>,
        requirements: Option<&Path>,
    ) -> Result<ProjectView, ChosenError> {
        let project_dir = root.map(Path::to_path_buf);
        let script = match (script, root) {
            (Some(s), _) => s.to_path_buf(),
            (None, Some(r)) => {
                self.check_root(r)?;
                DEFAULT_SCRIPTS
                    .iter()
                    .map(|n| r.join(n))
                    .find(|p| p.is_file())
                    .ok_or_else(|| ChosenError::NoScriptInFolder(r.to_path_buf()))?
            }
            (None, None) => return Err(ChosenError::NoScriptInFolder(PathBuf::new())),
        };
        let root = crate::project::project_root(&script, root);
        self.check_root(&root)?;
        self.check_chosen_in(&root, &script)?;
        crate::project::check_entry(&root, &script)?;
        let script_file = read_input(FileKind::Script, &script)?.0;
        let requirements = match requirements {
            Some(r) => {
                self.check_requirements(&root, r)?;
                Some(r.to_path_buf())
            }
            None => crate::project::requirements::default_requirements(&root),
        };
        let requirements_file = match &requirements {
            Some(r) => Some(read_input(FileKind::Requirements, r)?.0),
            None => None,
        };
        let inputs =
            crate::project::summary::check_optional(&root, &script, requirements.as_deref())?;
        Ok(ProjectView {
            project_dir,
            summary: crate::project::ProjectSummary::of(&inputs),
            script: script_file,
            requirements: requirements_file,
        })
    }

    /// The folder, if the app made it and it is still a folder (not a file
    /// or a link put in its place).
    pub fn check_folder<'a>(&self, path: &'a Path) -> Result<&'a Path, ChosenError> {
        if !lock(&self.folders).contains(path) {
            return Err(ChosenError::FolderNotOurs(path.to_path_buf()));
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => Ok(path),
            _ => Err(ChosenError::NotAFolder(path.to_path_buf())),
        }
    }

    /// Shows a folder the app made in the desktop's file manager.
    pub fn open_folder(&self, path: &Path) -> Result<(), ChosenError> {
        open_in_file_manager(self.check_folder(path)?)
    }

    /// A file the app downloaded that the desktop may open.
    pub fn add_made_file(&self, path: &Path) {
        lock(&self.made_files).insert(path.to_path_buf());
    }

    /// The file, if the app downloaded it and it is still a plain file (not
    /// a folder or a link put in its place).
    pub fn check_made_file<'a>(&self, path: &'a Path) -> Result<&'a Path, ChosenError> {
        if !lock(&self.made_files).contains(path) {
            return Err(ChosenError::FileNotOurs(path.to_path_buf()));
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_file() => Ok(path),
            _ => Err(ChosenError::NotAFile(path.to_path_buf())),
        }
    }

    /// Opens a file the app downloaded with the desktop's default app for it.
    pub fn open_file(&self, path: &Path) -> Result<(), ChosenError> {
        open_in_file_manager(self.check_made_file(path)?)
    }
}

/// The desktop's opener: a folder in the file manager, a file with its default app.
fn open_in_file_manager(path: &Path) -> Result<(), ChosenError> {
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(program)
        .arg(path)
        .spawn()
        .map(|_child| ())
        .map_err(|source| ChosenError::Open {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
#[path = "chosen_tests.rs"]
mod tests;
