//! A run's data on the sandbox: a folder on this computer (sent as blobs,
//! once for every run that uses it; also at its place in the project), an
//! existing S3 location read in place through presigned URLs (the machine's
//! role gets nothing of the person's bucket), and the sources refused before
//! a machine exists.

use std::path::Path;

use crate::common::*;
use easytdv_core::aws::AwsContext;
use easytdv_core::data_source::DataSource;
use easytdv_core::explain::Explain;
use easytdv_core::pipeline::{PipelineError, Step, StepState, TrainRequest};

/// Reads every file under DATA_DIR (and `data/` from the project's root
/// when there is one) and says what it found.
const TRAIN_PY: &str = r#"import hashlib, json, os
root = os.environ["DATA_DIR"]
found = {}
for d, _, names in os.walk(root):
    for n in names:
        p = os.path.join(d, n)
        found[os.path.relpath(p, root)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
local = None
if os.path.exists("data/points.csv"):
    local = open("data/points.csv").read()
json.dump({"found": found, "local": local}, open(os.path.join(os.environ["OUTPUT_DIR"], "data.json"), "w"))
print("loss=0.1 files", len(found))
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

fn data_request(project: &Path, bucket: &str, data: DataSource) -> TrainRequest {
    write(project, "train.py", TRAIN_PY.as_bytes());
    write(project, "requirements.txt", b"# none\n");
    TrainRequest {
        script_path: project.join("train.py"),
        requirements_path: project.join("requirements.txt"),
        data: Some(data),
        ..request("ok", bucket)
    }
}

async fn result(h: &Harness, bucket: &str, run_id: &str) -> serde_json::Value {
    let text = get_text(
        &h.ctx,
        bucket,
        &format!("easytdv/runs/{run_id}/outputs/data.json"),
    )
    .await;
    serde_json::from_str(&text).unwrap()
}

fn prepare_messages(h: &Harness, run_id: &str) -> Vec<String> {
    h.events
        .events()
        .into_iter()
        .filter(|e| e.run_id == run_id && e.step == Step::Prepare && e.state != StepState::Failed)
        .map(|e| e.message)
        .collect()
}

#[tokio::test]
async fn a_data_folder_goes_up_once_and_reaches_data_dir_and_its_place_in_the_project() {
    let h = Harness::new().await;
    let bucket = bucket("datafolder");
    let project = tempfile::tempdir().unwrap();
    // The data folder is inside the project but ignored there: it travels as data.
    write(project.path(), ".gitignore", b"data/\n");
    let big: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    write(project.path(), "data/points.csv", b"x,y\n1,2\n");
    write(project.path(), "data/shards/part-0.bin", &big);
    let source = DataSource::Folder {
        path: project.path().join("data"),
    };
    let mut first = h.train(data_request(project.path(), &bucket, source.clone()));
    let run_id = first.run_id().to_string();
    first
        .run_from(Step::Prepare)
        .await
        .expect("the run succeeds");
    let got = result(&h, &bucket, &run_id).await;
    assert_eq!(got["found"]["points.csv"], sha(b"x,y\n1,2\n"), "{got}");
    assert_eq!(got["found"]["shards/part-0.bin"], sha(&big), "{got}");
    assert_eq!(
        got["local"], "x,y\n1,2\n",
        "data/ in the project is the data"
    );
    assert!(
        prepare_messages(&h, &run_id)
            .iter()
            .any(|m| m == "Sending the data: 1.2 MB of 1.2 MB (100 %)"),
        "the upload's progress is told: {:?}",
        prepare_messages(&h, &run_id)
    );
    assert!(
        prepare_messages(&h, &run_id)
            .iter()
            .any(|m| m == "Data: 2 files sent (1.2 MB)"),
        "{:?}",
        prepare_messages(&h, &run_id)
    );

    // The next run sends nothing of it.
    let mut second = h.train(data_request(project.path(), &bucket, source));
    second.prepare_env().await.expect("second prepare");
    assert!(
        prepare_messages(&h, second.run_id())
            .iter()
            .any(|m| m == "Data: none of the 2 files changed: nothing sent"),
        "{:?}",
        prepare_messages(&h, second.run_id())
    );
    // The clean-up removes the run's data manifest and keeps the blobs.
    let blobs = list(&h.ctx, &bucket, "easytdv/blobs/").await;
    first.delete_resources().await.expect("delete");
    second.delete_resources().await.expect("delete");
    let (live, stack, inputs) = leftovers(&h.ctx, &run_id, &bucket).await;
    assert!(live.is_empty() && stack.is_none() && inputs.is_empty());
    assert_eq!(list(&h.ctx, &bucket, "easytdv/blobs/").await, blobs);
}

#[tokio::test]
async fn an_s3_location_is_read_in_place_through_presigned_urls() {
    let h = Harness::new().await;
    let bucket = bucket("datas3");
    let theirs = format!("{}-lake", &bucket[..40.min(bucket.len())]);
    create_bucket(&h.ctx, &theirs).await;
    let s3 = h.ctx.s3();
    // Under easytdv/: the one prefix the easyTDV user policy reads in any
    // bucket of the account (tests/policy checks every recorded call against
    // it); elsewhere the person grants s3:GetObject themselves.
    let objects: [(&str, &[u8]); 5] = [
        ("easytdv/datasets/points/", b""), // the console's folder marker
        ("easytdv/datasets/points/a.csv", b"x\n1\n"),
        // Both a file and the folder of sub/b.csv: left out, with a note.
        (
            "easytdv/datasets/points/sub",
            b"a file named like a folder\n",
        ),
        ("easytdv/datasets/points/sub/b.csv", b"x\n2\n"),
        ("easytdv/datasets/other/c.csv", b"not ours\n"),
    ];
    for (key, body) in objects {
        s3.put_object()
            .bucket(&theirs)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let project = tempfile::tempdir().unwrap();
    let source = DataSource::parse(&format!("s3://{theirs}/easytdv/datasets/points")).unwrap();
    let mut train = h.train(data_request(project.path(), &bucket, source));
    let run_id = train.run_id().to_string();
    train
        .run_from(Step::Prepare)
        .await
        .expect("the run succeeds");
    let got = result(&h, &bucket, &run_id).await;
    let found = got["found"].as_object().unwrap();
    assert_eq!(found.len(), 2, "only the prefix's files: {got}");
    assert_eq!(found["a.csv"], sha(b"x\n1\n"));
    assert_eq!(found["sub/b.csv"], sha(b"x\n2\n"));
    assert!(
        prepare_messages(&h, &run_id)
            .iter()
            .any(|m| m.starts_with(&format!(
                "Data: 2 files (8 bytes) in s3://{theirs}/easytdv/datasets/points/, read in place"
            )) && m.contains(
                "; 1 object left out (a name that is not a path, or also a folder's name)"
            )),
        "{:?}",
        prepare_messages(&h, &run_id)
    );
    // The machines' role (the base's) was given nothing of that bucket: its
    // policy never names it, and reaches buckets only under easytdv/.
    let policy = h
        .ctx
        .iam()
        .get_role_policy()
        .role_name(format!("easytdv-base-{}-instance", h.ctx.region()))
        .policy_name("easytdv-machine")
        .send()
        .await
        .expect("the machines' role's policy")
        .policy_document
        .clone();
    let policy = urlencoding_decode(&policy);
    assert!(
        !policy.contains(&theirs),
        "the role may not read their bucket: {policy}"
    );
    train.delete_resources().await.expect("delete");
    // Their data is theirs: untouched.
    assert_eq!(list(&h.ctx, &theirs, "easytdv/datasets/").await.len(), 5);
}

/// IAM answers policy documents URL-encoded.
fn urlencoding_decode(text: &str) -> String {
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

/// Why a data source is refused, and that nothing was made for the run.
async fn refused(h: &Harness, bucket: &str, request: TrainRequest) -> (String, String) {
    let mut train = h.train(request);
    let run_id = train.run_id().to_string();
    let err = train.run_from(Step::Prepare).await.expect_err("refused");
    let (live, stack, _) = leftovers(&h.ctx, &run_id, bucket).await;
    assert!(live.is_empty() && stack.is_none(), "{live:?} {stack:?}");
    let told = format!("{err} {}", err.hint().unwrap_or_default());
    (err.code().to_string(), told)
}

#[tokio::test]
async fn data_sources_that_cannot_be_read_are_refused_before_any_machine() {
    let h = Harness::new().await;
    let bucket = bucket("databad");
    let project = tempfile::tempdir().unwrap();
    let s3 = |url: String| DataSource::S3 { url };

    // A bucket in another region.
    let far = AwsContext::new_like(&h.ctx, "us-west-2").await.unwrap();
    let away = format!("{}-far", &bucket[..40.min(bucket.len())]);
    create_bucket(&far, &away).await;
    let (code, told) = refused(
        &h,
        &bucket,
        data_request(project.path(), &bucket, s3(format!("s3://{away}/x/"))),
    )
    .await;
    assert_eq!(code, "data_other_region", "{told}");
    assert!(
        told.contains("us-west-2") && told.contains("eu-west-3"),
        "{told}"
    );

    // No such bucket.
    let (code, _) = refused(
        &h,
        &bucket,
        data_request(
            project.path(),
            &bucket,
            s3(format!("s3://{bucket}-nope/x/")),
        ),
    )
    .await;
    assert_eq!(code, "data_no_bucket");

    // Another account's bucket, even one whose policy lets us read.
    let theirs = format!("{}-theirs", &bucket[..40.min(bucket.len())]);
    other_accounts_open_bucket(&theirs).await;
    let (code, told) = refused(
        &h,
        &bucket,
        data_request(project.path(), &bucket, s3(format!("s3://{theirs}/x/"))),
    )
    .await;
    assert_eq!(code, "data_not_readable", "{told}");
    assert!(told.contains("another AWS account"), "{told}");

    // An empty prefix.
    let mine = format!("{}-mine", &bucket[..40.min(bucket.len())]);
    create_bucket(&h.ctx, &mine).await;
    let (code, _) = refused(
        &h,
        &bucket,
        data_request(
            project.path(),
            &bucket,
            s3(format!("s3://{mine}/easytdv/empty/")),
        ),
    )
    .await;
    assert_eq!(code, "data_empty_prefix");

    // Archived objects (a GET would fail on the machine until restored).
    h.ctx
        .s3()
        .put_object()
        .bucket(&mine)
        .key("easytdv/cold/a.csv")
        .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
        .body(b"x\n".to_vec().into())
        .send()
        .await
        .unwrap();
    let (code, told) = refused(
        &h,
        &bucket,
        data_request(
            project.path(),
            &bucket,
            s3(format!("s3://{mine}/easytdv/cold/")),
        ),
    )
    .await;
    assert_eq!(code, "data_archived", "{told}");
    assert!(
        told.contains("GLACIER") && told.contains("restore"),
        "{told}"
    );

    // Checked before the run opens: a folder that is not there, SageMaker.
    let gone = h.try_open(data_request(
        project.path(),
        &bucket,
        DataSource::Folder {
            path: project.path().join("nope"),
        },
    ));
    assert_eq!(gone.map(|_| ()).unwrap_err().code(), "data_no_folder");
    // SageMaker reads an S3 location with the job's role, which the
    // permissions boundary keeps under easytdv/ (sagemaker_data.rs runs one).
    let sagemaker = TrainRequest {
        instance_type: "ml.m5.large".into(),
        engine: easytdv_core::pipeline::Engine::SageMaker {
            instance_count: 1,
            spot: false,
        },
        ..data_request(project.path(), &bucket, s3(format!("s3://{mine}/x/")))
    };
    let err = h.try_open(sagemaker).map(|_| ()).unwrap_err();
    assert_eq!(err.code(), "data_not_for_sagemaker");
    assert!(matches!(err, PipelineError::Data(_)));
}

/// The transfer's figures (prints, asserts nothing about time): a 200-file
/// project with a data folder (`EASYTDV_BENCH_DATA_MB`, default 100 MB, the
/// issue's figure is 500), sent once, then again with one file changed, then
/// downloaded by the machine. `./dev bench-transfer` runs it.
#[tokio::test]
#[ignore = "a benchmark: ./dev bench-transfer"]
async fn bench_transfer() {
    use std::time::Instant;
    let mb: usize = std::env::var("EASYTDV_BENCH_DATA_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let h = Harness::new().await;
    let bucket = bucket("bench");
    let project = tempfile::tempdir().unwrap();
    for i in 0..198 {
        write(
            project.path(),
            &format!("pkg/m{i:03}.py"),
            format!("X = {i}\n{}\n", "#".repeat(2000)).as_bytes(),
        );
    }
    let data = tempfile::tempdir().unwrap();
    let shard = 10 * 1024 * 1024;
    let mut seed = 1u64;
    for i in 0..mb.div_ceil(10) {
        let body: Vec<u8> = (0..shard)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 56) as u8
            })
            .collect();
        write(data.path(), &format!("shard-{i:02}.bin"), &body);
        // A dataset is older than the run (a file changed seconds ago is hashed every time).
        std::fs::File::options()
            .write(true)
            .open(data.path().join(format!("shard-{i:02}.bin")))
            .unwrap()
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
            .unwrap();
    }
    let source = DataSource::Folder {
        path: data.path().to_path_buf(),
    };
    let sent_bytes = |h: &Harness| -> u64 {
        h.ctx
            .calls_per_operation()
            .into_iter()
            .filter(|(op, ..)| op.contains("PutObject") || op.contains("UploadPart"))
            .map(|(_, n, _)| n)
            .sum()
    };
    let t = Instant::now();
    let before = sent_bytes(&h);
    let mut first = h.train(data_request(project.path(), &bucket, source.clone()));
    first.prepare_env().await.expect("first send");
    let first_secs = t.elapsed().as_secs_f64();
    let first_calls = sent_bytes(&h) - before;
    let first_told = prepare_messages(&h, first.run_id());

    write(project.path(), "pkg/m007.py", b"X = 'changed'\n");
    let t = Instant::now();
    let before = sent_bytes(&h);
    let mut second = h.train(data_request(project.path(), &bucket, source));
    second.prepare_env().await.expect("second send");
    let second_secs = t.elapsed().as_secs_f64();
    let second_calls = sent_bytes(&h) - before;
    let second_told = prepare_messages(&h, second.run_id());

    let run_id = second.run_id().to_string();
    let t = Instant::now();
    let report = second.run_from(Step::Stack).await.expect("the run");
    let run_secs = t.elapsed().as_secs_f64();
    let fetched = report
        .training
        .stdout_tail
        .lines()
        .find(|l| l.contains("easytdv: data "))
        .unwrap_or("(no data line)")
        .to_string();
    let pick = |told: &[String], what: &str| {
        told.iter()
            .find(|m| m.starts_with(what))
            .cloned()
            .unwrap_or_default()
    };
    println!("\n== project transfer ({mb} MB of data, 200 project files)");
    println!(
        "first send : {first_secs:6.2} s, {first_calls} upload calls; {} | {}",
        pick(&first_told, "Project:"),
        pick(&first_told, "Data:")
    );
    println!(
        "second send: {second_secs:6.2} s, {second_calls} upload calls; {} | {}",
        pick(&second_told, "Project:"),
        pick(&second_told, "Data:")
    );
    println!("machine    : {fetched}");
    println!("second run from launch to outputs: {run_secs:.2} s (run {run_id})");
    first.delete_resources().await.expect("delete");
    second.delete_resources().await.expect("delete");
}
