//! A notebook as the entry point, on the sandbox: papermill executes it on
//! the machine with the run's parameters, its printed metrics are picked up,
//! the executed notebook comes back in the outputs, and a failing cell is
//! named in the error.

use crate::common::*;
use easytdv_core::explain::Explain;
use easytdv_core::logs::LogName;
use easytdv_core::pipeline::{PipelineError, Step, Train, TrainRequest};
use std::sync::Arc;

fn notebook_request(bucket: &str, params: &[&str]) -> TrainRequest {
    TrainRequest {
        script_path: fixture("notebook/Train Model.ipynb"),
        requirements_path: fixture("notebook/requirements.txt"),
        args: params.iter().map(|s| s.to_string()).collect(),
        ..request("ok", bucket)
    }
}

/// The executed notebook's cells: (tags, source, stdout text, error name).
fn cells(text: &str) -> Vec<(Vec<String>, String, String, Option<String>)> {
    let doc: serde_json::Value = serde_json::from_str(text).expect("the executed notebook is JSON");
    let joined = |v: &serde_json::Value| match v {
        serde_json::Value::Array(parts) => parts.iter().filter_map(|p| p.as_str()).collect(),
        other => other.as_str().unwrap_or_default().to_string(),
    };
    doc["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| {
            let tags = c["metadata"]["tags"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let outputs = c["outputs"].as_array().cloned().unwrap_or_default();
            let stdout = outputs
                .iter()
                .filter(|o| o["name"] == "stdout")
                .map(|o| joined(&o["text"]))
                .collect::<String>();
            let error = outputs
                .iter()
                .find(|o| o["output_type"] == "error")
                .map(|o| o["ename"].as_str().unwrap_or_default().to_string());
            (tags, joined(&c["source"]), stdout, error)
        })
        .collect()
}

#[tokio::test]
async fn a_notebook_runs_with_its_parameters_and_comes_back_executed() {
    let h = Harness::new().await;
    let b = bucket("notebook");
    let mut train = h.train(notebook_request(&b, &["-p", "epochs", "3"]));
    let run_id = train.run_id().to_string();
    let report = train
        .run_from(Step::Prepare)
        .await
        .expect("the notebook runs");
    let outputs = format!("easytdv/runs/{run_id}/outputs/");

    // Its own name on the machine, in S3, and for the executed one.
    let executed = format!("{outputs}Train Model.executed.ipynb");
    assert!(
        report.output_keys.contains(&executed),
        "{:?}",
        report.output_keys
    );
    let model = get_text(&h.ctx, &b, &format!("{outputs}model.json")).await;
    assert!(
        model.contains("\"epochs\": 3") && model.contains("\"six\": \"1.16.0\""),
        "the parameter reached the notebook, the requirements were installed: {model}"
    );
    // The printed metrics were picked up like a script's, live.
    let losses: Vec<(Option<f64>, f64)> = h
        .events
        .metrics()
        .iter()
        .filter(|p| p.name == "loss")
        .map(|p| (p.step, p.value))
        .collect();
    assert_eq!(
        losses,
        vec![(Some(1.0), 0.5), (Some(2.0), 0.25), (Some(3.0), 0.125)]
    );
    assert!(h
        .events
        .lines()
        .iter()
        .any(|(log, l)| *log == LogName::Train && l.text == "notebook beside the cwd: True"));
    // The executed notebook: the injected parameter and each cell's output.
    let nb = cells(&get_text(&h.ctx, &b, &executed).await);
    let injected = nb
        .iter()
        .find(|c| c.0.contains(&"injected-parameters".to_string()))
        .expect("papermill injected the parameters");
    assert!(injected.1.contains("epochs = 3"), "{}", injected.1);
    assert!(
        nb.iter().any(|c| c.2.contains("epoch 3 loss 0.1250")),
        "{nb:?}"
    );
    assert!(nb.iter().all(|c| c.3.is_none()));

    // Again from the training step, with a cell that fails: the error tail
    // is the cell's traceback and names the cell; the executed notebook
    // holds the error and the outputs before it.
    let mut retry = Train::resume(
        h.ctx.clone(),
        notebook_request(&b, &["-p", "epochs", "1", "-p", "fail", "True"]),
        train.resources().clone(),
        Arc::new(h.events.clone()),
        Arc::new(h.state.clone()),
    )
    .expect("resume");
    let err = retry
        .run_from(Step::Training)
        .await
        .expect_err("the cell raises");
    let PipelineError::TrainingFailed { tail, .. } = &err else {
        panic!("{err}")
    };
    assert!(err.is_training_failure());
    assert!(
        tail.contains("RuntimeError: diverged after 1 epochs"),
        "{tail}"
    );
    let last = tail.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("The notebook stopped at cell 6 of 7 (In [")
            && last.contains("\"if fail:\"")
            && last.ends_with("is outputs/Train Model.executed.ipynb"),
        "{tail}"
    );
    let nb = cells(&get_text(&h.ctx, &b, &executed).await);
    assert!(
        nb.iter().any(|c| c.2.contains("epoch 1 loss 0.5000")),
        "{nb:?}"
    );
    assert!(
        nb.iter()
            .any(|c| c.1.starts_with("if fail:") && c.3.as_deref() == Some("RuntimeError")),
        "{nb:?}"
    );
    assert!(
        !nb.iter().any(|c| c.2.contains("done")),
        "stopped at the error"
    );

    retry.delete_resources().await.expect("delete");
    let (live, stack, inputs) = leftovers(&h.ctx, &run_id, &b).await;
    assert!(
        live.is_empty() && stack.is_none() && inputs.is_empty(),
        "{inputs:?}"
    );
}

#[tokio::test]
async fn a_notebook_that_is_not_json_or_asks_for_an_unknown_parameter_creates_nothing() {
    let h = Harness::new().await;
    let b = bucket("nbbad");
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("train.ipynb");
    std::fs::write(&broken, "{\"nbformat\": 4, \"cells\": [").unwrap();
    let cases = [
        (
            TrainRequest {
                script_path: broken,
                ..notebook_request(&b, &[])
            },
            "notebook_not_json",
        ),
        (
            notebook_request(&b, &["-p", "epoch", "3"]),
            "notebook_unknown_parameter",
        ),
        (
            notebook_request(&b, &["--cwd", "/"]),
            "notebook_bad_parameters",
        ),
    ];
    for (req, code) in cases {
        let err = Train::new(
            h.ctx.clone(),
            req,
            Arc::new(h.events.clone()),
            Arc::new(h.state.clone()),
        )
        .err()
        .unwrap_or_else(|| panic!("{code}: accepted"));
        assert_eq!(err.code(), code, "{err}");
        assert!(err.hint().is_some_and(|h| !h.is_empty()));
    }
    assert!(h.ctx.s3().head_bucket().bucket(&b).send().await.is_err());
    assert!(h.state.latest().is_none(), "no run was opened");
}

/// On SageMaker (issue 21): the launcher hands the notebook to papermill
/// (installed with the run's requirements, where the executor's pins were
/// added), the parameters fill its cell, the cells' printed metrics are
/// picked up from the job's log like a script's, the executed notebook is in
/// the run's `outputs/` (as for EC2, so a download finds it to open), and a
/// failing cell ends the job with its own traceback and names the cell.
#[tokio::test]
async fn a_notebook_runs_on_sagemaker_and_comes_back_executed() {
    use easytdv_core::pipeline::{download_outputs, notebook, Engine};

    let h = Harness::new().await;
    let b = bucket("smnotebook");
    let on_sagemaker = |params: &[&str]| TrainRequest {
        instance_type: "ml.m5.large".into(),
        engine: Engine::SageMaker {
            instance_count: 1,
            spot: false,
        },
        ..notebook_request(&b, params)
    };
    let mut train = h.train(on_sagemaker(&["-p", "epochs", "3"]));
    let run_id = train.run_id().to_string();
    let report = train
        .run_from(Step::Prepare)
        .await
        .expect("the job completes");
    let executed = format!("easytdv/runs/{run_id}/outputs/Train Model.executed.ipynb");
    assert!(
        report.output_keys.contains(&executed),
        "{:?}",
        report.output_keys
    );
    let losses: Vec<(Option<f64>, f64)> = h
        .events
        .metrics()
        .iter()
        .filter(|p| p.name == "loss")
        .map(|p| (p.step, p.value))
        .collect();
    assert_eq!(
        losses,
        vec![(Some(1.0), 0.5), (Some(2.0), 0.25), (Some(3.0), 0.125)]
    );
    let lines = train_lines(&h);
    assert!(
        lines.iter().any(|l| l == "notebook beside the cwd: True"),
        "{lines:?}"
    );
    let nb = cells(&get_text(&h.ctx, &b, &executed).await);
    let injected = nb
        .iter()
        .find(|c| c.0.contains(&"injected-parameters".to_string()))
        .expect("papermill injected the parameters");
    assert!(injected.1.contains("epochs = 3"), "{}", injected.1);
    assert!(
        nb.iter()
            .any(|c| c.2.contains("six") || c.1.contains("import six")),
        "the requirements were installed"
    );
    assert!(nb.iter().all(|c| c.3.is_none()), "{nb:?}");
    // Downloaded like an EC2 run's outputs: the run page finds it to open.
    let dir = tempfile::tempdir().unwrap();
    download_outputs(&h.ctx, train.resources(), dir.path(), &|_| {})
        .await
        .expect("download");
    let script = fixture("notebook/Train Model.ipynb");
    assert_eq!(
        notebook::executed_in(dir.path(), &script),
        Some(dir.path().join("Train Model.executed.ipynb"))
    );

    // A cell that fails: the job fails with the cell's traceback, the cell
    // named, and the executed notebook (with the error) is in outputs/.
    let h = Harness::new().await;
    let mut retry = Train::resume(
        h.ctx.clone(),
        on_sagemaker(&["-p", "epochs", "1", "-p", "fail", "True"]),
        train.resources().clone(),
        Arc::new(h.events.clone()),
        Arc::new(h.state.clone()),
    )
    .expect("resume");
    let err = retry
        .run_from(Step::Training)
        .await
        .expect_err("the cell raises");
    assert_eq!(err.code(), "training_failed", "{err}");
    assert!(err.is_training_failure());
    let tail = err.detail().unwrap_or_default();
    assert!(
        tail.contains("RuntimeError: diverged after 1 epochs"),
        "{tail}"
    );
    assert!(
        tail.contains("The notebook stopped at cell 6 of 7 (In [")
            && tail.contains("\"if fail:\"")
            && tail.contains("is outputs/Train Model.executed.ipynb"),
        "{tail}"
    );
    assert!(
        !tail.contains("Found credentials"),
        "no SDK chatter: {tail}"
    );
    let nb = cells(&get_text(&h.ctx, &b, &executed).await);
    assert!(
        nb.iter()
            .any(|c| c.1.starts_with("if fail:") && c.3.as_deref() == Some("RuntimeError")),
        "{nb:?}"
    );
    retry.delete_resources().await.expect("delete");
}

/// A SageMaker notebook run stopped while a cell runs: SageMaker's SIGTERM
/// interrupts papermill, which saves what was executed, and the executed
/// notebook still reaches the run's `outputs/`.
#[tokio::test]
async fn a_stopped_sagemaker_notebook_keeps_what_it_executed() {
    use easytdv_core::pipeline::{self, Engine};

    let h = Harness::new().await;
    let b = bucket("smnbstop");
    let dir = tempfile::tempdir().unwrap();
    let nb = serde_json::json!({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"cell_type": "code", "metadata": {}, "execution_count": null, "outputs": [],
             "source": "print('started', flush=True)"},
            {"cell_type": "code", "metadata": {}, "execution_count": null, "outputs": [],
             "source": "import time\nfor _ in range(1200):\n    time.sleep(0.25)"},
        ],
    });
    std::fs::write(dir.path().join("long.ipynb"), nb.to_string()).unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "").unwrap();
    let mut train = h.train(TrainRequest {
        script_path: dir.path().join("long.ipynb"),
        requirements_path: dir.path().join("requirements.txt"),
        instance_type: "ml.m5.large".into(),
        engine: Engine::SageMaker {
            instance_count: 1,
            spot: false,
        },
        ..request("ok", &b)
    });
    let state = h.state.clone();
    let ctx = h.ctx.clone();
    let events = h.events.clone();
    let stop = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "the notebook never ran"
            );
            if h.events.lines().iter().any(|(_, l)| l.text == "started") {
                let res = state.latest().expect("resources");
                return pipeline::delete_resources(&ctx, &res, &events).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    };
    let (result, deleted) = tokio::join!(train.run_from(Step::Prepare), stop);
    deleted.expect("delete");
    assert!(result.is_err(), "a stopped job does not succeed");
    let run_id = train.run_id().to_string();
    let executed = get_text(
        &h.ctx,
        &b,
        &format!("easytdv/runs/{run_id}/outputs/long.executed.ipynb"),
    )
    .await;
    let cells = cells(&executed);
    assert!(cells[0].2.contains("started"), "{cells:?}");
}
