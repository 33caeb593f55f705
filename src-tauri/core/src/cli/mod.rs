//! The headless CLI: `easytdv train | status | delete | bench`.
//!
//! Exit codes: 0 success, 2 bad input or usage, 3 the training (or its
//! requirements) failed, 4 the cloud set-up failed.

mod bench;
mod timeline;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::aws::{AwsContext, CredentialSource};
use crate::explain::Explain;
use crate::history::{Cleanup, History, RunRecord};
use crate::paths;
use crate::pipeline::{self, PipelineError, Step, Tracked, Train, TrainRequest};
use crate::recorded::run_and_record;

pub const EXIT_INPUT: u8 = 2;
pub const EXIT_TRAINING: u8 = 3;
pub const EXIT_PROVISIONING: u8 = 4;

#[derive(Parser)]
#[command(
    name = "easytdv",
    version,
    about = "Train a model on an AWS EC2 machine, headless"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Access {
    /// Use an account saved in the app (its keys stay in the OS keychain).
    #[arg(long, conflicts_with_all = ["profile", "sandbox"])]
    account: Option<String>,
    /// Use this AWS CLI profile (SSO profiles included).
    #[arg(long, conflicts_with = "sandbox")]
    profile: Option<String>,
    /// Use the local AWS sandbox at this URL (e.g. http://127.0.0.1:4566).
    #[arg(long)]
    sandbox: Option<String>,
}

impl Access {
    /// How to reach AWS; without any flag, the SDK's default chain.
    fn source(&self) -> Result<CredentialSource, ExitCode> {
        if let Some(name) = &self.account {
            return saved_account(name);
        }
        Ok(match (&self.profile, &self.sandbox) {
            (Some(name), _) => CredentialSource::Profile { name: name.clone() },
            (None, Some(url)) => CredentialSource::Sandbox {
                endpoint: url.clone(),
            },
            (None, None) => CredentialSource::DefaultChain,
        })
    }
}

/// An account saved by the app, by name or id.
fn saved_account(name: &str) -> Result<CredentialSource, ExitCode> {
    let accounts = crate::accounts::Accounts::open(paths::data_dir());
    let fail = |e: &dyn Explain| {
        report_error(e);
        ExitCode::from(EXIT_INPUT)
    };
    let list = accounts.list().map_err(|e| fail(&e))?;
    let Some(found) = list.iter().find(|a| a.name == name || a.id == name) else {
        let names: Vec<&str> = list.iter().map(|a| a.name.as_str()).collect();
        eprintln!("error: no saved account named \"{name}\"");
        eprintln!(
            "  what to do: use one of: {}",
            if names.is_empty() {
                "(none: add one in the app)".to_string()
            } else {
                names.join(", ")
            }
        );
        return Err(ExitCode::from(EXIT_INPUT));
    };
    accounts
        .credential_source(&found.id)
        .map(|(source, _)| source)
        .map_err(|e| fail(&e))
}

#[derive(Args, Clone)]
pub(crate) struct TrainArgs {
    /// The training script (train.py).
    #[arg(long)]
    script: PathBuf,
    /// The requirements file (requirements.txt).
    #[arg(long)]
    requirements: PathBuf,
    #[arg(long, default_value = "t3.medium")]
    instance_type: String,
    /// Root disk size in GiB.
    #[arg(long, default_value_t = 30)]
    disk_gb: u32,
    #[arg(long)]
    region: String,
    #[arg(long)]
    bucket: String,
    /// Machine image id; default: the current one for the region and machine.
    #[arg(long)]
    ami: Option<String>,
    /// Safety net: the machine terminates itself after this many hours.
    #[arg(long, default_value_t = 24)]
    max_hours: u32,
    /// Keep the machine and stack after the run (default: delete them, keep outputs).
    #[arg(long)]
    keep: bool,
    #[command(flatten)]
    access: Access,
}

impl TrainArgs {
    fn request(&self) -> TrainRequest {
        TrainRequest {
            script_path: self.script.clone(),
            requirements_path: self.requirements.clone(),
            instance_type: self.instance_type.clone(),
            disk_gb: self.disk_gb,
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            ami: self.ami.clone(),
            max_runtime_hours: self.max_hours,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole training: prepare, stack, machine, requirements, training, outputs.
    Train(TrainArgs),
    /// Show a run's stack and machine status.
    Status {
        run_id: String,
        #[command(flatten)]
        access: Access,
    },
    /// Delete a run's machine, stack and input files (outputs are kept).
    Delete {
        run_id: String,
        #[command(flatten)]
        access: Access,
    },
    /// Download a run's outputs into a folder (default: ./easytdv-RUN_ID).
    Outputs {
        run_id: String,
        #[arg(long)]
        to: Option<PathBuf>,
        #[command(flatten)]
        access: Access,
    },
    /// Run the whole pipeline N times and print per-step timings and API calls.
    Bench {
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[command(flatten)]
        train: TrainArgs,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(EXIT_PROVISIONING);
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Train(args) => train(args).await,
            Command::Status { run_id, access } => status(&run_id, &access).await,
            Command::Delete { run_id, access } => delete(&run_id, &access).await,
            Command::Outputs { run_id, to, access } => outputs(&run_id, to, &access).await,
            Command::Bench { runs, train } => bench::run(runs, train).await,
        }
    })
}

fn report_error(err: &dyn Explain) {
    eprintln!("error: {err}");
    if let Some(hint) = err.hint() {
        eprintln!("  what to do: {hint}");
    }
}

fn exit_for(err: &PipelineError) -> ExitCode {
    ExitCode::from(match err {
        PipelineError::Input(_) => EXIT_INPUT,
        e if e.is_training_failure() => EXIT_TRAINING,
        _ => EXIT_PROVISIONING,
    })
}

fn open_history() -> Result<History, ExitCode> {
    let dir = paths::data_dir();
    std::fs::create_dir_all(&dir).map_err(|e| {
        eprintln!(
            "error: cannot create the data folder {}: {e}",
            dir.display()
        );
        ExitCode::from(EXIT_PROVISIONING)
    })?;
    History::open(&paths::history_db(&dir)).map_err(|e| {
        report_error(&e);
        ExitCode::from(EXIT_PROVISIONING)
    })
}

async fn context(source: &CredentialSource, region: &str) -> Result<AwsContext, ExitCode> {
    AwsContext::new(source, region).await.map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_INPUT)
    })
}

async fn train(args: TrainArgs) -> ExitCode {
    let history = match open_history() {
        Ok(h) => Arc::new(h),
        Err(code) => return code,
    };
    let source = match args.access.source() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let ctx = match context(&source, &args.region).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let timeline = Tracked::new(Arc::new(timeline::Timeline::new()));
    let mut run = match Train::new(ctx, args.request(), timeline.clone(), history.clone()) {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return exit_for(&e);
        }
    };
    let run_id = run.run_id().to_string();
    let _ = history.attach_request(&run_id, "cli", run.request());
    println!("run {run_id}");
    let keep = args.keep;
    let end = run_and_record(&mut run, Step::Prepare, &history, &timeline, |_| !keep).await;
    let result = end.result;
    let code = match &result {
        Ok(report) => {
            println!(
                "outputs: {} ({} files)",
                report.outputs_uri,
                report.output_keys.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_error(e);
            if let Some(detail) = e.detail() {
                eprintln!("--- output tail ---\n{detail}");
            }
            exit_for(e)
        }
    };
    match end.cleanup {
        None => println!("kept the machine and stack: delete them with `easytdv delete {run_id}`"),
        Some(Ok(_)) => {}
        Some(Err(e)) => {
            report_error(&e);
            eprintln!("run `easytdv delete {run_id}` to try again");
        }
    }
    println!(
        "{} run {run_id}",
        if result.is_ok() {
            "succeeded:"
        } else {
            "failed:"
        }
    );
    code
}

/// The history, a recorded run and an AWS context in the run's region.
async fn load_run(
    run_id: &str,
    access: &Access,
) -> Result<(History, RunRecord, AwsContext), ExitCode> {
    let history = open_history()?;
    let record = history.get(run_id).map_err(|e| {
        report_error(&e);
        ExitCode::from(EXIT_INPUT)
    })?;
    let ctx = context(&access.source()?, &record.resources.region).await?;
    Ok((history, record, ctx))
}

async fn status(run_id: &str, access: &Access) -> ExitCode {
    let (_, record, ctx) = match load_run(run_id, access).await {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let res = &record.resources;
    println!("run       {}", res.run_id);
    println!("outcome   {:?}", record.outcome);
    println!("clean-up  {:?}", record.cleanup);
    if let Some(m) = &record.message {
        println!("message   {m}");
    }
    let stack_name = res
        .stack_name
        .clone()
        .unwrap_or_else(|| format!("easytdv-{}", res.run_id));
    match pipeline::cloud_status(&ctx, res).await {
        Ok(pipeline::CloudStatus {
            stack_status: stack,
            instance_state: instance,
        }) => {
            println!(
                "stack     {stack_name}: {}",
                stack.as_deref().unwrap_or("none")
            );
            println!(
                "machine   {}: {}",
                res.instance_id.as_deref().unwrap_or("-"),
                instance.as_deref().unwrap_or(if res.instance_id.is_some() {
                    "gone"
                } else {
                    "none"
                })
            );
            if let Some(uri) = &record.outputs_uri {
                println!("outputs   {uri}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_error(&e);
            exit_for(&e)
        }
    }
}

async fn delete(run_id: &str, access: &Access) -> ExitCode {
    let (history, record, ctx) = match load_run(run_id, access).await {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let _ = history.set_cleanup(run_id, Cleanup::Deleting, None);
    let timeline = timeline::Timeline::new();
    match pipeline::delete_resources(&ctx, &record.resources, &timeline).await {
        Ok(_) => {
            let _ = history.set_cleanup(run_id, Cleanup::Deleted, None);
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = history.set_cleanup(run_id, Cleanup::Failed, Some(&e.to_string()));
            report_error(&e);
            exit_for(&e)
        }
    }
}

async fn outputs(run_id: &str, to: Option<PathBuf>, access: &Access) -> ExitCode {
    let (_, record, ctx) = match load_run(run_id, access).await {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let dir = to.unwrap_or_else(|| PathBuf::from(format!("easytdv-{run_id}")));
    match pipeline::download_outputs(&ctx, &record.resources, &dir).await {
        Ok(files) => {
            for f in &files {
                println!("{}", f.display());
            }
            println!("{} files in {}", files.len(), dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            report_error(&e);
            exit_for(&e)
        }
    }
}
