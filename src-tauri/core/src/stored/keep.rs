//! Which files of a bucket a run in progress still needs: every blob its
//! project manifest (`<run>/project.json`) and data manifest
//! (`<run>/data.json`) name; for a SageMaker run, whose project travels as
//! `sourcedir.tar.gz`, the blobs its data channel's manifest
//! (`<run>/data.manifest`) names. "In progress" is the history's own rule
//! ([`crate::history::History::with_live_resources`]: the run's resources
//! were not deleted yet, so it may still start a machine, retry or read
//! them); whichever account or process (app or CLI) recorded it.

use std::collections::HashSet;

use super::StoredError;
use crate::data_source::{self, DataManifest, DataSource};
use crate::history::{Cleanup, Outcome, RunRecord};
use crate::pipeline::storage::RunBucket;
use crate::project::{blob_key, manifest::Manifest, MANIFEST_NAME};

/// The blob keys (`easytdv/blobs/<sha256>`) the runs of `history` still in
/// progress in this bucket and region name. A run still preparing whose
/// manifests are not all written yet is refused ([`StoredError::RunSending`]):
/// the files it is sending cannot be told apart from the others.
pub async fn needed_blobs(
    bucket: &RunBucket<'_>,
    region: &str,
    history: &[RunRecord],
) -> Result<HashSet<String>, StoredError> {
    let mut keep = HashSet::new();
    let runs = history.iter().filter(|r| {
        r.cleanup != Cleanup::Deleted
            && r.resources.bucket == bucket.name()
            && r.resources.region == region
            && !r.resources.prefix.is_empty()
    });
    for run in runs {
        let prefix = &run.resources.prefix;
        let sending = || StoredError::RunSending {
            run_id: run.run_id.clone(),
            bucket: bucket.name().to_string(),
        };
        if on_sagemaker(run) {
            // Its project travels as sourcedir.tar.gz; a data folder's blobs
            // are named by the channel's manifest.
            let key = format!(
                "{prefix}/{}",
                crate::pipeline::sagemaker::DATA_CHANNEL_MANIFEST
            );
            match bucket.get(&key).await? {
                Some(body) => {
                    keep.extend(channel_blobs(&body).map_err(|e| unreadable(run, &key, e))?)
                }
                None if run.outcome == Outcome::Running && sends_a_folder(run) => {
                    return Err(sending())
                }
                None => {}
            }
            continue;
        }
        let project_key = format!("{prefix}/{MANIFEST_NAME}");
        match bucket.get(&project_key).await? {
            Some(body) => {
                let manifest =
                    Manifest::parse(&body).map_err(|e| unreadable(run, &project_key, e))?;
                keep.extend(manifest.files.iter().map(|f| blob_key(&f.sha256)));
            }
            None if run.outcome == Outcome::Running => return Err(sending()),
            None => {}
        }
        let data_key = format!("{prefix}/{}", data_source::MANIFEST_NAME);
        match bucket.get(&data_key).await? {
            Some(body) => {
                let manifest: DataManifest =
                    serde_json::from_slice(&body).map_err(|e| unreadable(run, &data_key, e))?;
                keep.extend(
                    manifest
                        .files
                        .iter()
                        .filter_map(|f| f.sha256.as_deref())
                        .map(blob_key),
                );
            }
            None if run.outcome == Outcome::Running && sends_a_folder(run) => return Err(sending()),
            None => {}
        }
    }
    Ok(keep)
}

fn on_sagemaker(run: &RunRecord) -> bool {
    run.request
        .as_ref()
        .is_some_and(|r| r.engine.is_sagemaker())
}

/// The blob keys a SageMaker channel manifest names: `[{"prefix": …}, "<sha256>", …]`.
fn channel_blobs(body: &[u8]) -> Result<Vec<String>, String> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let names = items.iter().skip(1).map(|v| {
        v.as_str()
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(blob_key)
            .ok_or_else(|| format!("{v} is not a blob's name"))
    });
    names.collect()
}

fn sends_a_folder(run: &RunRecord) -> bool {
    matches!(
        run.request.as_ref().and_then(|r| r.data.as_ref()),
        Some(DataSource::Folder { .. })
    )
}

fn unreadable(run: &RunRecord, key: &str, e: impl std::fmt::Display) -> StoredError {
    StoredError::UnreadableManifest {
        run_id: run.run_id.clone(),
        key: key.to_string(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::channel_blobs;

    #[test]
    fn a_channel_manifest_names_its_blobs() {
        let sha = "ab".repeat(32);
        let body = format!(r#"[{{"prefix": "s3://b/easytdv/blobs/"}}, "{sha}"]"#);
        assert_eq!(
            channel_blobs(body.as_bytes()).unwrap(),
            [format!("easytdv/blobs/{sha}")]
        );
        assert!(channel_blobs(br#"[{"prefix": "s3://b/x/"}, "../other"]"#).is_err());
        assert!(channel_blobs(b"not json").is_err());
    }
}
