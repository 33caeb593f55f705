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

/// An S3 client of the test's own (not the app's), computing request
/// checksums only where required when `plain` (objects without a checksum).
async fn fixture_s3(plain: bool) -> aws_sdk_s3::Client {
    let conf = admin_config(REGION).await;
    let mut b = aws_sdk_s3::config::Builder::from(&conf).force_path_style(true);
    if plain {
        b = b.request_checksum_calculation(
            aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
        );
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// Uploads `body` in parts of `part` bytes, with `algorithm` (None: none given).
async fn put_multipart(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: &[u8],
    part: usize,
    algorithm: Option<aws_sdk_s3::types::ChecksumAlgorithm>,
) {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let up = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .set_checksum_algorithm(algorithm.clone())
        .send()
        .await
        .expect("create multipart upload");
    let id = up.upload_id().unwrap().to_string();
    let mut parts = Vec::new();
    for (i, chunk) in body.chunks(part).enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .set_checksum_algorithm(algorithm.clone())
            .body(chunk.to_vec().into())
            .send()
            .await
            .expect("upload part");
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .set_e_tag(out.e_tag().map(str::to_string))
                .set_checksum_sha256(out.checksum_sha256().map(str::to_string))
                .set_checksum_crc32(out.checksum_crc32().map(str::to_string))
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .expect("complete multipart upload");
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (((i as u64 * 2654435761) >> 13) as u8) ^ seed)
        .collect()
}

const MIB: usize = 1_048_576;

/// Outputs of one run: model.pt (multipart, SHA-256 composite), model.json
/// (one PUT, CRC32), model.bin (multipart without checksum: S3's default
/// CRC64NVME), model.txt (one PUT without checksum: the ETag's MD5).
async fn same_stem_outputs(tag: &str) -> (RunResources, Vec<(&'static str, Vec<u8>)>) {
    let ctx = ctx().await;
    let bucket = bucket(tag);
    create_bucket(&ctx, &bucket).await;
    let run_id = format!("20260101-000000-{}", &tag[..6.min(tag.len())]);
    let res = RunResources {
        run_id: run_id.clone(),
        region: REGION.into(),
        bucket: bucket.clone(),
        prefix: format!("easytdv/runs/{run_id}"),
        ..Default::default()
    };
    let out = res.outputs_prefix();
    let files = vec![
        ("model.pt", pattern(12 * MIB + 3, 1)),
        ("model.json", pattern(6 * MIB + 5, 2)),
        ("model.bin", pattern(11 * MIB + 7, 3)),
        ("model.txt", pattern(5 * MIB + 11, 4)),
    ];
    let (with, plain) = (fixture_s3(false).await, fixture_s3(true).await);
    use aws_sdk_s3::types::ChecksumAlgorithm;
    put_multipart(
        &with,
        &bucket,
        &format!("{out}model.pt"),
        &files[0].1,
        5 * MIB,
        Some(ChecksumAlgorithm::Sha256),
    )
    .await;
    with.put_object()
        .bucket(&bucket)
        .key(format!("{out}model.json"))
        .body(files[1].1.clone().into())
        .send()
        .await
        .unwrap();
    put_multipart(
        &plain,
        &bucket,
        &format!("{out}model.bin"),
        &files[2].1,
        5 * MIB,
        None,
    )
    .await;
    plain
        .put_object()
        .bucket(&bucket)
        .key(format!("{out}model.txt"))
        .body(files[3].1.clone().into())
        .send()
        .await
        .unwrap();
    // Each file is checked by another rule (integrity.rs): say which S3 gives.
    for (name, want) in [
        ("model.pt", "sha256 COMPOSITE"),
        ("model.json", "crc32"),
        ("model.bin", "crc64nvme FULL_OBJECT"),
        ("model.txt", "none"),
    ] {
        let head = with
            .head_object()
            .bucket(&bucket)
            .key(format!("{out}{name}"))
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let kind = match (
            head.checksum_sha256(),
            head.checksum_crc32(),
            head.checksum_crc64_nvme(),
        ) {
            (Some(v), _, _) if v.ends_with("-3") => "sha256",
            (_, Some(_), _) => "crc32",
            (_, _, Some(_)) => "crc64nvme",
            _ => "none",
        };
        let got = match head.checksum_type() {
            Some(t) if kind != "crc32" => format!("{kind} {}", t.as_str()),
            _ => kind.to_string(),
        };
        assert_eq!(got, want, "{name}");
    }
    (res, files)
}

fn assert_every_byte(dir: &std::path::Path, files: &[(&str, Vec<u8>)]) {
    for (name, body) in files {
        let got = std::fs::read(dir.join(name)).unwrap();
        assert!(
            got == *body,
            "{name}: {} bytes, not the object's",
            got.len()
        );
    }
    let left: Vec<_> = walk(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".easytdv-part"))
        .collect();
    assert!(left.is_empty(), "no partial file is left: {left:?}");
}

#[tokio::test]
async fn files_of_the_same_stem_download_at_once_and_each_gets_its_own_bytes() {
    let ctx = ctx().await;
    let (res, files) = same_stem_outputs("stem").await;
    let dir = tempfile::tempdir().unwrap();
    let report = pipeline::download_outputs(&ctx, &res, dir.path(), &|_| {})
        .await
        .expect("downloaded");
    assert_eq!((report.files, report.skipped), (4, 0));
    assert_every_byte(dir.path(), &files);
    // Again: every file is checked and kept.
    let again = pipeline::download_outputs(&ctx, &res, dir.path(), &|_| {})
        .await
        .expect("checked");
    assert_eq!((again.files, again.skipped), (4, 4));
}

#[tokio::test]
async fn a_file_of_the_right_size_but_other_bytes_is_fetched_again() {
    let ctx = ctx().await;
    let (res, files) = same_stem_outputs("resize").await;
    let dir = tempfile::tempdir().unwrap();
    // Each file already there with the object's size, one byte changed
    // (a multipart object's ETag says nothing of its bytes by itself).
    for (name, body) in &files {
        let mut bad = body.clone();
        bad[body.len() / 2] ^= 0xFF;
        std::fs::write(dir.path().join(name), bad).unwrap();
    }
    let report = pipeline::download_outputs(&ctx, &res, dir.path(), &|_| {})
        .await
        .expect("downloaded");
    assert_eq!(report.skipped, 0, "no damaged file is kept");
    assert_every_byte(dir.path(), &files);
}

#[tokio::test]
async fn a_cut_download_resumes_from_its_partial_file_and_a_corrupt_one_is_fetched_whole() {
    let ctx = ctx().await;
    let (res, files) = same_stem_outputs("resume").await;
    let dir = tempfile::tempdir().unwrap();
    // model.pt and model.bin were cut at 4 MiB: model.pt's partial file is
    // right, model.bin's has one wrong byte in what was already written.
    let part = |name: &str| dir.path().join(format!("{name}.easytdv-part"));
    std::fs::write(part("model.pt"), &files[0].1[..4 * MIB]).unwrap();
    let mut bad = files[2].1[..4 * MIB].to_vec();
    bad[1234] ^= 0x01;
    std::fs::write(part("model.bin"), bad).unwrap();
    let report = pipeline::download_outputs(&ctx, &res, dir.path(), &|_| {})
        .await
        .expect("downloaded");
    assert_eq!((report.files, report.skipped), (4, 0));
    assert_every_byte(dir.path(), &files);
}
