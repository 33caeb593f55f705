//! A run's data: a folder on this computer (sent like the project, file by
//! file into the content-addressed blobs, so a dataset goes up once for all
//! runs) or an existing `s3://bucket/prefix` (read in place).
//!
//! Either way the machine gets a data manifest under the run's prefix
//! (`data.json`, its SHA-256 in the machine's command) and downloads what it
//! lists into `$DATA_DIR` before the training, in parallel, each file
//! checked. An S3 source is listed with the person's own keys (its region and
//! owner checked before anything is created), and each object travels as a
//! presigned GET URL made with those keys: the run's machine role gets no
//! access to the person's buckets at all, so the permissions boundary stays
//! as tight as it is (see `templates/iam/easytdv-boundary.json`), and the
//! machine can read exactly the objects listed, for the run's lifetime.
//!
//! A SageMaker job gets its data as an input channel instead (see
//! `pipeline/sagemaker/data.rs`): a folder's blobs through a SageMaker
//! manifest file, or an S3 location read with the job's role, which the
//! boundary keeps under `easytdv/` ([`sagemaker_may_read`]).

mod error;
pub mod folder;
pub mod manifest;
pub mod s3;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use error::DataError;
pub use manifest::{DataFile, DataManifest};

/// Where a run's data comes from.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum DataSource {
    /// A folder on this computer (uploaded once per file content).
    Folder { path: PathBuf },
    /// An existing S3 location, `s3://bucket/prefix`, read in place.
    S3 { url: String },
}

/// `s3://bucket/prefix` split into its bucket and prefix (the prefix ends
/// with `/` unless it is empty: the whole bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub prefix: String,
}

impl S3Location {
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

impl DataSource {
    /// What the person typed or picked: `s3://…` is an S3 location, anything
    /// else a local folder.
    pub fn parse(text: &str) -> Result<Self, DataError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DataError::Empty);
        }
        if text.to_ascii_lowercase().starts_with("s3://") {
            // The scheme as people may type it (`S3://`); the rest as given.
            let location = parse_s3(&format!("s3://{}", &text[5..]))?;
            return Ok(DataSource::S3 {
                url: location.url(),
            });
        }
        Ok(DataSource::Folder {
            path: PathBuf::from(text),
        })
    }

    /// How it is shown: the folder's path or the S3 URL.
    pub fn label(&self) -> String {
        match self {
            DataSource::Folder { path } => path.display().to_string(),
            DataSource::S3 { url } => url.clone(),
        }
    }
}

/// Checks and splits an `s3://bucket/prefix` URL.
pub fn parse_s3(url: &str) -> Result<S3Location, DataError> {
    let bad = |why: &'static str| DataError::BadS3Url {
        url: url.chars().take(200).collect(),
        why,
    };
    let rest = url
        .strip_prefix("s3://")
        .ok_or(bad("it must start with s3://"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    crate::pipeline::check_bucket(bucket)
        .map_err(|_| bad("the bucket name is not a valid S3 bucket name"))?;
    if prefix.len() > 900 {
        return Err(bad("the path after the bucket is too long"));
    }
    if prefix.chars().any(|c| c.is_control()) {
        return Err(bad("the path holds a control character"));
    }
    let trimmed = prefix.trim_end_matches('/');
    if !trimmed.is_empty()
        && trimmed
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(bad("the path has an empty, '.' or '..' part"));
    }
    let prefix = if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    };
    Ok(S3Location {
        bucket: bucket.to_string(),
        prefix,
    })
}

/// A typed S3 location, checked and written the one way easyTDV reads it.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct S3LocationView {
    /// `s3://bucket/prefix/` (send it back as the run's data).
    pub url: String,
    pub bucket: String,
    /// The folder in the bucket (`""`: the whole bucket).
    pub prefix: String,
}

/// Checks what was typed as an S3 location (its shape only: the bucket's
/// region, owner and read access are checked at launch). A local path is
/// refused: a folder is chosen with the dialog, never typed.
pub fn check_s3_location(text: &str) -> Result<S3LocationView, DataError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DataError::Empty);
    }
    let location = parse_s3(text)?;
    Ok(S3LocationView {
        url: location.url(),
        bucket: location.bucket,
        prefix: location.prefix,
    })
}

/// The data's folder on the machine (`$DATA_DIR`), under easyTDV's home.
pub const MACHINE_DIR: &str = "data";
/// The data manifest's name under the run's prefix.
pub const MANIFEST_NAME: &str = "data.json";

/// The prefix a SageMaker job's role may read a location under: SageMaker
/// reads an input channel with the job's role, and every run role is capped
/// by the permissions boundary (`templates/iam/easytdv-boundary.json`) to
/// `easytdv/` of the account's buckets. (An EC2 run reads any location the
/// person's keys may read, through presigned URLs.)
pub const SAGEMAKER_READABLE: &str = "easytdv/";

/// Whether a SageMaker job's role may be given read access to `location`:
/// a folder under `easytdv/` (not `easytdv/` itself), whose name is made of
/// S3's safe characters only (it goes into the role's policy: no IAM
/// wildcard `*`/`?` or policy variable `${...}`); the stack's `DataPrefix`
/// pattern says the same.
pub fn sagemaker_may_read(location: &S3Location) -> bool {
    location
        .prefix
        .strip_prefix(SAGEMAKER_READABLE)
        .is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!-_.'()/ ".contains(&b))
                && !easytdvs_own(rest)
        })
}

/// easyTDV's own folders, which no job may read whole: every project's and
/// dataset's files (`blobs/`), every saved environment (`cache/`), and the
/// runs' inputs (`runs/`: their code, and data manifests whose presigned URLs
/// reach past the boundary). A run's outputs (`runs/<id>/outputs/`) may be
/// the next run's data.
fn easytdvs_own(rest: &str) -> bool {
    let first = rest.split('/').next().unwrap_or_default();
    match first {
        "blobs" | "cache" => true,
        "runs" => {
            let parts: Vec<&str> = rest.split('/').collect();
            !(parts.len() >= 3 && !parts[1].is_empty() && parts[2] == "outputs")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;

/// What can be checked of a data source before anything is made: an S3
/// URL's shape, a folder that is there; on SageMaker, an S3 location the
/// job's role may be given (see [`sagemaker_may_read`]).
pub fn check(data: &DataSource, engine: crate::pipeline::Engine) -> Result<(), DataError> {
    match data {
        DataSource::S3 { url } => {
            let location = parse_s3(url)?;
            if engine.is_sagemaker() && !sagemaker_may_read(&location) {
                return Err(DataError::NotForSageMaker {
                    url: location.url(),
                });
            }
            Ok(())
        }
        DataSource::Folder { path } => match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(DataError::NotAFolder(path.clone())),
            Err(_) => Err(DataError::NoFolder(path.clone())),
        },
    }
}
