//! What differs between Linux, macOS and Windows, in one place: which
//! programs are a Python, how a child process is asked to stop, and which
//! file names this computer's file system accepts. The rest of the core
//! calls these and never asks which system it runs on.
//!
//! The Windows rules are plain functions tested on every system
//! ([`windows_file_name`]); [`local_file_name`] applies them where they hold.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// The names a Python 3 interpreter goes by on `PATH`, best first.
/// Windows: python.org's `python.exe` and the Store's `python3.1x.exe`
/// (`py.exe`, the launcher, is asked for its Python: see
/// [`python_launchers`]).
pub const PYTHON_NAMES: &[&str] = if cfg!(windows) {
    &[
        "python.exe",
        "python3.exe",
        "python3.13.exe",
        "python3.12.exe",
        "python3.11.exe",
        "python3.10.exe",
    ]
} else {
    &[
        "python3",
        "python3.13",
        "python3.12",
        "python3.11",
        "python3.10",
    ]
};

/// Programs that start a Python when given these arguments (Windows' `py -3`).
pub fn python_launchers() -> &'static [(&'static str, &'static [&'static str])] {
    if cfg!(windows) {
        &[("py.exe", &["-3"])]
    } else {
        &[]
    }
}

/// Folders searched for a Python besides `PATH`: where python.org's
/// installer puts it for one user on Windows
/// (`%LOCALAPPDATA%\Programs\Python\Python3xx`), newest first.
pub fn python_folders() -> Vec<PathBuf> {
    if !cfg!(windows) {
        return Vec::new();
    }
    let Some(base) =
        std::env::var_os("LOCALAPPDATA").map(|d| Path::new(&d).join("Programs/Python"))
    else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(&base)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by(|a, b| b.cmp(a));
    found
}

/// The folders of `PATH` (`path_var`) then [`python_folders`]. Only
/// absolute ones: a relative entry (`.`, an empty one) would run whatever
/// the current folder holds.
pub fn search_folders(path_var: Option<OsString>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = path_var
        .map(|p| {
            std::env::split_paths(&p)
                .filter(|d| d.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    dirs.extend(python_folders());
    dirs
}

/// A file this user can run: an executable bit on Unix, a file on Windows
/// (where the name, `.exe`, says it).
pub fn is_executable(p: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        p.is_file()
    }
}

/// A program the app starts in the background shows no console window
/// (Windows gives one to every console program a windowed app starts, and
/// closing it ends the program).
pub fn no_console(command: &mut Command) -> &mut Command {
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        command.creation_flags(CREATE_NO_WINDOW);
    }
    command
}

/// Asks a child process to end cleanly with a signal it can catch (SIGTERM).
/// False where there is no such signal (Windows), or when the child has
/// already ended: the caller then has only its own request (the practice
/// cloud's shutdown) or [`Child::kill`].
pub fn ask_to_end(child: &mut Child) -> bool {
    if !matches!(child.try_wait(), Ok(None)) {
        return false;
    }
    #[cfg(unix)]
    {
        // SAFETY: kill(2) on our own child's pid with a valid signal. The
        // child has not been waited for (try_wait just saw it running, and
        // only `&mut Child` can reap it), so its pid names no other process.
        let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) } == 0;
        if !sent {
            tracing::debug!(pid = child.id(), error = %std::io::Error::last_os_error(), "SIGTERM not delivered (already gone?)");
        }
        sent
    }
    #[cfg(not(unix))]
    {
        let _ = child;
        false
    }
}

/// The name an object's path part (`part`, between two `/`) gets on this
/// computer, or `None` when it can be used as is.
pub fn local_file_name(part: &str) -> Option<String> {
    if cfg!(windows) {
        windows_file_name(part)
    } else {
        None
    }
}

/// Names Windows keeps for devices, whatever their extension (`aux.txt` is
/// the device too).
const WINDOWS_DEVICES: [&str; 24] = [
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM1", "COM2", "COM3", "COM4", "COM5",
    "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8",
    "LPT9",
];

/// What Windows would refuse in a file name `part`, made acceptable: the
/// characters `<>:"\|?*` and control characters become `_` (`:` would
/// otherwise write an NTFS stream, not a file), a device name (`aux`,
/// `con.txt`, `COM1`, also with `¹²³`) gets a `_` in front, trailing dots and
/// spaces become `_`. `None` when the name is fine as it is.
pub fn windows_file_name(part: &str) -> Option<String> {
    let mut name: String = part
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '\\' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let kept = name.trim_end_matches(['.', ' ']).len();
    if kept < name.len() {
        let tail = "_".repeat(name[kept..].chars().count());
        name.truncate(kept);
        name.push_str(&tail);
    }
    let stem = name.split('.').next().unwrap_or_default().trim_end();
    let device = WINDOWS_DEVICES.iter().any(|d| d.eq_ignore_ascii_case(stem))
        || ["COM", "LPT"].iter().any(|d| {
            stem.len() > 3
                && stem.is_char_boundary(3)
                && stem[..3].eq_ignore_ascii_case(d)
                && matches!(&stem[3..], "¹" | "²" | "³")
        });
    if device {
        name.insert(0, '_');
    }
    (name != part).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_windows_forbids_are_renamed() {
        for (given, wanted) in [
            ("aux", "_aux"),
            ("AUX.txt", "_AUX.txt"),
            ("con.tar.gz", "_con.tar.gz"),
            ("nul", "_nul"),
            ("com1.log", "_com1.log"),
            ("LPT9", "_LPT9"),
            ("conout$", "_conout$"),
            ("com¹", "_com¹"),
            ("a:b.txt", "a_b.txt"),
            ("model.pt:stream", "model.pt_stream"),
            ("what?.csv", "what_.csv"),
            ("x<y>|z*\"", "x_y__z__"),
            ("back\\slash", "back_slash"),
            ("tab\there", "tab_here"),
            ("ends.", "ends_"),
            ("ends. .", "ends___"),
            ("ends ", "ends_"),
        ] {
            assert_eq!(windows_file_name(given).as_deref(), Some(wanted), "{given}");
        }
    }

    #[test]
    fn names_windows_accepts_are_kept() {
        for fine in [
            "model.pt",
            "auxiliary.txt",
            "console",
            "com10",
            "lpt",
            "con_fig.yaml",
            ".hidden",
            "résultats été.csv",
            "a b",
        ] {
            assert_eq!(windows_file_name(fine), None, "{fine}");
        }
    }

    #[test]
    fn only_windows_renames_downloads() {
        assert_eq!(local_file_name("aux").is_some(), cfg!(windows));
        assert_eq!(local_file_name("model.pt"), None);
    }

    #[test]
    fn python_names_are_the_systems() {
        assert!(PYTHON_NAMES
            .iter()
            .all(|n| n.ends_with(".exe") == cfg!(windows)));
        assert_eq!(python_launchers().is_empty(), !cfg!(windows));
    }

    #[test]
    fn a_child_is_asked_to_end_where_signals_exist() {
        let mut child = if cfg!(windows) {
            std::process::Command::new("cmd")
                .args(["/C", "ping -n 30 127.0.0.1 >NUL"])
                .spawn()
        } else {
            std::process::Command::new("sleep").arg("30").spawn()
        }
        .unwrap();
        assert_eq!(ask_to_end(&mut child), cfg!(unix));
        if cfg!(unix) {
            let status = child.wait().unwrap();
            assert!(!status.success(), "SIGTERM ended it");
        } else {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        // Reaped: never signalled again (its pid may be another process's by now).
        assert!(!ask_to_end(&mut child));
    }

    #[test]
    fn only_absolute_folders_are_searched() {
        let here = std::env::current_dir().unwrap();
        let path = std::env::join_paths([Path::new("."), &here, Path::new("rel/bin")]).unwrap();
        let found = search_folders(Some(path));
        assert!(found.starts_with(&[here]), "{found:?}");
        assert!(found.iter().all(|d| d.is_absolute()), "{found:?}");
    }
}
