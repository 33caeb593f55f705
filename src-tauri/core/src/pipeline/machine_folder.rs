//! A machine's own folder on the base, `easytdv/m/<aws:userid>/<run>/`: the
//! run's inputs copied in before each command, and what the machine wrote
//! in its `outputs/` brought to the run's own `outputs/`. Every copy is
//! checked against its source (`RunBucket::copy`).

use super::error::PipelineError;
use super::storage::RunBucket;

/// Copies the run's inputs — every object the app put under `run_prefix/`
/// but the run's outputs and its stop marker — into the machine's own folder,
/// the only place its role reads a run's files from. Returns the keys written.
pub async fn send_inputs(
    bucket: &RunBucket<'_>,
    run_prefix: &str,
    folder: &str,
) -> Result<Vec<String>, PipelineError> {
    let from = format!("{}/", run_prefix.trim_end_matches('/'));
    let mut written = Vec::new();
    for object in bucket.list(&from).await? {
        let name = &object.key[from.len()..];
        if name.is_empty() || name.starts_with("outputs/") || name == "stop" {
            continue;
        }
        let to = format!("{}/{name}", folder.trim_end_matches('/'));
        bucket.copy(&object.key, &to).await?;
        written.push(to);
    }
    Ok(written)
}

/// Copies what a machine of the base wrote in its folder's `outputs/` (its
/// outputs and logs) to the run's own `outputs/`, where the app keeps and
/// shows them; an object already there with the same size and entity tag is
/// left. Returns how many were copied.
pub async fn bring_outputs(
    bucket: &RunBucket<'_>,
    folder: &str,
    run_prefix: &str,
) -> Result<usize, PipelineError> {
    let from = format!("{}/outputs/", folder.trim_end_matches('/'));
    let to = format!("{}/outputs/", run_prefix.trim_end_matches('/'));
    let there: std::collections::HashMap<String, (u64, String)> = bucket
        .list(&to)
        .await?
        .into_iter()
        .map(|o| (o.key[to.len()..].to_string(), (o.size, o.etag)))
        .collect();
    let mut copied = 0;
    for object in bucket.list(&from).await? {
        let name = &object.key[from.len()..];
        if there.get(name) == Some(&(object.size, object.etag.clone())) {
            continue;
        }
        bucket.copy(&object.key, &format!("{to}{name}")).await?;
        copied += 1;
    }
    Ok(copied)
}

/// Copies the checkpoints an earlier machine of the run saved when AWS took
/// it back (`<run>/outputs/checkpoints/`, brought there with its outputs)
/// into this machine's folder (`checkpoints/`), where it restores them from.
/// Returns how many files there are.
pub async fn send_checkpoints(
    bucket: &RunBucket<'_>,
    run_prefix: &str,
    folder: &str,
) -> Result<usize, PipelineError> {
    let from = format!("{}/outputs/checkpoints/", run_prefix.trim_end_matches('/'));
    let to = format!("{}/checkpoints/", folder.trim_end_matches('/'));
    let mut sent = 0;
    for object in bucket.list(&from).await? {
        let name = &object.key[from.len()..];
        if name.is_empty() {
            continue;
        }
        bucket.copy(&object.key, &format!("{to}{name}")).await?;
        sent += 1;
    }
    Ok(sent)
}
