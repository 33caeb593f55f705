//! Getting the results home: copies a run's outputs from S3 into a folder,
//! several files at once, with progress. Each file is checked against the
//! object over all its bytes (`download.rs`, `integrity.rs`); files already
//! there and whole are kept, and a cut download goes on from its partial
//! file, so an interrupted download resumes where it stopped.

use std::collections::{HashSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::download::{self, Fetched, PART_SUFFIX};
use super::error::PipelineError;
use super::model::RunResources;
use super::storage::{ObjectInfo, RunBucket};
use crate::aws::AwsContext;

/// Files fetched at once.
pub const PARALLEL: usize = 4;

#[derive(Debug, Clone, Default, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DownloadProgress {
    pub files_done: u32,
    pub files_total: u32,
    pub bytes_done: f64,
    pub bytes_total: f64,
    /// Seconds left at the current speed, once it can be told.
    pub seconds_left: Option<f64>,
}

#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DownloadReport {
    pub folder: String,
    pub files: u32,
    /// Already complete from an earlier download.
    pub skipped: u32,
    pub bytes: f64,
    /// The run's executed notebook in the folder, when the run was a
    /// notebook's and it came down (set by the caller, who knows the run).
    pub executed_notebook: Option<String>,
}

pub type OnProgress = dyn Fn(DownloadProgress) + Send + Sync;

/// Downloads every object under the run's `outputs/` into `dir` (keeping
/// sub-folders). Keys that would escape `dir` (`..`, absolute) or end like a
/// partial download are skipped (logged). Two keys whose paths differ only
/// in case (one file on macOS and Windows) are never fetched at once.
pub async fn download_outputs(
    ctx: &AwsContext,
    res: &RunResources,
    dir: &Path,
    on_progress: &OnProgress,
) -> Result<DownloadReport, PipelineError> {
    let bucket = RunBucket::for_run(ctx, res).await?;
    let prefix = res.outputs_prefix();
    let objects: Vec<(ObjectInfo, PathBuf)> = bucket
        .list(&prefix)
        .await?
        .into_iter()
        .filter_map(|o| match safe_relative(&o.key[prefix.len()..]) {
            Some(rel) => Some((o, dir.join(rel))),
            None => {
                tracing::warn!(
                    key = o.key,
                    "an output whose name cannot be a file here is not downloaded"
                );
                None
            }
        })
        .collect();
    let mut progress = DownloadProgress {
        files_total: objects.len() as u32,
        bytes_total: objects.iter().map(|(o, _)| o.size as f64).sum(),
        ..Default::default()
    };
    let mut skipped = 0;
    on_progress(progress.clone());
    let started = Instant::now();
    let mut already = 0.0;
    let mut tasks = tokio::task::JoinSet::new();
    let mut known = res.clone();
    known.account_id = Some(bucket.owner().to_string());
    let shared = Arc::new((ctx.clone(), known));
    let mut queue: VecDeque<(ObjectInfo, PathBuf)> = objects.into();
    let mut busy: HashSet<String> = HashSet::new();
    let fold = |p: &Path| p.to_string_lossy().to_lowercase();
    loop {
        while tasks.len() < PARALLEL {
            let Some(i) = queue.iter().position(|(_, t)| !busy.contains(&fold(t))) else {
                break;
            };
            let Some((obj, target)) = queue.remove(i) else {
                break;
            };
            busy.insert(fold(&target));
            let shared = shared.clone();
            tasks.spawn(async move {
                let (ctx, res) = shared.as_ref();
                let bucket = RunBucket::for_run(ctx, res).await?;
                let fetched = download::fetch(&bucket, &obj, &target).await;
                fetched.map(|f| (f, obj.size, target))
            });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let (fetched, size, target) =
            done.map_err(|e| PipelineError::State(format!("a download stopped: {e}")))??;
        busy.remove(&fold(&target));
        if fetched == Fetched::AlreadyThere {
            skipped += 1;
            already += size as f64;
        }
        progress.files_done += 1;
        progress.bytes_done += size as f64;
        let secs = started.elapsed().as_secs_f64();
        let speed = (progress.bytes_done - already) / secs.max(0.001);
        progress.seconds_left = (secs > 0.5 && speed > 0.0)
            .then(|| (progress.bytes_total - progress.bytes_done) / speed);
        on_progress(progress.clone());
    }
    Ok(DownloadReport {
        folder: dir.display().to_string(),
        files: progress.files_done,
        skipped,
        bytes: progress.bytes_total,
        executed_notebook: None,
    })
}

/// A key's path under the folder: plain names only (no `..`, no absolute
/// path), and never a name a partial download takes.
fn safe_relative(key: &str) -> Option<PathBuf> {
    let path = Path::new(key);
    let ok = !key.is_empty()
        && !key.ends_with('/')
        && !key.ends_with(PART_SUFFIX)
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_folder() {
        assert_eq!(
            safe_relative("model.json"),
            Some(PathBuf::from("model.json"))
        );
        assert_eq!(
            safe_relative("_logs/train.log"),
            Some(PathBuf::from("_logs/train.log"))
        );
        for bad in [
            "",
            "../etc/passwd",
            "/abs",
            "a/../../b",
            "dir/",
            "model.pt.easytdv-part",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }
}
