//! Runs on SageMaker Training against the sandbox, whose training jobs
//! really run (one process group per machine, logs in CloudWatch Logs,
//! outputs and checkpoints in S3).

use std::sync::Arc;

use easytdv_core::explain::Explain;
use easytdv_core::pipeline::{self, Engine, PipelineError, Step, StepState, TrainRequest};
use easytdv_core::prices::{run_cost, Prices};

use crate::common::*;

/// Each test its own machine type: the sandbox counts the account's
/// training quota (2 of each of these) across the tests running at once.
fn sagemaker(case: &str, bucket: &str, machines: u32, spot: bool) -> TrainRequest {
    let instance_type = match case {
        "sagemaker_ranks" => "ml.m5.large",
        "fails" => "ml.c5.xlarge",
        _ if spot => "ml.m6i.large",
        _ => "ml.m7i.large",
    };
    TrainRequest {
        instance_type: instance_type.into(),
        engine: Engine::SageMaker {
            instance_count: machines,
            spot,
        },
        ..request(case, bucket)
    }
}

async fn jobs_of(h: &Harness, run_id: &str) -> Vec<(String, String)> {
    h.ctx
        .sagemaker()
        .list_training_jobs()
        .name_contains(run_id)
        .send()
        .await
        .expect("list training jobs")
        .training_job_summaries()
        .iter()
        .map(|j| {
            (
                j.training_job_name().unwrap_or_default().to_string(),
                j.training_job_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn sagemaker_two_machines_each_write_their_file_and_the_outputs_come_home() {
    let h = Harness::new().await;
    let b = bucket("sm2");
    let prices = Arc::new(Prices::in_memory().expect("prices"));
    let mut train = h
        .train(sagemaker("sagemaker_ranks", &b, 2, false))
        .with_prices(prices);
    let report = train
        .run_from(Step::Prepare)
        .await
        .expect("the job completes");
    let res = train.resources().clone();
    let job = res.training_job_name.clone().expect("a job name");
    assert_eq!(job, format!("easytdv-{}-1", res.run_id));
    assert_eq!(report.training.status, "Completed");

    // SageMaker's own words as progress; the machine steps are its own.
    let events = h.events.events();
    let training: Vec<&str> = events
        .iter()
        .filter(|e| e.step == Step::Training)
        .map(|e| e.message.as_str())
        .collect();
    assert!(
        training
            .iter()
            .any(|m| m.starts_with("Downloading: ") || m.starts_with("Training: ")),
        "{training:?}"
    );
    assert!(
        training.contains(&"Completed: Training job completed"),
        "{training:?}"
    );
    assert!(
        training.last().is_some_and(|m| m.ends_with(": done")),
        "the script's last line, not the container's: {training:?}"
    );
    for step in [Step::Instance, Step::Requirements] {
        assert!(events
            .iter()
            .any(|e| e.step == step && e.state == StepState::Skipped));
    }

    // Both machines' logs, the second marked; metrics from the first.
    let lines = train_lines(&h);
    assert!(
        lines.iter().any(|l| l == "I am algo-1, 1 of 2"),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l == "[algo-2] I am algo-2, 2 of 2"),
        "{lines:#?}"
    );
    let losses: Vec<f64> = h
        .events
        .metrics()
        .into_iter()
        .filter(|p| p.name == "loss")
        .map(|p| p.value)
        .collect();
    assert_eq!(losses, vec![1.0, 0.5, 0.333], "rank 0's metrics only");

    // Billed: the ml.* price × 2 machines × the billable seconds.
    assert_eq!(res.machines, 2);
    let billable = res.billable_seconds.expect("billable seconds");
    let rate = res
        .usd_per_hour
        .expect("a SageMaker price in the sandbox's price list");
    let cost = run_cost(&res, 0.0).expect("a cost");
    assert!(
        (cost.usd - rate * 2.0 * billable / 3600.0).abs() < 1e-9,
        "{cost:?}"
    );
    assert!(!cost.growing && cost.spot_saved_usd.is_none());

    // The outputs where EC2 runs put theirs: each machine's file, the model.
    let dir = tempfile::tempdir().unwrap();
    let got = pipeline::download_outputs(&h.ctx, &res, dir.path(), &|_| {})
        .await
        .expect("download");
    assert!(got.files >= 3, "{got:?}");
    for rank in 0..2 {
        let text = std::fs::read_to_string(dir.path().join(format!("checkpoints/rank-{rank}.txt")))
            .expect("the machine's file");
        assert_eq!(text, format!("rank {rank} of 2\n"));
    }
    assert!(dir
        .path()
        .join(format!("{job}/output/model.tar.gz"))
        .is_file());

    // Clean-up: the stack and inputs go, the outputs stay, the job has ended.
    let deleted = pipeline::delete_resources(&h.ctx, &res, &h.events)
        .await
        .expect("delete");
    assert_eq!(deleted.stopped_training_job, None);
    assert!(deleted.kept_outputs_prefix.is_some());
    let (machines, stack, inputs) = leftovers(&h.ctx, &res.run_id, &b).await;
    assert!(machines.is_empty() && stack.is_none() && inputs.is_empty());
    assert_eq!(
        jobs_of(&h, &res.run_id).await,
        vec![(job, "Completed".to_string())]
    );
}

#[tokio::test]
async fn a_failing_sagemaker_job_shows_the_traceback_and_cleans_up() {
    let h = Harness::new().await;
    let b = bucket("smfail");
    let mut train = h.train(sagemaker("fails", &b, 1, false));
    let err = train
        .run_from(Step::Prepare)
        .await
        .expect_err("the script fails");
    let res = train.resources().clone();
    let PipelineError::TrainingJobFailed { reason, tail, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(err.is_training_failure() && err.code() == "training_failed");
    assert!(
        reason.contains("ValueError: the learning rate is negative"),
        "{reason}"
    );
    assert!(
        tail.contains("Traceback") && tail.contains("the learning rate is negative"),
        "{tail}"
    );
    let failed = h
        .events
        .events()
        .into_iter()
        .find(|e| e.step == Step::Training && e.state == StepState::Failed)
        .expect("the training step failed");
    assert!(failed.detail.unwrap_or_default().contains("Traceback"));

    pipeline::delete_resources(&h.ctx, &res, &h.events)
        .await
        .expect("delete");
    let (_, stack, inputs) = leftovers(&h.ctx, &res.run_id, &b).await;
    assert!(stack.is_none() && inputs.is_empty(), "{stack:?} {inputs:?}");
    let jobs = jobs_of(&h, &res.run_id).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].1, "Failed");
}

#[tokio::test]
async fn a_sagemaker_job_over_the_quota_is_refused_before_anything_is_created() {
    let h = Harness::new().await;
    let b = bucket("smquota");
    let mut req = sagemaker("sagemaker_ranks", &b, 2, false);
    // A fresh account may run 0 ml.g5.xlarge for training.
    req.instance_type = "ml.g5.xlarge".into();
    let mut train = h.train(req);
    let err = train.run_from(Step::Prepare).await.expect_err("refused");
    let PipelineError::TrainingQuotaTooLow {
        quota,
        needed,
        link,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!((*quota, *needed), (0, 2));
    assert!(
        link.contains("/servicequotas/home/services/sagemaker/quotas/L-"),
        "{link}"
    );
    assert_eq!(err.code(), "quota_too_low");
    assert!(err.hint().unwrap_or_default().contains(link.as_str()));
    let res = train.resources().clone();
    assert!(res.stack_name.is_none() && res.training_job_name.is_none());
    assert!(jobs_of(&h, &res.run_id).await.is_empty());
    assert!(
        h.ctx.s3().head_bucket().bucket(&b).send().await.is_err(),
        "no bucket was created"
    );
}

#[tokio::test]
async fn a_spot_job_resumes_from_its_checkpoint_after_an_interruption() {
    let h = Harness::new().await;
    let b = bucket("smspot");
    let mut train = h.train(sagemaker("sagemaker_spot", &b, 1, true));
    let state = h.state.clone();
    let ctx = h.ctx.clone();
    let interrupt = async {
        // Once the checkpoint is in S3, the spot machine is reclaimed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            assert!(std::time::Instant::now() < deadline, "no checkpoint in S3");
            if let Some(res) = state.latest() {
                let key = format!("{}checkpoints/step.txt", res.outputs_prefix());
                if let Some(job) = &res.training_job_name {
                    if list(&ctx, &b, &key).await.contains(&key) {
                        let job = job.clone();
                        tokio::task::spawn_blocking(move || {
                            hook("sagemaker/interrupt", serde_json::json!({ "job": job }))
                        })
                        .await
                        .expect("interrupt");
                        return;
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    };
    let (result, ()) = tokio::join!(train.run_from(Step::Prepare), interrupt);
    result.expect("the job completes after the interruption");
    let lines = train_lines(&h);
    assert!(
        lines
            .iter()
            .any(|l| l == "resumed from the checkpoint at step 5"),
        "{lines:#?}"
    );
    let res = train.resources().clone();
    let job = res.training_job_name.clone().expect("a job");
    let seen = h
        .ctx
        .sagemaker()
        .describe_training_job()
        .training_job_name(&job)
        .send()
        .await
        .expect("describe");
    let statuses: Vec<&str> = seen
        .secondary_status_transitions()
        .iter()
        .filter_map(|t| t.status().map(|s| s.as_str()))
        .collect();
    assert!(statuses.contains(&"Interrupted"), "{statuses:?}");
    // Spot: billed for less than it trained, and the saving is shown.
    let cost_res = easytdv_core::pipeline::RunResources {
        usd_per_hour: Some(1.0),
        ..res.clone()
    };
    let cost = run_cost(&cost_res, 0.0).expect("a cost");
    assert!(res.billable_seconds <= res.training_seconds, "{res:?}");
    assert!(cost.spot_saved_usd.is_some() || res.billable_seconds == res.training_seconds);
    pipeline::delete_resources(&h.ctx, &res, &h.events)
        .await
        .expect("delete");
}

#[tokio::test]
async fn stopping_a_running_sagemaker_run_stops_its_job_then_deletes_the_stack() {
    let h = Harness::new().await;
    let b = bucket("smstop");
    let mut train = h.train(sagemaker("sagemaker_spot", &b, 1, false));
    let state = h.state.clone();
    let ctx = h.ctx.clone();
    let events = h.events.clone();
    let stop = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            assert!(std::time::Instant::now() < deadline, "the script never ran");
            let running = h
                .events
                .lines()
                .iter()
                .any(|(_, l)| l.text.starts_with("checkpoint written"));
            if running {
                let res = state.latest().expect("resources");
                // The history reads a running job like a running machine.
                let now = pipeline::cloud_status(&ctx, &res).await.expect("status");
                assert_eq!(now.instance_state.as_deref(), Some("running"));
                let view = easytdv_core::scan::region_view_with_jobs(&ctx)
                    .await
                    .unwrap();
                assert_eq!(
                    view.status_of(&res).instance_state.as_deref(),
                    Some("running")
                );
                return pipeline::delete_resources(&ctx, &res, &events).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    };
    let (result, deleted) = tokio::join!(train.run_from(Step::Prepare), stop);
    let deleted = deleted.expect("delete");
    assert!(result.is_err(), "a stopped job does not succeed");
    let job = deleted.stopped_training_job.expect("the job was stopped");
    let jobs = jobs_of(&h, &train.resources().run_id).await;
    assert_eq!(jobs, vec![(job, "Stopped".to_string())]);
    let (_, stack, inputs) = leftovers(&h.ctx, &train.resources().run_id, &b).await;
    assert!(stack.is_none() && inputs.is_empty());
    let after = pipeline::cloud_status(&h.ctx, train.resources())
        .await
        .unwrap();
    assert_eq!(after.instance_state.as_deref(), Some("terminated"));
}
