//! Results home: several hundred outputs and one big file, a download cut
//! once, then resumed: files already complete are skipped, the rest fetched,
//! and every file has the object's bytes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::common::*;
use easytdv_core::pipeline::{self, DownloadProgress, RunResources};

const SMALL: usize = 300;
const BIG_MIB: usize = 24;

fn small_body(i: usize) -> Vec<u8> {
    format!("file {i}\n").repeat(i % 50 + 1).into_bytes()
}

#[tokio::test]
async fn an_interrupted_download_resumes_and_gets_every_byte() {
    let ctx = ctx().await;
    let bucket = bucket("outputs");
    create_bucket(&ctx, &bucket).await;
    let run_id = "20260101-000000-dl0001";
    let res = RunResources {
        run_id: run_id.into(),
        region: REGION.into(),
        bucket: bucket.clone(),
        prefix: format!("easytdv/runs/{run_id}"),
        ..Default::default()
    };
    let outputs = res.outputs_prefix();
    let big: Vec<u8> = (0..BIG_MIB * 1_048_576).map(|i| (i % 251) as u8).collect();
    let put = |key: String, body: Vec<u8>| {
        let s3 = ctx.s3();
        let bucket = bucket.clone();
        async move {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(body.into())
                .send()
                .await
                .expect("put")
        }
    };
    put(format!("{outputs}model/weights.bin"), big.clone()).await;
    for i in 0..SMALL {
        put(format!("{outputs}epochs/{i:03}.txt"), small_body(i)).await;
    }

    let dir = tempfile::tempdir().unwrap();
    // First try: cut after 100 files.
    let done = Arc::new(AtomicU32::new(0));
    let cut = Arc::new(tokio::sync::Notify::new());
    let (d, c) = (done.clone(), cut.clone());
    let count = move |p: DownloadProgress| {
        d.store(p.files_done, Ordering::SeqCst);
        if p.files_done >= 100 {
            c.notify_one();
        }
    };
    tokio::select! {
        r = pipeline::download_outputs(&ctx, &res, dir.path(), &count) => panic!("not cut: {r:?}"),
        () = cut.notified() => {}
    }
    let first = done.load(Ordering::SeqCst);
    assert!(
        (100..(SMALL as u32 + 1)).contains(&first),
        "{first} files before the cut"
    );

    // Second try: resumes.
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let record = move |p: DownloadProgress| s.lock().unwrap().push(p);
    let report = pipeline::download_outputs(&ctx, &res, dir.path(), &record)
        .await
        .expect("resumed");
    assert_eq!(report.files as usize, SMALL + 1);
    assert!(report.skipped >= 100, "skipped {}", report.skipped);
    assert!(report.skipped < report.files, "something was left to fetch");
    let seen = seen.lock().unwrap().clone();
    let last = seen.last().unwrap();
    assert_eq!(last.files_done, last.files_total);
    assert_eq!(last.bytes_done, last.bytes_total);
    assert!(seen.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done));

    let got = std::fs::read(dir.path().join("model/weights.bin")).unwrap();
    assert!(got == big, "the big file has the object's bytes");
    for i in 0..SMALL {
        let got = std::fs::read(dir.path().join(format!("epochs/{i:03}.txt"))).unwrap();
        assert_eq!(got, small_body(i), "file {i}");
    }
    let parts: Vec<_> = walk(dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".easytdv-part"))
        .collect();
    assert!(parts.is_empty(), "no partial file is left: {parts:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
