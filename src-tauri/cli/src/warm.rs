//! `easytdv warm [--stop ID]`: the machines kept warm for the next run (see
//! `easytdv train --keep-warm`), what each has cost so far, and stopping one.

use std::process::ExitCode;

use easytdv_core::services::ServicesError;
use easytdv_core::warm::{now_secs, utc_clock, WarmMachine};

use crate::access;
use crate::account::print_json;
use crate::args::Access;
use crate::commands::open_services;
use crate::report::{self, EXIT_INPUT, EXIT_PROVISIONING};

type CliResult = Result<(), ExitCode>;

pub async fn warm(stop: Option<&str>, json: bool, access_flags: &Access) -> CliResult {
    let services = open_services()?;
    let source = access::source(access_flags, &services)?;
    let context = |m: WarmMachine| {
        let source = source.clone();
        async move {
            easytdv_core::aws::AwsContext::new(&source, &m.region)
                .await
                .map_err(ServicesError::from)
        }
    };
    let Some(id) = stop else {
        // A machine still running well past its own stop is ended first.
        for ended in services.end_overdue_warm_with(context).await {
            eprintln!("{ended} ran past its own stop: terminated");
        }
        let list = services
            .warm_machines()
            .map_err(|e| report::fail(&e, EXIT_PROVISIONING))?;
        if json {
            return print_json(&list);
        }
        let now = now_secs();
        for m in &list {
            println!("{}", line(m, now));
        }
        if list.is_empty() {
            println!(
                "no machine is kept warm (train with --keep-warm 10m to keep one for the next run)"
            );
        } else {
            println!(
                "stop one now with `easytdv warm --stop ID` (each also stops itself at its time)"
            );
        }
        return Ok(());
    };
    let stopped = services.stop_warm_with(id, context).await.map_err(|e| {
        let code = if matches!(e, ServicesError::NotWarm(_)) {
            EXIT_INPUT
        } else {
            EXIT_PROVISIONING
        };
        report::fail(&e, code)
    })?;
    if json {
        return print_json(&stopped);
    }
    println!("{} terminated", stopped.instance_id);
    Ok(())
}

/// `i-0abc  t3.medium  eu-west-3  until 10:42 UTC  $0.01 so far ($0.04/h)`
fn line(m: &WarmMachine, now: f64) -> String {
    let until = utc_clock(m.until);
    let cost = match (m.cost_so_far(now), m.usd_per_hour) {
        (Some(c), Some(h)) => format!("${c:.2} so far (${h:.3}/h)"),
        _ => "price unknown".into(),
    };
    let state = if m.until > now {
        format!("stops itself at {until}")
    } else {
        format!("stopped itself at {until}")
    };
    format!(
        "{:<20} {:<12} {:<14} {state}  {cost}  after run {}",
        m.instance_id, m.instance_type, m.region, m.run_id
    )
}
