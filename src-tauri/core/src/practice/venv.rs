//! The practice cloud's own Python environment, made once in the data folder
//! and made again only when the pinned requirements or the Python change.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use super::error::io;
use super::python::Python;
use super::{PracticeError, PracticeProgress, PracticeStage};
use crate::platform;

const STAMP: &str = ".easytdv-requirements";
pub const FIRST_TIME: &str = "Preparing the practice cloud… (first time only, about a minute)";

pub fn python_in(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// The environment's Python, after installing `requirements` into
/// `<home>/venv` if that was not done yet for this Python.
pub fn prepare(
    home: &Path,
    py: &Python,
    requirements: &Path,
    progress: &dyn Fn(PracticeProgress),
) -> Result<PathBuf, PracticeError> {
    let venv = home.join("venv");
    let wanted = stamp_of(
        py,
        &fs::read(requirements).map_err(io("read", requirements))?,
    );
    let python = python_in(&venv);
    if python.is_file() && fs::read_to_string(venv.join(STAMP)).ok().as_deref() == Some(&wanted) {
        return Ok(python);
    }
    let say = |detail: Option<&str>| {
        progress(PracticeProgress {
            stage: PracticeStage::Preparing,
            message: match detail {
                Some(d) => format!("{FIRST_TIME}: {d}"),
                None => FIRST_TIME.into(),
            },
        })
    };
    say(None);
    fs::create_dir_all(home).map_err(io("create", home))?;
    let log_path = home.join("prepare.log");
    let mut log = fs::File::create(&log_path).map_err(io("create", &log_path))?;
    if venv.exists() {
        fs::remove_dir_all(&venv).map_err(io("replace", &venv))?;
    }
    let failed = |log_path: &Path| PracticeError::InstallFailed {
        log: log_path.to_path_buf(),
        tail: last_line(log_path),
    };
    let mut make = Command::new(&py.path);
    platform::no_console(&mut make);
    make.arg("-m").arg("venv").arg(&venv);
    if !run_logged(make, &mut log, &|_| {}).map_err(io("run", &py.path))? {
        return Err(failed(&log_path));
    }
    let mut pip = Command::new(&python);
    platform::no_console(&mut pip);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        // Every package pinned with its hashes: what PyPI (or a proxy) sends
        // is what was reviewed, or nothing is installed.
        "--require-hashes",
    ])
    .args(["--progress-bar", "off", "-r"])
    .arg(requirements);
    let shown = |line: &str| {
        if let Some(what) = line.strip_prefix("Collecting ") {
            say(Some(&format!(
                "getting {}",
                what.split_whitespace().next().unwrap_or(what)
            )));
        } else if line.starts_with("Installing collected packages") {
            say(Some("installing"));
        }
    };
    if !run_logged(pip, &mut log, &shown).map_err(io("run", &python))? {
        return Err(failed(&log_path));
    }
    fs::write(venv.join(STAMP), &wanted).map_err(io("write", &venv))?;
    tracing::info!(venv = %venv.display(), python = %py.path.display(), "practice cloud environment ready");
    Ok(python)
}

fn stamp_of(py: &Python, requirements: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(requirements);
    h.update(py.path.to_string_lossy().as_bytes());
    h.update(py.version_text().as_bytes());
    format!("{:x}", h.finalize())
}

/// Runs `cmd`, its stdout line by line into `log` and `each`, its stderr into `log`.
fn run_logged(mut cmd: Command, log: &mut fs::File, each: &dyn Fn(&str)) -> std::io::Result<bool> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log.try_clone()?)
        .spawn()?;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            writeln!(log, "{line}")?;
            each(&line);
        }
    }
    Ok(child.wait()?.success())
}

/// The last non-empty line of a log, for the error message.
pub fn last_line(path: &Path) -> String {
    fs::read_to_string(path)
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "no output".into())
}
