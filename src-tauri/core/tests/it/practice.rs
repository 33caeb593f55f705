//! The practice cloud: the sandbox the app runs itself, started here from the
//! repository's sources in a fresh data folder (its first start really makes
//! a venv and installs the pinned requirements from PyPI).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use easytdv_core::accounts::{Accounts, MemorySecretStore, SandboxInput};
use easytdv_core::aws::{AwsContext, CredentialSource};
use easytdv_core::practice::{self, PracticeCloud, PracticeProgress, PracticeStage};

fn sources() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/sandbox")
}

fn stages(seen: &Mutex<Vec<PracticeProgress>>) -> Vec<PracticeStage> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|p| p.stage.clone())
        .collect()
}

async fn s3(endpoint: &str) -> aws_sdk_s3::Client {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let source = CredentialSource::Sandbox {
        endpoint: endpoint.to_string(),
    };
    AwsContext::new(&source, "us-east-1").await.unwrap().s3()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_practice_cloud_starts_once_is_reused_and_keeps_its_s3_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = Arc::new(PracticeCloud::new(dir.path(), Some(sources())));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let endpoint = cloud
        .start(None, move |p| log.lock().unwrap().push(p))
        .await
        .expect("the practice cloud starts");
    assert!(practice::answers(&endpoint), "{endpoint}");
    assert!(cloud.is_running());
    let first = seen.lock().unwrap().clone();
    assert!(
        first
            .iter()
            .any(|p| p.stage == PracticeStage::Preparing && p.message.contains("first time only")),
        "{first:?}"
    );
    assert_eq!(stages(&seen).last(), Some(&PracticeStage::Ready));

    // Asked again: the same one, nothing prepared or started.
    seen.lock().unwrap().clear();
    let log = seen.clone();
    let again = cloud
        .start(None, move |p| log.lock().unwrap().push(p))
        .await
        .unwrap();
    assert_eq!(again, endpoint);
    assert!(stages(&seen).is_empty(), "{:?}", stages(&seen));

    // A second window on the same folder does not take over the first one's
    // (it could not: the key is the first one's): it starts its own.
    let second = PracticeCloud::new(dir.path(), Some(sources()));
    let other = second.ensure(None, &|_| {}).unwrap();
    assert_ne!(other, endpoint);
    assert!(practice::answers(&other) && practice::answers(&endpoint));

    let client = s3(&endpoint).await;
    client
        .create_bucket()
        .bucket("practice-kept")
        .send()
        .await
        .unwrap();
    client
        .put_object()
        .bucket("practice-kept")
        .key("easytdv/runs/r1/outputs/model.pkl")
        .body(b"weights".to_vec().into())
        .send()
        .await
        .unwrap();

    // The app quits: the practice cloud stops (and saves its S3 data).
    second.stop();
    assert!(!practice::answers(&other));
    cloud.stop();
    assert!(!practice::answers(&endpoint), "still answering after stop");
    assert!(!cloud.is_running());
    // Stopped by its own request (how it stops on Windows too), not by a signal.
    let log = std::fs::read_to_string(cloud.home().join("sandbox.log")).unwrap();
    assert!(
        log.contains("stopping, asked by a shutdown request"),
        "{log}"
    );

    // Next app start: an account made with the practice cloud brings it back.
    // Its port is taken meanwhile, so it comes back on another one, and the
    // account follows it.
    // (The address it had last: the second window's, which saved it last.)
    let last = cloud.last_endpoint().unwrap();
    assert_eq!(last, other);
    let accounts = Accounts::with_secret_store(dir.path(), Arc::new(MemorySecretStore::new()));
    let account = accounts
        .add_sandbox(SandboxInput {
            name: "Practice cloud".into(),
            endpoint: last.clone(),
            region: "us-east-1".into(),
        })
        .unwrap();
    let port = last.rsplit(':').next().unwrap().to_string();
    let _squatter = std::net::TcpListener::bind(format!("127.0.0.1:{port}")).unwrap();
    let third = PracticeCloud::new(dir.path(), Some(sources()));
    let moved = third.resume(&accounts).unwrap().expect("it starts again");
    assert_ne!(moved, last);
    assert_eq!(
        accounts.get(&account.id).unwrap().endpoint.as_deref(),
        Some(moved.as_str())
    );
    let body = s3(&moved)
        .await
        .get_object()
        .bucket("practice-kept")
        .key("easytdv/runs/r1/outputs/model.pkl")
        .send()
        .await
        .expect("the object is still there after a restart")
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(&body[..], b"weights");
    // Nothing to do when it already answers.
    assert_eq!(third.resume(&accounts).unwrap(), None);
    third.stop();
    assert!(!practice::answers(&moved));
}

#[test]
fn without_its_sources_the_practice_cloud_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = PracticeCloud::new(dir.path(), None);
    let e = cloud.ensure(None, &|_| {}).unwrap_err();
    assert_eq!(easytdv_core::explain::Explain::code(&e), "practice_missing");
}
