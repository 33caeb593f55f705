//! The issue's example, whole, on both engines: a project whose `train.py`
//! imports `model.py` from its folder, reads `data/points.csv` by a relative
//! path (the data folder, chosen as the run's data), takes `--epochs 3`,
//! reads a plain variable and a token (a secret from the keychain), and a
//! notebook of the same project run with a parameter.

use std::path::Path;

use easytdv_core::data_source::DataSource;
use easytdv_core::pipeline::{Engine, EnvVar, Step, TrainRequest};
use easytdv_core::secret::Sensitive;
use easytdv_core::secrets::{RunSecret, RunSecrets};
use sha2::Digest;

use crate::common::*;

const TOKEN: &str = "hf_realPROJECTtoken_0a1b2c3d4e5f";

const TRAIN_PY: &str = r#"import argparse, hashlib, json, os
import model

p = argparse.ArgumentParser()
p.add_argument("--epochs", type=int, required=True)
p.add_argument("--name")
a = p.parse_args()
rows = open("data/points.csv").read().splitlines()[1:]
from_data_dir = open(os.path.join(os.environ["DATA_DIR"], "points.csv")).read().splitlines()[1:]
token = os.environ["HF_TOKEN"]
for epoch in range(a.epochs):
    print(f"epoch={epoch} loss={model.loss(rows, epoch)}")
out = {
    "epochs": a.epochs,
    "name": a.name,
    "rows": len(rows),
    "same_in_data_dir": rows == from_data_dir,
    "project": os.environ["PROJECT_NAME"],
    "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
}
os.makedirs(os.environ["OUTPUT_DIR"], exist_ok=True)
with open(os.path.join(os.environ["OUTPUT_DIR"], "result.json"), "w") as f:
    json.dump(out, f)
print("done", json.dumps(out, sort_keys=True))
"#;

const MODEL_PY: &str = "def loss(rows, epoch):\n    return round(1.0 / (len(rows) + epoch), 4)\n";

fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

fn notebook(root: &Path) {
    let cell = |tags: &[&str], source: &str| {
        serde_json::json!({
            "cell_type": "code", "execution_count": null, "outputs": [],
            "metadata": {"tags": tags}, "source": source,
        })
    };
    let nb = serde_json::json!({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            cell(&["parameters"], "epochs = 1\n"),
            cell(&[], "import model\nrows = open('data/points.csv').read().splitlines()[1:]\nfor e in range(epochs):\n    print(f'nb_epoch={e} loss={model.loss(rows, e)}')\n"),
        ],
    });
    write(root, "explore.ipynb", &nb.to_string());
}

/// The project on disk: data/ is ignored as code and chosen as data.
fn project(root: &Path) {
    write(root, "train.py", TRAIN_PY);
    write(root, "model.py", MODEL_PY);
    write(root, "requirements.txt", "# nothing to install\n");
    write(root, ".gitignore", "data/\n");
    write(root, "data/points.csv", "x,y\n1,2\n3,4\n5,6\n");
    notebook(root);
}

fn run_request(root: &Path, bucket: &str, engine: Engine, script: &str) -> TrainRequest {
    let sagemaker = engine.is_sagemaker();
    TrainRequest {
        script_path: root.join(script),
        requirements_path: root.join("requirements.txt"),
        data: Some(DataSource::Folder {
            path: root.join("data"),
        }),
        engine,
        instance_type: if sagemaker {
            "ml.c7i.large".into()
        } else {
            request("ok", bucket).instance_type
        },
        ..request("ok", bucket)
    }
}

fn token() -> RunSecrets {
    RunSecrets::new(vec![RunSecret {
        name: "HF_TOKEN".into(),
        value: Sensitive::new(TOKEN),
    }])
}

async fn the_example_runs(engine: Engine, tag: &str) {
    let h = Harness::new().await;
    let b = bucket(tag);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    project(root);

    let script = TrainRequest {
        args: vec![
            "--epochs".into(),
            "3".into(),
            "--name".into(),
            "my run".into(),
        ],
        env: vec![EnvVar::new("PROJECT_NAME", "points")],
        secrets: vec!["HF_TOKEN".into()],
        ..run_request(root, &b, engine, "train.py")
    };
    let mut train = h.train(script).with_secrets(token()).unwrap();
    train
        .run_from(Step::Prepare)
        .await
        .expect("the script runs");
    // What train.py saw, from its log (SageMaker packs OUTPUT_DIR in model.tar.gz).
    let lines = train_lines(&h);
    let done = lines
        .iter()
        .find_map(|l| l.strip_prefix("done "))
        .unwrap_or_else(|| panic!("train.py ended: {lines:?}"));
    let got: serde_json::Value = serde_json::from_str(done).unwrap();
    let token_sha: String = sha2::Sha256::digest(TOKEN.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    assert_eq!(
        got,
        serde_json::json!({
            "epochs": 3, "name": "my run", "rows": 3, "same_in_data_dir": true,
            "project": "points", "token_sha256": token_sha,
        }),
        "module, relative data path, DATA_DIR, argv, variable and secret all reached train.py"
    );
    assert!(lines.iter().any(|l| l == "epoch=2 loss=0.2"), "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.contains(TOKEN)),
        "the token never reaches the log"
    );
    train.delete_resources().await.expect("delete");

    // The notebook of the same project, with a parameter.
    let h = Harness::new().await;
    let nb = TrainRequest {
        args: vec!["-p".into(), "epochs".into(), "2".into()],
        ..run_request(root, &b, engine, "explore.ipynb")
    };
    let mut train = h.train(nb);
    let run_id = train.run_id().to_string();
    let report = train
        .run_from(Step::Prepare)
        .await
        .expect("the notebook runs");
    let executed = format!("easytdv/runs/{run_id}/outputs/explore.executed.ipynb");
    assert!(
        report.output_keys.contains(&executed),
        "{:?}",
        report.output_keys
    );
    let text = get_text(&h.ctx, &b, &executed).await;
    assert!(
        text.contains("nb_epoch=1 loss=0.25"),
        "the parameter, the module and the data reached the notebook: {text}"
    );
    train.delete_resources().await.expect("delete");
}

#[tokio::test]
async fn the_issues_example_project_runs_on_one_machine() {
    the_example_runs(Engine::Ec2, "realec2").await;
}

#[tokio::test]
async fn the_issues_example_project_runs_on_sagemaker() {
    the_example_runs(
        Engine::SageMaker {
            instance_count: 1,
            spot: false,
        },
        "realsm",
    )
    .await;
}
