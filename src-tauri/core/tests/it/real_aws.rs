//! What a real account does that the first version did not handle (issue
//! "Real AWS"): another account's bucket, quotas, capacity, a stop while the
//! launcher runs, a lost connection. Each against the stricter sandbox.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use easytdv_core::explain::Explain;
use easytdv_core::history::History;
use easytdv_core::pipeline::{PipelineError, Step, StepState};
use easytdv_core::runs::{CleanupPolicy, Runs};

#[tokio::test]
async fn another_accounts_bucket_is_refused_before_anything_is_uploaded() {
    let h = Harness::new().await;
    let name = bucket("theirs");
    // They even let us write: the takeover case.
    let theirs = other_accounts_open_bucket(&name).await;
    let mut train = h.train(request("ok", &name));
    let err = train.run_from(Step::Prepare).await.expect_err("refused");
    assert!(matches!(err, PipelineError::BucketNotOurs(_)), "{err:?}");
    assert!(err.is_bad_input());
    assert!(err.hint().unwrap().contains("random"));
    let objects = theirs.list_objects_v2().bucket(&name).send().await.unwrap();
    assert!(
        objects.contents().is_empty(),
        "nothing uploaded into their bucket"
    );
    assert!(train.resources().stack_name.is_none());
}

#[tokio::test]
async fn a_machine_over_the_accounts_vcpu_quota_is_refused_before_anything_is_created() {
    let h = Harness::new().await;
    let name = bucket("quota");
    hook(
        "quotas",
        serde_json::json!({"region": REGION, "quotas": {"L-DB2E81BA": 0}}),
    );
    let mut req = request("ok", &name);
    req.instance_type = "g4dn.xlarge".into();
    req.disk_gb = 100;
    let mut train = h.train(req);
    let err = train.run_from(Step::Prepare).await.expect_err("refused");
    match &err {
        PipelineError::QuotaTooLow {
            family,
            quota,
            needed,
            link,
            ..
        } => {
            assert_eq!((family.as_str(), *quota, *needed), ("G and VT", 0, 4));
            assert!(
                link.contains("servicequotas") && link.ends_with("L-DB2E81BA"),
                "{link}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("can run 0 vCPUs of G and VT machines"),
        "{err}"
    );
    assert!(err
        .hint()
        .unwrap()
        .contains("Ask AWS for more here: https://"));
    assert!(
        h.ctx.s3().head_bucket().bucket(&name).send().await.is_err(),
        "no bucket was created"
    );
}

#[tokio::test]
async fn a_zone_without_capacity_is_skipped_and_the_zone_used_is_said() {
    let h = Harness::new().await;
    let name = bucket("capacity");
    hook(
        "capacity",
        serde_json::json!({"region": REGION, "zone": "eu-west-3a", "instance_type": "t3.small", "count": 1}),
    );
    let mut req = request("ok", &name);
    req.instance_type = "t3.small".into();
    let mut train = h.train(req);
    train.run_from(Step::Prepare).await.expect("run");
    let starting: Vec<String> = h
        .events
        .events()
        .into_iter()
        .filter(|e| e.step == Step::Instance && e.message.contains("is starting"))
        .map(|e| e.message)
        .collect();
    assert!(
        starting
            .iter()
            .any(|m| m.contains("in eu-west-3b")
                && m.contains("tried first: eu-west-3a (none free)")),
        "{starting:?}"
    );
    assert_eq!(train.resources().zone.as_deref(), Some("eu-west-3b"));
    train.delete_resources().await.expect("delete");
}

#[tokio::test]
async fn stopping_while_the_launcher_runs_leaves_no_machine() {
    let h = Harness::new().await;
    let name = bucket("stoplaunch");
    let runs = Arc::new(Runs::new(Arc::new(History::in_memory().unwrap())));
    let progress = easytdv_core::pipeline::Tracked::new(Arc::new(h.events.clone()));
    let ready = runs
        .open(h.ctx.clone(), "acc", request("ok", &name), progress.clone())
        .expect("open");
    let run_id = ready.run_id().to_string();
    hook(
        "lambda-delay",
        serde_json::json!({"run": run_id, "seconds": 6}),
    );
    runs.spawn(ready, progress.clone(), CleanupPolicy::AfterSuccess);
    // Wait until the launcher has been invoked (the machine step runs).
    for _ in 0..200 {
        if h.events
            .events()
            .iter()
            .any(|e| e.step == Step::Instance && e.state == StepState::Running)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let report = runs
        .delete(&h.ctx, &run_id, &h.events)
        .await
        .expect("stop and delete");
    assert!(
        report.deleted_stack.is_none(),
        "a run on the base has no stack"
    );
    // Past the launcher's delay: it saw the stop and launched nothing.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (live, stack, _) = leftovers(&h.ctx, &run_id, &name).await;
    assert!(live.is_empty(), "a machine was left: {live:?}");
    assert!(stack.is_none());
    let record = runs.history().get(&run_id).unwrap();
    assert_eq!(record.outcome, easytdv_core::history::Outcome::Stopped);
    assert!(h
        .events
        .events()
        .iter()
        .any(|e| e.state == StepState::Stopped && e.step == Step::Instance));
}

#[tokio::test]
async fn an_empty_requirements_file_means_no_extra_packages() {
    let h = Harness::new().await;
    let name = bucket("noreqs");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("train.py"),
        "import os\nopen(os.path.join(os.environ['OUTPUT_DIR'], 'm.txt'), 'w').write('1')\nprint('epoch 1 loss=0.5')\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "").unwrap();
    let mut req = request("ok", &name);
    req.script_path = dir.path().join("train.py");
    req.requirements_path = dir.path().join("requirements.txt");
    let mut train = h.train(req);
    train.run_from(Step::Prepare).await.expect("run");
    let done = h
        .events
        .events()
        .into_iter()
        .find(|e| e.step == Step::Requirements && e.state == StepState::Done)
        .expect("install step done");
    assert!(
        done.message.contains("no extra packages"),
        "{}",
        done.message
    );
    let summary = train.summary();
    assert!(summary.python.is_some(), "{summary:?}");
    assert!(
        summary.phases.iter().any(|p| p.name == "train"),
        "{summary:?}"
    );
    train.delete_resources().await.expect("delete");
}
