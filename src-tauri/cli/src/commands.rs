//! `train`, `status`, `delete`, `outputs`: each a thin layer over the core.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use easytdv_core::aws::AwsContext;
use easytdv_core::history::RunRecord;
use easytdv_core::logs::{LogFollower, LogName, Stream};
use easytdv_core::pipeline::{self, storage::RunBucket, DownloadProgress};
use easytdv_core::runs::{CleanupPolicy, CLI_ACCOUNT};
use easytdv_core::services::Services;

use crate::access;
use crate::args::{Access, TrainArgs};
use crate::report::{self, exit_for, exit_for_run, EXIT_INPUT, EXIT_PROVISIONING};
use crate::timeline::Timeline;

type CliResult = Result<(), ExitCode>;

pub fn open_services() -> Result<Services, ExitCode> {
    let services = Services::open(&easytdv_core::paths::data_dir())
        .map_err(|e| report::fail(&e, EXIT_PROVISIONING))?;
    if let Some(aside) = services.history().moved_aside() {
        eprintln!(
            "warning: the run history could not be used ({}); it was kept as {} and a new one was started",
            aside.reason,
            aside.path.display()
        );
    }
    Ok(services)
}

/// What will be sent: the folder, its files and size; a warning when it
/// looks like data; what was left out and why.
fn tell_project(project: &easytdv_core::project::ProjectInputs) {
    let summary = easytdv_core::project::ProjectSummary::of(project);
    println!("project {} ({})", summary.root.display(), summary.line());
    if let Some(warning) = &summary.warning {
        eprintln!("warning: {warning}");
        let largest: Vec<String> = summary
            .largest
            .iter()
            .map(|f| format!("{} ({})", f.path, f.size))
            .collect();
        eprintln!("  largest: {}", largest.join(", "));
    }
    if !summary.never_sent.is_empty() {
        println!("  not sent: {} (never sent)", summary.never_sent.join(", "));
    }
    for note in &summary.notes {
        eprintln!("note: {note}");
    }
}

/// What the person typed, checked before any AWS call: a wrong input is
/// told even when AWS (or the sandbox) cannot be reached.
pub fn check_inputs(args: &TrainArgs) -> CliResult {
    if let Some(problem) = args.engine_mismatch() {
        eprintln!("error: {problem}");
        return Err(ExitCode::from(EXIT_INPUT));
    }
    let root = easytdv_core::project::project_root(&args.script, args.project.as_deref());
    if args.script.is_file() {
        if let Err(e) = easytdv_core::project::check_entry(&root, &args.script) {
            return Err(report::fail(&e, EXIT_INPUT));
        }
    }
    if args.requirements.is_none() && !args.requirements_path().is_file() {
        eprintln!(
            "error: there is no requirements.txt (nor pyproject.toml with uv.lock) in the project folder {}\nwhat to do: give the requirements file with --requirements FILE (an empty file when the script needs no packages)",
            root.display()
        );
        return Err(ExitCode::from(EXIT_INPUT));
    }
    match pipeline::check_request(&args.request()) {
        Ok(checked) => tell_project(&checked.project),
        Err(e) => return Err(report::fail(&e, EXIT_INPUT)),
    }
    Ok(())
}

pub async fn train(args: TrainArgs) -> CliResult {
    check_inputs(&args)?;
    let services = open_services()?;
    let source = access::source(&args.access, &services)?;
    // Read from the keychain before anything is created: a name the
    // account does not have stops here.
    let secrets = access::run_secrets(&args.access, &args.secrets, &services)?;
    let ctx = access::context(&source, &args.region).await?;
    let timeline = services.progress(Arc::new(Timeline::new()));
    let ready = services
        .runs
        .open_with_secrets(ctx, CLI_ACCOUNT, args.request(), secrets, timeline.clone())
        .map_err(|e| {
            report::error(&e);
            exit_for_run(&e)
        })?;
    let run_id = ready.run_id().to_string();
    println!("run {run_id}");
    let policy = if args.keep {
        CleanupPolicy::Never
    } else {
        CleanupPolicy::Always
    };
    let end = services.runs.execute(ready, &timeline, policy).await;
    let code = match &end.result {
        Ok(report) => {
            println!(
                "outputs: {} ({} files)",
                report.outputs_uri,
                report.output_keys.len()
            );
            Ok(())
        }
        Err(e) => {
            report::error(e);
            if let Some(detail) = e.detail() {
                eprintln!("--- output tail ---\n{detail}");
            }
            Err(exit_for(e))
        }
    };
    if let Some(w) = services
        .history()
        .get(&run_id)
        .ok()
        .and_then(|r| r.resources.kept_warm)
    {
        println!(
            "machine {} kept warm until {}: the next run with the same machine starts on it (stop it now: `easytdv warm --stop {}`)",
            w.instance_id,
            easytdv_core::warm::utc_clock(w.until),
            w.instance_id
        );
    }
    match end.cleanup {
        None => println!("kept the machine and stack: delete them with `easytdv delete {run_id}`"),
        Some(Ok(_)) => {}
        Some(Err(e)) => {
            report::error(&e);
            eprintln!("run `easytdv delete {run_id}` to try again");
        }
    }
    println!(
        "{} run {run_id}",
        if end.result.is_ok() {
            "succeeded:"
        } else {
            "failed:"
        }
    );
    code
}

/// The services, a recorded run and an AWS context in the run's region.
async fn load_run(
    run_id: &str,
    access: &Access,
) -> Result<(Services, RunRecord, AwsContext), ExitCode> {
    let services = open_services()?;
    let record = services
        .history()
        .get(run_id)
        .map_err(|e| report::fail(&e, EXIT_INPUT))?;
    let source = access::source(access, &services)?;
    let ctx = access::context(&source, &record.resources.region).await?;
    Ok((services, record, ctx))
}

pub async fn status(run_id: &str, json: bool, access: &Access) -> CliResult {
    let (_, record, ctx) = load_run(run_id, access).await?;
    let res = &record.resources;
    let cloud = pipeline::cloud_status(&ctx, res).await.map_err(|e| {
        report::error(&e);
        exit_for(&e)
    })?;
    if json {
        let value = serde_json::json!({
            "run": record,
            "stackStatus": cloud.stack_status,
            "instanceState": cloud.instance_state,
        });
        println!("{value:#}");
        return Ok(());
    }
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
    println!(
        "stack     {stack_name}: {}",
        cloud.stack_status.as_deref().unwrap_or("none")
    );
    println!(
        "machine   {}: {}",
        res.instance_id.as_deref().unwrap_or("-"),
        cloud
            .instance_state
            .as_deref()
            .unwrap_or(if res.instance_id.is_some() {
                "gone"
            } else {
                "none"
            })
    );
    if let Some(uri) = &record.outputs_uri {
        println!("outputs   {uri}");
    }
    if let Some(c) = &record.cost {
        println!(
            "cost      ${:.2} ({:.2} h at ${:.3}/h{})",
            c.usd,
            c.hours,
            c.usd_per_hour,
            if c.growing { ", still growing" } else { "" }
        );
    }
    Ok(())
}

pub async fn delete(run_id: &str, access: &Access) -> CliResult {
    let (services, _, ctx) = load_run(run_id, access).await?;
    services
        .runs
        .delete(&ctx, run_id, &Timeline::new())
        .await
        .map(|_| ())
        .map_err(|e| {
            report::error(&e);
            exit_for_run(&e)
        })
}

pub async fn outputs(run_id: &str, to: Option<PathBuf>, access: &Access) -> CliResult {
    let (_, record, ctx) = load_run(run_id, access).await?;
    let dir = to.unwrap_or_else(|| PathBuf::from(format!("easytdv-{run_id}")));
    let show = |p: DownloadProgress| {
        let left = p
            .seconds_left
            .map(|s| {
                format!(
                    ", about {} left",
                    pipeline::human_duration(std::time::Duration::from_secs_f64(s))
                )
            })
            .unwrap_or_default();
        eprintln!(
            "{}/{} files, {:.1}/{:.1} MiB{left}",
            p.files_done,
            p.files_total,
            p.bytes_done / 1_048_576.0,
            p.bytes_total / 1_048_576.0
        );
    };
    let report = pipeline::download_outputs(&ctx, &record.resources, &dir, &show)
        .await
        .map_err(|e| {
            report::error(&e);
            exit_for(&e)
        })?;
    println!(
        "{} files in {} ({} already there)",
        report.files, report.folder, report.skipped
    );
    for renamed in &report.renamed {
        println!("{renamed}");
    }
    let script = record.request.as_ref().map(|r| r.script_path.as_path());
    if let Some(nb) = script.and_then(|s| pipeline::notebook::executed_in(&dir, s)) {
        println!("the executed notebook: {}", nb.display());
    }
    Ok(())
}

/// Prints a run's log; `--follow` keeps printing new lines until the run's
/// training ends (read from S3, only new bytes each time).
pub async fn logs(run_id: &str, install: bool, follow: bool, access: &Access) -> CliResult {
    let (services, record, ctx) = load_run(run_id, access).await?;
    let name = if install {
        LogName::Install
    } else {
        LogName::Train
    };
    let print = |line: &easytdv_core::logs::LogLine| match line.stream {
        Stream::Out => println!("{}", line.text),
        Stream::Err => eprintln!("{}", line.text),
    };
    let fail = |e: easytdv_core::pipeline::PipelineError| {
        report::error(&e);
        exit_for(&e)
    };
    if !follow {
        let file = easytdv_core::logs::local_log(&ctx, &record.resources, &services.data_dir, name)
            .await
            .map_err(fail)?;
        let total = file
            .len()
            .map_err(|e| report::fail(&e, EXIT_PROVISIONING))?;
        let mut at = 0;
        while at < total {
            for line in file
                .read(at, 10_000)
                .map_err(|e| report::fail(&e, EXIT_PROVISIONING))?
            {
                print(&line);
            }
            at += 10_000;
        }
        return Ok(());
    }
    let bucket = RunBucket::for_run(&ctx, &record.resources)
        .await
        .map_err(fail)?;
    let mut follower = LogFollower::new(&record.resources.outputs_prefix(), name);
    let command = if install {
        record.resources.install_command_id.clone()
    } else {
        record.resources.training_command_id.clone()
    };
    loop {
        for line in follower.poll(&bucket).await.map_err(fail)? {
            print(&line);
        }
        let running = match (&command, &record.resources.instance_id) {
            (Some(cmd), Some(instance)) => {
                matches!(
                    pipeline::command_outcome(&ctx, instance, cmd).await,
                    Ok(None)
                )
            }
            _ => false,
        };
        if !running {
            for line in follower.poll(&bucket).await.map_err(fail)? {
                print(&line);
            }
            if let Some(last) = follower.flush() {
                print(&last);
            }
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}
