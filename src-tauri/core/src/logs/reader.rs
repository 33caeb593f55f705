//! A run's log for reading: kept on this computer while the run goes on
//! here; otherwise (another computer's run, or an older one) fetched once
//! from the run's `outputs/_logs/` in S3, which stays after the clean-up.

use std::path::Path;

use super::follow::LogFollower;
use super::line::LogName;
use super::metrics::{Curves, MetricParser, MetricSeries};
use super::store::LogFile;
use crate::aws::AwsContext;
use crate::pipeline::storage::RunBucket;
use crate::pipeline::{PipelineError, RunResources};

/// The local copy of a run's log, fetched from S3 when there is none.
pub async fn local_log(
    ctx: &AwsContext,
    res: &RunResources,
    data_dir: &Path,
    name: LogName,
) -> Result<LogFile, PipelineError> {
    let file = LogFile::new(data_dir, &res.run_id, name);
    if file.exists() {
        return Ok(file);
    }
    let bucket = RunBucket::for_run(ctx, res).await?;
    let mut follower = LogFollower::new(&res.outputs_prefix(), name);
    let store = |e: super::LogError| PipelineError::State(e.to_string());
    file.reset().map_err(store)?;
    loop {
        let lines = follower.poll(&bucket).await?;
        if lines.is_empty() {
            break;
        }
        file.append(&lines).map_err(store)?;
    }
    if let Some(last) = follower.flush() {
        file.append(&[last]).map_err(store)?;
    }
    Ok(file)
}

/// The curves of the metrics a log holds.
pub fn curves_of(file: &LogFile) -> Result<Curves, super::LogError> {
    let mut parser = MetricParser::default();
    let mut curves = Curves::default();
    let total = file.len()?;
    let mut at = 0;
    while at < total {
        for line in file.read(at, 20_000)? {
            for p in parser.parse(&line) {
                curves.add(&p);
            }
        }
        at += 20_000;
    }
    Ok(curves)
}

/// The metric series of a log.
pub fn series_of(file: &LogFile) -> Result<Vec<MetricSeries>, super::LogError> {
    Ok(curves_of(file)?.series())
}
