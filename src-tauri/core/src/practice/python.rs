//! Finding a Python 3.10+ with its `venv` module for the practice cloud.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::PracticeError;
use crate::platform;

/// The oldest Python the sandbox (moto 5) runs on.
pub const MIN: (u32, u32) = (3, 10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Python {
    pub path: PathBuf,
    pub version: (u32, u32),
}

impl Python {
    pub fn version_text(&self) -> String {
        format!("{}.{}", self.version.0, self.version.1)
    }
}

/// The first Python on `path_var` (the `PATH` value) that is recent enough
/// and can make a virtual environment.
pub fn find(path_var: Option<OsString>) -> Result<Python, PracticeError> {
    let mut best_old: Option<Python> = None;
    let mut without_venv: Option<Python> = None;
    for exe in candidates(path_var) {
        let Some(version) = version_of(&exe) else {
            continue;
        };
        let py = Python { path: exe, version };
        if version < MIN {
            best_old.get_or_insert(py);
        } else if has_venv(&py.path) {
            return Ok(py);
        } else {
            without_venv.get_or_insert(py);
        }
    }
    Err(match (without_venv, best_old) {
        (Some(py), _) => PracticeError::VenvMissing {
            version: py.version_text(),
        },
        (None, Some(py)) => PracticeError::PythonTooOld {
            version: py.version_text(),
        },
        (None, None) => PracticeError::PythonMissing,
    })
}

/// Every Python program found, best first: the system's names (platform.rs)
/// in each folder of `PATH` (then, on Windows, python.org's folders), then
/// the Python a launcher (`py -3`) starts.
fn candidates(path_var: Option<OsString>) -> Vec<PathBuf> {
    let dirs = platform::search_folders(path_var);
    let mut out = named(&dirs, platform::PYTHON_NAMES);
    for (launcher, args) in platform::python_launchers() {
        for dir in &dirs {
            let exe = dir.join(launcher);
            if platform::is_executable(&exe) {
                if let Some(py) = launched_python(&exe, args).filter(|p| !out.contains(p)) {
                    out.push(py);
                }
            }
        }
    }
    out
}

/// The programs called `names` in `dirs`, by name first, then by folder.
fn named(dirs: &[PathBuf], names: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for name in names {
        for dir in dirs {
            let exe = dir.join(name);
            if platform::is_executable(&exe) && !out.contains(&exe) {
                out.push(exe);
            }
        }
    }
    out
}

/// The interpreter a launcher starts (`py -3` → `C:\…\python.exe`).
fn launched_python(launcher: &Path, args: &[&str]) -> Option<PathBuf> {
    let out = platform::no_console(&mut Command::new(launcher))
        .args(args)
        // Isolated (no current folder on sys.path), and the path in UTF-8
        // whatever the Windows code page.
        .args(["-I", "-c", "import sys; print(sys.executable)"])
        .env("PYTHONUTF8", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(
            |e| tracing::debug!(exe = %launcher.display(), error = %e, "not a launcher we can run"),
        )
        .ok()?;
    let path = PathBuf::from(std::str::from_utf8(&out.stdout).ok()?.trim());
    (out.status.success() && path.is_absolute()).then_some(path)
}

fn quiet(exe: &Path, code: &str) -> Command {
    let mut c = Command::new(exe);
    platform::no_console(&mut c);
    // -I: isolated, so a `venv.py` in the current folder is not what imports.
    c.args(["-I", "-c", code])
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn version_of(exe: &Path) -> Option<(u32, u32)> {
    let out = quiet(exe, "import sys; print('%d.%d' % sys.version_info[:2])")
        .output()
        .map_err(|e| tracing::debug!(exe = %exe.display(), error = %e, "not a Python we can run"))
        .ok()?;
    parse_version(std::str::from_utf8(&out.stdout).ok()?)
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Debian and Ubuntu ship `venv` without `ensurepip` unless python3-venv is installed.
fn has_venv(exe: &Path) -> bool {
    quiet(exe, "import venv, ensurepip")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fake `python3` answering `version` and whether `venv` imports.
    fn fake(dir: &Path, name: &str, version: &str, venv: bool) {
        let script = format!(
            "#!/bin/sh\ncase \"$*\" in\n  *ensurepip*) exit {} ;;\n  *) echo {version} ;;\nesac\n",
            if venv { 0 } else { 1 }
        );
        let p = dir.join(name);
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn path_of(dirs: &[&Path]) -> Option<OsString> {
        Some(std::env::join_paths(dirs).unwrap())
    }

    #[test]
    fn a_recent_python_with_venv_is_chosen_over_an_old_one() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fake(a.path(), "python3", "3.8", true);
        fake(b.path(), "python3.12", "3.12", true);
        let py = find(path_of(&[a.path(), b.path()])).unwrap();
        assert_eq!(py.version, (3, 12));
        assert_eq!(py.path, b.path().join("python3.12"));
    }

    #[test]
    fn each_missing_piece_is_named() {
        let none = tempfile::tempdir().unwrap();
        assert_eq!(
            find(path_of(&[none.path()])).unwrap_err().code(),
            "practice_python_missing"
        );
        let old = tempfile::tempdir().unwrap();
        fake(old.path(), "python3", "3.9", true);
        let e = find(path_of(&[old.path()])).unwrap_err();
        assert_eq!(e.code(), "practice_python_too_old");
        assert!(e.to_string().contains("3.9"), "{e}");
        let novenv = tempfile::tempdir().unwrap();
        fake(novenv.path(), "python3", "3.11", false);
        let e = find(path_of(&[novenv.path()])).unwrap_err();
        assert_eq!(e.code(), "practice_venv_missing");
        assert!(e.hint().unwrap().contains("python3-venv"), "{e:?}");
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("3.11\n"), Some((3, 11)));
        assert_eq!(parse_version("garbage"), None);
    }

    use crate::explain::Explain;
}

#[cfg(test)]
mod names_tests {
    use super::*;

    #[test]
    fn pythons_are_found_by_the_systems_names_in_path_order() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let make = |dir: &Path, name: &str| {
            let p = dir.join(name);
            std::fs::write(&p, "").unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            p
        };
        let newest = make(b.path(), platform::PYTHON_NAMES[2]);
        let first = make(b.path(), platform::PYTHON_NAMES[0]);
        let other = make(a.path(), platform::PYTHON_NAMES[0]);
        make(a.path(), "python2.exe");
        make(a.path(), "python2");
        let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];
        assert_eq!(named(&dirs, platform::PYTHON_NAMES), [other, first, newest]);
    }
}

/// Windows' discovery with real programs: `tests/windows/run.sh` builds
/// `tests/windows/fake-python.c` and gives its path in
/// `EASYTDV_FAKE_PYTHON_EXE` (run there with `--ignored`, under Wine).
#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    #[test]
    #[ignore = "needs tests/windows/run.sh's fake Python (EASYTDV_FAKE_PYTHON_EXE)"]
    fn windows_the_py_launcher_names_the_python_it_starts() {
        let fake = PathBuf::from(
            std::env::var_os("EASYTDV_FAKE_PYTHON_EXE").expect("EASYTDV_FAKE_PYTHON_EXE"),
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::fs::copy(&fake, dir.path().join("py.exe")).unwrap();
        std::fs::copy(&fake, dir.path().join("real").join("python.exe")).unwrap();
        // Only the launcher is on PATH, as after python.org's installer with
        // "Add to PATH" left unticked; a relative entry is never searched.
        let path = std::env::join_paths([Path::new("."), dir.path()]).unwrap();
        let py = find(Some(path)).expect("the launcher's Python");
        assert_eq!(py.version, (3, 12));
        assert_eq!(
            std::fs::canonicalize(&py.path).unwrap(),
            std::fs::canonicalize(dir.path().join("real").join("python.exe")).unwrap()
        );
    }
}
