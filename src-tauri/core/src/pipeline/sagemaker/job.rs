//! The run's SageMaker training job: what CreateTrainingJob is asked (script
//! mode in AWS's PyTorch container), how the job is read while it runs, and
//! how it is stopped.

use std::time::Duration;

use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, CheckpointConfig, OutputDataConfig, ResourceConfig, StoppingCondition,
    Tag, TrainingInputMode, TrainingInstanceType, TrainingJobStatus,
};

use super::data::{self, JobData};
use super::image;
use super::role_wait::{self, BACKOFF};
use crate::aws::AwsContext;
use crate::pipeline::error::{aws_error, error_code, PipelineError};
use crate::pipeline::inputs::InputError;
use crate::pipeline::poll::{poll_until, Notice};
use crate::pipeline::run_args::EnvVar;
use crate::pipeline::stack::{APP_TAG, RUN_TAG};

/// Where the script's outputs go in the container (uploaded by SageMaker).
pub const OUTPUT_DIR: &str = "/opt/ml/model";
/// The checkpoint folder SageMaker keeps in sync with S3 on every machine.
pub const CHECKPOINT_DIR: &str = "/opt/ml/checkpoints";

/// The job of a run: `easytdv-<run-id>` (SageMaker's name rule: letters,
/// digits and hyphens, at most 63).
pub fn job_name(run_id: &str) -> String {
    format!("easytdv-{run_id}")
}

/// Everything the job is created with.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub name: String,
    pub run_id: String,
    pub region: String,
    pub role_arn: String,
    pub ml_type: String,
    pub machines: u32,
    /// NVIDIA GPUs on each machine (0 on CPU types).
    pub gpus_per_machine: u32,
    pub spot: bool,
    pub disk_gb: u32,
    pub max_runtime_secs: i32,
    pub bucket: String,
    /// `easytdv/runs/<run-id>`
    pub prefix: String,
    /// The entry point in `sourcedir.tar.gz`: train.py, or the launcher
    /// that runs it with its arguments (`run_args::LAUNCHER`).
    pub program: String,
    /// The script's path in the project (`train.py`, `src/train.py`): what
    /// the launcher runs (`EASYTDV_ENTRY`).
    pub entry: String,
    /// The run's plain variables (the job's `Environment`, after easyTDV's own).
    pub env: Vec<EnvVar>,
    /// The run's data, the job's `data` channel (`DATA_DIR` names it).
    pub data: Option<JobData>,
    /// Where the run's secrets are and their names (`EASYTDV_SECRETS_PATH`,
    /// `EASYTDV_SECRET_NAMES`; empty without secrets): never a value, as
    /// DescribeTrainingJob shows the Environment. The launcher reads them.
    pub secrets: Vec<(&'static str, String)>,
    /// A notebook's run: its runner also puts the executed notebook in the
    /// run's `outputs/` (`EASYTDV_OUTPUTS_URI`, checked to be this bucket
    /// owner's: `EASYTDV_BUCKET_OWNER`).
    pub notebook: bool,
    /// The account that owns the bucket.
    pub bucket_owner: String,
    /// The project's `uv.lock` is installed by the launcher
    /// (`EASYTDV_REQUIREMENTS=uv.lock`), not by the container.
    pub lock: bool,
}

impl JobSpec {
    pub fn source_uri(&self) -> String {
        format!("s3://{}/{}/sourcedir.tar.gz", self.bucket, self.prefix)
    }

    /// Outputs land under the run's `outputs/`, where EC2 runs put theirs:
    /// `outputs/<job>/output/model.tar.gz` (what the script wrote to
    /// `OUTPUT_DIR` on the first machine).
    pub fn output_uri(&self) -> String {
        format!("s3://{}/{}/outputs", self.bucket, self.prefix)
    }

    /// Every machine's checkpoint folder, kept in `outputs/checkpoints/`.
    pub fn checkpoint_uri(&self) -> String {
        format!("s3://{}/{}/outputs/checkpoints/", self.bucket, self.prefix)
    }

    /// Script mode: JSON-encoded values, as the SageMaker Python SDK sends them.
    pub fn hyperparameters(&self) -> Vec<(String, String)> {
        let json = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let mut hps = vec![
            ("sagemaker_program".to_string(), json(&self.program)),
            (
                "sagemaker_submit_directory".to_string(),
                json(&self.source_uri()),
            ),
            ("sagemaker_region".to_string(), json(&self.region)),
            (
                "sagemaker_container_log_level".to_string(),
                "20".to_string(),
            ),
        ];
        // (A notebook is one kernel: papermill runs it once, never under torchrun.)
        if !self.notebook && (self.machines > 1 || self.gpus_per_machine > 1) {
            // torchrun across the machines and their GPUs, one process per
            // GPU (MASTER_ADDR, RANK, LOCAL_RANK, WORLD_SIZE...).
            hps.push((
                "sagemaker_torch_distributed_enabled".to_string(),
                "true".to_string(),
            ));
        }
        hps
    }

    /// The job's `Environment`: easyTDV's variables, then the run's (their
    /// names checked not to be easyTDV's, see `run_args::check_env`).
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("OUTPUT_DIR".to_string(), OUTPUT_DIR.to_string()),
            (
                "EASYTDV_CHECKPOINT_DIR".to_string(),
                CHECKPOINT_DIR.to_string(),
            ),
            ("EASYTDV_ENTRY".to_string(), self.entry.clone()),
        ];
        if self.data.is_some() {
            env.push(("DATA_DIR".to_string(), data::CHANNEL_DIR.to_string()));
        }
        env.extend(self.secrets.iter().map(|(k, v)| (k.to_string(), v.clone())));
        if self.lock {
            env.push(("EASYTDV_REQUIREMENTS".to_string(), "uv.lock".to_string()));
        }
        if self.notebook {
            env.push((
                "EASYTDV_OUTPUTS_URI".to_string(),
                format!("{}/", self.output_uri()),
            ));
            env.push((
                "EASYTDV_BUCKET_OWNER".to_string(),
                self.bucket_owner.clone(),
            ));
        }
        env.extend(self.env.iter().map(|v| (v.name.clone(), v.value.clone())));
        env
    }

    /// Spot: how long the job may wait for capacity and be interrupted in
    /// all (AWS: at least the run time); twice the run time here.
    pub fn max_wait_secs(&self) -> Option<i32> {
        self.spot.then(|| {
            self.max_runtime_secs
                .saturating_mul(2)
                .max(self.max_runtime_secs)
        })
    }
}

/// `CreateTrainingJob`, again while SageMaker cannot assume the run's new
/// role yet (for up to [`role_wait::ROLE_WAIT`], each pause told through
/// `notice`).
pub async fn create(
    ctx: &AwsContext,
    spec: &JobSpec,
    notice: &Notice<'_>,
) -> Result<(), PipelineError> {
    let training_image = image::training_image(&spec.region, &spec.ml_type)
        .ok_or_else(|| InputError::NoSageMakerInRegion(spec.region.clone()))?;
    role_wait::while_role_refused(&spec.role_arn, BACKOFF, notice, || {
        create_once(ctx, spec, &training_image)
    })
    .await
}

async fn create_once(
    ctx: &AwsContext,
    spec: &JobSpec,
    training_image: &str,
) -> Result<(), PipelineError> {
    let mut req = ctx
        .sagemaker()
        .create_training_job()
        .training_job_name(&spec.name)
        .role_arn(&spec.role_arn)
        .algorithm_specification(
            AlgorithmSpecification::builder()
                .training_image(training_image)
                .training_input_mode(TrainingInputMode::File)
                .build(),
        )
        .output_data_config(
            OutputDataConfig::builder()
                .s3_output_path(spec.output_uri())
                .build(),
        )
        .resource_config(
            ResourceConfig::builder()
                .instance_type(TrainingInstanceType::from(spec.ml_type.as_str()))
                .instance_count(spec.machines as i32)
                .volume_size_in_gb(spec.disk_gb as i32)
                .build(),
        )
        .stopping_condition(
            StoppingCondition::builder()
                .max_runtime_in_seconds(spec.max_runtime_secs)
                .set_max_wait_time_in_seconds(spec.max_wait_secs())
                .build(),
        )
        .checkpoint_config(
            CheckpointConfig::builder()
                .s3_uri(spec.checkpoint_uri())
                .local_path(CHECKPOINT_DIR)
                .build(),
        )
        .enable_managed_spot_training(spec.spot)
        .tags(Tag::builder().key(RUN_TAG).value(&spec.run_id).build())
        .tags(Tag::builder().key(APP_TAG).value("easytdv").build());
    for (k, v) in spec.hyperparameters() {
        req = req.hyper_parameters(k, v);
    }
    for (k, v) in spec.environment() {
        req = req.environment(k, v);
    }
    if let Some(data) = &spec.data {
        req = req.input_data_config(data.channel());
    }
    req.send()
        .await
        .map_err(|e| aws_error("create the SageMaker training job", e))?;
    Ok(())
}

/// What `DescribeTrainingJob` says, in the words the run shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobView {
    /// InProgress, Completed, Failed, Stopping, Stopped.
    pub status: String,
    /// Starting, Downloading, Training, Uploading, Interrupted, ...
    pub secondary: String,
    /// The latest secondary status message ("Launching requested ML instances").
    pub message: Option<String>,
    pub failure: Option<String>,
    pub training_secs: Option<f64>,
    pub billable_secs: Option<f64>,
}

impl JobView {
    pub fn live(&self) -> bool {
        matches!(self.status.as_str(), "InProgress" | "Stopping")
    }
}

/// A training job's status in EC2's words, so the history reads a job like
/// a machine: running while its machines run, terminated once it has ended.
pub fn as_machine_state(status: &str) -> &'static str {
    match status {
        "InProgress" => "running",
        "Stopping" => "shutting-down",
        _ => "terminated",
    }
}

/// AWS's answer for a training job it does not know: `ValidationException`
/// "Requested resource not found." from DescribeTrainingJob (its API
/// reference lists no error; aws/aws-sdk#165), and from StopTrainingJob
/// too, whose reference documents `ResourceNotFound` instead: both mean
/// gone. A job never created (CreateTrainingJob refused) is such a job.
pub fn is_no_such_job(code: Option<&str>, message: Option<&str>) -> bool {
    match code {
        Some("ResourceNotFound") => true,
        Some("ValidationException") => {
            message.is_some_and(|m| m.starts_with("Requested resource not found"))
        }
        _ => false,
    }
}

fn service_message<E, R>(
    err: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
) -> Option<&str>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(aws_smithy_types::error::metadata::ProvideErrorMetadata::message)
}

/// The job as SageMaker sees it; `None`: no such job.
pub async fn describe(ctx: &AwsContext, name: &str) -> Result<Option<JobView>, PipelineError> {
    let out = match ctx
        .sagemaker()
        .describe_training_job()
        .training_job_name(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if is_no_such_job(error_code(&e), service_message(&e)) => return Ok(None),
        Err(e) => return Err(aws_error("read the training job's status", e)),
    };
    Ok(Some(JobView {
        status: out
            .training_job_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        secondary: out
            .secondary_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        message: out
            .secondary_status_transitions()
            .last()
            .and_then(|t| t.status_message())
            .map(str::to_string),
        failure: out.failure_reason().map(str::to_string),
        training_secs: out.training_time_in_seconds().map(f64::from),
        billable_secs: out.billable_time_in_seconds().map(f64::from),
    }))
}

/// Waits for the job to end, telling each new secondary status.
pub async fn wait_ended(
    ctx: &AwsContext,
    name: &str,
    limit: Duration,
    on_status: &Notice<'_>,
) -> Result<JobView, PipelineError> {
    let last = std::sync::Mutex::new(String::new());
    poll_until("the training job to end", limit, on_status, || async {
        let Some(view) = describe(ctx, name).await? else {
            return Err(PipelineError::State(format!(
                "the training job {name} is gone"
            )));
        };
        let text = status_words(&view);
        if let Ok(mut l) = last.lock() {
            if *l != text {
                on_status(&text);
                *l = text;
            }
        }
        Ok((!view.live()).then_some(view))
    })
    .await
}

/// "Training: Training image download completed. Training in progress."
pub fn status_words(view: &JobView) -> String {
    match &view.message {
        Some(m) if !m.is_empty() => format!("{}: {m}", view.secondary),
        _ => format!("{} ({})", view.secondary, view.status),
    }
}

/// Stops the job if it still runs, and waits until it has ended. Safe when
/// it has ended or never existed. Returns whether it had to be stopped.
pub async fn stop(
    ctx: &AwsContext,
    name: &str,
    notice: &Notice<'_>,
) -> Result<bool, PipelineError> {
    let Some(view) = describe(ctx, name).await? else {
        return Ok(false);
    };
    if !view.live() {
        return Ok(false);
    }
    if view.status == TrainingJobStatus::InProgress.as_str() {
        notice(&format!("Stopping the training job {name}"));
        if let Err(e) = ctx
            .sagemaker()
            .stop_training_job()
            .training_job_name(name)
            .send()
            .await
        {
            if is_no_such_job(error_code(&e), service_message(&e)) {
                return Ok(false);
            }
            // It may have ended (or started stopping) since the look above.
            if error_code(&e) != Some("ValidationException") {
                return Err(aws_error("stop the training job", e));
            }
        }
    }
    wait_ended(ctx, name, STOP_LIMIT, notice).await?;
    Ok(true)
}

/// SageMaker gives a stopped script 120 s before it is killed, then uploads.
const STOP_LIMIT: Duration = Duration::from_secs(15 * 60);

#[cfg(test)]
mod tests;
