//! `./dev bench-sweep`: a sweep's time to all results, three ways (figures
//! printed, never asserted).

use std::path::PathBuf;
use std::sync::Arc;

use crate::common::*;
use crate::sweeps::start;
use easytdv_core::pipeline::Tracked;
use easytdv_core::runs::CleanupPolicy;
use easytdv_core::services::Services;
use easytdv_core::sweep::{GridAxis, SweepMode, SweepRequest, SweepValues};

/// `./dev bench-sweep`: six runs of the example (`--lr` six values, 5
/// epochs) on the sandbox: a sweep in parallel, a sweep one after another on
/// one machine kept warm, and six separate runs one after the other (as six
/// walks through the wizard: a new machine each). Each from a bucket of its
/// own, so each builds the environment once. Prints, never asserts a time.
#[tokio::test]
#[ignore = "a benchmark: ./dev bench-sweep"]
async fn bench_sweep_of_six_runs() {
    let h = Harness::new().await;
    let dir = tempfile::tempdir().unwrap();
    let services = Services::open(dir.path()).unwrap();
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/digits");
    let lrs = ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05"];
    let base = |b: &str| {
        let mut r = request("sweep", b);
        r.script_path = example.join("train.py");
        r.requirements_path = example.join("requirements.txt");
        r.args = vec!["--epochs".into(), "5".into()];
        r
    };
    let grid = SweepValues::Grid {
        axes: vec![GridAxis {
            name: "lr".into(),
            values: lrs.iter().map(|s| s.to_string()).collect(),
        }],
    };
    let mut figures = Vec::new();
    for (name, mode) in [
        (
            "sweep, 6 machines at once",
            SweepMode::Parallel { at_once: 6 },
        ),
        ("sweep, one machine kept warm", SweepMode::OneMachine),
    ] {
        let b = bucket("bench-sweep");
        let request = SweepRequest {
            base: base(&b),
            values: grid.clone(),
            mode,
            stop_on_failure: false,
        };
        let began = std::time::Instant::now();
        let start = start(&h, CleanupPolicy::Always);
        let record = services.sweeps.open(request, &start).await.expect("open");
        let end = services
            .sweeps
            .drive(
                &record.sweep_id,
                start,
                easytdv_core::sweep::Sweeps::all_jobs(&record),
            )
            .await
            .unwrap();
        assert_eq!(end.succeeded, 6, "{end:?}");
        figures.push((name, began.elapsed()));
    }
    // Six separate runs, one after the other, each on a machine of its own.
    let b = bucket("bench-sweep");
    let began = std::time::Instant::now();
    for lr in lrs {
        let mut r = base(&b);
        r.args.extend(["--lr".into(), lr.into()]);
        let progress = Tracked::new(Arc::new(h.events.clone()));
        let ready = services
            .runs
            .open(h.ctx.clone(), "acc-1", r, progress.clone())
            .unwrap();
        let end = services
            .runs
            .execute(ready, &progress, CleanupPolicy::Always)
            .await;
        assert!(end.result.is_ok(), "{:?}", end.result.err());
    }
    figures.push(("six separate runs, one after the other", began.elapsed()));
    let slowest = figures.iter().map(|f| f.1).max().unwrap_or_default();
    println!(
        "\nsix runs of examples/digits (--epochs 5, six --lr values), sandbox with AWS's latencies as ./dev bench-sweep set them, debug build:"
    );
    for (name, t) in &figures {
        println!(
            "  {name:<42} {:>6.1} s to all results ({:.2}× the slowest)",
            t.as_secs_f64(),
            t.as_secs_f64() / slowest.as_secs_f64()
        );
    }
}
