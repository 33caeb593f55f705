//! What is wrong with an input, and what to do about it.

use std::path::PathBuf;

use super::{FileKind, MAX_DISK_GB, MAX_RUNTIME_HOURS, MAX_TRAINING_MACHINES, MIN_DISK_GB};
use crate::explain::Explain;
use crate::pipeline::notebook::NotebookError;

#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum InputError {
    #[error("{} not found: {}", .kind.field(), .path.display())]
    Missing { kind: FileKind, path: PathBuf },
    #[error("{} is not a file: {}", .kind.field(), .path.display())]
    NotAFile { kind: FileKind, path: PathBuf },
    #[error("{} cannot be read: {}", .kind.field(), .path.display())]
    Unreadable { kind: FileKind, path: PathBuf },
    #[error("{} is empty: {}", .kind.field(), .path.display())]
    Empty { kind: FileKind, path: PathBuf },
    #[error("{} is too large ({size} bytes, at most {max})", .kind.field())]
    TooLarge { kind: FileKind, size: u64, max: u64 },
    #[error("{} is not UTF-8 text: {}", .kind.field(), .path.display())]
    NotText { kind: FileKind, path: PathBuf },
    #[error("training script should be a .py file or a .ipynb notebook: {}", .0.display())]
    NotPython(PathBuf),
    #[error(transparent)]
    Notebook(#[from] NotebookError),
    #[error("requirements file line {line} is not a package requirement: \"{text}\"")]
    BadRequirement { line: usize, text: String },
    #[error("bucket name \"{name}\" is not valid: {reason}")]
    BadBucket { name: String, reason: &'static str },
    #[error("region \"{0}\" is not an AWS region")]
    BadRegion(String),
    #[error("machine type \"{0}\" is not a valid EC2 instance type")]
    BadInstanceType(String),
    #[error("disk size {0} GiB is out of range ({MIN_DISK_GB}–{MAX_DISK_GB} GiB)")]
    BadDiskSize(u32),
    #[error("image id \"{0}\" is not an AMI id")]
    BadAmi(String),
    #[error("maximum run time {0} h is out of range (1–{MAX_RUNTIME_HOURS} h)")]
    BadMaxRuntime(u32),
    #[error("machine type \"{0}\" is not a SageMaker training type (ml.…)")]
    BadTrainingType(String),
    #[error("{0} machines is out of range for a training job (1–{MAX_TRAINING_MACHINES})")]
    BadInstanceCount(u32),
    #[error("a SageMaker training job runs in AWS's PyTorch container: an image id is not used")]
    ImageNotUsed,
    #[error("a machine may be kept warm for 1 to {max} minutes, not {0}", max = crate::warm::MAX_KEEP_WARM_MIN)]
    BadKeepWarm(u32),
    #[error("a SageMaker training job cannot keep its machine warm: SageMaker stops it at the job's end")]
    KeepWarmNotOnSageMaker,
    #[error(
        "spot for a SageMaker training job is its engine's own option, not the one-machine spot"
    )]
    SpotNotForTrainingJob,
    #[error(
        "SageMaker runs are not offered in {0}: AWS publishes no PyTorch training container there"
    )]
    NoSageMakerInRegion(String),
    #[error(transparent)]
    Args(#[from] crate::pipeline::run_args::ArgsError),
    #[error(transparent)]
    Secret(#[from] crate::secrets::SecretError),
}

impl Explain for InputError {
    fn code(&self) -> &'static str {
        match self {
            InputError::Missing { .. } => "file_missing",
            InputError::NotAFile { .. } => "file_not_a_file",
            InputError::Unreadable { .. } => "file_unreadable",
            InputError::Empty { .. } => "file_empty",
            InputError::TooLarge { .. } => "file_too_large",
            InputError::NotText { .. } => "file_not_text",
            InputError::NotPython(_) => "script_not_python",
            InputError::Notebook(e) => e.code(),
            InputError::BadRequirement { .. } => "bad_requirement",
            InputError::BadBucket { .. } => "bad_bucket",
            InputError::BadRegion(_) => "bad_region",
            InputError::BadInstanceType(_) => "bad_instance_type",
            InputError::BadDiskSize(_) => "bad_disk_size",
            InputError::BadAmi(_) => "bad_ami",
            InputError::BadMaxRuntime(_) => "bad_max_runtime",
            InputError::BadTrainingType(_) => "bad_training_type",
            InputError::BadInstanceCount(_) => "bad_instance_count",
            InputError::ImageNotUsed => "image_not_used",
            InputError::NoSageMakerInRegion(_) => "no_sagemaker_in_region",
            InputError::BadKeepWarm(_) => "bad_keep_warm",
            InputError::KeepWarmNotOnSageMaker => "keep_warm_not_on_sagemaker",
            InputError::SpotNotForTrainingJob => "spot_not_for_training_job",
            InputError::Args(e) => e.code(),
            InputError::Secret(e) => e.code(),
        }
    }

    fn hint(&self) -> Option<String> {
        if let InputError::Notebook(e) = self {
            return e.hint();
        }
        if let InputError::Args(e) = self {
            return e.hint();
        }
        if let InputError::Secret(e) = self {
            return e.hint();
        }

        Some(
            match self {
                InputError::Missing { .. } | InputError::NotAFile { .. } => "Choose the file again with the file picker.",
                InputError::Unreadable { .. } => "Check the file's permissions, or copy it somewhere you own.",
                InputError::Empty { kind: FileKind::Script, .. } => "Pick the Python file that trains your model.",
                InputError::Empty { kind: FileKind::Requirements, .. } => {
                    "List one package per line (for example: scikit-learn==1.5.2), or a comment line if you need none."
                }
                InputError::TooLarge { .. } => {
                    "Keep data out of the code files: load it from S3 or download it inside train.py."
                }
                InputError::NotText { .. } => "Save the file as UTF-8 text.",
                InputError::NotPython(_) => "Pick the .py file (or the Jupyter notebook) that trains your model.",
                InputError::Notebook(_) => "",
                InputError::BadRequirement { .. } => {
                    "Use pip's format, one package per line, e.g. numpy==2.1.0 or pandas>=2."
                }
                InputError::BadBucket { .. } => {
                    "Use 3–63 lowercase letters, digits, dots or hyphens, starting and ending with a letter or digit."
                }
                InputError::BadRegion(_) => "Pick a region from the list, e.g. eu-west-3 for Europe (Paris).",
                InputError::BadInstanceType(_) => "Pick a machine type from the list, e.g. t3.medium.",
                InputError::BadDiskSize(_) => "Choose a disk size between 8 and 16384 GiB; 30 GiB suits most trainings.",
                InputError::BadAmi(_) => "Leave the image on \"Automatic\", or enter an id like ami-0123456789abcdef0.",
                InputError::BadMaxRuntime(_) => "Choose between 1 and 48 hours (AWS runs a command for at most 48 hours).",
                InputError::BadTrainingType(_) => "Pick a SageMaker machine type from the list, e.g. ml.m5.large or ml.g5.xlarge.",
                InputError::BadInstanceCount(_) => "Choose between 1 and 16 machines; 1 suits most trainings.",
                InputError::ImageNotUsed => "Leave the image on \"Automatic\" for SageMaker runs, or choose \"One machine (EC2)\" to use your own image.",
                InputError::BadKeepWarm(_) => "Keep it warm for 10, 30 or 60 minutes, or not at all.",
                InputError::KeepWarmNotOnSageMaker => "Choose \"One machine (EC2)\" to keep the machine warm between runs, or turn keeping it warm off.",
                InputError::SpotNotForTrainingJob => "Use the training job's own spot option (engine spot), or choose \"One machine (EC2)\".",
                InputError::Args(_) => "",
                InputError::NoSageMakerInRegion(_) => "Pick another region for a SageMaker run (the region list shows those offered), or choose \"One machine (EC2)\" in this region.",
                InputError::Secret(_) => "",
            }
            .to_string(),
        )
    }
}
