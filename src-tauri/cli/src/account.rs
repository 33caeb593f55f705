//! `list`, `cost`, `leftovers`: the history and the account as a whole.

use std::process::ExitCode;

use easytdv_core::environments;
use easytdv_core::history::RunRecord;
use easytdv_core::overview::{self, MonthCost};
use easytdv_core::scan::{self, LeftoverScan};

use crate::access;
use crate::args::Access;
use crate::commands::open_services;
use crate::report::{self, EXIT_PROVISIONING};
use crate::timeline::Timeline;

type CliResult = Result<(), ExitCode>;

pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> CliResult {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            println!("{text}");
            Ok(())
        }
        Err(e) => {
            eprintln!("error: cannot write JSON: {e}");
            Err(ExitCode::from(EXIT_PROVISIONING))
        }
    }
}

fn script_of(r: &RunRecord) -> String {
    r.request
        .as_ref()
        .and_then(|q| q.script_path.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "-".into())
}

fn dollars(usd: Option<f64>) -> String {
    usd.map(|u| format!("${u:.2}"))
        .unwrap_or_else(|| "-".into())
}

/// The history, newest first (no AWS call).
pub fn list(json: bool) -> CliResult {
    let services = open_services()?;
    let runs = services
        .history()
        .list()
        .map_err(|e| report::fail(&e, EXIT_PROVISIONING))?;
    if json {
        return print_json(&runs);
    }
    println!(
        "{:<24} {:<20} {:<14} {:<12} {:<10} {:>8}  metrics",
        "run", "started", "script", "machine", "result", "cost"
    );
    for r in &runs {
        let metrics = r
            .summary
            .as_ref()
            .map(|s| {
                s.final_metrics
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        println!(
            "{:<24} {:<20} {:<14} {:<12} {:<10} {:>8}  {metrics}",
            r.run_id,
            r.created_at.get(..19).unwrap_or(&r.created_at),
            script_of(r),
            r.request
                .as_ref()
                .map(|q| q.instance_type.as_str())
                .unwrap_or("-"),
            format!("{:?}", r.outcome).to_lowercase(),
            dollars(r.cost.as_ref().map(|c| c.usd)),
        );
    }
    Ok(())
}

/// This month's cost per account, and each run's.
pub fn cost(json: bool) -> CliResult {
    let services = open_services()?;
    let runs = services
        .history()
        .list()
        .map_err(|e| report::fail(&e, EXIT_PROVISIONING))?;
    let month = overview::this_month();
    let totals: Vec<MonthCost> = overview::month_costs(&runs, &month);
    if json {
        return print_json(&totals);
    }
    if totals.is_empty() {
        println!("no runs started in {month}");
    }
    for t in &totals {
        println!(
            "{month}  account {}: ${:.2} over {} run(s){}",
            t.account_id,
            t.usd,
            t.runs,
            if t.growing {
                " (a machine may still be running: it grows)"
            } else {
                ""
            }
        );
    }
    for r in runs.iter().filter(|r| r.created_at.starts_with(&month)) {
        if let Some(c) = &r.cost {
            println!(
                "  {}  {:<14} {:.2} h at ${:.3}/h = ${:.2}",
                r.run_id,
                script_of(r),
                c.hours,
                c.usd_per_hour,
                c.usd
            );
        }
    }
    Ok(())
}

/// easyTDV resources in the account that this history does not own;
/// `--delete` deletes each and checks it is gone. A region or bucket that
/// could not be looked at is a row of its own, and the exit code says the
/// check is incomplete.
pub async fn leftovers(region: &str, delete: bool, json: bool, access_flags: &Access) -> CliResult {
    let services = open_services()?;
    let source = access::source(access_flags, &services)?;
    let ctx = access::context(&source, region).await?;
    let history = services
        .history()
        .list()
        .map_err(|e| report::fail(&e, EXIT_PROVISIONING))?;
    let scan: LeftoverScan = scan::leftovers(&ctx, &history, Some(&services.prices))
        .await
        .map_err(|e| {
            report::error(&e);
            report::exit_for(&e)
        })?;
    let incomplete = !scan.failures.is_empty();
    if json && !delete {
        print_json(&scan)?;
        return if incomplete {
            Err(ExitCode::from(EXIT_PROVISIONING))
        } else {
            Ok(())
        };
    }
    for f in &scan.failures {
        println!(
            "{:<8} {:<10} {:<40} could not be checked: {}{}",
            "failed",
            f.region,
            f.bucket.as_deref().unwrap_or("(the whole region)"),
            f.message,
            f.hint
                .as_deref()
                .map(|h| format!(" — {h}"))
                .unwrap_or_default()
        );
    }
    let found = &scan.leftovers;
    if found.is_empty() {
        if incomplete {
            println!("nothing left in what could be checked; the rows above could not be checked");
            return Err(ExitCode::from(EXIT_PROVISIONING));
        }
        println!(
            "nothing left: no easyTDV machine, stack, disk or input files outside this history"
        );
        return Ok(());
    }
    for l in found {
        println!(
            "{:<8} {:<10} {:<40} {}{}",
            format!("{:?}", l.kind).to_lowercase(),
            l.region,
            l.id,
            l.detail,
            l.usd_per_hour
                .map(|u| format!(" (${:.2}/month)", u * easytdv_core::prices::HOURS_PER_MONTH))
                .unwrap_or_default()
        );
    }
    if !delete {
        println!("delete them with `easytdv leftovers --delete` (outputs are kept)");
        return if incomplete {
            Err(ExitCode::from(EXIT_PROVISIONING))
        } else {
            Ok(())
        };
    }
    let mut failed = incomplete;
    let timeline = Timeline::new();
    for l in found {
        match scan::delete_leftover(&ctx, l, &history, &timeline).await {
            Ok(()) => println!("deleted {}", l.id),
            Err(e) => {
                failed = true;
                report::error(&e);
            }
        }
    }
    if failed {
        Err(ExitCode::from(EXIT_PROVISIONING))
    } else {
        Ok(())
    }
}

/// The cached environments of a bucket; `--delete KEY` deletes one.
pub async fn environments(
    bucket: &str,
    region: &str,
    delete: Option<&str>,
    json: bool,
    access_flags: &Access,
) -> CliResult {
    let services = open_services()?;
    let source = access::source(access_flags, &services)?;
    let ctx = access::context(&source, region).await?;
    let fail = |e: easytdv_core::pipeline::PipelineError| {
        report::error(&e);
        report::exit_for(&e)
    };
    if let Some(key) = delete {
        environments::delete(&ctx, bucket, key)
            .await
            .map_err(fail)?;
        println!("deleted the cached environment {key}");
        return Ok(());
    }
    let found = environments::list(&ctx, bucket).await.map_err(fail)?;
    if json {
        return print_json(&found);
    }
    if found.is_empty() {
        println!("no cached environment in {bucket}");
    }
    for e in &found {
        let reqs: Vec<&str> = e.requirements.lines().collect();
        println!(
            "{}  {}  Python {} {}  {:.1} MiB (${:.3}/month)  {}",
            &e.key[..e.key.len().min(12)],
            e.created,
            e.python,
            e.arch,
            e.size_bytes / 1_048_576.0,
            e.usd_per_month,
            if reqs.is_empty() {
                "(no packages)".to_string()
            } else {
                reqs.join(", ")
            }
        );
    }
    Ok(())
}
