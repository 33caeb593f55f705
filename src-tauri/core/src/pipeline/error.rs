//! Everything that can stop a run, each told in plain words with what to do.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::inputs::InputError;
use crate::explain::Explain;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error(transparent)]
    Input(#[from] InputError),

    #[error("AWS could not be reached while trying to {op}")]
    Network { op: &'static str },

    #[error("your AWS user is not allowed to {op}: {message}")]
    Denied { op: &'static str, message: String },

    #[error("AWS refused to {op}: {message} ({code})")]
    Aws {
        op: &'static str,
        code: String,
        message: String,
    },

    #[error("the bucket \"{bucket}\" is in {actual}, not in {expected}")]
    BucketOtherRegion {
        bucket: String,
        expected: String,
        actual: String,
    },

    #[error("the bucket name \"{0}\" is already taken by another AWS account")]
    BucketTaken(String),

    #[error("the region {0} has no default network (VPC)")]
    NoDefaultVpc(String),

    #[error("the machine type {instance_type} is not offered in {region}")]
    UnknownInstanceType {
        instance_type: String,
        region: String,
    },

    #[error("the disk must be at least {needed} GiB for this machine image (asked: {asked} GiB)")]
    DiskTooSmallForImage { needed: i32, asked: u32 },

    #[error("the machine image {0} was not found in this region")]
    UnknownImage(String),

    #[error("creating the cloud resources failed: {reason}")]
    StackFailed { reason: String },

    #[error("the launch function failed: {message}")]
    LaunchFailed { message: String },

    #[error("the machine {instance_id} stopped unexpectedly ({state})")]
    InstanceLost { instance_id: String, state: String },

    #[error("installing the requirements failed (status {status}, exit code {exit_code})")]
    InstallFailed {
        status: String,
        exit_code: i32,
        tail: String,
    },

    #[error("the training script failed (status {status}, exit code {exit_code})")]
    TrainingFailed {
        status: String,
        exit_code: i32,
        tail: String,
    },

    #[error("gave up waiting after {seconds} s for {what}")]
    Timeout { what: String, seconds: u64 },

    #[error("the run {0} is not known")]
    UnknownRun(String),

    #[error("the run state could not be saved: {0}")]
    State(String),
}

impl PipelineError {
    /// The output tail that explains a failure, if there is one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            PipelineError::InstallFailed { tail, .. }
            | PipelineError::TrainingFailed { tail, .. } => Some(tail),
            PipelineError::StackFailed { reason } => Some(reason),
            _ => None,
        }
    }

    /// True when the failure was in the user's code rather than in the cloud
    /// set-up (the CLI's exit code tells the two apart).
    pub fn is_training_failure(&self) -> bool {
        matches!(
            self,
            PipelineError::TrainingFailed { .. } | PipelineError::InstallFailed { .. }
        )
    }
}

impl Explain for PipelineError {
    fn code(&self) -> &'static str {
        match self {
            PipelineError::Input(e) => e.code(),
            PipelineError::Network { .. } => "network",
            PipelineError::Denied { .. } => "access_denied",
            PipelineError::Aws { .. } => "aws_error",
            PipelineError::BucketOtherRegion { .. } => "bucket_other_region",
            PipelineError::BucketTaken(_) => "bucket_taken",
            PipelineError::NoDefaultVpc(_) => "no_default_vpc",
            PipelineError::UnknownInstanceType { .. } => "unknown_instance_type",
            PipelineError::DiskTooSmallForImage { .. } => "disk_too_small",
            PipelineError::UnknownImage(_) => "unknown_image",
            PipelineError::StackFailed { .. } => "stack_failed",
            PipelineError::LaunchFailed { .. } => "launch_failed",
            PipelineError::InstanceLost { .. } => "instance_lost",
            PipelineError::InstallFailed { .. } => "install_failed",
            PipelineError::TrainingFailed { .. } => "training_failed",
            PipelineError::Timeout { .. } => "timeout",
            PipelineError::UnknownRun(_) => "unknown_run",
            PipelineError::State(_) => "state",
        }
    }

    fn hint(&self) -> Option<String> {
        Some(
            match self {
                PipelineError::Input(e) => return e.hint(),
                PipelineError::Network { .. } => {
                    "Check your internet connection (or that the local sandbox is running), then retry this step."
                }
                PipelineError::Denied { .. } => {
                    "Ask your AWS administrator for the permission named above, or use an account with more rights (Accounts page shows what is missing)."
                }
                PipelineError::Aws { .. } => "Retry this step; if it fails again, delete the run's resources and start over.",
                PipelineError::BucketOtherRegion { .. } => {
                    "Choose a bucket in the run's region, or let easyTDV create a new one."
                }
                PipelineError::BucketTaken(_) => "Bucket names are global across all AWS accounts: pick another name.",
                PipelineError::NoDefaultVpc(_) => {
                    "Create a default VPC in the AWS console (VPC → Actions → Create default VPC) or pick another region."
                }
                PipelineError::UnknownInstanceType { .. } => "Pick a machine type from the list offered for this region.",
                PipelineError::DiskTooSmallForImage { .. } => "Raise the disk size to at least the size named above.",
                PipelineError::UnknownImage(_) => "Leave the image on \"Automatic\" or enter an image id from this region.",
                PipelineError::StackFailed { .. } => {
                    "The reason above comes from CloudFormation. Nothing was left behind; fix it and launch again."
                }
                PipelineError::LaunchFailed { .. } => {
                    "Often a quota or capacity limit: try another machine type or region, then retry. Delete the run's resources if you stop here."
                }
                PipelineError::InstanceLost { .. } => "Delete the run's resources and launch again.",
                PipelineError::InstallFailed { .. } => {
                    "Fix requirements.txt (see pip's message below) and retry from \"Install requirements\"."
                }
                PipelineError::TrainingFailed { .. } => {
                    "Fix train.py (see the traceback below) and retry from \"Run training\"; outputs written so far were kept."
                }
                PipelineError::Timeout { .. } => "Retry this step, or delete the run's resources so nothing keeps running.",
                PipelineError::UnknownRun(_) => "Check the run id in the history list.",
                PipelineError::State(_) => "Check that the app's data folder is writable and has free space.",
            }
            .to_string(),
        )
    }
}

/// Turns an SDK error into a `PipelineError`, telling apart the network, a
/// denied permission and any other refusal.
pub(crate) fn aws_error<E, R>(op: &'static str, err: SdkError<E, R>) -> PipelineError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => PipelineError::Network { op },
        _ => {
            let code = err.code().unwrap_or("Unknown").to_string();
            let message = err
                .message()
                .map(str::to_string)
                .unwrap_or_else(|| DisplayErrorContext(&err).to_string());
            if is_denied(&code) {
                PipelineError::Denied { op, message }
            } else {
                PipelineError::Aws { op, code, message }
            }
        }
    }
}

pub(crate) fn is_denied(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError"
    )
}

/// The error code of an SDK error, if the service sent one.
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}
