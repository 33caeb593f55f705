//! A SageMaker run's data: the job's `data` input channel (File mode, each
//! machine a full copy), which SageMaker downloads into
//! `/opt/ml/input/data/data` before the script starts (`SM_CHANNEL_DATA`);
//! the job's Environment names it `DATA_DIR` too, as on EC2.
//!
//! - A folder on this computer: its files go up as blobs exactly as for EC2
//!   (`easytdv/blobs/<sha256>`, only what the bucket lacks), and the channel
//!   is a SageMaker manifest file (`<run>/data.manifest`: the blobs' prefix,
//!   then each needed blob's name once). SageMaker downloads each blob under
//!   its name; the launcher (`templates/sagemaker/easytdv_data.py`) then
//!   rebuilds the folder from `easytdv-data.json` (path, SHA-256, size, mode),
//!   shipped in `sourcedir.tar.gz` beside it, each file's SHA-256 checked.
//! - An S3 location: an `S3Prefix` channel read in place with the job's
//!   role, which the stack lets read exactly that prefix (`DataBucket`,
//!   `DataPrefix`). The permissions boundary caps every run role to
//!   `easytdv/` of the account's buckets, so only such a location can be a
//!   SageMaker job's data (`data_source::sagemaker_may_read`).

use aws_sdk_sagemaker::types::{
    Channel, DataSource as ChannelSource, S3DataDistribution, S3DataSource, S3DataType,
    TrainingInputMode,
};
use serde::Serialize;

use crate::data_source::{self, DataError, DataSource};
use crate::pipeline::error::PipelineError;
use crate::pipeline::train::Train;
use crate::project::{manifest::Manifest, BLOB_PREFIX};

/// The channel's name: `SM_CHANNEL_DATA`, `/opt/ml/input/data/data`.
pub const CHANNEL: &str = "data";
/// Where SageMaker puts the channel (`DATA_DIR` in the job's Environment).
pub const CHANNEL_DIR: &str = "/opt/ml/input/data/data";
/// The SageMaker manifest of a data folder, under the run's prefix.
pub const MANIFEST_NAME: &str = "data.manifest";
/// The data folder's files for the launcher, in `sourcedir.tar.gz`.
pub const FOLDER_FILE: &str = "easytdv-data.json";
/// The launcher's data part, beside it in `sourcedir.tar.gz`.
pub const HELPER: &str = "easytdv_data.py";

/// The job's data channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobData {
    /// The manifest file (a folder) or the prefix (an S3 location).
    pub s3_uri: String,
    pub manifest: bool,
}

impl JobData {
    pub fn channel(&self) -> Channel {
        let source = S3DataSource::builder()
            .s3_data_type(if self.manifest {
                S3DataType::ManifestFile
            } else {
                S3DataType::S3Prefix
            })
            .s3_uri(&self.s3_uri)
            .s3_data_distribution_type(S3DataDistribution::FullyReplicated)
            .build();
        Channel::builder()
            .channel_name(CHANNEL)
            .data_source(ChannelSource::builder().s3_data_source(source).build())
            .input_mode(TrainingInputMode::File)
            .build()
    }
}

/// The SageMaker manifest of a hashed folder: the blobs' prefix, then each
/// blob's name once (a file at two paths is downloaded once).
pub fn channel_manifest(bucket: &str, folder: &Manifest) -> Vec<u8> {
    let mut names: Vec<&str> = folder.files.iter().map(|f| f.sha256.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut items = vec![serde_json::json!({ "prefix": format!("s3://{bucket}/{BLOB_PREFIX}/") })];
    items.extend(names.into_iter().map(serde_json::Value::from));
    serde_json::to_vec(&items).unwrap_or_default()
}

#[derive(Serialize)]
struct FolderFile<'a> {
    path: &'a str,
    sha256: &'a str,
    size: u64,
    mode: u32,
}

#[derive(Serialize)]
struct FolderManifest<'a> {
    format: u32,
    /// The folder's place in the project (`data`), linked to the channel.
    link: Option<&'a str>,
    files: Vec<FolderFile<'a>>,
}

/// `easytdv-data.json`: what the launcher rebuilds in the channel.
pub fn folder_file(folder: &Manifest, link: Option<&str>) -> Vec<u8> {
    let body = FolderManifest {
        format: 1,
        link,
        files: folder
            .files
            .iter()
            .map(|f| FolderFile {
                path: &f.path,
                sha256: &f.sha256,
                size: f.size,
                mode: f.mode,
            })
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

impl Train {
    /// The job's data channel, if the run has data.
    pub(super) fn job_data(&self) -> Result<Option<JobData>, PipelineError> {
        Ok(match &self.request.data {
            None => None,
            Some(DataSource::Folder { .. }) => Some(JobData {
                s3_uri: format!("s3://{}/{}", self.resources.bucket, self.key(MANIFEST_NAME)),
                manifest: true,
            }),
            Some(DataSource::S3 { url }) => Some(JobData {
                s3_uri: readable(url)?.url(),
                manifest: false,
            }),
        })
    }

    /// What the job's role may read of the data (the stack's `DataBucket`
    /// and `DataPrefix`): the blobs for a folder, the location itself, and
    /// without data the run's own prefix (which it reads anyway).
    pub(super) fn data_grant(&self) -> Result<(String, String), PipelineError> {
        Ok(match &self.request.data {
            None => (
                self.resources.bucket.clone(),
                format!("{}/", self.resources.prefix),
            ),
            Some(DataSource::Folder { .. }) => {
                (self.resources.bucket.clone(), format!("{BLOB_PREFIX}/"))
            }
            Some(DataSource::S3 { url }) => {
                let location = readable(url)?;
                (location.bucket, location.prefix)
            }
        })
    }

    /// Sends the data before the job: a folder's new blobs and its channel
    /// manifest; an S3 location checked (region, owner, readable, archived).
    pub(super) async fn send_job_data(
        &mut self,
        notice: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), PipelineError> {
        match self.request.data.clone() {
            None => Ok(()),
            Some(DataSource::Folder { path }) => {
                let (manifest, link, built) = self.send_data_folder(&path, notice).await?;
                let built = built
                    .ok_or_else(|| PipelineError::State("the data folder was not hashed".into()))?;
                let key = self.key(MANIFEST_NAME);
                if !self.resources.uploaded_keys.contains(&key) {
                    self.resources.uploaded_keys.push(key.clone());
                    self.save()?;
                }
                let body = channel_manifest(&self.resources.bucket, &built);
                self.bucket()?.put(&key, body).await?;
                self.record_data_folder(&manifest, link, built);
                Ok(())
            }
            Some(DataSource::S3 { url }) => {
                let location = readable(&url)?;
                let account = self.resources.account_id.clone().unwrap_or_default();
                let listing =
                    data_source::s3::list(&self.ctx, &account, self.ctx.region(), &location)
                        .await?;
                notice(format!(
                    "Data: {} ({}) in {}, read in place by the training job",
                    crate::project::words::files(listing.objects.len()),
                    crate::project::words::bytes(listing.total_bytes()),
                    location.url()
                ));
                Ok(())
            }
        }
    }

    /// The launcher's data files: `easytdv-data.json` when the run's data is
    /// a folder (sent before, see [`Self::send_job_data`]).
    pub(super) fn data_folder_files(&self) -> Result<Option<Vec<u8>>, PipelineError> {
        if !matches!(self.request.data, Some(DataSource::Folder { .. })) {
            return Ok(None);
        }
        let (folder, link) = self.data_folder_sent().ok_or_else(|| {
            PipelineError::State("the data folder must be sent before the job's code".into())
        })?;
        Ok(Some(folder_file(folder, link)))
    }
}

/// An S3 location a SageMaker job may read, checked again (the request may
/// come from a recorded run).
fn readable(url: &str) -> Result<data_source::S3Location, PipelineError> {
    let location = data_source::parse_s3(url)?;
    if !data_source::sagemaker_may_read(&location) {
        return Err(DataError::NotForSageMaker {
            url: location.url(),
        }
        .into());
    }
    Ok(location)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::manifest::ManifestFile;

    fn folder() -> Manifest {
        let file = |path: &str, sha: char, mode: u32| ManifestFile {
            path: path.into(),
            sha256: sha.to_string().repeat(64),
            size: 3,
            mode,
        };
        Manifest {
            format: 1,
            entry: String::new(),
            files: vec![
                file("a.csv", 'b', 0o644),
                file("copy/a.csv", 'b', 0o644),
                file(&"a".repeat(64), 'c', 0o755),
            ],
        }
    }

    #[test]
    fn a_folder_is_a_manifest_channel_of_its_blobs_each_named_once() {
        let body: serde_json::Value =
            serde_json::from_slice(&channel_manifest("easytdv-b", &folder())).unwrap();
        assert_eq!(
            body,
            serde_json::json!([
                {"prefix": "s3://easytdv-b/easytdv/blobs/"},
                "b".repeat(64),
                "c".repeat(64),
            ])
        );
        let launcher: serde_json::Value =
            serde_json::from_slice(&folder_file(&folder(), Some("data"))).unwrap();
        assert_eq!(launcher["format"], 1);
        assert_eq!(launcher["link"], "data");
        assert_eq!(launcher["files"].as_array().unwrap().len(), 3);
        assert_eq!(launcher["files"][2]["mode"], 0o755);
    }

    #[test]
    fn the_channel_is_file_mode_fully_replicated() {
        let channel = JobData {
            s3_uri: "s3://b/easytdv/runs/r/data.manifest".into(),
            manifest: true,
        }
        .channel();
        assert_eq!(channel.channel_name(), Some("data"));
        assert_eq!(channel.input_mode(), Some(&TrainingInputMode::File));
        let s3 = channel.data_source().unwrap().s3_data_source().unwrap();
        assert_eq!(s3.s3_data_type(), Some(&S3DataType::ManifestFile));
        assert_eq!(
            s3.s3_data_distribution_type(),
            Some(&S3DataDistribution::FullyReplicated)
        );
        let prefix = JobData {
            s3_uri: "s3://lake/easytdv/points/".into(),
            manifest: false,
        }
        .channel();
        assert_eq!(
            prefix
                .data_source()
                .unwrap()
                .s3_data_source()
                .unwrap()
                .s3_data_type(),
            Some(&S3DataType::S3Prefix)
        );
        assert!(readable("s3://lake/points/").is_err());
        assert_eq!(
            readable("s3://lake/easytdv/points").unwrap().url(),
            "s3://lake/easytdv/points/"
        );
    }
}
