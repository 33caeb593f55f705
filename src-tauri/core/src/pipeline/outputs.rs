//! Getting the results home: copies a run's outputs from S3 into a folder,
//! several files at once, with progress; files already complete (same size,
//! and same MD5 where S3's entity tag is one) are skipped, so an
//! interrupted download resumes where it stopped.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use md5::{Digest, Md5};
use serde::Serialize;

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
}

pub type OnProgress = dyn Fn(DownloadProgress) + Send + Sync;

/// Downloads every object under the run's `outputs/` into `dir` (keeping
/// sub-folders). Keys that would escape `dir` (`..`, absolute) are skipped.
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
        .filter_map(|o| {
            let rel = safe_relative(&o.key[prefix.len()..])?;
            Some((o, dir.join(rel)))
        })
        .collect();
    let mut progress = DownloadProgress {
        files_total: objects.len() as u32,
        bytes_total: objects.iter().map(|(o, _)| o.size as f64).sum(),
        ..Default::default()
    };
    let mut todo = Vec::new();
    let mut skipped = 0;
    for (obj, target) in objects {
        if is_complete(&obj, &target) {
            skipped += 1;
            progress.files_done += 1;
            progress.bytes_done += obj.size as f64;
        } else {
            todo.push((obj, target));
        }
    }
    on_progress(progress.clone());
    let started = Instant::now();
    let already = progress.bytes_done;
    let mut tasks = tokio::task::JoinSet::new();
    let mut known = res.clone();
    known.account_id = Some(bucket.owner().to_string());
    let shared = Arc::new((ctx.clone(), known));
    let mut queue = todo.into_iter();
    loop {
        while tasks.len() < PARALLEL {
            let Some((obj, target)) = queue.next() else {
                break;
            };
            let shared = shared.clone();
            tasks.spawn(async move {
                let (ctx, res) = shared.as_ref();
                let bucket = RunBucket::for_run(ctx, res).await?;
                fetch(&bucket, &obj, &target).await.map(|()| obj.size)
            });
        }
        let Some(done) = tasks.join_next().await else {
            break;
        };
        let size = done.map_err(|e| PipelineError::State(format!("a download stopped: {e}")))??;
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
    })
}

async fn fetch(
    bucket: &RunBucket<'_>,
    obj: &ObjectInfo,
    target: &Path,
) -> Result<(), PipelineError> {
    bucket.download_to(&obj.key, target).await.map(|_| ())
}

/// The local file is the object already: same size, and the same MD5 when
/// the entity tag is one (single-part uploads; multipart tags have a `-`).
fn is_complete(obj: &ObjectInfo, target: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(target) else {
        return false;
    };
    if meta.len() != obj.size {
        return false;
    }
    if obj.etag.len() != 32 || obj.etag.contains('-') {
        return true;
    }
    md5_hex(target).is_some_and(|h| h == obj.etag)
}

fn md5_hex(path: &Path) -> Option<String> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Md5::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Some(
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

fn safe_relative(key: &str) -> Option<PathBuf> {
    let path = Path::new(key);
    let ok = !key.is_empty()
        && !key.ends_with('/')
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
        for bad in ["", "../etc/passwd", "/abs", "a/../../b", "dir/"] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_complete_file_is_recognised_by_size_and_md5() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("m.bin");
        std::fs::write(&f, b"hello").unwrap();
        let obj = |size, etag: &str| ObjectInfo {
            key: "k".into(),
            size,
            etag: etag.into(),
        };
        assert!(is_complete(&obj(5, "5d41402abc4b2a76b9719d911017c592"), &f));
        assert!(!is_complete(
            &obj(5, "00000000000000000000000000000000"),
            &f
        ));
        assert!(!is_complete(
            &obj(6, "5d41402abc4b2a76b9719d911017c592"),
            &f
        ));
        assert!(is_complete(&obj(5, "abc-2"), &f));
        assert!(!is_complete(&obj(5, "x"), &dir.path().join("missing")));
    }
}
