//! Which files of a bucket a run in progress still needs: every blob its
//! project manifest (`<run>/project.json`) and data manifest
//! (`<run>/data.json`) name. "In progress" is the history's own rule
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
