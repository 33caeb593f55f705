//! `easytdv sweep`: one request, several runs (a grid of values or argument
//! lines), in parallel or one after another on one machine kept warm.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use easytdv_core::history::Outcome;
use easytdv_core::pipeline::{ProgressEvent, ProgressSink, StepState};
use easytdv_core::runs::{CleanupPolicy, CLI_ACCOUNT};
use easytdv_core::sweep::{GridAxis, SweepError, SweepMode, SweepRequest, SweepValues, Sweeps};

use crate::access;
use crate::commands::{check_inputs, open_services};
use crate::report::{self, EXIT_INPUT, EXIT_PROVISIONING, EXIT_TRAINING};
use crate::train_args::TrainArgs;

#[derive(Args, Clone)]
pub struct SweepArgs {
    /// An argument and its values, NAME=V1,V2,… (repeat: every combination
    /// runs), set as `--NAME V` in the script's arguments (a notebook's `-p NAME V`).
    #[arg(long = "grid", value_name = "NAME=V1,V2", value_parser = parse_axis)]
    pub grid: Vec<GridAxis>,
    /// A file with one run's whole argument line per line (# comments).
    #[arg(long, value_name = "FILE", conflicts_with = "grid")]
    pub list: Option<PathBuf>,
    /// At most this many machines at once (default 4).
    #[arg(long, value_name = "N", conflicts_with = "one_machine")]
    pub at_once: Option<u32>,
    /// One run after another on one machine, kept warm between them (EC2).
    #[arg(long)]
    pub one_machine: bool,
    /// Stop every run when one fails (default: the others go on).
    #[arg(long)]
    pub stop_on_failure: bool,
    /// Print the runs and the price, start nothing.
    #[arg(long)]
    pub plan: bool,
    #[command(flatten)]
    pub train: TrainArgs,
}

/// A `--grid` value without `=`.
#[derive(Debug)]
pub struct AxisSyntax(String);

impl std::fmt::Display for AxisSyntax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\"{}\": write it as NAME=V1,V2 (e.g. lr=0.1,0.01)",
            self.0
        )
    }
}

impl std::error::Error for AxisSyntax {}

/// `--grid lr=0.1,0.01`: the name before the first `=`, values split at `,`.
fn parse_axis(text: &str) -> Result<GridAxis, AxisSyntax> {
    let (name, values) = text
        .split_once('=')
        .ok_or_else(|| AxisSyntax(text.to_string()))?;
    Ok(GridAxis {
        name: name.trim().to_string(),
        values: values.split(',').map(|v| v.trim().to_string()).collect(),
    })
}

impl SweepArgs {
    fn request(&self) -> Result<SweepRequest, ExitCode> {
        let values = match &self.list {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    eprintln!("error: cannot read the list {}: {e}\n  what to do: give a text file with one argument line per run", path.display());
                    ExitCode::from(EXIT_INPUT)
                })?;
                SweepValues::List {
                    lines: text.lines().map(str::to_string).collect(),
                }
            }
            None if self.grid.is_empty() => {
                eprintln!("error: a sweep needs values: --grid NAME=V1,V2 (repeat for more) or --list FILE");
                return Err(ExitCode::from(EXIT_INPUT));
            }
            None => SweepValues::Grid {
                axes: self.grid.clone(),
            },
        };
        Ok(SweepRequest {
            base: self.train.request(),
            values,
            mode: if self.one_machine {
                SweepMode::OneMachine
            } else {
                SweepMode::Parallel {
                    at_once: self.at_once.unwrap_or(4),
                }
            },
            stop_on_failure: self.stop_on_failure,
        })
    }
}

/// One line per run and step that ends (the runs go on side by side).
struct Steps;

impl ProgressSink for Steps {
    fn emit(&self, e: ProgressEvent) {
        let mark = match e.state {
            StepState::Done => "✓",
            StepState::Failed => "✗",
            StepState::Stopped => "■",
            _ => return,
        };
        println!("  {} {mark} {:<22} {}", e.run_id, e.step.label(), e.message);
    }
}

fn bad(e: &SweepError) -> ExitCode {
    let code = match e {
        SweepError::Pipeline(p) => return report::exit_for(p),
        SweepError::Run(r) => return report::exit_for_run(r),
        SweepError::History(_) => EXIT_PROVISIONING,
        _ => EXIT_INPUT,
    };
    report::fail(e, code)
}

pub async fn sweep(args: SweepArgs) -> Result<(), ExitCode> {
    check_inputs(&args.train)?;
    let request = args.request()?;
    let plan = request.plan().map_err(|e| bad(&e))?;
    let how = match request.mode {
        SweepMode::OneMachine => "one after another on one machine kept warm".to_string(),
        SweepMode::Parallel { .. } => format!("at most {} at once", plan.at_once),
    };
    println!("sweep of {} runs, {how}:", plan.runs.len());
    for (i, run) in plan.runs.iter().enumerate() {
        println!("  {:>2}. {:<28} {}", i + 1, run.label, run.args_text);
    }
    let services = open_services()?;
    let source = access::source(&args.train.access, &services)?;
    let secrets = access::run_secrets(&args.train.access, &args.train.secrets, &services)?;
    let ctx = access::context(&source, &args.train.region).await?;
    let base = &request.base;
    if let Ok(q) = services
        .prices
        .quote(
            &ctx,
            &base.instance_type,
            base.disk_gb,
            f64::from(base.max_runtime_hours),
            plan.budget_per_run,
        )
        .await
    {
        let n = plan.runs.len() as f64;
        match (q.usd_per_hour, q.at_most_usd) {
            (Some(rate), Some(most)) => println!(
                "price: ${rate:.3}/hour per machine; each run stops itself by {:.1} h (at most ${most:.2}), the sweep at most ${:.2}{}",
                q.safety_stop_hours,
                most * n,
                plan.budget_per_run
                    .map(|b| format!(" (your budget ${:.2}, ${b:.2} per run)", b * n))
                    .unwrap_or_default()
            ),
            _ => println!("price: unknown for {} in {}", base.instance_type, base.region),
        }
    }
    if args.plan {
        return Ok(());
    }
    let policy = if args.train.keep {
        CleanupPolicy::Never
    } else {
        CleanupPolicy::Always
    };
    let sink: Arc<dyn ProgressSink> = Arc::new(Steps);
    let progress = services.progress_factory(move || sink.clone());
    let start = easytdv_core::sweep::SweepStart {
        ctx,
        account_id: CLI_ACCOUNT.into(),
        secrets,
        policy,
        progress,
    };
    let record = services
        .sweeps
        .open(request, &start)
        .await
        .map_err(|e| bad(&e))?;
    println!("sweep {}", record.sweep_id);
    let end = services
        .sweeps
        .drive(&record.sweep_id, start, Sweeps::all_jobs(&record))
        .await
        .map_err(|e| bad(&e))?;
    let view = services
        .sweeps
        .view(&record.sweep_id)
        .map_err(|e| bad(&e))?;
    println!();
    let metric = view.best_by.as_ref().map(|b| b.metric.clone());
    println!(
        "  #  {:<28} {:<22} {:<10} {:>8}  {}",
        "values",
        "run",
        "result",
        "cost",
        metric.as_deref().unwrap_or("")
    );
    for (i, (planned, run)) in plan.runs.iter().zip(&view.runs).enumerate() {
        let (id, result, cost, value) = match run {
            None => (
                "-".to_string(),
                "not run".to_string(),
                String::new(),
                String::new(),
            ),
            Some(r) => (
                r.run_id.clone(),
                format!("{:?}", r.outcome).to_lowercase(),
                r.cost
                    .as_ref()
                    .map(|c| format!("${:.3}", c.usd))
                    .unwrap_or_default(),
                metric
                    .as_ref()
                    .and_then(|m| r.summary.as_ref()?.final_metrics.get(m))
                    .map(|v| format!("{v}"))
                    .unwrap_or_default(),
            ),
        };
        let star = match (&view.best, run) {
            (Some(b), Some(r)) if b.run_id == r.run_id => " ← best",
            _ => "",
        };
        println!(
            "  {:>2} {:<28} {id:<22} {result:<10} {cost:>8}  {value}{star}",
            i + 1,
            planned.label
        );
    }
    println!("total cost ${:.3}", view.cost_usd);
    if let (Some(best), Some(by)) = (&view.best, &view.best_by) {
        println!(
            "best: run {} ({} {} {}); its outputs: `easytdv outputs {} --to DIR`",
            best.run_id,
            by.metric,
            if by.lower_is_better {
                "lowest,"
            } else {
                "highest,"
            },
            best.value,
            best.run_id
        );
    }
    if let Some(why) = &end.stopped_because {
        eprintln!("the sweep stopped: {why}");
    }
    let failed = view
        .runs
        .iter()
        .flatten()
        .filter(|r| r.outcome != Outcome::Succeeded)
        .count();
    println!("{} of {} runs succeeded", end.succeeded, plan.runs.len());
    if failed > 0 || end.not_finished > 0 {
        return Err(ExitCode::from(EXIT_TRAINING));
    }
    Ok(())
}
