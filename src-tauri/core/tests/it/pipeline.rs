//! The whole pipeline against the local AWS sandbox: real S3 objects, a real
//! stack, a real Lambda launching an instance, real SSM commands.

use crate::common::*;
use easytdv_core::pipeline::{self, PipelineError, Step, StepState};

#[tokio::test]
async fn full_run_produces_outputs_and_delete_leaves_nothing() {
    let h = Harness::new().await;
    let bucket = bucket("full");
    let mut train = h.train(request("ok", &bucket));
    let run_id = train.run_id().to_string();

    let report = train.run_from(Step::Prepare).await.expect("run succeeds");
    assert_eq!(report.run_id, run_id);
    let model_key = format!("easytdv/runs/{run_id}/outputs/model.json");
    assert!(
        report.output_keys.contains(&model_key),
        "outputs: {:?}",
        report.output_keys
    );
    let model = get_text(&h.ctx, &bucket, &model_key).await;
    assert!(
        model.contains("\"weights\": [0.0, 0.1, 0.2, 0.3, 0.4]"),
        "{model}"
    );
    assert!(
        model.contains("\"six\": \"1.16.0\""),
        "the requirement was installed: {model}"
    );
    assert!(report.training.stdout_tail.contains("loss=0.042"));

    // Every step reported running then done, in order.
    let events = h.events.events();
    let done: Vec<Step> = events
        .iter()
        .filter(|e| e.state == StepState::Done)
        .map(|e| e.step)
        .collect();
    assert_eq!(done, Step::RUN.to_vec());
    // The state sink saw the resource ids.
    let state = h.state.latest().expect("state recorded");
    assert_eq!(
        state.instance_id.as_deref(),
        Some(report.instance_id.as_str())
    );
    // On the base: no stack of its own; the machine's folder is recorded.
    assert!(
        state.stack_id.is_none()
            && state.machine_folders.len() == 1
            && state.install_command_id.is_some()
            && state.training_command_id.is_some()
    );
    let folder = state.machine_folders[0].clone();
    assert!(
        folder.starts_with("easytdv/m/")
            && folder.ends_with(&format!(":{}/{run_id}", report.instance_id))
    );

    let deleted = train.delete_resources().await.expect("delete");
    assert_eq!(
        deleted.terminated_instances,
        vec![report.instance_id.clone()]
    );
    assert_eq!(
        deleted.deleted_stack, None,
        "a run on the base has no stack"
    );
    assert!(
        list(&h.ctx, &bucket, &format!("{folder}/"))
            .await
            .is_empty(),
        "the machine's folder is gone"
    );
    let (live, stack, inputs) = leftovers(&h.ctx, &run_id, &bucket).await;
    assert!(
        live.is_empty() && stack.is_none() && inputs.is_empty(),
        "{live:?} {stack:?} {inputs:?}"
    );
    // Outputs are kept.
    let kept = list(&h.ctx, &bucket, &format!("easytdv/runs/{run_id}/outputs/")).await;
    assert!(kept.contains(&model_key), "{kept:?}");
    assert!(
        kept.iter()
            .any(|k| k.ends_with("outputs/_logs/train-stdout.log")),
        "full logs kept: {kept:?}"
    );

    // Idempotent: a second delete finds nothing and succeeds.
    let again = train.delete_resources().await.expect("second delete");
    assert!(
        again.terminated_instances.is_empty()
            && again.deleted_stack.is_none()
            && again.deleted_objects.is_empty()
    );
}

#[tokio::test]
async fn async_forms_return_ids_and_state_can_be_polled() {
    let h = Harness::new().await;
    let bucket = bucket("async");
    let mut train = h.train(request("ok", &bucket));
    let prepared = train.prepare_env().await.expect("prepare");
    assert_eq!(
        prepared.s3_train_script_key,
        format!("{}/train.py", train.resources().prefix)
    );
    // The template travels in the CreateStack request: nothing in the
    // bucket that anyone could swap (train.py, requirements.txt, launch.zip
    // and the project's manifest, whose SHA-256 the machine's command names).
    let uploaded = list(&h.ctx, &bucket, &format!("{}/", train.resources().prefix)).await;
    assert!(
        !uploaded.iter().any(|k| k.ends_with("stack.yaml")) && uploaded.len() == 4,
        "{uploaded:?}"
    );
    assert_eq!(
        train.resources().account_id.as_deref(),
        Some("123456789012"),
        "the bucket's owner is recorded"
    );

    // The seed's "create the stack": the region's shared resources (the
    // base), ready when it returns; the run has no stack of its own.
    let stack_id = train
        .start_create_stack(&prepared)
        .await
        .expect("start stack");
    assert!(stack_id.contains("stack/easytdv-base/"), "{stack_id}");
    assert!(train.resources().stack_name.is_none());
    let status = pipeline::stack_status(&h.ctx, "easytdv-base")
        .await
        .expect("status")
        .expect("the base exists");
    assert!(
        ["CREATE_COMPLETE", "UPDATE_COMPLETE"].contains(&status.as_str()),
        "{status}"
    );

    let instance_id = train.start_launch_instance().await.expect("launch");
    assert!(instance_id.starts_with("i-"));
    // The blocking form of the next steps works on the instance started by the async form.
    let mut online = false;
    for _ in 0..100 {
        if pipeline::instance_state(&h.ctx, &instance_id)
            .await
            .unwrap()
            .as_deref()
            == Some("running")
        {
            online = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(online);
    let cmd = loop {
        match train.start_install_requirements(&instance_id).await {
            Ok(c) => break c,
            // The agent may not be online yet right after launch.
            Err(PipelineError::Aws { code, .. }) if code == "InvalidInstanceId" => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await
            }
            Err(e) => panic!("install: {e}"),
        }
    };
    let mut outcome = None;
    for _ in 0..600 {
        outcome = pipeline::command_outcome(&h.ctx, &instance_id, &cmd)
            .await
            .expect("outcome");
        if outcome.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let outcome = outcome.expect("install finished");
    assert!(outcome.succeeded(), "{outcome:?}");
    let training_cmd = train
        .start_run_training(&instance_id)
        .await
        .expect("start training");
    assert_ne!(training_cmd, cmd);
    let deleted = train.delete_resources().await.expect("delete");
    assert_eq!(deleted.terminated_instances, vec![instance_id]);
    let (live, stack, inputs) = leftovers(&h.ctx, train.run_id(), &bucket).await;
    assert!(live.is_empty() && stack.is_none() && inputs.is_empty());
}

#[tokio::test]
async fn a_missing_requirement_fails_the_install_step_with_pips_message() {
    let h = Harness::new().await;
    let bucket = bucket("badreq");
    let mut train = h.train(request("badreq", &bucket));
    let err = train
        .run_from(Step::Prepare)
        .await
        .expect_err("install must fail");
    match &err {
        PipelineError::InstallFailed { status, tail, .. } => {
            assert_eq!(status, "Failed");
            assert!(
                tail.contains("easytdv-package-that-does-not-exist"),
                "{tail}"
            );
        }
        other => panic!("unexpected: {other}"),
    }
    let failed = h
        .events
        .events()
        .into_iter()
        .find(|e| e.state == StepState::Failed)
        .expect("a failed event");
    assert_eq!(failed.step, Step::Requirements);
    assert!(failed
        .detail
        .as_deref()
        .unwrap_or("")
        .contains("easytdv-package-that-does-not-exist"));
    train.delete_resources().await.expect("delete");
    let (live, stack, inputs) = leftovers(&h.ctx, train.run_id(), &bucket).await;
    assert!(live.is_empty() && stack.is_none() && inputs.is_empty());
}

#[tokio::test]
async fn a_script_that_raises_fails_training_with_the_traceback_and_keeps_partial_outputs() {
    let h = Harness::new().await;
    let bucket = bucket("fails");
    let mut train = h.train(request("fails", &bucket));
    let err = train
        .run_from(Step::Prepare)
        .await
        .expect_err("training must fail");
    let PipelineError::TrainingFailed {
        tail, exit_code, ..
    } = &err
    else {
        panic!("unexpected: {err}")
    };
    assert_eq!(*exit_code, 1);
    assert!(
        tail.contains("Traceback") && tail.contains("ValueError: the learning rate is negative"),
        "{tail}"
    );
    assert!(err.is_training_failure());
    let run_id = train.run_id().to_string();
    let partial = list(&h.ctx, &bucket, &format!("easytdv/runs/{run_id}/outputs/")).await;
    assert!(
        partial.contains(&format!("easytdv/runs/{run_id}/outputs/partial.txt")),
        "{partial:?}"
    );
    let log = get_text(
        &h.ctx,
        &bucket,
        &format!("easytdv/runs/{run_id}/outputs/_logs/train-stderr.log"),
    )
    .await;
    assert!(
        log.contains("ValueError: the learning rate is negative"),
        "{log}"
    );

    // Retry from the training step with a fixed script: same machine, success.
    let fixed_dir = tempfile::tempdir().unwrap();
    let fixed = fixed_dir.path().join("train.py");
    std::fs::write(
        &fixed,
        "import os\nopen(os.path.join(os.environ['OUTPUT_DIR'], 'fixed.txt'), 'w').write('ok')\n",
    )
    .unwrap();
    let mut req = request("fails", &bucket);
    req.script_path = fixed;
    let mut retry = easytdv_core::pipeline::Train::resume(
        h.ctx.clone(),
        req,
        train.resources().clone(),
        std::sync::Arc::new(h.events.clone()),
        std::sync::Arc::new(h.state.clone()),
    )
    .expect("resume");
    let report = retry
        .run_from(Step::Training)
        .await
        .expect("retry succeeds");
    assert_eq!(
        Some(report.instance_id.as_str()),
        train.resources().instance_id.as_deref()
    );
    assert!(report
        .output_keys
        .iter()
        .any(|k| k.ends_with("/outputs/fixed.txt")));
    retry.delete_resources().await.expect("delete");
    let (live, stack, inputs) = leftovers(&h.ctx, &run_id, &bucket).await;
    assert!(live.is_empty() && stack.is_none() && inputs.is_empty());
}

#[tokio::test]
async fn delete_after_a_half_created_run_cleans_up() {
    let h = Harness::new().await;
    let bucket = bucket("half");
    let mut train = h.train(request("ok", &bucket));
    let prepared = train.prepare_env().await.expect("prepare");
    let before = train.resources().clone();
    train.create_stack(&prepared).await.expect("stack");
    // A launch the history never recorded: as if the app crashed right after
    // the launcher started the machine. Delete must find it by its run tag.
    train.start_launch_instance().await.expect("launch");
    let res = pipeline::RunResources {
        launches: 1,
        ..before
    };
    assert!(res.instance_id.is_none() && res.machine_folders.is_empty());
    let report = pipeline::delete_resources(&h.ctx, &res, &h.events)
        .await
        .expect("delete");
    assert_eq!(report.terminated_instances.len(), 1);
    assert!(report.deleted_stack.is_none(), "the base is shared: kept");
    assert!(pipeline::stack_status(&h.ctx, "easytdv-base")
        .await
        .unwrap()
        .is_some());
    let (live, stack, inputs) = leftovers(&h.ctx, train.run_id(), &bucket).await;
    assert!(
        live.is_empty() && stack.is_none() && inputs.is_empty(),
        "{live:?} {stack:?} {inputs:?}"
    );
    // And a delete of a run that never created anything succeeds too.
    let nothing = easytdv_core::pipeline::RunResources {
        run_id: "20200101-000000-abcdef".into(),
        region: REGION.into(),
        bucket: bucket.clone(),
        prefix: "easytdv/runs/20200101-000000-abcdef".into(),
        ..Default::default()
    };
    let report = pipeline::delete_resources(&h.ctx, &nothing, &h.events)
        .await
        .expect("delete nothing");
    assert_eq!(report, Default::default());
}

#[tokio::test]
async fn retry_from_the_machine_step_replaces_the_machine() {
    let h = Harness::new().await;
    let bucket = bucket("relaunch");
    let mut train = h.train(request("ok", &bucket));
    let prepared = train.prepare_env().await.expect("prepare");
    train.create_stack(&prepared).await.expect("stack");
    let first = train.start_launch_instance().await.expect("first launch");
    let report = train
        .run_from(Step::Instance)
        .await
        .expect("retry from the machine step");
    assert_ne!(report.instance_id, first, "a new machine");
    assert_eq!(
        pipeline::instance_state(&h.ctx, &first)
            .await
            .unwrap()
            .as_deref(),
        Some("terminated")
    );
    assert_eq!(train.resources().launches, 2);
    let (live, _, _) = leftovers(&h.ctx, train.run_id(), &bucket).await;
    assert_eq!(
        live,
        vec![report.instance_id.clone()],
        "never two machines at once"
    );
    train.delete_resources().await.expect("delete");
    let (live, stack, inputs) = leftovers(&h.ctx, train.run_id(), &bucket).await;
    assert!(live.is_empty() && stack.is_none() && inputs.is_empty());
}

#[tokio::test]
async fn the_scripts_latest_output_is_shown_while_it_trains() {
    let h = Harness::new().await;
    let bucket = bucket("live");
    let mut train = h.train(request("slow", &bucket));
    train.run_from(Step::Prepare).await.expect("run");
    let live: Vec<String> = h
        .events
        .events()
        .into_iter()
        .filter(|e| e.step == Step::Training && e.state == StepState::Running)
        .map(|e| e.message)
        .collect();
    assert!(
        live.iter()
            .any(|m| m.starts_with("train.py is running (") && m.contains(": epoch ")),
        "no live output among {live:?}"
    );
    // The whole log came live, in order, and its numbers became metrics.
    let lines = h.events.lines();
    let epochs: Vec<&str> = lines
        .iter()
        .filter(|(log, l)| {
            *log == easytdv_core::logs::LogName::Train && l.text.starts_with("epoch ")
        })
        .map(|(_, l)| l.text.as_str())
        .collect();
    assert_eq!(epochs.len(), 6, "{epochs:?}");
    assert_eq!(epochs[2], "epoch 3/6 loss=0.333");
    let losses: Vec<(Option<f64>, f64)> = h
        .events
        .metrics()
        .iter()
        .filter(|p| p.name == "loss")
        .map(|p| (p.step, p.value))
        .collect();
    assert_eq!(losses.len(), 6, "{losses:?}");
    assert_eq!(losses[5], (Some(6.0), 0.167));
    assert!((train.summary().final_metrics["loss"] - 0.167).abs() < 1e-9);
    train.delete_resources().await.expect("delete");
}
