//! What is stored in a run bucket between runs: the project and data files
//! (`easytdv/blobs/<sha256>`) two runs share, listed with their count and
//! bytes, and deleted except those a run in progress still needs.

use std::path::Path;

use crate::common::*;
use easytdv_core::data_source::folder;
use easytdv_core::history::RunRecord;
use easytdv_core::pipeline::storage::RunBucket;
use easytdv_core::project::{self, manifest, upload, Manifest};
use easytdv_core::stored;

fn write(root: &Path, rel: &str, body: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// Sends a project as a run does: its blobs, then `<run>/project.json`.
async fn send_project(b: &RunBucket<'_>, root: &Path, run: &str) -> Manifest {
    let inputs = project::check(root, &root.join("train.py"), &root.join("requirements.txt"))
        .expect("a valid project");
    let built = manifest::build(&inputs.selection, 2, &|_| {}).expect("hashed");
    upload::send(
        b,
        &inputs.selection,
        &built,
        &format!("easytdv/runs/{run}/project.json"),
        &Default::default(),
        None,
        &|_, _| {},
    )
    .await
    .expect("sent");
    built
}

/// Sends a data folder as a run does: its blobs, then `<run>/data.json`.
async fn send_data(b: &RunBucket<'_>, dir: &Path, run: &str) -> Manifest {
    let selection = folder::select(dir).expect("a data folder");
    let built = manifest::build(&selection, 2, &|_| {}).expect("hashed");
    upload::send_blobs(b, &selection, &built, &Default::default(), None, &|_, _| {})
        .await
        .expect("sent");
    let data = folder::data_manifest("data".into(), &built);
    b.put(&format!("easytdv/runs/{run}/data.json"), data.to_bytes())
        .await
        .expect("data manifest");
    built
}

/// A run of the history in `bucket`, with its outcome and clean-up state.
fn record(run: &str, bucket: &str, outcome: &str, cleanup: &str) -> RunRecord {
    serde_json::from_value(serde_json::json!({
        "runId": run, "createdAt": "2026-12-06T10:00:00Z", "accountId": "cli", "request": null,
        "resources": serde_json::to_value(easytdv_core::pipeline::RunResources {
            run_id: run.into(),
            region: REGION.into(),
            bucket: bucket.into(),
            prefix: format!("easytdv/runs/{run}"),
            ..Default::default()
        }).unwrap(),
        "outcome": outcome, "lastStep": null, "message": null, "detail": null,
        "outputsUri": null, "cleanup": cleanup, "cleanupMessage": null,
        "summary": null, "cost": null
    }))
    .expect("a record")
}

fn blobs_of(m: &Manifest) -> std::collections::BTreeSet<String> {
    m.files
        .iter()
        .map(|f| upload::blob_key(&f.sha256))
        .collect()
}

#[tokio::test]
async fn files_two_runs_share_are_listed_once_and_deleted_except_an_active_runs() {
    let h = Harness::new().await;
    let name = bucket("stored");
    create_bucket(&h.ctx, &name).await;
    let owner = easytdv_core::pipeline::storage::account_id(&h.ctx)
        .await
        .unwrap();
    let b = RunBucket::new(&h.ctx, &name, owner);

    // Run "a" (cleaned up since): train.py v1 and model.py.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "train.py", "import model\nprint('v1')\n");
    write(dir.path(), "model.py", "W = 1\n");
    write(dir.path(), "requirements.txt", "# none\n");
    let a = send_project(&b, dir.path(), "a").await;
    // Run "b" (still in progress): train.py v2, the same model.py, and data.
    write(
        dir.path(),
        "train.py",
        "import model\nprint('v2, a longer line')\n",
    );
    let b_project = send_project(&b, dir.path(), "b").await;
    let data_dir = tempfile::tempdir().unwrap();
    write(data_dir.path(), "points.csv", "x,y\n1,2\n3,4\n");
    write(data_dir.path(), "sub/more.csv", "x,y\n5,6\n");
    let b_data = send_data(&b, data_dir.path(), "b").await;

    let all: std::collections::BTreeSet<String> = blobs_of(&a)
        .into_iter()
        .chain(blobs_of(&b_project))
        .chain(blobs_of(&b_data))
        .collect();
    // train.py v1, v2, model.py, requirements.txt, two data files.
    assert_eq!(all.len(), 6, "{all:?}");
    let bytes: u64 = a
        .files
        .iter()
        .chain(&b_project.files)
        .chain(&b_data.files)
        .map(|f| (upload::blob_key(&f.sha256), f.size))
        .collect::<std::collections::BTreeMap<_, _>>()
        .values()
        .sum();

    let listed = stored::list_files(&h.ctx, &name).await.expect("listed");
    assert_eq!(listed.count, 6);
    assert_eq!(listed.size_bytes, bytes as f64);
    assert_eq!(listed.region, REGION);
    assert!(
        listed
            .newest
            .as_deref()
            .is_some_and(|d| d.starts_with("20")),
        "{listed:?}"
    );
    assert!((listed.usd_per_month - bytes as f64 / 1e9 * 0.023).abs() < 1e-12);

    // Run "a"'s clean-up deleted its prefix; "b" is still running.
    let a_keys = list(&h.ctx, &name, "easytdv/runs/a/").await;
    b.delete_keys(&a_keys).await.unwrap();
    let history = vec![
        record("a", &name, "succeeded", "deleted"),
        record("b", &name, "running", "none"),
    ];
    let done = stored::delete_files(&h.ctx, &name, &history)
        .await
        .expect("deleted");
    let needed: std::collections::BTreeSet<String> = blobs_of(&b_project)
        .into_iter()
        .chain(blobs_of(&b_data))
        .collect();
    assert_eq!(done.kept as usize, needed.len());
    assert_eq!(done.deleted, 1, "only train.py v1 was run a's alone");
    let left: std::collections::BTreeSet<String> = list(&h.ctx, &name, "easytdv/blobs/")
        .await
        .into_iter()
        .collect();
    assert_eq!(left, needed, "exactly the running run's files are left");

    // Once "b" is cleaned up too, everything goes.
    let history = vec![record("b", &name, "succeeded", "deleted")];
    let done = stored::delete_files(&h.ctx, &name, &history).await.unwrap();
    assert_eq!((done.deleted as usize, done.kept), (needed.len(), 0));
    assert!(list(&h.ctx, &name, "easytdv/blobs/").await.is_empty());
    let listed = stored::list_files(&h.ctx, &name).await.unwrap();
    assert_eq!(
        (listed.count, listed.size_bytes, listed.newest),
        (0, 0.0, None)
    );
}

#[tokio::test]
async fn a_run_still_sending_its_files_stops_the_delete_before_anything_goes() {
    let h = Harness::new().await;
    let name = bucket("stored-sending");
    create_bucket(&h.ctx, &name).await;
    let owner = easytdv_core::pipeline::storage::account_id(&h.ctx)
        .await
        .unwrap();
    let b = RunBucket::new(&h.ctx, &name, owner);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "train.py", "print('hi')\n");
    write(dir.path(), "requirements.txt", "# none\n");
    send_project(&b, dir.path(), "old").await;
    // "c" is running but its project.json is not written yet.
    let history = vec![record("c", &name, "running", "none")];
    let e = stored::delete_files(&h.ctx, &name, &history)
        .await
        .expect_err("refused");
    assert_eq!(
        easytdv_core::explain::Explain::code(&e),
        "stored_run_sending",
        "{e}"
    );
    assert_eq!(list(&h.ctx, &name, "easytdv/blobs/").await.len(), 2);
}

/// The Review step's figures for a run's data: a folder's files, bytes and
/// storage cost; an S3 location's objects and bytes (folder markers left
/// out), "at least" past the bound, and whether its bucket is in the run's
/// region (a far bucket is not listed: the launch refuses it).
#[tokio::test]
async fn the_review_counts_a_folder_and_an_s3_location_bounded_and_tells_the_region() {
    use easytdv_core::data_source::DataSource;
    use easytdv_core::stored::review::{self, DataReviewKind};
    let h = Harness::new().await;

    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", "x,y\n1,2\n");
    write(dir.path(), "sub/b.csv", "x,y\n3,4\n5,6\n");
    write(dir.path(), ".git/HEAD", "ref\n"); // never sent, not counted
    let folder = DataSource::Folder {
        path: dir.path().to_path_buf(),
    };
    let r = review::review(&h.ctx, &folder, 10).await.expect("folder");
    assert_eq!(r.kind, DataReviewKind::Folder);
    assert_eq!((r.file_count, r.total_bytes, r.at_least), (2, 20.0, false));
    assert_eq!(r.headline, "2 files, 20 bytes");
    assert_eq!(r.usd_per_month, Some(20.0 / 1e9 * 0.023));

    let name = bucket("review");
    create_bucket(&h.ctx, &name).await;
    // Under easytdv/: the one prefix the easyTDV user policy lists in any
    // bucket of the account (tests/policy checks every recorded call).
    for (key, body) in [
        ("easytdv/datasets/set/", ""),
        ("easytdv/datasets/set/one.bin", "1234"),
        ("easytdv/datasets/set/two.bin", "123456"),
        ("easytdv/datasets/set/deep/three.bin", "12"),
        ("easytdv/datasets/other/four.bin", "1"),
    ] {
        h.ctx
            .s3()
            .put_object()
            .bucket(&name)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let set = format!("s3://{name}/easytdv/datasets/set");
    let r = review::s3_review(&h.ctx, &set, 100).await.expect("listed");
    assert_eq!(r.kind, DataReviewKind::S3);
    assert_eq!(r.source, format!("{set}/"));
    assert_eq!((r.file_count, r.total_bytes, r.at_least), (3, 12.0, false));
    assert_eq!(r.headline, "3 files, 12 bytes");
    assert_eq!(
        (r.bucket_region.as_deref(), r.same_region),
        (Some(REGION), true)
    );
    assert_eq!(r.usd_per_month, None);
    let r = review::s3_review(&h.ctx, &set, 2).await.unwrap();
    // Listed in key order: deep/three.bin (2 bytes), one.bin (4), then the bound.
    assert_eq!((r.file_count, r.at_least), (2, true));
    assert_eq!(r.headline, "at least 2 files, 6 bytes");

    let far = easytdv_core::aws::AwsContext::new_like(&h.ctx, "us-west-2")
        .await
        .unwrap();
    let away = format!("{}-far", &name[..40.min(name.len())]);
    create_bucket(&far, &away).await;
    let r = review::s3_review(&h.ctx, &format!("s3://{away}/easytdv/x/"), 100)
        .await
        .unwrap();
    assert_eq!(
        (r.bucket_region.as_deref(), r.same_region),
        (Some("us-west-2"), false)
    );
    assert_eq!(r.file_count, 0);

    let e = review::s3_review(&h.ctx, &format!("s3://{name}-missing/easytdv/x/"), 100)
        .await
        .unwrap_err();
    assert_eq!(
        easytdv_core::explain::Explain::code(&e),
        "data_no_bucket",
        "{e}"
    );
}
