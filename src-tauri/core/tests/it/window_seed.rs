//! The history the window benchmark opens (issue 24; `tests/bench/window_states.py`):
//! one account, 1,000 finished runs, the newest with a training log of 100,000
//! lines that carries three metrics for 1,000 steps, and the 20 next with
//! 5,000 lines and the same three curves. Written with the core's own
//! history and log store, so the app reads it as it reads a user's. Ignored:
//! `EASYTDV_BENCH_SEED_DIR=<data folder> cargo test -p easytdv-core --test it
//! window_seed -- --ignored`.

use easytdv_core::accounts::{Accounts, SandboxInput};
use easytdv_core::history::{Cleanup, History, Outcome};
use easytdv_core::logs::{LogFile, LogLine, LogName, Stream};
use easytdv_core::pipeline::{RunResources, Step, TrainRequest};

const RUNS: usize = 1000;
const HEAVY_LINES: usize = 100_000;
const PAGE_LINES: usize = 5_000;
const STEPS: usize = 1000;
/// The runs after the newest whose pages the benchmark walks through.
const PAGES: usize = 20;

fn run_id(i: usize) -> String {
    // Newest first: run 0 has the highest id (the history lists by id within a second).
    let n = RUNS - i;
    format!(
        "2026{:02}{:02}-{:02}0000-{:06x}",
        1 + n / 90,
        1 + n % 90 / 4,
        n % 90 % 4 * 6,
        0xa00000 + n
    )
}

/// `lines` log lines, of which `STEPS` are "step i loss … acc … val_loss …".
fn train_log(lines: usize, seed: usize) -> Vec<LogLine> {
    let every = lines / STEPS;
    let t0 = 1_796_000_000_000.0;
    (0..lines)
        .map(|n| {
            let text = if n % every == every - 1 {
                let step = n / every + 1;
                let x = step as f64 / STEPS as f64;
                let wobble = ((step * 7919 + seed * 104_729) % 1000) as f64 / 50_000.0;
                format!(
                    "step {step} loss {:.5} acc {:.5} val_loss {:.5}",
                    2.3 * (-3.0 * x).exp() + wobble,
                    1.0 - 0.9 * (-4.0 * x).exp() - wobble,
                    2.4 * (-2.8 * x).exp() + 2.0 * wobble
                )
            } else {
                format!("batch {n}: {} samples seen in {} ms", n * 64, 40 + n % 17)
            };
            LogLine {
                at_ms: t0 + n as f64 * 10.0,
                stream: Stream::Out,
                text,
            }
        })
        .collect()
}

#[test]
#[ignore = "writes the window benchmark's data folder: EASYTDV_BENCH_SEED_DIR"]
fn window_seed() {
    let dir = std::path::PathBuf::from(
        std::env::var("EASYTDV_BENCH_SEED_DIR")
            .expect("EASYTDV_BENCH_SEED_DIR: the data folder to fill"),
    );
    std::fs::create_dir_all(&dir).unwrap();
    // An account whose cloud is nowhere (a closed local port): the screens open
    // as for a returning user, and any call to the cloud fails at once.
    let account = Accounts::open(&dir)
        .add_sandbox(SandboxInput {
            name: "Bench".into(),
            endpoint: "http://127.0.0.1:9".into(),
            region: "eu-west-3".into(),
        })
        .unwrap();
    let history = History::open(&easytdv_core::paths::history_db(&dir)).unwrap();
    for i in 0..RUNS {
        let id = run_id(i);
        history
            .save_resources(&RunResources {
                run_id: id.clone(),
                region: "eu-west-3".into(),
                bucket: "easytdv-bench".into(),
                prefix: format!("easytdv/runs/{id}"),
                ..Default::default()
            })
            .unwrap();
        let request = TrainRequest {
            script_path: format!("/home/me/project-{}/train.py", i % 37).into(),
            requirements_path: format!("/home/me/project-{}/requirements.txt", i % 37).into(),
            instance_type: ["t3.medium", "g4dn.xlarge", "c6i.2xlarge"][i % 3].into(),
            disk_gb: 30,
            region: "eu-west-3".into(),
            bucket: "easytdv-bench".into(),
            max_runtime_hours: 24,
            ..Default::default()
        };
        history.attach_request(&id, &account.id, &request).unwrap();
        let failed = i % 9 == 4;
        history
            .set_outcome(
                &id,
                if failed {
                    Outcome::Failed
                } else {
                    Outcome::Succeeded
                },
                Some(if failed {
                    Step::Training
                } else {
                    Step::Outputs
                }),
                failed.then_some("train.py stopped with an error (exit code 1)"),
                (!failed)
                    .then(|| format!("s3://easytdv-bench/easytdv/runs/{id}/outputs/"))
                    .as_deref(),
            )
            .unwrap();
        history.set_cleanup(&id, Cleanup::Deleted, None).unwrap();
        let lines = match i {
            0 => HEAVY_LINES,
            1..=PAGES => PAGE_LINES,
            _ => continue,
        };
        LogFile::new(&dir, &id, LogName::Train)
            .append(&train_log(lines, i))
            .unwrap();
    }
    // The benchmark reads the ids it walks through from here.
    let ids: Vec<String> = (0..=PAGES).map(run_id).collect();
    std::fs::write(dir.join("bench-runs.txt"), ids.join("\n") + "\n").unwrap();
}
