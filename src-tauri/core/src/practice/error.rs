use std::path::PathBuf;

use crate::explain::Explain;

const INSTALL_PYTHON: &str = "Install Python 3.10 or newer with its venv module (on Debian or Ubuntu: `sudo apt install python3 python3-venv`; on macOS or Windows: the installer from python.org), then choose Try again.";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PracticeError {
    #[error("this copy of easyTDV does not include the practice cloud")]
    NoSources,
    #[error("the practice cloud needs Python 3.10 or newer, and none was found")]
    PythonMissing,
    #[error("the practice cloud needs Python 3.10 or newer; this computer has Python {version}")]
    PythonTooOld { version: String },
    #[error("Python {version} is here but cannot make a virtual environment (its venv module is missing)")]
    VenvMissing { version: String },
    #[error("preparing the practice cloud's Python packages failed: {tail}")]
    InstallFailed { log: PathBuf, tail: String },
    #[error("the practice cloud did not start: {tail}")]
    StartFailed { log: PathBuf, tail: String },
    #[error("starting the practice cloud was interrupted")]
    Interrupted,
    #[error("the practice cloud could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Explain for PracticeError {
    fn code(&self) -> &'static str {
        match self {
            PracticeError::NoSources => "practice_missing",
            PracticeError::PythonMissing => "practice_python_missing",
            PracticeError::PythonTooOld { .. } => "practice_python_too_old",
            PracticeError::VenvMissing { .. } => "practice_venv_missing",
            PracticeError::InstallFailed { .. } => "practice_install_failed",
            PracticeError::StartFailed { .. } => "practice_start_failed",
            PracticeError::Interrupted => "practice_interrupted",
            PracticeError::Io { .. } => "practice_io",
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            PracticeError::NoSources => {
                "Reinstall easyTDV, or start the sandbox yourself (`tests/sandbox/run` in the source folder) and connect to its address.".into()
            }
            PracticeError::PythonMissing | PracticeError::PythonTooOld { .. } | PracticeError::VenvMissing { .. } => {
                INSTALL_PYTHON.into()
            }
            PracticeError::InstallFailed { log, .. } => format!(
                "The first start downloads about 60 MB of Python packages from PyPI: check the internet connection, then choose Try again. Full log: {}",
                log.display()
            ),
            PracticeError::StartFailed { log, .. } => format!(
                "Choose Try again; if it fails again, the log says why: {}",
                log.display()
            ),
            PracticeError::Interrupted => "Choose Try again.".into(),
            PracticeError::Io { .. } => {
                "Check that your home folder has free space and is writable, then choose Try again.".into()
            }
        })
    }
}

pub(super) fn io<'a>(
    action: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> PracticeError + 'a {
    move |source| PracticeError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
