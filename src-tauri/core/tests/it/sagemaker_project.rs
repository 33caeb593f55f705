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
