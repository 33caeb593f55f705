//! The practice cloud: the local AWS sandbox (`tests/sandbox`, shipped with
//! the app as resources) run by easyTDV itself, so "Try without an AWS
//! account" needs no terminal. The first start makes a Python environment in
//! the data folder; then the sandbox runs as a child process on a loopback
//! port (4566 when free, the last one used otherwise), with its data in
//! `<data>/practice-cloud/data` so a practice run's outputs survive a restart.
//! It answers only requests signed with a key made at each start and given
//! to it in its environment (never on its command line, never in a file);
//! the app checks that the sandbox it talks to holds that key before sending
//! anything (`crate::aws::sandbox`). A sandbox `./dev run` started is reused
//! when it proves the key the environment gives. The app stops the one it
//! owns when it quits (and it stops itself if the app dies).

mod error;
mod python;
mod venv;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::accounts::{AccountKind, Accounts};
use crate::aws::sandbox;
use crate::platform;
use error::io;
pub use error::PracticeError;

/// The line the sandbox prints on stdout once it serves.
const READY_PREFIX: &str = "EASYTDV_SANDBOX_ENDPOINT=";
/// The requirements file among the sources.
pub const REQUIREMENTS: &str = "runtime-requirements.txt";
const PREFERRED_PORT: u16 = 4566;
const START_TIMEOUT: Duration = Duration::from_secs(90);
/// The sandbox saves its S3 state when asked to stop: give it time before
/// ending it.
const STOP_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum PracticeStage {
    Checking,
    Preparing,
    Starting,
    Ready,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PracticeProgress {
    pub stage: PracticeStage,
    pub message: String,
}

fn say(progress: &dyn Fn(PracticeProgress), stage: PracticeStage, message: &str) {
    progress(PracticeProgress {
        stage,
        message: message.into(),
    });
}

/// What `<home>/sandbox.json` remembers between app starts.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    pid: Option<u32>,
    endpoint: Option<String>,
}

struct Running {
    child: Child,
    /// Empty while a start that failed is being stopped.
    endpoint: String,
}

pub struct PracticeCloud {
    home: PathBuf,
    sources: Option<PathBuf>,
    running: Mutex<Option<Running>>,
}

impl PracticeCloud {
    /// `sources`: the folder with `easytdv_sandbox/` and the requirements.
    pub fn new(data_dir: &Path, sources: Option<PathBuf>) -> Self {
        Self {
            home: data_dir.join("practice-cloud"),
            sources,
            running: Mutex::new(None),
        }
    }

    /// The first candidate folder that holds the sandbox's sources.
    pub fn find_sources(candidates: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
        candidates.into_iter().find(|c| {
            c.join("easytdv_sandbox").join("cli.py").is_file() && c.join(REQUIREMENTS).is_file()
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The address it had when it last ran.
    pub fn last_endpoint(&self) -> Option<String> {
        self.saved().endpoint
    }

    /// Whether this app started a practice cloud that still runs.
    pub fn is_running(&self) -> bool {
        self.lock().as_mut().is_some_and(|r| r.alive())
    }

    /// The address of a running practice cloud, started if needed. `reuse`:
    /// a sandbox address to use as is when it answers (`./dev run`'s).
    /// Blocking: the first start takes about a minute.
    pub fn ensure(
        &self,
        reuse: Option<&str>,
        progress: &dyn Fn(PracticeProgress),
    ) -> Result<String, PracticeError> {
        let mut running = self.lock();
        if let Some(r) = running.as_mut() {
            if r.alive() && answers(&r.endpoint) {
                return Ok(r.endpoint.clone());
            }
            tracing::warn!(endpoint = %r.endpoint, "the practice cloud stopped answering; starting it again");
            if let Some(r) = running.take() {
                r.stop();
            }
        }
        say(
            progress,
            PracticeStage::Checking,
            "Looking for the practice cloud…",
        );
        if let Some(endpoint) = reuse.filter(|e| answers(e)) {
            tracing::info!(%endpoint, "using the sandbox that is already running");
            return Ok(endpoint.to_string());
        }
        // A sandbox a previous start left (saved pid) is not reused: its key
        // is not ours. It runs `--stop-with-parent`, so it is either stopping
        // (its app died) or another window's; its port is then taken and this
        // one starts on a free port.
        let saved = self.saved();
        let sources = self.sources.clone().ok_or(PracticeError::NoSources)?;
        let py = python::find(std::env::var_os("PATH"))?;
        let venv_python = venv::prepare(&self.home, &py, &sources.join(REQUIREMENTS), progress)?;
        say(
            progress,
            PracticeStage::Starting,
            "Starting the practice cloud…",
        );
        let port = saved
            .endpoint
            .as_deref()
            .and_then(port_of)
            .unwrap_or(PREFERRED_PORT);
        let started = match self.spawn(&venv_python, &sources, port) {
            Err(e) if port != 0 => {
                tracing::info!(port, error = %e, "the practice cloud's usual port is taken; using a free one");
                self.spawn(&venv_python, &sources, 0)
            }
            other => other,
        }?;
        self.save(&Saved {
            pid: Some(started.child.id()),
            endpoint: Some(started.endpoint.clone()),
        });
        let endpoint = started.endpoint.clone();
        *running = Some(started);
        say(
            progress,
            PracticeStage::Ready,
            "The practice cloud is ready",
        );
        tracing::info!(%endpoint, "practice cloud started");
        Ok(endpoint)
    }

    /// At app start: when sandbox accounts use the practice cloud's last
    /// address and nothing answers there, starts it again (it saved its S3
    /// data when it stopped) and points those accounts at its new address
    /// if the port changed. Blocking; `None` when nothing needed it.
    pub fn resume(&self, accounts: &Accounts) -> Result<Option<String>, PracticeError> {
        let Some(last) = self.last_endpoint() else {
            return Ok(None);
        };
        let used = accounts
            .list()
            .map_err(|e| tracing::warn!(error = %e, "cannot read the accounts"))
            .unwrap_or_default()
            .iter()
            .any(|a| {
                a.kind == AccountKind::Sandbox && a.endpoint.as_deref() == Some(last.as_str())
            });
        if !used || answers(&last) {
            return Ok(None);
        }
        let now = self.ensure(None, &|_| {})?;
        if now != last {
            match accounts.repoint_sandboxes(&last, &now) {
                Ok(n) => {
                    tracing::info!(n, from = %last, to = %now, "sandbox accounts follow the practice cloud")
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not point the sandbox accounts at the practice cloud")
                }
            }
        }
        Ok(Some(now))
    }

    /// `ensure` on a blocking thread, for async callers.
    pub async fn start(
        self: &std::sync::Arc<Self>,
        reuse: Option<String>,
        progress: impl Fn(PracticeProgress) + Send + 'static,
    ) -> Result<String, PracticeError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.ensure(reuse.as_deref(), &progress))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "the practice cloud's start did not finish");
                PracticeError::Interrupted
            })?
    }

    /// Stops the practice cloud this app runs (it saves its data first).
    pub fn stop(&self) {
        if let Some(r) = self.lock().take() {
            tracing::info!(pid = r.child.id(), "stopping the practice cloud");
            r.stop();
            let endpoint = self.saved().endpoint;
            self.save(&Saved {
                pid: None,
                endpoint,
            });
        }
    }

    fn spawn(&self, python: &Path, sources: &Path, port: u16) -> Result<Running, PracticeError> {
        let key = sandbox::new_key();
        let data = self.home.join("data");
        fs::create_dir_all(&data).map_err(io("create", &data))?;
        let log_path = self.home.join("sandbox.log");
        let log = fs::File::create(&log_path).map_err(io("create", &log_path))?;
        let mut child = platform::no_console(&mut Command::new(python))
            .args([
                "-m",
                "easytdv_sandbox.cli",
                "run",
                "--port",
                &port.to_string(),
                // Stops (saving its data) if the app dies without stopping
                // it. The app's own pid: on Windows a venv's python.exe is a
                // launcher, the interpreter's parent.
                "--stop-with-parent",
                &std::process::id().to_string(),
                "--data-dir",
            ])
            .arg(&data)
            .env("PYTHONPATH", sources)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // Its environment, not its command line: other users can read
            // command lines (ps), not the environment of our processes.
            .env(sandbox::KEY_VAR, key.expose())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(io("run", python))?;
        let (tx, rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                // Reads to the end, so the pipe never fills.
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(e) = line.strip_prefix(READY_PREFIX) {
                        if tx.send(e.trim().to_string()).is_err() {
                            tracing::debug!(
                                "nobody waits for the practice cloud's address any more"
                            );
                        }
                    }
                }
            });
        }
        let endpoint = rx.recv_timeout(START_TIMEOUT).ok();
        let deadline = Instant::now() + Duration::from_secs(10);
        let ready = endpoint.filter(|e| {
            while Instant::now() < deadline {
                if sandbox::verify_blocking(e, &key).is_ok() {
                    sandbox::register(e, key.clone());
                    return true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            false
        });
        match ready {
            Some(endpoint) => Ok(Running { child, endpoint }),
            None => {
                Running {
                    child,
                    endpoint: String::new(),
                }
                .stop();
                Err(PracticeError::StartFailed {
                    tail: venv::last_line(&log_path),
                    log: log_path,
                })
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn saved(&self) -> Saved {
        let path = self.home.join("sandbox.json");
        match fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring a damaged practice cloud state");
                Saved::default()
            }),
            Err(_) => Saved::default(),
        }
    }

    fn save(&self, saved: &Saved) {
        let path = self.home.join("sandbox.json");
        let written = fs::create_dir_all(&self.home)
            .and_then(|()| fs::write(&path, serde_json::to_vec(saved).unwrap_or_default()));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "could not remember the practice cloud's address");
        }
    }
}

impl Running {
    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Asks it to stop (its own shutdown request, which works on every
    /// system; SIGTERM where there are signals if it does not answer), waits
    /// for it to save its data, then ends it if it is still there.
    fn stop(mut self) {
        let pid = self.child.id();
        let asked = !self.endpoint.is_empty()
            && sandbox::key_for(&self.endpoint)
                .is_some_and(|key| sandbox::ask_to_stop(&self.endpoint, &key).is_ok());
        // Unanswered and no signal to send (Windows): it may only be busy,
        // so it still gets a moment to finish what it does.
        let grace = if asked || platform::ask_to_end(&mut self.child) {
            STOP_GRACE
        } else {
            Duration::from_secs(3)
        };
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && self.alive() {
            std::thread::sleep(Duration::from_millis(100));
        }
        if self.alive() {
            tracing::warn!(pid, "the practice cloud did not stop in time; ending it");
            if let Err(e) = self.child.kill() {
                tracing::debug!(pid, error = %e, "could not end the practice cloud (already gone?)");
            }
        }
        if let Err(e) = self.child.wait() {
            tracing::warn!(error = %e, "could not reap the practice cloud");
        }
    }
}

fn port_of(endpoint: &str) -> Option<u16> {
    endpoint
        .rsplit_once(':')?
        .1
        .trim_end_matches('/')
        .parse()
        .ok()
}

/// Whether a sandbox whose key this process knows answers at `endpoint`.
pub fn answers(endpoint: &str) -> bool {
    sandbox::key_for(endpoint).is_some_and(|key| sandbox::verify_blocking(endpoint, &key).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_parse_from_addresses() {
        assert_eq!(port_of("http://127.0.0.1:4566"), Some(4566));
        assert_eq!(port_of("http://127.0.0.1:41234/"), Some(41234));
        assert_eq!(port_of("http://localhost"), None);
    }

    #[test]
    fn nothing_answers_on_a_closed_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        assert!(!answers(&format!("http://127.0.0.1:{port}")));
        assert!(!answers("https://example.invalid"));
    }

    #[test]
    fn a_folder_without_the_sandbox_is_not_a_source() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(PracticeCloud::find_sources([d.path().to_path_buf()]), None);
        fs::create_dir_all(d.path().join("easytdv_sandbox")).unwrap();
        fs::write(d.path().join("easytdv_sandbox/cli.py"), "").unwrap();
        fs::write(d.path().join(REQUIREMENTS), "").unwrap();
        assert_eq!(
            PracticeCloud::find_sources([PathBuf::from("/nope"), d.path().to_path_buf()]),
            Some(d.path().to_path_buf())
        );
    }
}
