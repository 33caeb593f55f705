//! Everything that can stop a run, each told in plain words with what to do.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::inputs::InputError;
use crate::aws::failure::{self, FailureKind};
use crate::explain::Explain;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error(transparent)]
    Input(#[from] InputError),

    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),

    #[error(transparent)]
    Data(#[from] crate::data_source::DataError),

    #[error("AWS could not be reached while trying to {op}")]
    Network { op: &'static str },

    #[error("your AWS user is not allowed to {op}: {message}")]
    Denied { op: &'static str, message: String },

    #[error("your temporary AWS keys expired while trying to {op}")]
    ExpiredCredentials { op: &'static str },

    #[error("AWS did not accept the account's credentials while trying to {op}: {message}")]
    BadCredentials { op: &'static str, message: String },

    #[error("AWS is busy and asked to slow down while trying to {op}: {message}")]
    Busy { op: &'static str, message: String },

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

    #[error("the bucket \"{0}\" does not belong to your AWS account (or you may not use it): easyTDV uploads nothing into it")]
    BucketNotOurs(String),

    #[error("{}", if *.public_now {
        format!("the bucket \"{bucket}\" is public: its bucket policy lets anyone use it, so easyTDV uploads nothing into it")
    } else {
        format!("the bucket \"{bucket}\" does not block public access: a change of its policy or ACLs could make what easyTDV uploads public, so easyTDV uploads nothing into it")
    })]
    BucketPublic { bucket: String, public_now: bool },

    #[error("the region {0} has no default network (VPC)")]
    NoDefaultVpc(String),

    #[error("the AWS account {account} is not set up for easyTDV yet (its permissions boundary \"easytdv-boundary\" is missing), so a run could not create its roles")]
    AccountNotSetUp { account: String },

    #[error("the machine type {instance_type} is not offered in {region}")]
    UnknownInstanceType {
        instance_type: String,
        region: String,
    },

    #[error("the machine type {instance_type} is offered in {region} only in {}, where the default network (VPC) has no subnet", .zones.join(", "))]
    NoSubnetForType {
        instance_type: String,
        region: String,
        zones: Vec<String>,
    },

    #[error("the disk must be at least {needed} GiB for this machine image (asked: {asked} GiB)")]
    DiskTooSmallForImage { needed: i32, asked: u32 },

    #[error("a budget of ${budget:.2} buys less than 3 minutes of this machine (about ${usd_per_hour:.2} per hour)")]
    BudgetTooSmall { budget: f64, usd_per_hour: f64 },

    /// A relaunch with too little of the run's safety stop (its maximum
    /// run time, or its budget cap) left after its earlier machines.
    #[error("the run's earlier machines used {used_hours:.2} h of its {stop_hours:.2} h safety stop (its maximum run time or budget cap): a new machine would have less than 3 minutes")]
    SafetyStopUsedUp { used_hours: f64, stop_hours: f64 },

    #[error("the machine image {0} was not found in this region")]
    UnknownImage(String),

    #[error("easyTDV has no automatic image for {instance_type}: {why}")]
    NoAutomaticImage { instance_type: String, why: String },

    #[error("your account can run {quota} vCPUs of {family} machines at once; {instance_type} needs {needed}")]
    QuotaTooLow {
        family: String,
        instance_type: String,
        quota: u32,
        needed: u32,
        link: String,
    },

    #[error("your account can run {quota} {instance_type} machines at once for SageMaker {}training; this run needs {needed}", if *.spot { "spot " } else { "" })]
    TrainingQuotaTooLow {
        instance_type: String,
        spot: bool,
        quota: u32,
        needed: u32,
        link: String,
    },

    #[error(
        "SageMaker could not use the run's new execution role {role} after {seconds} s: {message}"
    )]
    RoleNotUsable {
        role: String,
        seconds: u64,
        message: String,
    },

    #[error("the training job {job} failed: {reason}")]
    TrainingJobFailed {
        job: String,
        reason: String,
        tail: String,
    },

    #[error("AWS has no {instance_type} machine free right now in {region} (tried: {tried})")]
    NoCapacity {
        instance_type: String,
        region: String,
        tried: String,
    },

    #[error("creating the cloud resources failed: {reason}")]
    StackFailed { reason: String },

    #[error("the launch function failed: {message}")]
    LaunchFailed { message: String },

    #[error("the machine {instance_id} stopped unexpectedly ({state})")]
    InstanceLost { instance_id: String, state: String },

    #[error("AWS ended the machine {instance_id} ({state}): {} ({code}: {message})", super::instance::reason_words(.code))]
    InstanceEnded {
        instance_id: String,
        state: String,
        code: String,
        message: String,
        region: String,
    },

    #[error("your account's default disk (EBS) encryption key in {region} is set as \"{value}\", not by its key ARN, so easyTDV cannot let the launcher use exactly that key")]
    EbsKeyNotAnArn { value: String, region: String },

    #[error("installing the requirements failed (status {status}, exit code {exit_code})")]
    InstallFailed {
        status: String,
        exit_code: i32,
        tail: String,
    },

    #[error("the machine did not run easyTDV's scripts: they could not be fetched from the bucket, or they were not the ones easyTDV sent")]
    ScriptsRefused { tail: String },

    #[error("the machine could not read the run's secrets from Parameter Store, so train.py was not started")]
    SecretsUnreadable { tail: String },
    #[error("the machine did not use the project: {what} was not the file easyTDV sent")]
    ProjectRefused { what: String, tail: String },

    #[error("the training script failed (status {status}, exit code {exit_code})")]
    TrainingFailed {
        status: String,
        exit_code: i32,
        tail: String,
    },

    #[error("gave up waiting after {seconds} s for {what}")]
    Timeout { what: String, seconds: u64 },

    #[error("the downloaded file {key} is not the file in S3: {why}")]
    DownloadCorrupt { key: String, why: String },

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
            | PipelineError::ScriptsRefused { tail }
            | PipelineError::SecretsUnreadable { tail }
            | PipelineError::ProjectRefused { tail, .. }
            | PipelineError::TrainingFailed { tail, .. }
            | PipelineError::TrainingJobFailed { tail, .. } => Some(tail),
            PipelineError::StackFailed { reason } => Some(reason),
            _ => None,
        }
    }

    /// A passing trouble (network, throttling): waiting and asking again may
    /// succeed, and the run on the machine goes on meanwhile.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            PipelineError::Network { .. } | PipelineError::Busy { .. }
        )
    }

    /// True when the request itself is wrong for this account or region
    /// (fix the input and launch again); the CLI exits 2 for these.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            PipelineError::Input(_)
                | PipelineError::Project(_)
                | PipelineError::Data(_)
                | PipelineError::DiskTooSmallForImage { .. }
                | PipelineError::UnknownImage(_)
                | PipelineError::NoAutomaticImage { .. }
                | PipelineError::BudgetTooSmall { .. }
                | PipelineError::UnknownInstanceType { .. }
                | PipelineError::NoSubnetForType { .. }
                | PipelineError::BucketOtherRegion { .. }
                | PipelineError::BucketTaken(_)
                | PipelineError::BucketNotOurs(_)
                | PipelineError::AccountNotSetUp { .. }
                | PipelineError::BucketPublic { .. }
        )
    }

    /// True when the failure was in the user's code rather than in the cloud
    /// set-up (the CLI's exit code tells the two apart).
    pub fn is_training_failure(&self) -> bool {
        matches!(
            self,
            PipelineError::TrainingFailed { .. }
                | PipelineError::InstallFailed { .. }
                | PipelineError::TrainingJobFailed { .. }
        )
    }
}

impl Explain for PipelineError {
    fn code(&self) -> &'static str {
        match self {
            PipelineError::Input(e) => e.code(),
            PipelineError::Project(e) => e.code(),
            PipelineError::Data(e) => e.code(),
            PipelineError::ProjectRefused { .. } => "project_refused",
            PipelineError::Network { .. } => "network",
            PipelineError::Denied { .. } => "access_denied",
            PipelineError::ExpiredCredentials { .. } => "credentials_expired",
            PipelineError::BadCredentials { .. } => "credentials_rejected",
            PipelineError::Busy { .. } => "aws_busy",
            PipelineError::Aws { .. } => "aws_error",
            PipelineError::BucketOtherRegion { .. } => "bucket_other_region",
            PipelineError::BucketTaken(_) => "bucket_taken",
            PipelineError::BucketNotOurs(_) => "bucket_not_ours",
            PipelineError::BucketPublic { .. } => "bucket_public",
            PipelineError::NoDefaultVpc(_) => "no_default_vpc",
            PipelineError::AccountNotSetUp { .. } => "account_not_set_up",
            PipelineError::UnknownInstanceType { .. } => "unknown_instance_type",
            PipelineError::NoSubnetForType { .. } => "no_subnet_for_type",
            PipelineError::DiskTooSmallForImage { .. } => "disk_too_small",
            PipelineError::UnknownImage(_) => "unknown_image",
            PipelineError::BudgetTooSmall { .. } => "budget_too_small",
            PipelineError::SafetyStopUsedUp { .. } => "safety_stop_used_up",
            PipelineError::NoAutomaticImage { .. } => "no_automatic_image",
            PipelineError::QuotaTooLow { .. } | PipelineError::TrainingQuotaTooLow { .. } => {
                "quota_too_low"
            }
            PipelineError::TrainingJobFailed { .. } => "training_failed",
            PipelineError::RoleNotUsable { .. } => "role_not_usable",
            PipelineError::NoCapacity { .. } => "no_capacity",
            PipelineError::StackFailed { .. } => "stack_failed",
            PipelineError::LaunchFailed { .. } => "launch_failed",
            PipelineError::InstanceLost { .. } => "instance_lost",
            PipelineError::InstanceEnded { .. } => "instance_ended",
            PipelineError::EbsKeyNotAnArn { .. } => "ebs_key_not_an_arn",
            PipelineError::InstallFailed { .. } => "install_failed",
            PipelineError::ScriptsRefused { .. } => "scripts_refused",
            PipelineError::SecretsUnreadable { .. } => "secrets_unreadable",
            PipelineError::TrainingFailed { .. } => "training_failed",
            PipelineError::Timeout { .. } => "timeout",
            PipelineError::DownloadCorrupt { .. } => "download_corrupt",
            PipelineError::UnknownRun(_) => "unknown_run",
            PipelineError::State(_) => "state",
        }
    }

    fn hint(&self) -> Option<String> {
        if let PipelineError::NoSubnetForType { region, zones, .. } = self {
            let zone = zones.first().map(String::as_str).unwrap_or("<zone>");
            return Some(format!(
                "Create a default subnet in one of those zones (VPC console → Subnets → Actions → Create default subnet, or `aws ec2 create-default-subnet --availability-zone {zone} --region {region}`), or pick another machine type or region."
            ));
        }
        if let PipelineError::InstanceEnded { code, region, .. } = self {
            return Some(super::instance::reason_hint(code, region));
        }
        if let PipelineError::EbsKeyNotAnArn { value, region } = self {
            return Some(format!(
                "Name the same key by its ARN: `aws kms describe-key --key-id {value} --region {region} --query KeyMetadata.Arn --output text`, then `aws ec2 modify-ebs-default-kms-key-id --kms-key-id <that ARN> --region {region}`; or go back to AWS's own key with `aws ec2 reset-ebs-default-kms-key-id --region {region}`. Then launch again; nothing was created."
            ));
        }
        if let PipelineError::QuotaTooLow { link, .. }
        | PipelineError::TrainingQuotaTooLow { link, .. } = self
        {
            return Some(format!(
                "Ask AWS for more here: {link} (a request is free and usually answered within a day), or pick a smaller machine (or fewer at once) meanwhile."
            ));
        }
        Some(
            match self {
                PipelineError::Input(e) => return e.hint(),
                PipelineError::Project(e) => return e.hint(),
                PipelineError::Data(e) => return e.hint(),
                PipelineError::ProjectRefused { .. } => {
                    "A file of the project in the bucket (easytdv/blobs/) was changed after easyTDV sent it, so the machine did not use it. Retry the step: easyTDV sends it again. If it happens again, check who else may write to this bucket."
                }
                PipelineError::QuotaTooLow { .. } | PipelineError::TrainingQuotaTooLow { .. } => "Ask AWS for a higher quota in the Service Quotas console.",
                PipelineError::BudgetTooSmall { .. } => "Raise the budget cap, or pick a cheaper machine.",
                PipelineError::SafetyStopUsedUp { .. } => "The outputs and checkpoints saved so far are in your bucket. To go on, start the run again from the New run page (Run again) with a longer maximum run time or a higher budget cap.",
                PipelineError::NoAutomaticImage { .. } => "Pick an NVIDIA GPU machine (g4dn, g5, g6…) or a CPU machine, or enter an image id that has the drivers.",
                PipelineError::NoCapacity { .. } => "Try again in a few minutes, or pick another machine type or region. Nothing is left running.",
                PipelineError::Network { .. } => {
                    "Check your internet connection (or that the local sandbox is running), then retry this step."
                }
                PipelineError::Denied { .. } => {
                    "Ask your AWS administrator for the permission named above, or use an account with more rights (Accounts page shows what is missing)."
                }
                PipelineError::ExpiredCredentials { .. } => {
                    "Your temporary keys expired: paste new ones on the Accounts page (your runs are kept), or sign in again with `aws sso login`. Then retry this step."
                }
                PipelineError::BadCredentials { .. } => {
                    "Check the account on the Accounts page (keys, profile, or this computer's clock), then retry this step."
                }
                PipelineError::Busy { .. } => "Wait a minute, then retry this step; your machine keeps running meanwhile.",
                PipelineError::Aws { .. } => "Retry this step; if it fails again, delete the run's resources and start over.",
                PipelineError::BucketOtherRegion { .. } => {
                    "Choose a bucket in the run's region, or let easyTDV create a new one."
                }
                PipelineError::BucketTaken(_) => "Bucket names are global across all AWS accounts: pick another name.",
                PipelineError::BucketNotOurs(_) => "Pick one of your own buckets, or let easyTDV create a new one (its name gets a random part no one can guess).",
                PipelineError::AccountNotSetUp { .. } => {
                    "Do the one-time setup: Accounts → “Set up easyTDV on this AWS account” (it needs an administrator's profile or keys once, and keeps nothing of them). Or ask the person who manages the account to create the policy easytdv-boundary from Setup → “Permissions easyTDV needs”. Nothing was created."
                }
                PipelineError::BucketPublic { public_now: true, .. } => "Pick another bucket, or let easyTDV create a new private one (the name it suggests). To keep this bucket: remove the statements that allow \"*\" from its policy, then in the S3 console open the bucket → Permissions → Block public access → Edit, tick \"Block all public access\" and save.",
                PipelineError::BucketPublic { .. } => "In the S3 console open the bucket → Permissions → Block public access (bucket settings) → Edit, tick \"Block all public access\" and save; or let easyTDV create a new private one (the name it suggests).",
                PipelineError::NoDefaultVpc(_) => {
                    "Create a default VPC in the AWS console (VPC → Actions → Create default VPC) or pick another region."
                }
                PipelineError::UnknownInstanceType { .. } => "Pick a machine type from the list offered for this region.",
                PipelineError::NoSubnetForType { .. } => "Create a default subnet in one of those zones, or pick another machine type or region.",
                PipelineError::DiskTooSmallForImage { .. } => "Raise the disk size to at least the size named above.",
                PipelineError::UnknownImage(_) => "Leave the image on \"Automatic\" or enter an image id from this region.",
                PipelineError::StackFailed { .. } => {
                    "The reason above comes from CloudFormation. Nothing was left behind; fix it and launch again."
                }
                PipelineError::LaunchFailed { .. } => {
                    "Often a quota or capacity limit: try another machine type or region, then retry. Delete the run's resources if you stop here."
                }
                PipelineError::InstanceLost { .. } => "Delete the run's resources and launch again.",
                PipelineError::RoleNotUsable { .. } => {
                    "A new role usually becomes usable within a minute or two: retry from \"Run training\" (the stack and its role are kept). If it fails again, delete the run's resources and launch again."
                }
                PipelineError::InstanceEnded { .. } | PipelineError::EbsKeyNotAnArn { .. } => {
                    "Delete the run's resources and launch again."
                }
                PipelineError::TrainingJobFailed { .. } => {
                    "Fix train.py or requirements.txt (see the log's end below) and launch again; outputs written so far were kept."
                }
                PipelineError::InstallFailed { .. } => {
                    "Fix requirements.txt (see pip's message below) and retry from \"Install requirements\"."
                }
                PipelineError::ScriptsRefused { .. } => {
                    "The run's scripts in the bucket (under its scripts/ folder) were changed or could not be read. Retry the step (easyTDV uploads them again); if it happens again, check who else may write to this bucket, and delete the run's resources."
                }
                PipelineError::SecretsUnreadable { .. } => {
                    "The run's machine role may read its own secrets only if the account's easyTDV policies are current: run the setup again (Accounts → “Set up easyTDV on this AWS account”) or ask the person who manages the account to update easytdv-boundary from Setup → “Permissions easyTDV needs”. Then retry from \"Run training\"."
                }
                PipelineError::TrainingFailed { .. } => {
                    "Fix train.py (see the traceback below) and retry from \"Run training\"; outputs written so far were kept."
                }
                PipelineError::Timeout { .. } => "Retry this step, or delete the run's resources so nothing keeps running.",
                PipelineError::DownloadCorrupt { .. } => {
                    "Download again (files already whole are kept). If it fails again, the file may have been replaced in S3 during the download, or the disk may be failing: compare the file in the S3 console."
                }
                PipelineError::UnknownRun(_) => "Check the run id in the history list.",
                PipelineError::State(_) => "Check that the app's data folder is writable and has free space.",
            }
            .to_string(),
        )
    }
}

/// Turns an SDK error into a `PipelineError` (the kinds come from the one
/// classifier in `aws::failure`).
pub(crate) fn aws_error<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> PipelineError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let found = failure::classify(&err);
    let message = found.message;
    match found.kind {
        FailureKind::Unreachable => PipelineError::Network { op },
        FailureKind::Denied => PipelineError::Denied { op, message },
        FailureKind::ExpiredCredentials | FailureKind::SsoExpired => {
            PipelineError::ExpiredCredentials { op }
        }
        FailureKind::NoCredentials
        | FailureKind::UnknownKey
        | FailureKind::WrongSecret
        | FailureKind::ClockSkew
        | FailureKind::OptInRequired => PipelineError::BadCredentials { op, message },
        FailureKind::Throttled | FailureKind::ServerError => PipelineError::Busy { op, message },
        FailureKind::QuotaExceeded | FailureKind::NoCapacity | FailureKind::Other => {
            PipelineError::Aws {
                op,
                code: found.code.unwrap_or_else(|| "Unknown".into()),
                message,
            }
        }
    }
}

/// The error code of an SDK error, if the service sent one.
pub(crate) fn error_code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    failure::code_of(err)
}
