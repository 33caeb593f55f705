//! The app logs to `<data dir>/logs/easytdv.log` (a new file each day);
//! `EASYTDV_LOG` sets the level (default `info`). Secrets never reach it:
//! they are `Sensitive` and no log line formats credentials.

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// Starts logging; keep the guard alive until the app exits (it flushes).
pub fn init(data_dir: &std::path::Path) -> Option<WorkerGuard> {
    let dir = data_dir.join("logs");
    // The data folder and its log folder are their owner's only.
    let private = easytdv_core::private::create_dir(data_dir)
        .and_then(|()| easytdv_core::private::create_dir(&dir));
    if let Err(e) = private {
        eprintln!(
            "easyTDV: cannot create the log folder {}: {e}",
            dir.display()
        );
        return None;
    }
    let (writer, guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::daily(&dir, "easytdv.log"));
    let filter = EnvFilter::new(easytdv_core::paths::log_directives(
        std::env::var("EASYTDV_LOG").ok().as_deref(),
    ));
    let file = fmt::layer()
        .with_ansi(false)
        .with_writer(writer)
        .with_filter(filter);
    match tracing_subscriber::registry().with(file).try_init() {
        Ok(()) => Some(guard),
        Err(e) => {
            eprintln!("easyTDV: logging is off: {e}");
            None
        }
    }
}
