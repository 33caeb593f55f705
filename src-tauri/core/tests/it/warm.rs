//! A machine kept warm for the next run (issue 22, item 3) on the sandbox:
//! handed on by a run that asks for it (its clean-up leaves it running),
//! taken by the next run with the same machine (no launch, the environment
//! in place), by one run only when two ask at once, never shown as a
//! leftover, and stopped on request.

use std::sync::Arc;

use crate::common::*;
use easytdv_core::pipeline::{instance_state, Step, StepState, Tracked};
use easytdv_core::runs::{CleanupPolicy, Runs};
use easytdv_core::services::{Services, ServicesError};
use easytdv_core::warm::now_secs;

async fn state_of(ctx: &easytdv_core::aws::AwsContext, id: &str) -> String {
    instance_state(ctx, id)
        .await
        .unwrap()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_machine_kept_warm_serves_the_next_run_once_and_stops_on_request() {
    let h = Harness::new().await;
    let b = bucket("warm");
    let dir = tempfile::tempdir().unwrap();
    let services = Services::open(dir.path()).unwrap();
    let runs: &Arc<Runs> = &services.runs;
    let history = services.history().clone();
    let progress = Tracked::new(Arc::new(h.events.clone()));
    let mut warm_request = request("ok", &b);
    warm_request.keep_warm_minutes = Some(10);

    // 1. A run that keeps its machine warm: its clean-up leaves it running.
    let ready = runs
        .open(
            h.ctx.clone(),
            "acc-1",
            warm_request.clone(),
            progress.clone(),
        )
        .expect("open");
    let first = ready.run_id().to_string();
    let end = runs.execute(ready, &progress, CleanupPolicy::Always).await;
    assert!(end.result.is_ok(), "{:?}", end.result.err());
    let report = end.cleanup.expect("cleaned up").expect("clean-up verified");
    assert!(report.terminated_instances.is_empty(), "{report:?}");
    // Cleaned once, at the hand-off: the run's own clean-up found it done.
    let deletes = h
        .events
        .events()
        .iter()
        .filter(|e| e.run_id == first && e.step == Step::Delete && e.state == StepState::Done)
        .count();
    assert_eq!(deletes, 1);
    let record = history.get(&first).unwrap();
    let kept = record.resources.kept_warm.clone().expect("kept warm");
    assert_eq!(
        record.resources.instance_id.as_deref(),
        Some(kept.instance_id.as_str())
    );
    assert!(
        record.resources.ended_at.is_some(),
        "the run's cost stops at the hand-off"
    );
    let now = now_secs();
    assert!(
        kept.until > now + 8.0 * 60.0 && kept.until < now + 11.0 * 60.0,
        "the machine's own stop, about 10 minutes on: {} (now {now})",
        kept.until
    );
    assert_eq!(state_of(&h.ctx, &kept.instance_id).await, "running");
    let listed = services.warm_machines().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].instance_id, kept.instance_id);
    assert_eq!(listed[0].account_id, "acc-1");
    assert_eq!(listed[0].run_id, first);
    // Not the run's any more, and not a leftover either.
    let view = easytdv_core::scan::region_view(&h.ctx).await.unwrap();
    assert_eq!(view.status_of(&record.resources).instance_state, None);
    let found = easytdv_core::scan::region_leftovers(&h.ctx, &history.list().unwrap(), None)
        .await
        .unwrap();
    assert!(!found.iter().any(|l| l.id == kept.instance_id), "{found:?}");

    // A run that handed its machine on cannot be retried (the machine may
    // be another run's by then).
    let retry = runs.retryable(&first).expect("retryable");
    let refused = runs.resume(
        h.ctx.clone(),
        retry,
        easytdv_core::pipeline::Step::Instance,
        progress.clone(),
    );
    assert!(
        matches!(refused, Err(easytdv_core::runs::RunError::HandedOn(_))),
        "{:?}",
        refused.err()
    );

    // 2. Two runs with the same machine at once: one takes the warm machine
    //    (no launch, the environment in place), the other launches its own.
    let mut plain = request("ok", &b);
    plain.keep_warm_minutes = None;
    let open = |r| {
        runs.open(h.ctx.clone(), "acc-1", r, progress.clone())
            .expect("open")
    };
    let (a, c) = (open(plain.clone()), open(warm_request.clone()));
    let (a_id, c_id) = (a.run_id().to_string(), c.run_id().to_string());
    let (end_a, end_c) = tokio::join!(
        runs.execute(a, &progress, CleanupPolicy::Always),
        runs.execute(c, &progress, CleanupPolicy::Always)
    );
    assert!(end_a.result.is_ok(), "{:?}", end_a.result.err());
    assert!(end_c.result.is_ok(), "{:?}", end_c.result.err());
    let (ra, rc) = (history.get(&a_id).unwrap(), history.get(&c_id).unwrap());
    let on_warm: Vec<_> = [&ra, &rc]
        .into_iter()
        .filter(|r| r.resources.warm_start)
        .collect();
    assert_eq!(on_warm.len(), 1, "exactly one run takes the warm machine");
    let taker = on_warm[0];
    assert_eq!(
        taker.resources.instance_id.as_deref(),
        Some(kept.instance_id.as_str())
    );
    assert_eq!(taker.resources.launches, 0, "no machine launched for it");
    let summary = taker.summary.clone().unwrap_or_default();
    assert!(
        summary
            .environment
            .as_deref()
            .is_some_and(|e| e.contains("already on this machine")),
        "{summary:?}"
    );
    assert!(
        !summary.phases.iter().any(|p| p.name == "boot"),
        "{summary:?}"
    );
    // The same requirements are installed there: no install command at all.
    assert_eq!(taker.resources.install_command_id, None);
    assert!(
        !summary
            .phases
            .iter()
            .any(|p| p.log == easytdv_core::logs::LogName::Install),
        "{summary:?}"
    );
    let other = if taker.run_id == a_id { &rc } else { &ra };
    assert_ne!(other.resources.instance_id, taker.resources.instance_id);
    assert!(!other.resources.warm_start);

    // The run without keep-warm ended its machine; the one with it handed
    // its own on: exactly one machine is warm now.
    let plain_machine = ra.resources.instance_id.clone().unwrap();
    assert_eq!(state_of(&h.ctx, &plain_machine).await, "terminated");
    let warm_now = services.warm_machines().unwrap();
    assert_eq!(warm_now.len(), 1, "{warm_now:?}");
    assert_eq!(warm_now[0].run_id, c_id);
    let last = warm_now[0].instance_id.clone();
    assert_eq!(state_of(&h.ctx, &last).await, "running");

    // 3. Stop now: an id that is not a warm machine is refused before any
    //    AWS call; the warm one is terminated and leaves the list.
    let ctx = h.ctx.clone();
    for bogus in ["i-*", "../etc", &plain_machine] {
        let refused = services
            .stop_warm_with(bogus, |_| async { panic!("no AWS call for {bogus}") })
            .await;
        assert!(
            matches!(refused, Err(ServicesError::NotWarm(_))),
            "{bogus}: {refused:?}"
        );
    }
    // Its own stop passed and it still runs (a reboot cancelled it): the
    // app's backstop ends it.
    let mut overdue = warm_now[0].clone();
    overdue.until = now_secs() - easytdv_core::warm::OVERDUE_AFTER_SECS - 5.0;
    history.keep_warm(&overdue).unwrap();
    let ended = services
        .end_overdue_warm_with(|_| {
            let ctx = ctx.clone();
            async move { Ok(ctx) }
        })
        .await;
    assert_eq!(ended, vec![last.clone()]);
    assert_eq!(state_of(&h.ctx, &last).await, "terminated");
    assert!(services.warm_machines().unwrap().is_empty());
    assert!(matches!(
        services
            .stop_warm_with(&last, |_| async { panic!("taken already") })
            .await,
        Err(ServicesError::NotWarm(_))
    ));
}

#[tokio::test]
async fn keeping_warm_is_refused_for_a_training_job_and_out_of_range() {
    let h = Harness::new().await;
    let b = bucket("warmbad");
    let mut r = request("ok", &b);
    r.keep_warm_minutes = Some(0);
    let e = h.try_open(r.clone()).err().expect("refused");
    assert_eq!(easytdv_core::explain::Explain::code(&e), "bad_keep_warm");
    r.keep_warm_minutes = Some(30);
    r.engine = easytdv_core::pipeline::Engine::SageMaker {
        instance_count: 1,
        spot: false,
    };
    r.instance_type = "ml.m5.large".into();
    let e = h.try_open(r).err().expect("refused");
    assert_eq!(
        easytdv_core::explain::Explain::code(&e),
        "keep_warm_not_on_sagemaker"
    );
}
