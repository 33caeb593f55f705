//! A run's logs and metrics: read incrementally from S3 while the run goes
//! on, kept on this computer, read back by windows, and turned into curves.

mod follow;
mod keeper;
mod line;
mod metrics;
mod reader;
mod store;

pub use follow::{LogFollower, CHUNK_BYTES};
pub use keeper::Keeper;
pub use line::{LogLine, LogName, Stream};
pub use metrics::{Curves, MetricParser, MetricPoint, MetricSeries};
pub use reader::{curves_of, local_log, series_of};
pub use store::{is_run_id, log_path, LogError, LogFile};
