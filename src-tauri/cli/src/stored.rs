//! `stored`: what a run bucket keeps between runs (the project and data
//! files, sent once and shared by every run, and the saved environments),
//! and deleting the files no run in progress needs.

use std::process::ExitCode;

use easytdv_core::environments::{self, CachedEnvironment};
use easytdv_core::explain::Explain;
use easytdv_core::project::words::bytes;
use easytdv_core::stored::{self, StoredFiles};

use crate::access;
use crate::account::print_json;
use crate::args::Access;
use crate::commands::open_services;
use crate::report::{self, EXIT_INPUT, EXIT_PROVISIONING};

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    files: StoredFiles,
    environments: Vec<CachedEnvironment>,
    usd_per_month: f64,
}

pub async fn stored(
    bucket: &str,
    region: &str,
    delete_files: bool,
    json: bool,
    access_flags: &Access,
) -> Result<(), ExitCode> {
    easytdv_core::pipeline::check_bucket(bucket).map_err(|e| report::fail(&e, EXIT_INPUT))?;
    let services = open_services()?;
    let source = access::source(access_flags, &services)?;
    let ctx = access::context(&source, region).await?;
    let fail = |e: easytdv_core::pipeline::PipelineError| {
        report::error(&e);
        report::exit_for(&e)
    };
    if delete_files {
        let live = services
            .history()
            .with_live_resources()
            .map_err(|e| report::fail(&e, EXIT_PROVISIONING))?;
        let done = stored::delete_files(&ctx, bucket, &live)
            .await
            .map_err(|e| {
                let code = if e.is_bad_input() {
                    EXIT_INPUT
                } else {
                    EXIT_PROVISIONING
                };
                report::fail(&e as &dyn Explain, code)
            })?;
        if json {
            return print_json(&done);
        }
        println!(
            "deleted {} project and data file(s) in {bucket} ({} freed); kept {} a run in progress needs",
            done.deleted,
            bytes(done.bytes_freed as u64),
            done.kept
        );
        return Ok(());
    }
    let files = stored::list_files(&ctx, bucket).await.map_err(fail)?;
    let environments = environments::list(&ctx, bucket).await.map_err(fail)?;
    let listing = Listing {
        usd_per_month: files.usd_per_month
            + environments.iter().map(|e| e.usd_per_month).sum::<f64>(),
        files,
        environments,
    };
    if json {
        return print_json(&listing);
    }
    let f = &listing.files;
    println!("stored in s3://{bucket} ({region}):");
    println!(
        "  project and data files: {} file(s), {}, ${:.3}/month{}",
        f.count,
        bytes(f.size_bytes as u64),
        f.usd_per_month,
        f.newest
            .as_deref()
            .map(|d| format!(", newest sent {d}"))
            .unwrap_or_default()
    );
    let env_bytes: f64 = listing.environments.iter().map(|e| e.size_bytes).sum();
    println!(
        "  saved environments: {}, {}, ${:.3}/month (see `easytdv environments`)",
        listing.environments.len(),
        bytes(env_bytes as u64),
        listing
            .environments
            .iter()
            .map(|e| e.usd_per_month)
            .sum::<f64>()
    );
    println!("  total: ${:.3}/month", listing.usd_per_month);
    Ok(())
}
