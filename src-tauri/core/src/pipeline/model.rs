//! The data the pipeline takes and gives: requests, progress events, the
//! run's resource ids and each operation's result.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything a run needs; the original library's constructor parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrainRequest {
    pub script_path: PathBuf,
    pub requirements_path: PathBuf,
    pub instance_type: String,
    pub disk_gb: u32,
    pub region: String,
    pub bucket: String,
    /// `None`: resolve the current image for the region and machine type.
    pub ami: Option<String>,
    /// Safety net: the machine shuts itself down (and is terminated) after this.
    pub max_runtime_hours: u32,
    /// Optional budget cap in dollars: the safety stop comes earlier when
    /// the machine's price would pass it (hours = cap ÷ $/hour), enforced on
    /// the machine itself.
    #[serde(default)]
    pub budget_usd: Option<f64>,
    /// Where the training runs: one EC2 machine (default) or a SageMaker
    /// training job (then `instance_type` is an `ml.*` type and `ami` is
    /// not used).
    #[serde(default)]
    pub engine: Engine,
    /// What train.py gets after its name (`sys.argv[1:]`), exactly: never
    /// through a shell. For a notebook (`.ipynb`) entry point: papermill's
    /// parameters (`-p NAME VALUE`, `-r NAME VALUE`), filling the cell
    /// tagged `parameters`.
    #[serde(default)]
    pub args: Vec<String>,
    /// The arguments as the person typed them (shown on the run page); when
    /// not empty, it must split into `args` (see `run_args::split`).
    #[serde(default)]
    pub args_text: String,
    /// Plain environment variables for train.py, in order (values are kept
    /// in the history and shown: secrets are not plain variables).
    #[serde(default)]
    pub env: Vec<super::run_args::EnvVar>,
    /// Names of the account's secrets (kept in the OS keychain) that
    /// train.py gets as environment variables; never their values.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// The project folder: every file in it is sent (but what `.gitignore`
    /// and `.easytdvignore` leave out) and the script runs from it. `None`:
    /// the script's own folder.
    #[serde(default)]
    pub project_dir: Option<PathBuf>,
    /// The run's data: a folder on this computer (sent once per file
    /// content) or an `s3://bucket/prefix` read in place; on the machine at
    /// `$DATA_DIR` (SageMaker: the job's `data` input channel, an S3
    /// location only under `easytdv/`).
    #[serde(default)]
    pub data: Option<crate::data_source::DataSource>,
    /// After a success, the machine stays on this many minutes for the next
    /// run with the same machine (EC2 only; it stops itself then).
    #[serde(default)]
    pub keep_warm_minutes: Option<u32>,
    /// EC2: a spot machine first (cheaper; AWS may take it back with two
    /// minutes' notice), on demand when none can be had. (A SageMaker job's
    /// spot capacity is its engine's.)
    #[serde(default)]
    pub spot: bool,
}

/// Where a run's training runs.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, specta::Type, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Engine {
    /// One EC2 machine, driven over SSM.
    #[default]
    Ec2,
    /// A SageMaker training job (AWS's PyTorch container, script mode) on
    /// `instance_count` machines; `spot`: managed spot capacity (cheaper,
    /// may be interrupted; the job resumes from its checkpoints).
    SageMaker {
        #[serde(rename = "instanceCount")]
        instance_count: u32,
        spot: bool,
    },
}

impl Engine {
    pub fn is_sagemaker(self) -> bool {
        matches!(self, Engine::SageMaker { .. })
    }

    /// How many machines bill at the run's rate.
    pub fn machines(self) -> u32 {
        match self {
            Engine::Ec2 => 1,
            Engine::SageMaker { instance_count, .. } => instance_count.max(1),
        }
    }

    /// `ec2` or `sagemaker` (the stack's Engine parameter, the history).
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Ec2 => "ec2",
            Engine::SageMaker { .. } => "sagemaker",
        }
    }
}

/// The steps of a run, in order, plus the clean-up.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    Prepare,
    Stack,
    Instance,
    Requirements,
    Training,
    Outputs,
    Delete,
}

impl Step {
    pub const RUN: [Step; 6] = [
        Step::Prepare,
        Step::Stack,
        Step::Instance,
        Step::Requirements,
        Step::Training,
        Step::Outputs,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Step::Prepare => "Prepare files",
            Step::Stack => "Create cloud resources",
            Step::Instance => "Start the machine",
            Step::Requirements => "Install requirements",
            Step::Training => "Run training",
            Step::Outputs => "Collect outputs",
            Step::Delete => "Delete resources",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Prepare => "prepare",
            Step::Stack => "stack",
            Step::Instance => "instance",
            Step::Requirements => "requirements",
            Step::Training => "training",
            Step::Outputs => "outputs",
            Step::Delete => "delete",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Running,
    Done,
    Failed,
    Skipped,
    /// The user stopped the run during this step.
    Stopped,
}

/// One progress report: what step, in what state, how long it has taken.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProgressEvent {
    pub run_id: String,
    pub step: Step,
    pub state: StepState,
    /// Milliseconds since the step started.
    pub elapsed_ms: u32,
    pub message: String,
    /// Output tail (pip error, traceback, stack event) when there is one.
    pub detail: Option<String>,
}

/// Every id of something the run created or will create. Handed to the
/// run-state sink *before* the AWS call that creates it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunResources {
    pub run_id: String,
    pub region: String,
    pub bucket: String,
    /// The AWS account that owns the bucket (ours, read from STS): every S3
    /// call on the bucket passes it as `ExpectedBucketOwner`.
    #[serde(default)]
    pub account_id: Option<String>,
    /// `easytdv/runs/<run-id>`
    pub prefix: String,
    pub uploaded_keys: Vec<String>,
    pub stack_name: Option<String>,
    pub stack_id: Option<String>,
    pub instance_id: Option<String>,
    /// How many machines the run has launched (a retry relaunches).
    #[serde(default)]
    pub launches: u32,
    /// The machine image (the environment cache's key includes it).
    #[serde(default)]
    pub image_id: Option<String>,
    /// The environment cache key the run's stack lets its machine write
    /// (`easytdv/cache/<key>.*`), computed before the stack was created.
    #[serde(default)]
    pub cache_key: Option<String>,
    /// Unix seconds of the last launch: the safety stop counts from it.
    #[serde(default)]
    pub launched_at: Option<f64>,
    /// The Availability Zone the machine runs in.
    #[serde(default)]
    pub zone: Option<String>,
    /// Machine and disk, $ per hour, as priced at launch (`None`: unknown).
    #[serde(default)]
    pub usd_per_hour: Option<f64>,
    /// The safety stop actually set on the machine, in hours (the maximum
    /// run time, or less when a budget cap asks for it).
    #[serde(default)]
    pub safety_stop_hours: Option<f64>,
    /// Unix seconds when the machine was found gone (clean-up verified).
    #[serde(default)]
    pub ended_at: Option<f64>,
    /// The run's earlier machines (a relaunch, e.g. after AWS took a spot
    /// machine back): hours they ran, counted against the safety stop, and
    /// their cost, counted in the run's cost and against its budget cap.
    #[serde(default)]
    pub earlier_hours: f64,
    #[serde(default)]
    pub earlier_usd: f64,
    /// How many machines bill at that rate (SageMaker runs may use several).
    #[serde(default)]
    pub machines: u32,
    /// The SageMaker training job (SageMaker runs), named before it is created.
    #[serde(default)]
    pub training_job_name: Option<String>,
    /// Seconds SageMaker bills per machine, once the job has ended (spot:
    /// less than the seconds it trained).
    #[serde(default)]
    pub billable_seconds: Option<f64>,
    /// Seconds the job trained per machine, once it has ended.
    #[serde(default)]
    pub training_seconds: Option<f64>,
    pub install_command_id: Option<String>,
    pub training_command_id: Option<String>,
    /// The run's secrets in Parameter Store
    /// (`/easytdv/runs/<run-id>/secrets/<NAME>`), names only, recorded
    /// before they are put; the clean-up deletes them.
    #[serde(default)]
    pub secret_parameters: Vec<String>,
    /// An EC2 run's machines on the easyTDV base (issue 22), one per launch:
    /// each machine's own folder, `easytdv/m/<role id>:<instance id>/<run-id>`,
    /// where it reads the run's inputs and writes its outputs. The last is
    /// the current machine's. Empty for a run with a stack of its own.
    #[serde(default)]
    pub machine_folders: Vec<String>,
    /// The run's machine, kept warm after it (the run no longer owns it:
    /// its clean-up leaves it to the next run, or to its own idle stop).
    #[serde(default)]
    pub kept_warm: Option<crate::warm::KeptWarm>,
    /// The machine was one kept warm by an earlier run (no launch, no boot).
    #[serde(default)]
    pub warm_start: bool,
    /// How the current machine is billed: `spot` or `on-demand` (EC2).
    #[serde(default)]
    pub market: Option<String>,
    /// A spot run that got an on-demand machine: why no spot one (AWS's code).
    #[serde(default)]
    pub spot_refused: Option<String>,
    /// Machines a clean-up must leave even if tagged with this run (a
    /// leftover's delete: machines the history knows as another run's, or
    /// kept warm). Not recorded.
    #[serde(skip)]
    pub leave_machines: Vec<String>,
}

impl RunResources {
    /// Where the current machine reads the run's files and writes its
    /// outputs: its own folder on the base, else the run's prefix.
    pub fn machine_prefix(&self) -> &str {
        self.machine_folders
            .last()
            .map(String::as_str)
            .unwrap_or(&self.prefix)
    }

    /// Where the run's outputs are kept: `easytdv/runs/<run-id>/outputs/`. A
    /// machine of the base writes them in its own folder
    /// (`machine_outputs_prefix`); the app copies them here after each of its
    /// commands, and before the clean-up.
    pub fn outputs_prefix(&self) -> String {
        format!("{}/outputs/", self.prefix)
    }

    /// Where the current machine writes its outputs and live logs.
    pub fn machine_outputs_prefix(&self) -> String {
        format!("{}/outputs/", self.machine_prefix())
    }

    /// The machine's `aws:userid` (`<role id>:<instance id>`), read from its
    /// folder's name; `None` for a run with a stack of its own.
    pub fn machine_userid(&self) -> Option<&str> {
        self.machine_folders
            .last()?
            .strip_prefix("easytdv/m/")?
            .split('/')
            .next()
    }
}

/// Result of `prepare_env`, as the original API returned it (the template
/// itself goes to CloudFormation in the request, never through S3).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PreparedEnv {
    pub s3_lambda_key: String,
    pub s3_train_script_key: String,
    pub s3_requirements_key: String,
    /// The image and network the stack will use, resolved during preparation.
    pub ami_id: String,
    pub vpc_id: String,
    /// The account's default EBS key when it is customer-managed: the
    /// launcher is granted its use (`None`: AWS's own key).
    #[serde(default)]
    pub ebs_kms_key_arn: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StackInfo {
    pub stack_id: String,
    pub stack_status: String,
}

/// The final state of an SSM command.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CommandOutcome {
    pub command_id: String,
    /// SSM status: Success, Failed, TimedOut, Cancelled, …
    pub status: String,
    pub exit_code: i32,
    pub stdout_tail: String,
    pub stderr_tail: String,
    /// How long the command ran on the machine (SSM's ExecutionElapsedTime).
    #[serde(default)]
    pub machine_seconds: Option<f64>,
}

impl CommandOutcome {
    pub fn succeeded(&self) -> bool {
        self.status == "Success"
    }
}

/// What `delete_resources` found and removed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeleteReport {
    /// A SageMaker run's training job that was still running.
    #[serde(default)]
    pub stopped_training_job: Option<String>,
    pub terminated_instances: Vec<String>,
    pub deleted_stack: Option<String>,
    pub deleted_objects: Vec<String>,
    /// How many of the run's secrets were deleted from Parameter Store.
    #[serde(default)]
    pub deleted_secrets: u32,
    /// Kept on purpose: the training's results.
    pub kept_outputs_prefix: Option<String>,
}

/// The outcome of a whole run.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub run_id: String,
    pub instance_id: String,
    pub training: CommandOutcome,
    pub output_keys: Vec<String>,
    pub outputs_uri: String,
}

/// How long one phase of an instance script took (download, env, install,
/// train, upload…), as the machine measured it.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    pub log: crate::logs::LogName,
    pub name: String,
    pub seconds: f64,
}

/// What the machine reported about a run, kept in the history.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    #[serde(default)]
    pub phases: Vec<Phase>,
    pub python: Option<String>,
    pub installer: Option<String>,
    /// "reused the environment of …", "first install of these requirements".
    pub environment: Option<String>,
    pub preinstalled: Option<String>,
    /// The machine's own "will shut down at … unless you retry".
    pub shutdown_notice: Option<String>,
    /// When the machine kept warm after the run stops itself (ISO, UTC), as
    /// it said.
    #[serde(default)]
    pub kept_warm_until: Option<String>,
    /// The last line train.py printed.
    pub latest_line: Option<String>,
    /// The last value of each metric the script printed.
    #[serde(default)]
    pub final_metrics: std::collections::BTreeMap<String, f64>,
    /// The last lines train.py wrote to stderr (a traceback's end).
    #[serde(skip)]
    pub error_tail: Vec<String>,
    /// How long each command ran on the machine, as SSM measured it (the benchmark's "machine time").
    #[serde(skip)]
    pub command_seconds: Vec<f64>,
}
