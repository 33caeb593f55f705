use std::path::PathBuf;

use crate::explain::Explain;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    #[error("the data source is empty")]
    Empty,
    #[error("{url} is not an S3 location: {why}")]
    BadS3Url { url: String, why: &'static str },
    #[error("the data folder {0} does not exist")]
    NoFolder(PathBuf),
    #[error("{0} is not a folder")]
    NotAFolder(PathBuf),
    #[error("the data folder {0} holds no file")]
    EmptyFolder(PathBuf),
    #[error("{url} holds no file")]
    EmptyPrefix { url: String },
    #[error("{url} holds more than {max} files")]
    TooManyFiles { url: String, max: usize },
    #[error("{key} in {url} is archived ({class}): it cannot be read until it is restored")]
    Archived {
        url: String,
        key: String,
        class: String,
    },
    #[error("the bucket {bucket} does not exist")]
    NoBucket { bucket: String },
    #[error("easyTDV cannot read {url} with this account's keys, or the bucket belongs to another AWS account ({message})")]
    NotReadable { url: String, message: String },
    #[error("the bucket {bucket} is in {bucket_region}, not in {region} where the run is")]
    OtherRegion {
        bucket: String,
        bucket_region: String,
        region: String,
    },
    #[error("a SageMaker training job cannot read {url}: it reads an S3 location only under easytdv/ in a bucket of this account, and not easyTDV's own folders (blobs, cache, runs other than a run's outputs)")]
    NotForSageMaker { url: String },
    #[error("could not reach S3 to read {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("could not list {url}: {message}")]
    Aws { url: String, message: String },
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
}

impl Explain for DataError {
    fn code(&self) -> &'static str {
        match self {
            DataError::Empty => "data_empty",
            DataError::BadS3Url { .. } => "data_bad_s3_url",
            DataError::NoFolder(_) => "data_no_folder",
            DataError::NotAFolder(_) => "data_not_a_folder",
            DataError::EmptyFolder(_) => "data_empty_folder",
            DataError::EmptyPrefix { .. } => "data_empty_prefix",
            DataError::TooManyFiles { .. } => "data_too_many_files",
            DataError::Archived { .. } => "data_archived",
            DataError::NoBucket { .. } => "data_no_bucket",
            DataError::NotReadable { .. } => "data_not_readable",
            DataError::OtherRegion { .. } => "data_other_region",
            DataError::NotForSageMaker { .. } => "data_not_for_sagemaker",
            DataError::Unreachable { .. } => "data_unreachable",
            DataError::Aws { .. } => "data_aws",
            DataError::Project(e) => e.code(),
        }
    }

    fn hint(&self) -> Option<String> {
        if let DataError::Project(e) = self {
            return e.hint();
        }
        Some(
            match self {
                DataError::Empty | DataError::NoFolder(_) | DataError::NotAFolder(_) => {
                    "Choose the folder that holds your dataset, or give an S3 location such as s3://my-bucket/datasets/points/."
                }
                DataError::BadS3Url { .. } => "Write it as s3://bucket-name/path/to/folder/ (copy it from the S3 console's \"Copy S3 URI\").",
                DataError::EmptyFolder(_) | DataError::EmptyPrefix { .. } => {
                    "Check the location: the run would find nothing in DATA_DIR."
                }
                DataError::TooManyFiles { .. } => {
                    "Pack small files into a few archives (tar, zip, Parquet shards) and read those."
                }
                DataError::Archived { .. } => "Restore the objects (S3 console: Actions > Initiate restore), or copy them to the Standard storage class, then launch again.",
                DataError::NoBucket { .. } => "Check the bucket's name (S3 console: \"Copy S3 URI\").",
                DataError::NotReadable { .. } => {
                    "Give the easyTDV identity read access to it (s3:ListBucket on the bucket, s3:GetObject on the objects, and kms:Decrypt on the bucket's key when it uses one of yours), or copy the data to a bucket of this account."
                }
                DataError::OtherRegion { .. } => {
                    "Run in the bucket's region (Machine step), or copy the data to a bucket in the run's region: reading across regions is slow and billed per GB."
                }
                DataError::NotForSageMaker { .. } => {
                    "The job's role is capped by the easytdv-boundary permissions boundary, which lets run roles read only easyTDV's own files: copy the data under s3://<bucket>/easytdv/<folder>/ (e.g. aws s3 sync), choose it as a local folder, or choose \"One machine (EC2)\", which reads any location your keys may read."
                }
                DataError::Unreachable { .. } => "Check the internet connection and try again.",
                DataError::Aws { .. } => "Try again; if it keeps failing, check the location in the S3 console.",
                DataError::Project(_) => "",
            }
            .to_string(),
        )
    }
}
