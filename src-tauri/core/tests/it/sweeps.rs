//! Sweeps (issue 25) on the sandbox: several runs from one request, in
//! parallel or one after another on one machine kept warm; one failing does
//! not stop the others (unless asked); stop all; delete all leaves nothing.

use std::sync::Arc;

use crate::common::*;
use easytdv_core::history::{Cleanup, Outcome};
use easytdv_core::pipeline::{Step, Tracked};
use easytdv_core::runs::CleanupPolicy;
use easytdv_core::services::Services;
use easytdv_core::sweep::{GridAxis, Job, SweepMode, SweepRequest, SweepStart, SweepValues};

pub fn sweep(b: &str, values: SweepValues, mode: SweepMode) -> SweepRequest {
    SweepRequest {
        base: request("sweep", b),
        values,
        mode,
        stop_on_failure: false,
    }
}

pub fn lines(l: &[&str]) -> SweepValues {
    SweepValues::List {
        lines: l.iter().map(|s| s.to_string()).collect(),
    }
}

pub fn start(h: &Harness, policy: CleanupPolicy) -> SweepStart {
    let events = h.events.clone();
    SweepStart {
        ctx: h.ctx.clone(),
        account_id: "acc-1".into(),
        secrets: Default::default(),
        policy,
        progress: Arc::new(move || Tracked::new(Arc::new(events.clone()))),
    }
}

/// Nothing of the run is left in the sandbox: machine, stack, input files.
async fn assert_nothing_left(h: &Harness, run_id: &str, bucket: &str) {
    let (live, stack, inputs) = leftovers(&h.ctx, run_id, bucket).await;
    assert!(live.is_empty(), "{run_id}: machines left {live:?}");
    assert!(
        stack.is_none() || stack.as_deref() == Some("DELETE_COMPLETE"),
        "{run_id}: stack {stack:?}"
    );
    assert!(inputs.is_empty(), "{run_id}: inputs left {inputs:?}");
}

#[tokio::test]
async fn a_parallel_sweep_builds_once_runs_all_and_names_the_best() {
    let h = Harness::new().await;
    let b = bucket("sweep-par");
    let dir = tempfile::tempdir().unwrap();
    let services = Services::open(dir.path()).unwrap();
    let mut request = sweep(
        &b,
        SweepValues::Grid {
            axes: vec![GridAxis {
                name: "lr".into(),
                values: vec!["0.1".into(), "0.01".into(), "0.5".into()],
            }],
        },
        SweepMode::Parallel { at_once: 2 },
    );
    request.base.budget_usd = Some(3.0);
    let start = start(&h, CleanupPolicy::Always);
    let record = services.sweeps.open(request, &start).await.expect("open");
    assert_eq!(record.plan.runs.len(), 3);
    assert!(
        record.run_ids.iter().all(Option::is_none),
        "nothing started yet"
    );
    let end = services
        .sweeps
        .drive(
            &record.sweep_id,
            start,
            easytdv_core::sweep::Sweeps::all_jobs(&record),
        )
        .await
        .expect("drive");
    assert_eq!(
        (end.succeeded, end.failed, end.not_finished),
        (3, 0, 0),
        "{end:?}"
    );

    let view = services.sweeps.view(&record.sweep_id).unwrap();
    assert!(!view.live);
    let runs: Vec<_> = view
        .runs
        .iter()
        .map(|r| r.clone().expect("started"))
        .collect();
    for (i, run) in runs.iter().enumerate() {
        assert_eq!(run.outcome, Outcome::Succeeded, "{:?}", run.message);
        assert_eq!(run.sweep_id.as_deref(), Some(record.sweep_id.as_str()));
        let req = run.request.as_ref().unwrap();
        assert_eq!(req.args, record.plan.runs[i].args);
        assert_eq!(
            req.budget_usd,
            Some(1.0),
            "each run has its share of the cap"
        );
        assert_eq!(run.cleanup, Cleanup::Deleted);
        assert_nothing_left(&h, &run.run_id, &b).await;
    }
    // The environment was built once: the first run installed it, the
    // others (started once its training began) reused it.
    let envs: Vec<String> = runs
        .iter()
        .map(|r| {
            r.summary
                .clone()
                .unwrap_or_default()
                .environment
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(envs[0], "first install of these requirements", "{envs:?}");
    assert!(
        envs[1..]
            .iter()
            .all(|e| e.starts_with("reused the environment of")),
        "{envs:?}"
    );
    // The best: the lowest last loss, lr=0.01.
    let by = view.best_by.expect("a metric to rank by");
    assert_eq!((by.metric.as_str(), by.lower_is_better), ("loss", true));
    assert_eq!(view.best.expect("a best run").run_id, runs[1].run_id);
    assert_eq!(view.metrics, ["acc", "loss"]);
    // The user ranks by accuracy instead: the same winner, highest wins.
    let acc = easytdv_core::sweep::BestBy {
        metric: "acc".into(),
        lower_is_better: false,
    };
    services
        .sweeps
        .set_best_by(&record.sweep_id, Some(&acc))
        .unwrap();
    let view = services.sweeps.view(&record.sweep_id).unwrap();
    assert_eq!(view.best_by, Some(acc));
    assert_eq!(view.best.unwrap().run_id, runs[1].run_id);
    assert_eq!(
        services.history().list_sweeps().unwrap()[0].sweep_id,
        record.sweep_id
    );
}

#[tokio::test]
async fn a_sweep_on_one_machine_runs_one_after_another_on_it() {
    let h = Harness::new().await;
    let b = bucket("sweep-one");
    let dir = tempfile::tempdir().unwrap();
    let services = Services::open(dir.path()).unwrap();
    let request = sweep(
        &b,
        lines(&["--lr 0.1", "--lr 0.01 --epochs 2", "--lr 0.2"]),
        SweepMode::OneMachine,
    );
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
        .expect("drive");
    assert_eq!(end.succeeded, 3, "{end:?}");
    let view = services.sweeps.view(&record.sweep_id).unwrap();
    let runs: Vec<_> = view.runs.iter().map(|r| r.clone().unwrap()).collect();
    let machine = runs[0].resources.instance_id.clone().unwrap();
    assert_eq!(runs[0].resources.launches, 1);
    for run in &runs[1..] {
        assert!(
            run.resources.warm_start,
            "{} took the warm machine",
            run.run_id
        );
        assert_eq!(run.resources.launches, 0);
        assert_eq!(run.resources.instance_id.as_deref(), Some(machine.as_str()));
    }
    // The last run was not asked to keep it: nothing is warm, nothing left.
    assert!(services.warm_machines().unwrap().is_empty());
    for run in &runs {
        assert_nothing_left(&h, &run.run_id, &b).await;
    }
}

#[tokio::test]
async fn a_failing_run_leaves_the_others_going_and_is_retried_alone() {
    let h = Harness::new().await;
    let b = bucket("sweep-fail");
    let dir = tempfile::tempdir().unwrap();
    let services = Services::open(dir.path()).unwrap();
    let request = sweep(
        &b,
        lines(&["--lr 0.1", "--lr bad", "--lr 0.01"]),
        SweepMode::Parallel { at_once: 3 },
    );
    // As the app: a failed run keeps its machine for "retry".
    let start = start(&h, CleanupPolicy::AfterSuccess);
    let record = services.sweeps.open(request, &start).await.expect("open");
    let end = services
        .sweeps
        .drive(
            &record.sweep_id,
            start.clone(),
            easytdv_core::sweep::Sweeps::all_jobs(&record),
        )
        .await
        .unwrap();
    assert_eq!((end.succeeded, end.failed), (2, 1), "{end:?}");
    let record = services.history().get_sweep(&record.sweep_id).unwrap();
    let failed = record.run_ids[1].clone().unwrap();
    let run = services.history().get(&failed).unwrap();
    assert_eq!(run.outcome, Outcome::Failed);
    assert_eq!(run.last_step, Some(Step::Training));
    // Retry: only the failed run, from its failed step, on its own machine.
    let jobs = services.sweeps.retry_jobs(&record);
    assert_eq!(
        jobs,
        [Job::Resume {
            index: 1,
            run_id: failed.clone(),
            from: Step::Training
        }]
    );
    let again = services
        .sweeps
        .drive(&record.sweep_id, start.clone(), jobs)
        .await
        .unwrap();
    assert_eq!(
        (again.succeeded, again.failed),
        (0, 1),
        "it fails the same way"
    );
    // Delete all: every run's resources, verified gone.
    let deleted = services
        .sweeps
        .delete_all(&h.ctx, &record.sweep_id, &h.events)
        .await
        .unwrap();
    assert!(deleted.iter().all(|(_, r)| r.is_ok()), "{deleted:?}");
    for id in record.run_ids.iter().flatten() {
        assert_nothing_left(&h, id, &b).await;
        let run = services.history().get(id).unwrap();
        assert_eq!(run.cleanup, Cleanup::Deleted, "{id}");
    }
}

#[tokio::test]
async fn a_failed_run_deleted_at_its_end_is_retried_anew_and_its_attempt_leaves_the_sweep() {
    let h = Harness::new().await;
    let b = bucket("sweep-anew");
    let dir = tempfile::tempdir().unwrap();
    let services = Services::open(dir.path()).unwrap();
    let request = sweep(
        &b,
        lines(&["--lr 0.1", "--lr bad"]),
        SweepMode::Parallel { at_once: 2 },
    );
    // As the app drives a sweep: every run's machine deleted at its end.
    let start = start(&h, CleanupPolicy::Always);
    let record = services.sweeps.open(request, &start).await.expect("open");
    let end = services
        .sweeps
        .drive(
            &record.sweep_id,
            start.clone(),
            easytdv_core::sweep::Sweeps::all_jobs(&record),
        )
        .await
        .unwrap();
    assert_eq!((end.succeeded, end.failed), (1, 1), "{end:?}");
    let record = services.history().get_sweep(&record.sweep_id).unwrap();
    let first = record.run_ids[1].clone().unwrap();
    assert_eq!(
        services.history().get(&first).unwrap().cleanup,
        Cleanup::Deleted
    );
    let jobs = services.sweeps.retry_jobs(&record);
    assert_eq!(jobs, [Job::New(1)]);
    services
        .sweeps
        .drive(&record.sweep_id, start, jobs)
        .await
        .unwrap();
    let record = services.history().get_sweep(&record.sweep_id).unwrap();
    let second = record.run_ids[1].clone().unwrap();
    assert_ne!(second, first, "a new run took the slot");
    // The earlier attempt is its own row of the history again (its cost seen).
    assert_eq!(services.history().get(&first).unwrap().sweep_id, None);
    assert_eq!(
        services.history().get(&second).unwrap().sweep_id.as_deref(),
        Some(record.sweep_id.as_str())
    );
    for id in [&first, &second] {
        assert_nothing_left(&h, id, &b).await;
    }
}

#[tokio::test]
async fn stop_on_failure_and_stop_all_stop_the_runs_under_way_and_the_rest() {
    let h = Harness::new().await;
    let b = bucket("sweep-stop");
    let dir = tempfile::tempdir().unwrap();
    let services = Services::open(dir.path()).unwrap();
    // 1. Stop on the first failure: the slow run is stopped, the last one
    //    never starts.
    let mut request = sweep(
        &b,
        lines(&[
            "--lr 0.2 --sleep 120",
            "--lr bad",
            "--lr 0.3 --sleep 120",
            "--lr 0.4",
        ]),
        SweepMode::Parallel { at_once: 3 },
    );
    request.stop_on_failure = true;
    let start = start(&h, CleanupPolicy::AfterSuccess);
    let record = services.sweeps.open(request, &start).await.expect("open");
    let end = services
        .sweeps
        .drive(
            &record.sweep_id,
            start.clone(),
            easytdv_core::sweep::Sweeps::all_jobs(&record),
        )
        .await
        .unwrap();
    assert_eq!(end.failed, 1, "{end:?}");
    assert!(
        end.stopped_because
            .as_deref()
            .unwrap_or("")
            .contains("first failure"),
        "{end:?}"
    );
    let record = services.history().get_sweep(&record.sweep_id).unwrap();
    assert!(record.stopped);
    let outcomes: Vec<_> = record
        .run_ids
        .iter()
        .flatten()
        .map(|id| {
            let r = services.history().get(id).unwrap();
            (
                r.request.unwrap().args_text,
                r.outcome,
                r.last_step,
                r.message,
            )
        })
        .collect();
    assert_eq!(record.run_ids[3], None, "never started: {outcomes:?}");
    for i in [0, 2] {
        let slow = services
            .history()
            .get(record.run_ids[i].as_ref().unwrap())
            .unwrap();
        assert_eq!(slow.outcome, Outcome::Stopped, "{}", slow.run_id);
        assert_nothing_left(&h, &slow.run_id, &b).await;
    }

    // 2. Stop all, pressed while the runs train: both stop, nothing is left
    //    once delete all has run.
    let request = sweep(
        &b,
        lines(&["--lr 0.1 --sleep 120", "--lr 0.2 --sleep 120", "--lr 0.3"]),
        SweepMode::Parallel { at_once: 2 },
    );
    let record = services.sweeps.open(request, &start).await.expect("open");
    services.sweeps.spawn(
        &record.sweep_id,
        start.clone(),
        easytdv_core::sweep::Sweeps::all_jobs(&record),
    );
    let mut training = 0;
    for _ in 0..600 {
        let r = services.history().get_sweep(&record.sweep_id).unwrap();
        training = r
            .run_ids
            .iter()
            .flatten()
            .filter(|id| {
                h.events
                    .events()
                    .iter()
                    .any(|e| &e.run_id == *id && e.step == Step::Training)
            })
            .count();
        if training == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(training, 2, "both runs reached their training");
    let stopped = services
        .sweeps
        .stop_all(&h.ctx, &record.sweep_id, &h.events)
        .await;
    assert_eq!(stopped.len(), 2, "{stopped:?}");
    for _ in 0..100 {
        if !services.sweeps.is_live(&record.sweep_id) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!services.sweeps.is_live(&record.sweep_id));
    let view = services.sweeps.view(&record.sweep_id).unwrap();
    assert!(view.sweep.stopped);
    assert!(view.runs[2].is_none(), "the third never started");
    for run in view.runs.iter().flatten() {
        assert_eq!(run.outcome, Outcome::Stopped, "{}", run.run_id);
        assert_nothing_left(&h, &run.run_id, &b).await;
    }
    services
        .sweeps
        .delete_all(&h.ctx, &record.sweep_id, &h.events)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_first_run_failing_before_training_stops_the_sweep() {
    let h = Harness::new().await;
    let b = bucket("sweep-lead");
    let dir = tempfile::tempdir().unwrap();
    let services = Services::open(dir.path()).unwrap();
    let mut request = sweep(
        &b,
        lines(&["--lr 0.1", "--lr 0.2", "--lr 0.3"]),
        SweepMode::Parallel { at_once: 3 },
    );
    request.base.requirements_path = fixture("badreq/requirements.txt");
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
    assert_eq!((end.failed, end.not_finished), (1, 2), "{end:?}");
    assert!(
        end.stopped_because
            .as_deref()
            .unwrap_or("")
            .contains("before its training"),
        "{end:?}"
    );
    let record = services.history().get_sweep(&record.sweep_id).unwrap();
    assert_eq!(record.run_ids[1..], [None, None]);
    assert_nothing_left(&h, record.run_ids[0].as_ref().unwrap(), &b).await;
}

#[tokio::test]
async fn a_bad_sweep_is_refused_before_anything_is_recorded_or_created() {
    let h = Harness::new().await;
    let b = bucket("sweep-bad");
    let dir = tempfile::tempdir().unwrap();
    let services = Services::open(dir.path()).unwrap();
    let start = start(&h, CleanupPolicy::Always);
    let mut missing = sweep(&b, lines(&["--lr 1", "--lr 2"]), SweepMode::OneMachine);
    missing.base.script_path = fixture("sweep/missing.py");
    let too_few = sweep(&b, lines(&["--lr 1"]), SweepMode::OneMachine);
    let mut big = sweep(
        &b,
        lines(&["--lr 1", "--lr 2", "--lr 3"]),
        SweepMode::Parallel { at_once: 3 },
    );
    // One 16-vCPU machine fits the sandbox's standard quota (32), three at
    // once do not.
    big.base.instance_type = "m5.4xlarge".into();
    for (r, code) in [
        (missing, "file_missing"),
        (too_few, "sweep_too_few"),
        (big, "quota_too_low"),
    ] {
        let e = services.sweeps.open(r, &start).await.unwrap_err();
        let report = easytdv_core::explain::ErrorReport::from_error(&e);
        assert!(report.code.contains(code), "{code}: {report:?}");
        assert!(report.hint.is_some(), "{report:?}");
    }
    assert!(services.history().list_sweeps().unwrap().is_empty());
    assert!(services.history().list().unwrap().is_empty());
}
