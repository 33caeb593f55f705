//! A run's data on SageMaker (issue 21): the job's `data` input channel,
//! with `SM_CHANNEL_DATA` and `DATA_DIR` both naming it. A folder goes up as
//! blobs (as for EC2) and comes down through a SageMaker manifest file; the
//! launcher rebuilds the folder (a subfolder, a file at two paths, a file
//! named like a blob) and links it at its place in the project; a blob
//! changed in the bucket refuses the run. An S3 location under `easytdv/`
//! is an S3Prefix channel the job's role may read, and no more.

use std::path::Path;

use crate::common::*;
use easytdv_core::data_source::DataSource;
use easytdv_core::pipeline::{Engine, PipelineError, Step, TrainRequest};

/// Prints every file under DATA_DIR with its SHA-256, whether the channel's
/// variable names the same folder, and `data/points.csv` read from the
/// project's root when it is there.
const TRAIN_PY: &str = r#"import hashlib, os
root = os.environ["DATA_DIR"]
print("channel", os.environ.get("SM_CHANNEL_DATA") == root, flush=True)
for d, _, names in sorted(os.walk(root)):
    for n in sorted(names):
        p = os.path.join(d, n)
        print("found", os.path.relpath(p, root), hashlib.sha256(open(p, "rb").read()).hexdigest(), flush=True)
if os.path.exists("data/points.csv"):
    print("local", open("data/points.csv").read().splitlines()[1], flush=True)
"#;

fn write(root: &Path, rel: &str, body: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, body).unwrap();
}

fn sha(body: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn on_sagemaker(project: &Path, bucket: &str, data: DataSource) -> TrainRequest {
    write(project, "train.py", TRAIN_PY.as_bytes());
    write(project, "requirements.txt", b"# none\n");
    TrainRequest {
        script_path: project.join("train.py"),
        requirements_path: project.join("requirements.txt"),
        instance_type: "ml.c7i.large".into(),
        engine: Engine::SageMaker {
            instance_count: 1,
            spot: false,
        },
        data: Some(data),
        ..request("ok", bucket)
    }
}

/// "found <path> <sha256>" lines of the training's log, sorted.
fn found(h: &Harness) -> Vec<String> {
    let mut found: Vec<String> = train_lines(h)
        .into_iter()
        .filter(|l| l.starts_with("found "))
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn a_data_folder_reaches_the_job_through_its_channel_and_its_place_in_the_project() {
    let h = Harness::new().await;
    let bucket = bucket("smdata");
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    // Inside the project but ignored there: it travels as data, not as code.
    write(root, ".gitignore", b"data/\n");
    let points = b"x,y\n1,2\n";
    let other = b"other\n";
    write(root, "data/points.csv", points);
    write(root, "data/sub/copy.csv", points);
    write(root, "data/sub/other.txt", other);
    // A file named like another file's blob.
    let hash_named = sha(other);
    write(root, &format!("data/{hash_named}"), b"named like a blob\n");
    let source = DataSource::Folder {
        path: root.join("data"),
    };
    let mut train = h.train(on_sagemaker(root, &bucket, source.clone()));
    let run_id = train.run_id().to_string();
    train
        .run_from(Step::Prepare)
        .await
        .expect("the job completes");
    let mut want = vec![
        format!("found points.csv {}", sha(points)),
        format!("found sub/copy.csv {}", sha(points)),
        format!("found sub/other.txt {}", sha(other)),
        format!("found {hash_named} {}", sha(b"named like a blob\n")),
    ];
    want.sort();
    assert_eq!(found(&h), want, "{:?}", train_lines(&h));
    let lines = train_lines(&h);
    assert!(lines.iter().any(|l| l == "channel True"), "{lines:?}");
    assert!(
        lines.iter().any(|l| l == "local 1,2"),
        "data/ in the project is the data: {lines:?}"
    );
    // Each content went once (the duplicate is one blob), listed once.
    let manifest: serde_json::Value = serde_json::from_str(
        &get_text(
            &h.ctx,
            &bucket,
            &format!("easytdv/runs/{run_id}/data.manifest"),
        )
        .await,
    )
    .unwrap();
    assert_eq!(
        manifest[0]["prefix"],
        format!("s3://{bucket}/easytdv/blobs/")
    );
    assert_eq!(manifest.as_array().unwrap().len(), 1 + 3, "{manifest}");
    let blobs = list(&h.ctx, &bucket, "easytdv/blobs/").await;
    assert_eq!(blobs.len(), 3, "{blobs:?}");

    // The clean-up leaves nothing of the run but the blobs.
    train.delete_resources().await.expect("delete");
    let (live, stack, inputs) = leftovers(&h.ctx, &run_id, &bucket).await;
    assert!(
        live.is_empty() && stack.is_none() && inputs.is_empty(),
        "{live:?} {stack:?} {inputs:?}"
    );
    assert_eq!(list(&h.ctx, &bucket, "easytdv/blobs/").await, blobs);

    // A blob changed in the bucket (same size, so nothing is sent again):
    // the launcher refuses the data and train.py never runs.
    let tampered = b"x,y\n6,6\n";
    assert_eq!(tampered.len(), points.len());
    h.ctx
        .s3()
        .put_object()
        .bucket(&bucket)
        .key(format!("easytdv/blobs/{}", sha(points)))
        .body(tampered.to_vec().into())
        .send()
        .await
        .unwrap();
    let h = Harness::new().await;
    let mut second = h.train(on_sagemaker(root, &bucket, source));
    let err = second
        .run_from(Step::Prepare)
        .await
        .expect_err("the data is refused");
    let told = match &err {
        PipelineError::TrainingJobFailed { reason, tail, .. } => format!("{reason}\n{tail}"),
        other => panic!("not a failed job: {other}"),
    };
    assert!(
        told.contains("is not the file easyTDV sent") && told.contains("points.csv"),
        "{told}"
    );
    assert!(
        told.contains("83"),
        "EC2's exit code for refused data: {told}"
    );
    assert!(found(&h).is_empty(), "train.py never ran: {:?}", found(&h));
    second.delete_resources().await.expect("delete");
}

#[tokio::test]
async fn an_s3_location_under_easytdv_is_the_jobs_channel_read_with_exactly_its_prefix() {
    let h = Harness::new().await;
    let bucket = bucket("smdatas3");
    let lake = format!("{}-lake", &bucket[..40.min(bucket.len())]);
    create_bucket(&h.ctx, &lake).await;
    let objects: [(&str, &[u8]); 4] = [
        ("easytdv/datasets/points/", b""), // the console's folder marker
        ("easytdv/datasets/points/a.csv", b"x\n1\n"),
        ("easytdv/datasets/points/sub/b.csv", b"x\n2\n"),
        ("easytdv/datasets/other/c.csv", b"not ours\n"),
    ];
    for (key, body) in objects {
        h.ctx
            .s3()
            .put_object()
            .bucket(&lake)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let project = tempfile::tempdir().unwrap();
    let source = DataSource::parse(&format!("s3://{lake}/easytdv/datasets/points")).unwrap();
    let mut train = h.train(on_sagemaker(project.path(), &bucket, source));
    let run_id = train.run_id().to_string();
    train
        .run_from(Step::Prepare)
        .await
        .expect("the job completes");
    assert_eq!(
        found(&h),
        vec![
            format!("found a.csv {}", sha(b"x\n1\n")),
            format!("found sub/b.csv {}", sha(b"x\n2\n")),
        ],
        "{:?}",
        train_lines(&h)
    );
    assert!(train_lines(&h).iter().any(|l| l == "channel True"));
    // The job's role may read that prefix of that bucket, and no other.
    let policy = h
        .ctx
        .iam()
        .get_role_policy()
        .role_name(format!("easytdv-{run_id}-sagemaker"))
        .policy_name("easytdv-training-job")
        .send()
        .await
        .expect("the job role's policy")
        .policy_document
        .clone();
    let policy = percent_decode(&policy);
    assert!(
        policy.contains(&format!("arn:aws:s3:::{lake}/easytdv/datasets/points/*")),
        "{policy}"
    );
    // The GetObject resource and the ListBucket s3:prefix condition.
    assert_eq!(
        policy.matches("easytdv/datasets/points/*").count(),
        2,
        "{policy}"
    );
    assert!(!policy.contains(&format!("{lake}/*")), "{policy}");
    train.delete_resources().await.expect("delete");
    assert_eq!(list(&h.ctx, &lake, "easytdv/datasets/").await.len(), 4);

    // Elsewhere in the account is out of the boundary's reach: refused
    // before anything is made.
    let elsewhere = TrainRequest {
        data: Some(DataSource::parse(&format!("s3://{lake}/datasets/points/")).unwrap()),
        ..on_sagemaker(
            project.path(),
            &bucket,
            DataSource::S3 { url: String::new() },
        )
    };
    let err = h.try_open(elsewhere).map(|_| ()).unwrap_err();
    use easytdv_core::explain::Explain;
    assert_eq!(err.code(), "data_not_for_sagemaker");
    assert!(err.hint().unwrap_or_default().contains("easytdv/"));
}

/// IAM answers policy documents URL-encoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
