//! A project (not one file) on SageMaker: `sourcedir.tar.gz` holds the
//! project's files as the EC2 engine sends them (the project's rules
//! applied), and the script runs from the project's root, also when it is
//! not at the root (the launcher, named by EASYTDV_ENTRY).

use std::path::Path;

use easytdv_core::pipeline::{Engine, Step, TrainRequest};

use crate::common::*;

fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

/// Every line of a job's CloudWatch log.
async fn job_log(h: &Harness, job: &str) -> Vec<String> {
    let logs = h.ctx.logs();
    let Ok(streams) = logs
        .describe_log_streams()
        .log_group_name("/aws/sagemaker/TrainingJobs")
        .log_stream_name_prefix(format!("{job}/"))
        .send()
        .await
    else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for stream in streams.log_streams() {
        let events = logs
            .get_log_events()
            .log_group_name("/aws/sagemaker/TrainingJobs")
            .log_stream_name(stream.log_stream_name().unwrap_or_default())
            .start_from_head(true)
            .send()
            .await
            .expect("the job's log");
        lines.extend(
            events
                .events()
                .iter()
                .filter_map(|e| e.message().map(str::to_string)),
        );
    }
    lines
}

fn on_sagemaker(root: &Path, script: &str, bucket: &str) -> TrainRequest {
    TrainRequest {
        script_path: root.join(script),
        requirements_path: root.join("requirements.txt"),
        instance_type: "ml.c7i.large".into(),
        engine: Engine::SageMaker {
            instance_count: 1,
            spot: false,
        },
        ..request("ok", bucket)
    }
}

#[tokio::test]
async fn a_project_runs_on_sagemaker_from_its_root_with_its_modules_and_data() {
    let h = Harness::new().await;
    let b = bucket("smproject");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "train.py",
        "import os, model\nrows = open('data/points.csv').read().splitlines()[1:]\nprint('total', model.weight() * len(rows), 'ignored there:', os.path.exists('secret.txt'))\n",
    );
    write(root, "model.py", "def weight():\n    return 3\n");
    write(root, "data/points.csv", "x,y\n1,2\n3,4\n");
    write(root, "requirements.txt", "# none\n");
    write(root, ".gitignore", "secret.txt\n");
    write(root, "secret.txt", "not for the cloud\n");
    // A script in a subfolder runs from the root too (through the launcher).
    write(
        root,
        "jobs/eval.py",
        "import os\nprint('eval sees', open('data/points.csv').read().count('\\n'), 'lines from', os.path.basename(os.getcwd()))\n",
    );

    let mut train = h.train(on_sagemaker(root, "train.py", &b));
    train
        .run_from(Step::Prepare)
        .await
        .expect("the job completes");
    let lines = train_lines(&h);
    assert!(
        lines.iter().any(|l| l == "total 6 ignored there: False"),
        "{lines:?}"
    );
    train.delete_resources().await.expect("delete");

    let h = Harness::new().await;
    let mut eval = h.train(TrainRequest {
        args: vec!["--quick".into()],
        project_dir: Some(root.to_path_buf()),
        ..on_sagemaker(root, "jobs/eval.py", &b)
    });
    eval.run_from(Step::Prepare)
        .await
        .expect("the job completes");
    let lines = train_lines(&h);
    let folder = root.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("eval sees 3 lines from") && !l.ends_with(&folder)),
        "{lines:?}"
    );
    eval.delete_resources().await.expect("delete");
}

/// A uv project (pyproject.toml + uv.lock, no requirements.txt) on SageMaker:
/// the launcher installs exactly the lock (`uv export --frozen`, then every
/// package by its hash) before the script starts; a wheel that is not the
/// locked one stops the job before the script, saying why (a valid wheel
/// refused by its hash: tests/templates/test_sagemaker_uv.py).
#[tokio::test]
async fn a_uv_project_is_installed_exactly_from_its_lock_on_sagemaker() {
    let h = Harness::new().await;
    let b = bucket("smuvlock");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for rel in [
        "pyproject.toml",
        "train.py",
        "uv.lock",
        "wheels/tinydep-0.1.0-py3-none-any.whl",
    ] {
        std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(fixture(&format!("uv-project/{rel}")), root.join(rel)).unwrap();
    }
    let request = TrainRequest {
        requirements_path: root.join("uv.lock"),
        ..on_sagemaker(root, "train.py", &b)
    };
    let mut train = h.train(request.clone());
    train
        .run_from(Step::Prepare)
        .await
        .expect("the job completes");
    let lines = train_lines(&h);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("easytdv: installing exactly what uv.lock says")),
        "{lines:?}"
    );
    // tinydep exists only as the project's wheel: the lock was installed.
    assert!(
        lines.iter().any(|l| l == "loss=0.1 tinydep 42"),
        "{lines:?}"
    );
    let run_id = train.run_id().to_string();

    // Another file under the locked wheel's name: refused, the script never starts.
    std::fs::write(
        root.join("wheels/tinydep-0.1.0-py3-none-any.whl"),
        b"not the locked wheel",
    )
    .unwrap();
    let h = Harness::new().await;
    let mut retry = easytdv_core::pipeline::Train::resume(
        h.ctx.clone(),
        request,
        train.resources().clone(),
        std::sync::Arc::new(h.events.clone()),
        std::sync::Arc::new(h.state.clone()),
    )
    .expect("resume");
    let err = retry
        .run_from(Step::Training)
        .await
        .expect_err("the wheel is not the locked one");
    assert!(err.to_string().contains("ExitCode 5"), "{err}");
    // The job's log says why (read from CloudWatch: its last lines may reach
    // it after the job has ended).
    let job = retry.resources().training_job_name.clone().unwrap();
    let told = "easytdv: could not install the project's uv.lock: uv pip install failed";
    let mut log = Vec::new();
    for _ in 0..40 {
        log = job_log(&h, &job).await;
        if log.iter().any(|l| l.contains(told)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(log.iter().any(|l| l.contains(told)), "{log:?}");
    assert!(
        log.iter().any(|l| l.starts_with("error: ")),
        "uv's own words: {log:?}"
    );
    assert!(
        !train_lines(&h).iter().any(|l| l.starts_with("loss=")),
        "the script did not start"
    );
    assert!(run_id == retry.run_id());
    retry.delete_resources().await.expect("delete");
}
