//! Why the files kept in a bucket could not be listed or deleted.

use crate::explain::Explain;
use crate::history::HistoryError;
use crate::pipeline::PipelineError;
use crate::services::ServicesError;

#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    #[error(transparent)]
    Services(#[from] ServicesError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Data(#[from] crate::data_source::DataError),
    #[error("no run of this account used the bucket {bucket} in {region}: easyTDV deletes stored files only in its runs' buckets")]
    NotARunBucket { bucket: String, region: String },
    #[error("the run {run_id} is still sending its files to {bucket}: deleting now could remove files it is about to use")]
    RunSending { run_id: String, bucket: String },
    #[error("the list of files the run {run_id} uses ({key}) cannot be read, so easyTDV cannot tell which files it still needs: {reason}")]
    UnreadableManifest {
        run_id: String,
        key: String,
        reason: String,
    },
    #[error("{left} file(s) are still in {bucket} after being deleted")]
    NotDeleted { bucket: String, left: u32 },
}

impl Explain for StoredError {
    fn code(&self) -> &'static str {
        match self {
            StoredError::Services(e) => e.code(),
            StoredError::Pipeline(e) => e.code(),
            StoredError::History(e) => e.code(),
            StoredError::Data(e) => e.code(),
            StoredError::NotARunBucket { .. } => "stored_not_a_run_bucket",
            StoredError::RunSending { .. } => "stored_run_sending",
            StoredError::UnreadableManifest { .. } => "stored_unreadable_manifest",
            StoredError::NotDeleted { .. } => "stored_not_deleted",
        }
    }
    fn hint(&self) -> Option<String> {
        match self {
            StoredError::Services(e) => e.hint(),
            StoredError::Pipeline(e) => e.hint(),
            StoredError::History(e) => e.hint(),
            StoredError::Data(e) => e.hint(),
            StoredError::NotARunBucket { .. } => {
                Some("Reload the list of what is stored, then delete from it.".into())
            }
            StoredError::RunSending { .. } => Some(
                "Wait until the run's machine is starting (or delete the run), then delete the files again."
                    .into(),
            ),
            StoredError::UnreadableManifest { .. } => Some(
                "Delete that run (its clean-up removes the list), then delete the files again.".into(),
            ),
            StoredError::NotDeleted { .. } => Some(
                "Delete the files again; if they stay, check that your access key may delete objects under easytdv/ in this bucket.".into(),
            ),
        }
    }
}

impl StoredError {
    /// The person named something wrong or must wait (the CLI exits 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            StoredError::Pipeline(e) => e.is_bad_input(),
            StoredError::Data(_)
            | StoredError::NotARunBucket { .. }
            | StoredError::RunSending { .. } => true,
            _ => false,
        }
    }
}
