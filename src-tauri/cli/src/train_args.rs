//! `easytdv train`'s options (clap) and the run they ask for.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use easytdv_core::data_source::{DataError, DataSource};
use easytdv_core::pipeline::{Engine, EnvVar, TrainRequest};

use crate::args::Access;

/// Where `train` runs the script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// One EC2 machine.
    Ec2,
    /// A SageMaker training job (one or several ml.* machines).
    Sagemaker,
}

#[derive(Args, Clone)]
pub struct TrainArgs {
    /// The training script (train.py), or a Jupyter notebook (.ipynb) that
    /// papermill executes on the machine; it runs from the project folder.
    #[arg(long)]
    pub script: PathBuf,
    /// The project folder, sent with the script (all but what .gitignore and
    /// .easytdvignore leave out); default: the script's folder.
    #[arg(long)]
    pub project: Option<PathBuf>,
    /// The run's data, at $DATA_DIR on the machine: a folder (sent once per
    /// file content, only what changed after that) or s3://bucket/prefix
    /// (read in place; the bucket must be in the run's region and account).
    #[arg(long, value_name = "FOLDER|s3://BUCKET/PREFIX", value_parser = parse_data)]
    pub data: Option<DataSource>,
    /// The requirements file; default: requirements.txt in the project folder.
    #[arg(long)]
    pub requirements: Option<PathBuf>,
    /// Where the training runs: one EC2 machine, or a SageMaker training job.
    #[arg(long, value_enum, default_value_t = EngineArg::Ec2)]
    pub engine: EngineArg,
    /// Machine type; default t3.medium (EC2) or ml.m5.large (SageMaker).
    #[arg(long)]
    pub instance_type: Option<String>,
    /// SageMaker: how many machines train together (torchrun across them).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub instance_count: Option<u32>,
    /// Spot capacity (cheaper; AWS may take it back). EC2: a spot machine first, on demand
    /// when none can be had. SageMaker: managed spot (the job resumes from its checkpoints).
    #[arg(long)]
    pub spot: bool,
    /// Root disk size in GiB.
    #[arg(long, default_value_t = 30)]
    pub disk_gb: u32,
    #[arg(long)]
    pub region: String,
    #[arg(long)]
    pub bucket: String,
    /// Machine image id; default: the current one for the region and machine.
    #[arg(long)]
    pub ami: Option<String>,
    /// Safety net: the machine terminates itself after this many hours.
    #[arg(long, default_value_t = 24)]
    pub max_hours: u32,
    /// Budget cap in US dollars: the safety stop comes earlier when this is reached first.
    #[arg(long)]
    pub budget: Option<f64>,
    /// Keep the machine and stack after the run (default: delete them, keep outputs).
    #[arg(long)]
    pub keep: bool,
    /// After a success, keep the machine on for the next run with the same machine
    /// (e.g. 10m, 1h; at most 2h): it starts in seconds. It stops itself then.
    #[arg(long, value_name = "DURATION", value_parser = parse_minutes)]
    pub keep_warm: Option<u32>,
    /// A plain environment variable for the script, NAME=value (repeat for more).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<EnvVar>,
    /// A secret of the saved account (see `easytdv secrets`) that train.py gets as an
    /// environment variable of that name; repeat for several. Needs --account.
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,
    #[command(flatten)]
    pub access: Access,
    /// The script's arguments, after `--` (passed as they are, with no shell
    /// on the machine), e.g. `-- --epochs 3 --lr 0.01`.
    #[arg(last = true, value_name = "ARGS", allow_hyphen_values = true)]
    pub script_args: Vec<String>,
}

/// `--data`: a folder, or an `s3://` location (checked for its shape here).
fn parse_data(text: &str) -> Result<DataSource, DataError> {
    DataSource::parse(text)
}

/// `--keep-warm 10m`: minutes (`90`, `90m`) or hours (`1h`); the range is
/// checked with the rest of the request.
fn parse_minutes(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let (n, per) = match t.strip_suffix('h') {
        Some(h) => (h, 60),
        None => (t.strip_suffix('m').unwrap_or(t), 1),
    };
    n.trim()
        .parse::<u32>()
        .ok()
        .and_then(|n| n.checked_mul(per))
        .ok_or_else(|| {
            format!("\"{text}\" is not a duration: write minutes like 10m or hours like 1h")
        })
}

/// `--env NAME=value`: split at the first `=` (the name is checked with the
/// rest of the request).
fn parse_env(text: &str) -> Result<EnvVar, easytdv_core::pipeline::ArgsError> {
    EnvVar::parse(text)
}

impl TrainArgs {
    /// Options that only make sense with another engine (`None`: all fit).
    pub fn engine_mismatch(&self) -> Option<&'static str> {
        match self.engine {
            EngineArg::Ec2 if self.instance_count.is_some() => Some(
                "--instance-count is for SageMaker training jobs: add --engine sagemaker (an EC2 run has one machine)",
            ),
            _ if self.keep && self.keep_warm.is_some() => Some(
                "--keep and --keep-warm do not go together: --keep-warm hands the machine on to the next run (the run's own resources are deleted), --keep keeps them all",
            ),
            _ => None,
        }
    }

    pub fn engine(&self) -> Engine {
        match self.engine {
            EngineArg::Ec2 => Engine::Ec2,
            EngineArg::Sagemaker => Engine::SageMaker {
                instance_count: self.instance_count.unwrap_or(1),
                spot: self.spot,
            },
        }
    }

    /// `--requirements`, else requirements.txt in the project folder, else
    /// its uv.lock beside pyproject.toml (the run's check says so when there
    /// is none).
    pub fn requirements_path(&self) -> PathBuf {
        self.requirements.clone().unwrap_or_else(|| {
            let root = easytdv_core::project::project_root(&self.script, self.project.as_deref());
            easytdv_core::project::requirements::default_requirements(&root)
                .unwrap_or_else(|| root.join("requirements.txt"))
        })
    }

    pub fn request(&self) -> TrainRequest {
        let default_type = match self.engine {
            EngineArg::Ec2 => "t3.medium",
            EngineArg::Sagemaker => "ml.m5.large",
        };
        TrainRequest {
            script_path: self.script.clone(),
            requirements_path: self.requirements_path(),
            instance_type: self
                .instance_type
                .clone()
                .unwrap_or_else(|| default_type.to_string()),
            disk_gb: self.disk_gb,
            region: self.region.clone(),
            bucket: self.bucket.clone(),
            ami: self.ami.clone(),
            max_runtime_hours: self.max_hours,
            budget_usd: self.budget,
            engine: self.engine(),
            args: self.script_args.clone(),
            args_text: String::new(),
            env: self.env.clone(),
            secrets: self.secrets.clone(),
            project_dir: self.project.clone(),
            data: self.data.clone(),
            keep_warm_minutes: self.keep_warm,
            // EC2: a spot machine first, on demand when none (SageMaker: the engine's).
            spot: self.spot && matches!(self.engine, EngineArg::Ec2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn train(argv: &[&str]) -> Result<TrainArgs, clap::Error> {
        let base = [
            "easytdv",
            "train",
            "--script",
            "t.py",
            "--requirements",
            "r.txt",
            "--region",
            "eu-west-3",
            "--bucket",
            "b-1",
        ];
        match Cli::try_parse_from(base.iter().chain(argv)) {
            Ok(Cli {
                command: Command::Train(t),
            }) => Ok(t),
            Ok(_) => unreachable!("a train command"),
            Err(e) => Err(e),
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn data_is_a_folder_or_an_s3_location_checked_on_the_command_line() {
        let t = train(&["--data", "s3://my-data/points"]).unwrap();
        assert_eq!(
            t.request().data,
            Some(DataSource::S3 {
                url: "s3://my-data/points/".into()
            })
        );
        let t = train(&["--data", "datasets/points"]).unwrap();
        assert_eq!(
            t.request().data,
            Some(DataSource::Folder {
                path: "datasets/points".into()
            })
        );
        let Err(err) = train(&["--data", "s3://My_Data/x"]) else {
            panic!("a bad bucket name is refused")
        };
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("not an S3 location"), "{err}");
    }

    #[test]
    fn everything_after_double_dash_is_the_scripts_and_env_repeats() {
        let t = train(&[
            "--env", "A=1", "--env", "B=x=y", "--keep", "--", "--epochs", "3", "--keep", "--",
            "a b",
        ])
        .unwrap();
        assert!(t.keep, "--keep before -- is ours");
        let r = t.request();
        assert_eq!(r.args, ["--epochs", "3", "--keep", "--", "a b"]);
        assert_eq!(r.args_text, "");
        assert_eq!(r.env, vec![EnvVar::new("A", "1"), EnvVar::new("B", "x=y")]);
        assert!(train(&[]).unwrap().request().args.is_empty());
        let Err(err) = train(&["--env", "NOEQUALS"]) else {
            panic!("a variable without = is refused")
        };
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("write it as NAME=value"), "{err}");
    }
}
