//! A real project on the sandbox: train.py importing model.py and reading
//! data/points.csv by a relative path, its requirements including another
//! file; the files go once to easytdv/blobs/<sha256>, the next send uploads
//! only what changed (PUTs counted), and the machine refuses a blob that is
//! not the one sent.

use std::path::{Path, PathBuf};

use crate::common::*;
use easytdv_core::pipeline::{PipelineError, Step, StepState, TrainRequest};
use easytdv_core::project::Manifest;

const TRAIN_PY: &str = r#"import json, os
import six  # from reqs/base.txt, included by requirements.txt
import model
rows = open("data/points.csv").read().splitlines()[1:]
out = {"total": model.weight() * len(rows), "six": six.__version__, "cwd": os.getcwd()}
json.dump(out, open(os.path.join(os.environ["OUTPUT_DIR"], "result.json"), "w"))
print("loss=0.5 rows", len(rows))
"#;

fn write(root: &Path, rel: &str, body: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

/// The issue's example project, with what must not be sent around it.
fn example(root: &Path) {
    write(root, "train.py", TRAIN_PY);
    write(root, "model.py", "def weight():\n    return 3\n");
    write(root, "data/points.csv", "x,y\n1,2\n3,4\n5,6\n");
    write(root, "requirements.txt", "-r reqs/base.txt\n");
    write(root, "reqs/base.txt", "six==1.16.0\n");
    write(root, ".git/config", "[core]\n");
    write(root, "__pycache__/model.cpython-312.pyc", "\0");
    write(root, ".gitignore", "secret.txt\nresults/\n");
    write(root, "secret.txt", "not for the cloud\n");
    write(root, "results/old.json", "{}\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/hostname", root.join("host")).unwrap();
}

fn project_request(root: &Path, bucket: &str) -> TrainRequest {
    TrainRequest {
        script_path: root.join("train.py"),
        requirements_path: root.join("requirements.txt"),
        ..request("ok", bucket)
    }
}

async fn manifest_of(h: &Harness, bucket: &str, run_id: &str) -> Manifest {
    let bytes = get_bytes(
        &h.ctx,
        bucket,
        &format!("easytdv/runs/{run_id}/project.json"),
    )
    .await;
    Manifest::parse(&bytes).expect("a valid manifest")
}

fn puts(h: &Harness) -> u64 {
    h.ctx
        .calls_per_operation()
        .into_iter()
        .filter(|(op, ..)| op.ends_with("PutObject"))
        .map(|(_, n, _)| n)
        .sum()
}

fn prepare_message(h: &Harness, run_id: &str) -> String {
    h.events
        .events()
        .into_iter()
        .filter(|e| e.run_id == run_id && e.step == Step::Prepare && e.state == StepState::Done)
        .map(|e| e.message)
        .next_back()
        .expect("prepare done")
}

#[tokio::test]
async fn the_example_project_runs_from_its_root_with_its_module_data_and_included_requirements() {
    let h = Harness::new().await;
    let bucket = bucket("project");
    let dir = tempfile::tempdir().unwrap();
    example(dir.path());
    let mut train = h.train(project_request(dir.path(), &bucket));
    let run_id = train.run_id().to_string();
    let report = train.run_from(Step::Prepare).await.expect("run succeeds");

    let result = get_text(
        &h.ctx,
        &bucket,
        &format!("easytdv/runs/{run_id}/outputs/result.json"),
    )
    .await;
    let result: serde_json::Value = serde_json::from_str(&result).unwrap();
    assert_eq!(result["total"], 9, "{result}");
    assert_eq!(
        result["six"], "1.16.0",
        "the included requirement: {result}"
    );
    assert!(
        result["cwd"].as_str().unwrap().ends_with("/project"),
        "{result}"
    );
    assert!(report.training.stdout_tail.contains("rows 3"));

    // Only the code went: no .git, cache, ignored file or link out.
    let manifest = manifest_of(&h, &bucket, &run_id).await;
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            ".gitignore",
            "data/points.csv",
            "model.py",
            "reqs/base.txt",
            "requirements.txt",
            "train.py"
        ]
    );
    assert_eq!(manifest.entry, "train.py");
    assert!(
        prepare_message(&h, &run_id).starts_with("Project: 6 files sent ("),
        "{}",
        prepare_message(&h, &run_id)
    );
    let blobs = list(&h.ctx, &bucket, "easytdv/blobs/").await;
    assert_eq!(blobs.len(), 6, "{blobs:?}");

    // The clean-up removes the run's inputs (the manifest too) and keeps the blobs.
    let deleted = train.delete_resources().await.expect("delete");
    assert!(deleted
        .deleted_objects
        .contains(&format!("easytdv/runs/{run_id}/project.json")));
    let (live, stack, inputs) = leftovers(&h.ctx, &run_id, &bucket).await;
    assert!(live.is_empty() && stack.is_none() && inputs.is_empty());
    assert_eq!(list(&h.ctx, &bucket, "easytdv/blobs/").await, blobs);
}

/// A project of `n` small files.
fn many_files(root: &Path, n: usize) {
    write(root, "train.py", "print('ok')\n");
    write(root, "requirements.txt", "# none\n");
    for i in 0..n - 2 {
        write(
            root,
            &format!("pkg/mod_{i:03}.py"),
            &format!("VALUE = {i}\n{}\n", "#".repeat(100)),
        );
    }
}

#[tokio::test]
async fn the_second_send_uploads_only_the_changed_file() {
    let h = Harness::new().await;
    let bucket = bucket("incremental");
    let dir = tempfile::tempdir().unwrap();
    many_files(dir.path(), 40);
    let request = project_request(dir.path(), &bucket);

    let mut first = h.train(request.clone());
    let before = puts(&h);
    first.prepare_env().await.expect("first prepare");
    let first_puts = puts(&h) - before;
    assert!(prepare_message(&h, first.run_id()).starts_with("Project: 40 files sent"));

    write(dir.path(), "pkg/mod_007.py", "VALUE = 'changed'\n");
    let mut second = h.train(request);
    let before = puts(&h);
    second.prepare_env().await.expect("second prepare");
    let second_puts = puts(&h) - before;
    // The same run files each time (scripts, launcher, manifest); blobs: 40, then 1.
    assert_eq!(
        first_puts - second_puts,
        39,
        "first {first_puts}, second {second_puts}"
    );
    let told = prepare_message(&h, second.run_id());
    assert!(
        told.starts_with("Project: 1 of 40 files changed, 18 bytes sent"),
        "{told}"
    );
    assert_eq!(list(&h.ctx, &bucket, "easytdv/blobs/").await.len(), 41);
    first.delete_resources().await.expect("delete");
    second.delete_resources().await.expect("delete");
}

#[tokio::test]
async fn a_tampered_blob_is_refused_on_the_machine_and_sent_again_on_retry() {
    let h = Harness::new().await;
    let bucket = bucket("tamper");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "train.py",
        "import model\nprint('weight', model.W)\n",
    );
    write(dir.path(), "model.py", "W = 3\n");
    write(dir.path(), "requirements.txt", "# none\n");
    let mut train = h.train(project_request(dir.path(), &bucket));
    let prepared = train.prepare_env().await.expect("prepare");
    train.create_stack(&prepared).await.expect("stack");
    let instance = train.launch_instance().await.expect("machine");

    // Someone with write access to the bucket swaps model.py's blob.
    let model_sha = manifest_of(&h, &bucket, train.run_id())
        .await
        .files
        .iter()
        .find(|f| f.path == "model.py")
        .unwrap()
        .sha256
        .clone();
    let admin = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&admin_config(REGION).await)
            .force_path_style(true)
            .build(),
    );
    admin
        .put_object()
        .bucket(&bucket)
        .key(format!("easytdv/blobs/{model_sha}"))
        .body(b"import os\nW = os.system('echo pwned')\n".to_vec().into())
        .send()
        .await
        .expect("tamper");

    let err = train
        .install_requirements(&instance)
        .await
        .expect_err("the machine refuses the project");
    match &err {
        PipelineError::ProjectRefused { what, tail } => {
            assert_eq!(what, "model.py");
            assert!(tail.contains("is not the file easyTDV sent"), "{tail}");
        }
        other => panic!("unexpected: {other}"),
    }
    // The retry sends model.py again over the swapped blob, and runs.
    train
        .install_requirements(&instance)
        .await
        .expect("retry installs");
    let (outcome, _) = train.run_training(&instance).await.expect("trains");
    assert!(
        outcome.stdout_tail.contains("weight 3"),
        "{}",
        outcome.stdout_tail
    );
    assert!(!outcome.stdout_tail.contains("pwned"));
    train.delete_resources().await.expect("delete");
}

#[test]
fn bad_projects_are_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    example(&root);
    let ok = project_request(&root, "b-1");
    // An entry script outside the chosen folder.
    let outside = TrainRequest {
        project_dir: Some(root.join("data")),
        ..ok.clone()
    };
    let err = easytdv_core::pipeline::check_request(&outside).unwrap_err();
    assert_eq!(
        easytdv_core::explain::Explain::code(&err),
        "entry_outside_project"
    );
    assert!(err.is_bad_input());
    // A plain-http index, in an included file.
    write(
        &root,
        "reqs/base.txt",
        "--extra-index-url http://pypi.example/simple\nsix\n",
    );
    let err = easytdv_core::pipeline::check_request(&ok).unwrap_err();
    assert_eq!(
        easytdv_core::explain::Explain::code(&err),
        "requirements_insecure_index"
    );
    assert!(err.to_string().contains("reqs/base.txt line 1"), "{err}");
    write(&root, "reqs/base.txt", "six\n");
    // An include out of the project.
    write(&root, "requirements.txt", "-r ../../etc/passwd\n");
    let err = easytdv_core::pipeline::check_request(&ok).unwrap_err();
    assert_eq!(
        easytdv_core::explain::Explain::code(&err),
        "requirements_bad_include"
    );
    let _: PathBuf = root;
}

/// Selects and hashes a project, as a run does before sending it.
fn checked(root: &Path) -> (easytdv_core::project::Selection, Manifest) {
    let inputs =
        easytdv_core::project::check(root, &root.join("train.py"), &root.join("requirements.txt"))
            .expect("a valid project");
    let manifest =
        easytdv_core::project::manifest::build(&inputs.selection, 2, &|_| {}).expect("hashed");
    (inputs.selection, manifest)
}

async fn our_bucket(h: &Harness, tag: &str) -> (String, String) {
    let name = bucket(tag);
    create_bucket(&h.ctx, &name).await;
    let owner = easytdv_core::pipeline::storage::account_id(&h.ctx)
        .await
        .expect("account");
    (name, owner)
}

#[tokio::test]
async fn a_file_changed_after_it_was_hashed_is_refused_by_s3_not_stored() {
    let h = Harness::new().await;
    let (name, owner) = our_bucket(&h, "changed").await;
    let bucket = easytdv_core::pipeline::storage::RunBucket::new(&h.ctx, &name, owner);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "train.py", "import model\n");
    write(dir.path(), "model.py", "W = 1\n");
    write(dir.path(), "requirements.txt", "# none\n");
    let (selection, manifest) = checked(dir.path());
    write(dir.path(), "model.py", "W = 2\n"); // same size, other bytes
    let err = easytdv_core::project::upload::send(
        &bucket,
        &selection,
        &manifest,
        "easytdv/runs/r/project.json",
        &Default::default(),
        None,
        &|_, _| {},
    )
    .await
    .expect_err("S3 refuses the bytes");
    assert_eq!(
        easytdv_core::explain::Explain::code(&err),
        "project_changed_while_sending",
        "{err}"
    );
    let model = &manifest
        .files
        .iter()
        .find(|f| f.path == "model.py")
        .unwrap()
        .sha256;
    let stored = list(&h.ctx, &name, "easytdv/blobs/").await;
    assert!(
        !stored.contains(&format!("easytdv/blobs/{model}")),
        "{stored:?}"
    );
}

#[tokio::test]
async fn a_big_file_goes_in_parts_and_an_interrupted_upload_resumes() {
    use easytdv_core::project::upload::{self, MULTIPART_FROM};
    let h = Harness::new().await;
    let (name, owner) = our_bucket(&h, "parts").await;
    let bucket = easytdv_core::pipeline::storage::RunBucket::new(&h.ctx, &name, owner.clone());
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "train.py", "print(1)\n");
    write(dir.path(), "requirements.txt", "# none\n");
    // 5 parts of 16 MiB, the last one short; not all zeros, so parts differ.
    let size = MULTIPART_FROM + 100;
    let big: Vec<u8> = (0..size).map(|i| (i / 4099) as u8).collect();
    std::fs::write(dir.path().join("weights.bin"), &big).unwrap();
    let (selection, manifest) = checked(dir.path());
    let sha = manifest
        .files
        .iter()
        .find(|f| f.path == "weights.bin")
        .unwrap()
        .sha256
        .clone();

    // An earlier upload that got as far as part 2 (its parts remembered).
    let key = upload::blob_key(&sha);
    let s3 = h.ctx.s3();
    let up = s3
        .create_multipart_upload()
        .bucket(&name)
        .key(&key)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap();
    let upload_id = up.upload_id().unwrap().to_string();
    let part = 16 * 1024 * 1024usize;
    let mut parts = serde_json::Map::new();
    for n in 1..=2usize {
        let body = big[(n - 1) * part..n * part].to_vec();
        let digest = sha2_hex(&body);
        let out = s3
            .upload_part()
            .bucket(&name)
            .key(&key)
            .upload_id(&upload_id)
            .part_number(n as i32)
            .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
            .body(body.into())
            .send()
            .await
            .unwrap();
        parts.insert(
            n.to_string(),
            serde_json::json!([out.e_tag().unwrap(), digest]),
        );
    }
    let resume = tempfile::tempdir().unwrap();
    std::fs::write(
        resume.path().join(format!("{name}-{sha}.json")),
        serde_json::json!({"upload_id": upload_id, "part_size": part, "parts": parts}).to_string(),
    )
    .unwrap();

    let before = h.ctx.calls_per_operation();
    let count = |all: &[(String, u64, f64)], op: &str| {
        all.iter()
            .filter(|(o, ..)| o.ends_with(op))
            .map(|(_, n, _)| *n)
            .sum::<u64>()
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let report = upload::send(
        &bucket,
        &selection,
        &manifest,
        "easytdv/runs/r/project.json",
        &Default::default(),
        Some(resume.path()),
        &|sent, of| seen.lock().unwrap().push((sent, of)),
    )
    .await
    .expect("sent");
    let after = h.ctx.calls_per_operation();
    assert_eq!(
        count(&after, "UploadPart") - count(&before, "UploadPart"),
        3,
        "parts 3 to 5 only"
    );
    assert_eq!(
        count(&after, "CreateMultipartUpload"),
        count(&before, "CreateMultipartUpload")
    );
    assert_eq!(report.blobs_sent, 3);
    // The progress reached the whole.
    let seen = seen.into_inner().unwrap();
    assert_eq!(
        seen.last().copied(),
        Some((report.bytes_sent, report.bytes_sent))
    );
    assert!(seen.len() > 3, "{seen:?}");
    // The blob is the file, and its resume note is gone.
    assert_eq!(get_bytes(&h.ctx, &name, &key).await, big);
    assert_eq!(std::fs::read_dir(resume.path()).unwrap().count(), 0);
}

fn sha2_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Copies tests/fixtures/<name> (files one level of folders deep) into `to`.
fn copy_fixture(name: &str, to: &Path) {
    let from = fixture(name);
    for entry in walk(&from) {
        let rel = entry.strip_prefix(&from).unwrap();
        std::fs::create_dir_all(to.join(rel).parent().unwrap()).unwrap();
        std::fs::copy(&entry, to.join(rel)).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn a_uv_project_is_installed_exactly_from_its_lock() {
    let h = Harness::new().await;
    let bucket = bucket("uvlock");
    let dir = tempfile::tempdir().unwrap();
    // pyproject.toml + uv.lock (no requirements.txt): tinydep 0.1.0, a wheel in the project.
    copy_fixture("uv-project", dir.path());
    let root = dir.path();
    assert_eq!(
        easytdv_core::project::requirements::default_requirements(root),
        Some(root.join("uv.lock"))
    );
    let request = TrainRequest {
        script_path: root.join("train.py"),
        requirements_path: root.join("uv.lock"),
        ..request("ok", &bucket)
    };
    let mut train = h.train(request);
    let run_id = train.run_id().to_string();
    train.run_from(Step::Prepare).await.expect("run succeeds");

    let result = get_text(
        &h.ctx,
        &bucket,
        &format!("easytdv/runs/{run_id}/outputs/result.json"),
    )
    .await;
    let result: serde_json::Value = serde_json::from_str(&result).unwrap();
    assert_eq!(result["tinydep"], 42, "{result}");
    assert_eq!(result["version"], "0.1.0", "{result}");
    let lines: Vec<String> = h.events.lines().into_iter().map(|(_, l)| l.text).collect();
    assert!(
        lines.iter().any(|l| l.contains("uv sync --frozen")),
        "the install log says how: {lines:#?}"
    );
    // The lock and its pyproject went with the code.
    let manifest = manifest_of(&h, &bucket, &run_id).await;
    let paths: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "pyproject.toml",
            "train.py",
            "uv.lock",
            "wheels/tinydep-0.1.0-py3-none-any.whl"
        ]
    );
    train.delete_resources().await.expect("delete");
}
