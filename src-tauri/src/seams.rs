//! Test and development seams, read from the environment. Debug builds
//! only: the end-to-end tests and `./dev run` use the debug binary, and a
//! release build contains neither these reads nor the variables' names
//! (tests/package/run.sh checks the installed binary). Every `EASYTDV_*`
//! variable that exists for tests is here, except the core's
//! `EASYTDV_TEST_ENDPOINT_OVERRIDE` (`easytdv_core::aws`, compiled out the
//! same way).
//!
//! - `EASYTDV_PICKED_SCRIPT`, `EASYTDV_PICKED_REQUIREMENTS`, `EASYTDV_PICKED_CSV`,
//!   `EASYTDV_PICKED_FOLDER`, `EASYTDV_PICKED_SAVE_PATH`: answer the native
//!   dialogs, which live outside the webview where WebDriver cannot reach;
//! - `EASYTDV_NOTIFY_LOG`: notifications go to this file as JSON lines;
//! - `EASYTDV_SANDBOX_ENDPOINT`: a sandbox started by `./dev run` or the
//!   tests, reused as the practice cloud and shown as the sandbox address.

/// `picked!("EASYTDV_PICKED_…")`: the path that variable names (debug
/// builds), else `None`. A macro, so the name is not even in a release build.
#[cfg(debug_assertions)]
macro_rules! picked {
    ($var:literal) => {
        std::env::var_os($var).map(std::path::PathBuf::from)
    };
}

#[cfg(not(debug_assertions))]
macro_rules! picked {
    ($var:literal) => {
        None::<std::path::PathBuf>
    };
}

pub(crate) use picked;

/// Where notifications are written instead of shown.
#[cfg(debug_assertions)]
pub fn notify_log() -> Option<std::path::PathBuf> {
    std::env::var_os("EASYTDV_NOTIFY_LOG").map(std::path::PathBuf::from)
}

#[cfg(not(debug_assertions))]
pub fn notify_log() -> Option<std::path::PathBuf> {
    None
}

/// A sandbox someone started for this app.
#[cfg(debug_assertions)]
pub fn sandbox_endpoint() -> Option<String> {
    std::env::var("EASYTDV_SANDBOX_ENDPOINT").ok()
}

#[cfg(not(debug_assertions))]
pub fn sandbox_endpoint() -> Option<String> {
    None
}
