//! `easytdv bench`: the whole pipeline N times; per step min/median/max wall
//! time and AWS API calls.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use easytdv_core::aws::AwsContext;
use easytdv_core::pipeline::{
    self, MemoryState, ProgressEvent, ProgressSink, Step, StepState, Train,
};

use crate::args::TrainArgs;
use crate::commands::open_services;
use crate::report::{self, EXIT_PROVISIONING};

/// Records, per step, its duration and the API calls made during it.
struct StepClock {
    ctx_calls: Box<dyn Fn() -> u64 + Send + Sync>,
    open: Mutex<BTreeMap<&'static str, (Instant, u64)>>,
    done: Mutex<Vec<(&'static str, f64, u64)>>,
}

impl ProgressSink for StepClock {
    fn emit(&self, e: ProgressEvent) {
        let calls = (self.ctx_calls)();
        let (Ok(mut open), Ok(mut done)) = (self.open.lock(), self.done.lock()) else {
            return;
        };
        match e.state {
            StepState::Running => {
                open.entry(e.step.as_str())
                    .or_insert((Instant::now(), calls));
            }
            StepState::Done | StepState::Failed | StepState::Skipped | StepState::Stopped => {
                if let Some((t, c)) = open.remove(e.step.as_str()) {
                    done.push((e.step.as_str(), t.elapsed().as_secs_f64(), calls - c));
                }
            }
        }
    }
}

pub async fn run(n: usize, args: TrainArgs) -> Result<(), ExitCode> {
    let services = open_services()?;
    let mut samples: BTreeMap<&'static str, Vec<(f64, u64)>> = BTreeMap::new();
    let mut totals = Vec::new();
    let mut phases: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
    let (mut machine_time, mut overhead, mut outside_phases) = (Vec::new(), Vec::new(), Vec::new());
    let mut in_calls = Vec::new();
    let mut operations: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
    // One state for all the runs: the environment saved by the first is
    // recorded there, so the next ones restore it (the history does this for
    // real runs).
    let state = MemoryState::default();
    let secrets = crate::access::run_secrets(&args.access, &args.secrets, &services)?;
    for i in 0..n {
        let source = crate::access::source(&args.access, &services)?;
        let ctx = match AwsContext::new(&source, &args.region).await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return Err(ExitCode::from(EXIT_PROVISIONING));
            }
        };
        let counter = ctx.clone();
        let clock = Arc::new(StepClock {
            ctx_calls: Box::new(move || counter.calls()),
            open: Mutex::new(BTreeMap::new()),
            done: Mutex::new(Vec::new()),
        });
        let started = Instant::now();
        let mut train = match Train::new(
            ctx.clone(),
            args.request(),
            clock.clone(),
            Arc::new(state.clone()),
        )
        .and_then(|t| t.with_secrets(secrets.clone()))
        {
            Ok(t) => t,
            Err(e) => {
                report::error(&e);
                return Err(ExitCode::from(EXIT_PROVISIONING));
            }
        };
        let result = train.run_from(Step::Prepare).await;
        let deleted = pipeline::delete_resources(&ctx, train.resources(), clock.as_ref()).await;
        if let Err(e) = result.map(|_| ()).and(deleted.map(|_| ())) {
            report::error(&e);
            return Err(ExitCode::from(EXIT_PROVISIONING));
        }
        let wall = started.elapsed().as_secs_f64();
        totals.push((wall, ctx.calls()));
        // The machine's own time: how long SSM says its commands ran, plus the
        // user data's run time ("boot"); the phases its scripts timed are the
        // detail of the commands' time.
        let summary = train.summary();
        let commands: f64 = summary.command_seconds.iter().sum();
        let (mut in_phases, mut boot) = (0.0, 0.0);
        for p in summary.phases {
            if p.name == "boot" {
                boot += p.seconds;
            } else if p.name != "cache-save" {
                // (the environment's save runs beside the training: its time
                // is inside the train command's, not added to it)
                in_phases += p.seconds;
            }
            phases.entry(p.name).or_default().push((p.seconds, 0));
        }
        outside_phases.push((commands - in_phases, 0));
        let machine = commands + boot;
        machine_time.push((machine, 0));
        overhead.push((wall - machine, 0));
        in_calls.push((ctx.call_seconds(), ctx.calls()));
        for (op, calls, secs) in ctx.calls_per_operation() {
            operations.entry(op).or_default().push((secs, calls));
        }
        for (step, secs, calls) in clock.done.lock().map(|d| d.clone()).unwrap_or_default() {
            samples.entry(step).or_default().push((secs, calls));
        }
        eprintln!(
            "run {}/{n} done in {:.1} s",
            i + 1,
            started.elapsed().as_secs_f64()
        );
    }
    // --keep-warm: the last run's machine is still on; the benchmark ends it.
    let warm: Vec<String> = state
        .warm_machines()
        .into_iter()
        .map(|m| m.instance_id)
        .collect();
    if !warm.is_empty() {
        let source = crate::access::source(&args.access, &services)?;
        let ended = match AwsContext::new(&source, &args.region).await {
            Ok(ctx) => pipeline::terminate_machines(&ctx, &warm).await.map(|_| ()),
            Err(e) => Err(pipeline::PipelineError::State(e.to_string())),
        };
        if let Err(e) = ended {
            report::error(&e);
            return Err(ExitCode::from(EXIT_PROVISIONING));
        }
        eprintln!("stopped the machine kept warm: {}", warm.join(", "));
    }
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>10}",
        "step", "min s", "median s", "max s", "API calls"
    );
    let order = [
        "prepare",
        "stack",
        "instance",
        "requirements",
        "training",
        "outputs",
        "delete",
    ];
    for step in order {
        if let Some(v) = samples.get(step) {
            print_row(step, v);
        }
    }
    print_row("total", &totals);
    println!();
    println!("on the machine (phases its scripts timed):");
    for (name, v) in &phases {
        print_row(&format!("  {name}"), v);
    }
    print_row("  outside phases", &outside_phases);
    print_row("machine time", &machine_time);
    print_row("our overhead", &overhead);
    println!(
        "(machine time = how long SSM says the commands ran (ExecutionElapsedTime) plus the user data's run time \
         (boot); overhead = total wall time minus that: preparing, the stack, launching, sending commands, \
         polling, cleaning up)"
    );
    println!();
    println!("time inside AWS calls, per operation (the longest first; calls overlap the machine's time and each other):");
    let mut ops: Vec<(&String, &Vec<(f64, u64)>)> = operations.iter().collect();
    ops.sort_by(|a, b| median(b.1).total_cmp(&median(a.1)));
    for (op, v) in ops.into_iter().take(8) {
        print_row(&format!("  {op}"), v);
    }
    print_row("  all calls", &in_calls);
    if let Some(line) = first_and_rest(samples.get("requirements"), phases.get("install")) {
        println!();
        println!("{line}");
    }
    Ok(())
}

/// The first run against the others (which reuse its cached environment
/// when the requirements are not empty): the requirements step and its
/// install phase.
fn first_and_rest(
    step: Option<&Vec<(f64, u64)>>,
    install: Option<&Vec<(f64, u64)>>,
) -> Option<String> {
    let ratio = |v: &Vec<(f64, u64)>| -> Option<(f64, f64)> {
        let (first, rest) = v.split_first()?;
        let mut rest: Vec<f64> = rest.iter().map(|x| x.0).collect();
        if rest.is_empty() {
            return None;
        }
        rest.sort_by(|a, b| a.total_cmp(b));
        Some((first.0, rest[rest.len() / 2]))
    };
    let (s1, s2) = ratio(step?)?;
    // Nothing was installed (empty requirements): no first run to compare.
    if install.and_then(ratio).is_some_and(|(i1, _)| i1 < 0.005) {
        return None;
    }
    let mut line = format!(
        "requirements step: run 1 {s1:.2} s, runs 2+ (median) {s2:.2} s: {:.1}x",
        s1 / s2.max(1e-3)
    );
    if let Some((i1, i2)) = install.and_then(ratio) {
        line += &format!(
            "; install phase: {i1:.2} s, then {i2:.2} s: {:.1}x",
            i1 / i2.max(1e-3)
        );
    }
    Some(line)
}

fn median(v: &[(f64, u64)]) -> f64 {
    let mut secs: Vec<f64> = v.iter().map(|x| x.0).collect();
    secs.sort_by(|a, b| a.total_cmp(b));
    secs.get(secs.len() / 2).copied().unwrap_or(0.0)
}

fn print_row(name: &str, v: &[(f64, u64)]) {
    let mut secs: Vec<f64> = v.iter().map(|x| x.0).collect();
    secs.sort_by(|a, b| a.total_cmp(b));
    let mut calls: Vec<u64> = v.iter().map(|x| x.1).collect();
    calls.sort_unstable();
    let med = secs[secs.len() / 2];
    println!(
        "{:<34} {:>8.2} {:>8.2} {:>8.2} {:>10}",
        name,
        secs[0],
        med,
        secs[secs.len() - 1],
        calls[calls.len() / 2]
    );
}
