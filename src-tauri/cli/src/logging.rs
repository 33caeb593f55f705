//! The CLI logs to `<data dir>/logs/easytdv-cli.log` (daily files); set
//! `EASYTDV_LOG` (e.g. `debug`) to change the level, and
//! `EASYTDV_LOG_STDERR=1` to also see it on the terminal.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

pub fn init() {
    let data = easytdv_core::paths::data_dir();
    let dir = data.join("logs");
    let filter = || {
        EnvFilter::new(easytdv_core::paths::log_directives(
            std::env::var("EASYTDV_LOG").ok().as_deref(),
        ))
    };
    // The data folder and its log folder are their owner's only.
    let private = easytdv_core::private::create_dir(&data)
        .and_then(|()| easytdv_core::private::create_dir(&dir));
    let file = private.ok().map(|()| {
        fmt::layer()
            .with_ansi(false)
            .with_writer(tracing_appender::rolling::daily(&dir, "easytdv-cli.log"))
            .with_filter(filter())
    });
    let stderr = std::env::var_os("EASYTDV_LOG_STDERR").map(|_| {
        fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
    });
    if let Err(e) = tracing_subscriber::registry()
        .with(file)
        .with(stderr)
        .try_init()
    {
        eprintln!("warning: logging is off: {e}");
    }
}
