//! The command line's shape (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::train_args::TrainArgs;

#[derive(Parser)]
#[command(
    name = "easytdv",
    version,
    about = "Train a model on AWS (one EC2 machine or a SageMaker training job), headless"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone)]
pub struct Access {
    /// Use an account saved in the app (its keys stay in the OS keychain).
    #[arg(long, conflicts_with_all = ["profile", "sandbox"])]
    pub account: Option<String>,
    /// Use this AWS CLI profile (SSO profiles included).
    #[arg(long, conflicts_with = "sandbox")]
    pub profile: Option<String>,
    /// Use the local AWS sandbox at this URL (e.g. http://127.0.0.1:4566).
    #[arg(long)]
    pub sandbox: Option<String>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a whole training: prepare, stack, machine, requirements, training, outputs.
    Train(TrainArgs),
    /// Several runs of one training with different arguments (--grid or --list),
    /// in parallel or one after another on one machine; names the best run.
    Sweep(crate::sweep::SweepArgs),
    /// The run history, newest first: script, machine, result, cost, final metrics.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// What this month's runs cost, per account and per run.
    Cost {
        #[arg(long)]
        json: bool,
    },
    /// Find easyTDV machines, stacks, disks and input files this history does not know.
    Leftovers {
        /// Delete each of them (a run's outputs are kept).
        #[arg(long)]
        delete: bool,
        #[arg(long)]
        json: bool,
        /// The region to start from (every region enabled for the account is checked).
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[command(flatten)]
        access: Access,
    },
    /// Machines kept warm for the next run (see train --keep-warm): cost so far, and stop one.
    Warm {
        /// Terminate this machine now (its id, as listed).
        #[arg(long, value_name = "ID")]
        stop: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        access: Access,
    },
    /// easyTDV's shared resources in the account (one set per region where you trained; free).
    Shared {
        /// Remove them ("Remove easyTDV from this account"), except where an easyTDV machine runs.
        #[arg(long, conflicts_with = "prepare")]
        remove: bool,
        /// Create them now in --region (which must be given), with the region's bucket, so the
        /// first run there does not wait for them (about two minutes, nearly all IAM).
        #[arg(long, requires = "region")]
        prepare: bool,
        /// With --prepare: the bucket runs there will use (default: the account's easyTDV
        /// bucket in the region, else a new one).
        #[arg(long, requires = "prepare")]
        bucket: Option<String>,
        #[arg(long)]
        json: bool,
        /// The region to start from (every region enabled for the account is checked).
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[command(flatten)]
        access: Access,
    },
    /// List the cached environments of a bucket (installed requirements kept for the next run).
    Environments {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        region: String,
        /// Delete this cached environment (its key).
        #[arg(long)]
        delete: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        access: Access,
    },
    /// What a run bucket keeps between runs: the project and data files (sent once,
    /// shared by every run) and the saved environments, with their monthly cost.
    Stored {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        region: String,
        /// Delete the project and data files (those a run in progress needs are kept);
        /// the next run sends its files again.
        #[arg(long)]
        delete_files: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        access: Access,
    },
    /// Show a run's stack and machine status.
    Status {
        run_id: String,
        #[arg(long)]
        json: bool,
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
    /// Print a run's log (the training's; --install: the installer's).
    Logs {
        run_id: String,
        /// Keep printing new lines until the step ends.
        #[arg(long)]
        follow: bool,
        /// The installer's log instead of the training's.
        #[arg(long)]
        install: bool,
        #[command(flatten)]
        access: Access,
    },
    /// One-time setup of an AWS account: with an administrator's profile (used once, never
    /// saved), create easyTDV's permissions boundary, its two policies and the IAM user
    /// easyTDV signs in as; its key goes to the OS keychain as a saved account.
    SetupAws {
        /// An AWS CLI profile that may administer IAM (SSO included).
        #[arg(long)]
        admin_profile: String,
        #[arg(long)]
        region: String,
        /// The name of the saved account (use it with --account).
        #[arg(long, default_value = "My AWS account")]
        name: String,
        /// The IAM user easyTDV signs in as.
        #[arg(long, default_value = "easytdv")]
        user: String,
        /// Only show what would be created.
        #[arg(long)]
        plan: bool,
    },
    /// Secrets for train.py (WANDB_API_KEY, HF_TOKEN…), per saved account, in the OS
    /// keychain; a run gets them with `train --account NAME --secret NAME`.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Run the whole pipeline N times and print per-step timings and API calls.
    Bench {
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[command(flatten)]
        train: TrainArgs,
    },
}

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Add or replace a secret; its value is read from standard input (never an argument).
    Set {
        /// The saved account (name or id).
        #[arg(long)]
        account: String,
        /// The environment variable train.py reads, e.g. HF_TOKEN.
        name: String,
    },
    /// The secrets' names (never their values).
    List {
        #[arg(long)]
        account: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a secret from the keychain.
    Delete {
        #[arg(long)]
        account: String,
        name: String,
    },
}
