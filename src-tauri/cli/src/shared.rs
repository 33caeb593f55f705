//! `easytdv shared`: easyTDV's shared resources in the account (one set
//! per region, free; runs reuse them), and `--remove` ("Remove easyTDV from
//! this account"): deleted wherever none of its machines runs; `--prepare`:
//! made ready in one region before its first run.

use std::process::ExitCode;

use easytdv_core::pipeline::region_ready;
use easytdv_core::scan;

use crate::access;
use crate::account::print_json;
use crate::args::Access;
use crate::commands::open_services;
use crate::report::{self, EXIT_PROVISIONING};

type CliResult = Result<(), ExitCode>;

pub async fn shared(region: &str, remove: bool, json: bool, access_flags: &Access) -> CliResult {
    let services = open_services()?;
    let source = access::source(access_flags, &services)?;
    let ctx = access::context(&source, region).await?;
    let fail = |e: easytdv_core::pipeline::PipelineError| {
        report::error(&e);
        report::exit_for(&e)
    };
    if !remove {
        let found = scan::bases(&ctx).await.map_err(fail)?;
        if json {
            print_json(&found)?;
        } else {
            for s in &found.sites {
                let state = match s.machines_running {
                    0 => "ready, free".to_string(),
                    n => format!("in use by {n} running machine(s)"),
                };
                println!("{:<16} {:<20} {state}", s.region, s.status);
            }
            for f in &found.failures {
                println!("{:<16} could not be checked: {}", f.region, f.message);
            }
            if found.sites.is_empty() {
                println!("nothing: easyTDV keeps no shared resources in this account");
            } else {
                println!(
                    "remove them with `easytdv shared --remove` (runs' outputs and buckets stay)"
                );
            }
        }
        return incomplete(!found.failures.is_empty());
    }
    let notice = |m: &str| eprintln!("{m}");
    let done = scan::remove_bases(&ctx, &notice).await.map_err(fail)?;
    if json {
        print_json(&done)?;
    } else {
        for r in &done.removed {
            println!("{r:<16} removed");
        }
        for s in &done.kept {
            println!(
                "{:<16} kept: {} easyTDV machine(s) still run there; delete those runs, then remove again",
                s.region, s.machines_running
            );
        }
        for f in &done.failures {
            println!("{:<16} not removed: {}", f.region, f.message);
        }
        if done.removed.is_empty() && done.kept.is_empty() && done.failures.is_empty() {
            println!("nothing to remove");
        }
    }
    incomplete(!done.kept.is_empty() || !done.failures.is_empty())
}

/// `easytdv shared --prepare`: the region's bucket and shared resources made
/// now, so the first run there does not wait for them.
pub async fn prepare(
    region: &str,
    bucket: Option<&str>,
    json: bool,
    access_flags: &Access,
) -> CliResult {
    let services = open_services()?;
    let source = access::source(access_flags, &services)?;
    let ctx = access::context(&source, region).await?;
    let notice = |m: &str| eprintln!("{m}");
    let lock = tokio::sync::Mutex::new(None);
    let ready = region_ready::prepare(&ctx, bucket, &lock, &notice)
        .await
        .map_err(|e| {
            report::error(&e);
            report::exit_for(&e)
        })?;
    if json {
        print_json(&ready)?;
    } else {
        let made = if ready.bucket_created {
            "created"
        } else {
            "found"
        };
        println!(
            "{} is ready for easyTDV: bucket {} ({made}), shared resources version {}",
            ready.region, ready.bucket, ready.base_version
        );
    }
    Ok(())
}

/// Exit code: whatever could not be looked at or removed says so.
fn incomplete(partial: bool) -> CliResult {
    if partial {
        Err(ExitCode::from(EXIT_PROVISIONING))
    } else {
        Ok(())
    }
}
