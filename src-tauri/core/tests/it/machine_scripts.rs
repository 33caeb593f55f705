//! What the machine gets and what the app vouches for, against the sandbox:
//! the scripts come from the run's prefix (the SSM command is a few lines),
//! a saved environment is recorded with its SHA-256 and restored only with
//! it, and a failed install shows the end of the installer's error (SSM
//! keeps only the first 8,000 characters of stderr).

use std::sync::Arc;

use crate::common::*;
use easytdv_core::environments::CacheArchive;
use easytdv_core::pipeline::{self, MemoryState, PipelineError, RunStateSink, Step, Train};
use sha2::{Digest, Sha256};

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new run sharing the harness's progress log and a given state.
fn train_with(h: &Harness, state: &MemoryState, bucket: &str) -> Train {
    Train::new(
        h.ctx.clone(),
        request("ok", bucket),
        Arc::new(h.events.clone()),
        Arc::new(state.clone()),
    )
    .expect("valid request")
}

#[tokio::test]
async fn a_saved_environment_is_recorded_and_restored_only_with_its_digest() {
    let h = Harness::new().await;
    let state = h.state.clone();
    let bucket = bucket("envcache");

    // 1. A first install: the environment is saved, and the app records it.
    let mut first = train_with(&h, &state, &bucket);
    first.run_from(Step::Prepare).await.expect("first run");
    let key = first
        .resources()
        .cache_key
        .clone()
        .expect("the key, known before the stack");
    // The machine saved it in its own folder (the only place it may write);
    // the app copied it to the shared cache.
    let machine = first.resources().machine_prefix().to_string();
    assert!(machine.starts_with("easytdv/m/"), "{machine}");
    assert_eq!(
        first.summary().environment.as_deref(),
        Some("first install of these requirements")
    );
    let recorded = state
        .cache_archive(&bucket, &key)
        .unwrap()
        .expect("recorded when the save ended");
    assert_eq!(recorded.run_id, first.run_id());
    let archive = get_bytes(
        &h.ctx,
        &bucket,
        &format!("easytdv/cache/{}", recorded.archive),
    )
    .await;
    assert_eq!(
        (sha256_hex(&archive), archive.len() as u64),
        (recorded.sha256.clone(), recorded.size)
    );
    let saved = get_bytes(
        &h.ctx,
        &bucket,
        &format!("{machine}/environment/{}", recorded.archive),
    )
    .await;
    assert_eq!(saved, archive);
    // The scripts came from the machine's folder, as the app embeds them.
    let scripts = list(&h.ctx, &bucket, &format!("{machine}/scripts/")).await;
    assert_eq!(
        scripts.len(),
        5,
        "the four scripts and train.py's arguments: {scripts:?}"
    );
    first.delete_resources().await.expect("delete");

    // 2. The same requirements: restored (the archive has the recorded digest).
    let mut second = train_with(&h, &state, &bucket);
    second.run_from(Step::Prepare).await.expect("second run");
    let env = second.summary().environment.unwrap_or_default();
    assert!(env.starts_with("reused the environment of"), "{env}");
    second.delete_resources().await.expect("delete");

    // 3. The archive is not the one recorded (as after someone replaced it):
    //    not used, installed afresh, saved and recorded again.
    state
        .record_cache_archive(&CacheArchive {
            sha256: "00".repeat(32),
            ..recorded.clone()
        })
        .unwrap();
    let mut third = train_with(&h, &state, &bucket);
    third.run_from(Step::Prepare).await.expect("third run");
    assert_eq!(
        third.summary().environment.as_deref(),
        Some("the saved environment was damaged: installed afresh")
    );
    let said = h
        .events
        .lines()
        .into_iter()
        .any(|(_, l)| l.text.contains("is not the archive easyTDV recorded"));
    assert!(said, "the install log says why");
    let again = state
        .cache_archive(&bucket, &key)
        .unwrap()
        .expect("recorded again");
    assert_eq!(again.run_id, third.run_id());
    let archive = get_bytes(&h.ctx, &bucket, &format!("easytdv/cache/{}", again.archive)).await;
    assert_eq!(sha256_hex(&archive), again.sha256);
    third.delete_resources().await.expect("delete");
}

/// A requirement whose build prints far more than 8,000 characters on stderr
/// (uv shows the build's output), then fails with one telling line.
fn chatty_requirements(dir: &std::path::Path) -> std::path::PathBuf {
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(
        pkg.join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n\n\
         [project]\nname = \"easytdv-chatty\"\nversion = \"1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        pkg.join("backend.py"),
        "import sys\n\ndef _fail(*args, **kwargs):\n    for i in range(300):\n        \
         print(f'easytdv-test progress {i:04d}: compiling a module with a long name', file=sys.stderr)\n    \
         print('easytdv-test: THE REAL ERROR, a compiler is missing', file=sys.stderr)\n    \
         raise SystemExit(1)\n\nget_requires_for_build_wheel = build_wheel = prepare_metadata_for_build_wheel = _fail\n",
    )
    .unwrap();
    // (The sandbox's machines run on this computer: they see this folder.)
    let reqs = dir.join("requirements.txt");
    std::fs::write(
        &reqs,
        format!("easytdv-chatty @ file://{}\n", pkg.display()),
    )
    .unwrap();
    reqs
}

#[tokio::test]
async fn a_failed_install_shows_the_end_of_the_installers_error() {
    let h = Harness::new().await;
    let bucket = bucket("chatty");
    let dir = tempfile::tempdir().unwrap();
    let mut req = request("ok", &bucket);
    req.requirements_path = chatty_requirements(dir.path());
    let mut train = h.train(req);
    let err = train
        .run_from(Step::Prepare)
        .await
        .expect_err("the install fails");
    let PipelineError::InstallFailed { tail, .. } = &err else {
        panic!("unexpected: {err}")
    };
    assert!(
        tail.contains("easytdv-test: THE REAL ERROR, a compiler is missing"),
        "{tail}"
    );
    assert!(
        tail.contains("easytdv: pip could not install the requirements"),
        "{tail}"
    );
    // What SSM kept: the first 8,000 characters, progress only.
    let res = train.resources().clone();
    let outcome = pipeline::command_outcome(
        &h.ctx,
        res.instance_id.as_deref().unwrap(),
        res.install_command_id.as_deref().unwrap(),
    )
    .await
    .expect("outcome")
    .expect("ended");
    assert_eq!(outcome.stderr_tail.chars().count(), 8_000);
    assert!(!outcome.stderr_tail.contains("THE REAL ERROR"));
    train.delete_resources().await.expect("delete");
}
