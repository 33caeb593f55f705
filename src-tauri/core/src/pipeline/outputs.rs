//! Getting the results home: copies a run's outputs from S3 into a folder.

use std::path::{Component, Path, PathBuf};

use super::error::{aws_error, PipelineError};
use super::model::RunResources;
use super::storage;
use crate::aws::AwsContext;

/// Downloads every object under the run's `outputs/` into `dir` (keeping
/// sub-folders); returns the files written. Keys that would escape `dir`
/// (`..`, absolute parts) are skipped.
pub async fn download_outputs(
    ctx: &AwsContext,
    res: &RunResources,
    dir: &Path,
) -> Result<Vec<PathBuf>, PipelineError> {
    let prefix = res.outputs_prefix();
    let keys = storage::list_keys(ctx, &res.bucket, &prefix).await?;
    let mut written = Vec::new();
    for key in keys {
        let Some(relative) = safe_relative(&key[prefix.len()..]) else {
            continue;
        };
        let target = dir.join(relative);
        let out = ctx
            .s3()
            .get_object()
            .bucket(&res.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| aws_error("download an output file", e))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|_| PipelineError::Network {
                op: "download an output file",
            })?;
        let write = |t: &Path| -> std::io::Result<()> {
            if let Some(parent) = t.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(t, bytes.into_bytes())
        };
        write(&target)
            .map_err(|e| PipelineError::State(format!("cannot write {}: {e}", target.display())))?;
        written.push(target);
    }
    Ok(written)
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
}
