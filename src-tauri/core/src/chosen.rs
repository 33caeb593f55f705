//! Paths that come back from the webview are used only when the backend
//! handed them out. Files: the ones the person chose outside the webview
//! (the native file dialog, a drop on the window, the app's own example).
//! Folders: the ones the app made (a download's folder) and its data folder.
//! Anything else is refused before the file system is touched, so a script
//! running in the webview cannot read `~/.aws/credentials` through a file
//! check (whose answer lists a requirements file's lines), start a run that
//! uploads it, or have the desktop open whatever it names.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::explain::Explain;
use crate::pipeline::{read_input, CheckedFile, FileKind, InputError, TrainRequest};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChosenError {
    #[error("easyTDV reads only the files you choose: {} was not chosen with the file picker or dropped on the window", .0.display())]
    FileNotChosen(PathBuf),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("easyTDV opens only the folders it made (a download's folder, its data folder), not {}", .0.display())]
    FolderNotOurs(PathBuf),
    #[error("{} is no longer a folder", .0.display())]
    NotAFolder(PathBuf),
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
            ChosenError::FolderNotOurs(_) => "folder_not_ours",
            ChosenError::NotAFolder(_) => "not_a_folder",
            ChosenError::Open { .. } => "open_folder",
        }
    }
    fn hint(&self) -> Option<String> {
        match self {
            ChosenError::FileNotChosen(_) => {
                Some("Choose the file with the file picker, or drag it onto the window.".into())
            }
            ChosenError::Input(e) => e.hint(),
            ChosenError::FolderNotOurs(p)
            | ChosenError::NotAFolder(p)
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
}

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
    pub fn check_file(&self, kind: FileKind, path: &Path) -> Result<CheckedFile, ChosenError> {
        self.check_chosen(path)?;
        Ok(read_input(kind, path)?.0)
    }

    /// A run starts only from chosen files.
    pub fn check_request(&self, request: &TrainRequest) -> Result<(), ChosenError> {
        self.check_chosen(&request.script_path)?;
        self.check_chosen(&request.requirements_path)
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
}

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
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    /// What a webview script would ask for: a file of secrets, as
    /// "requirements" (each `name=value` line passes as a package).
    fn credentials(dir: &Path) -> PathBuf {
        let p = dir.join("credentials");
        std::fs::write(
            &p,
            format!("aws_access_key_id=AKIAIOSFODNN7EXAMPLE\naws_secret_access_key={SECRET}\n"),
        )
        .unwrap();
        p
    }

    #[test]
    fn a_file_not_chosen_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = credentials(dir.path());
        // Read as before, the file's lines go back as packages.
        let (leaky, _) = read_input(FileKind::Requirements, &path).unwrap();
        assert!(leaky.packages.iter().any(|p| p.contains(SECRET)));

        let chosen = Chosen::default();
        let err = chosen
            .check_file(FileKind::Requirements, &path)
            .unwrap_err();
        assert_eq!(err.code(), "file_not_chosen");
        let told = format!("{err} {}", err.hint().unwrap_or_default());
        assert!(!told.contains(SECRET) && !told.contains("AKIA"), "{told}");
        // A path that does not exist gets the same answer: nothing is learnt.
        let missing = chosen
            .check_file(FileKind::Requirements, &dir.path().join("nope"))
            .unwrap_err();
        assert_eq!(missing.code(), "file_not_chosen");
        // `..` does not turn a chosen file's folder into a way in.
        chosen.add_file(&dir.path().join("requirements.txt"));
        let around = dir.path().join("x/../credentials");
        assert_eq!(
            chosen
                .check_file(FileKind::Requirements, &around)
                .unwrap_err()
                .code(),
            "file_not_chosen"
        );

        // Chosen (dialog, drop), it is read and checked as usual.
        let req = dir.path().join("requirements.txt");
        std::fs::write(&req, "numpy==2.1.0\n").unwrap();
        let file = chosen.check_file(FileKind::Requirements, &req).unwrap();
        assert_eq!(file.packages, vec!["numpy==2.1.0".to_string()]);
    }

    #[test]
    fn a_run_starts_only_from_chosen_files() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("train.py");
        let req = dir.path().join("requirements.txt");
        let request = TrainRequest {
            script_path: script.clone(),
            requirements_path: credentials(dir.path()),
            instance_type: "t3.medium".into(),
            disk_gb: 30,
            region: "eu-west-3".into(),
            bucket: "b-1".into(),
            ami: None,
            max_runtime_hours: 2,
            budget_usd: None,
            engine: Default::default(),
            project_dir: None,
        };
        let chosen = Chosen::default();
        chosen.add_file(&script);
        chosen.add_file(&req);
        let err = chosen.check_request(&request).unwrap_err();
        assert_eq!(err.code(), "file_not_chosen");
        let ok = TrainRequest {
            requirements_path: req,
            ..request
        };
        chosen.check_request(&ok).unwrap();
    }

    #[test]
    fn only_folders_the_app_made_open() {
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("easytdv-r1");
        std::fs::create_dir(&made).unwrap();
        let chosen = Chosen::default();
        for other in [
            dir.path().to_path_buf(),
            PathBuf::from("/etc"),
            made.clone(),
        ] {
            assert_eq!(
                chosen.open_folder(&other).unwrap_err().code(),
                "folder_not_ours",
                "{}",
                other.display()
            );
        }
        chosen.add_folder(&made);
        assert_eq!(chosen.check_folder(&made).unwrap(), made.as_path());
        // Its parent, or a path through it, is not the folder.
        assert!(chosen.check_folder(dir.path()).is_err());
        assert!(chosen.check_folder(&made.join("..")).is_err());
        // A file (or a link) put in its place is not opened.
        std::fs::remove_dir(&made).unwrap();
        std::fs::write(&made, "#!/bin/sh\n").unwrap();
        assert_eq!(
            chosen.open_folder(&made).unwrap_err().code(),
            "not_a_folder"
        );
        #[cfg(unix)]
        {
            std::fs::remove_file(&made).unwrap();
            std::os::unix::fs::symlink("/etc", &made).unwrap();
            assert_eq!(
                chosen.open_folder(&made).unwrap_err().code(),
                "not_a_folder"
            );
        }
    }
}
