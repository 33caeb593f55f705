//! A region made ready before its first run (issue 22, target (a)): the
//! wizard's preparation makes one bucket and one base even when it is asked
//! twice and the bucket is suggested meanwhile, and the first run there then
//! creates no stack, role or bucket of its own (recorded calls).

use std::sync::Arc;

use crate::common::*;
use easytdv_core::aws::AwsContext;
use easytdv_core::pipeline::storage::{account_id, bucket_prefix};
use easytdv_core::pipeline::{self, base, EventLog, MemoryState, Step, Train};

/// A region no other test of the app's account uses: the base is one per region.
const REGION: &str = "us-east-2";

/// Calls the sandbox recorded in `region` that create something.
fn creating_calls(region: &str) -> Vec<String> {
    let sandbox = hook_json("data-dir", serde_json::json!({}));
    let calls = std::fs::read_to_string(sandbox["calls"].as_str().unwrap()).unwrap();
    calls
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|c| c["region"] == region && c["status"] == 200)
        .filter_map(|c| c["operation"].as_str().map(str::to_string))
        .filter(|op| {
            ["CreateStack", "UpdateStack", "CreateBucket", "CreateRole"].contains(&op.as_str())
        })
        .collect()
}

/// The app's buckets in `region` (by the name the app gives them).
async fn app_buckets(ctx: &AwsContext) -> Vec<String> {
    let prefix = bucket_prefix(&account_id(ctx).await.unwrap(), ctx.region());
    pipeline::list_buckets_in_region(ctx)
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.starts_with(&prefix))
        .collect()
}

/// The app's and the administrator's contexts in `region`, whose base
/// (an earlier run of these tests on the same sandbox) is removed.
async fn without_base(region: &str) -> (AwsContext, AwsContext) {
    let ctx = AwsContext::new(
        &easytdv_core::aws::CredentialSource::Sandbox {
            endpoint: endpoint(),
        },
        region,
    )
    .await
    .unwrap();
    let admin = AwsContext::from_sdk_config(admin_config(region).await, Some(endpoint()));
    base::remove(&admin, &|_: &str| {}).await.unwrap();
    (ctx, admin)
}

/// A run of the fixture `ok` in the context's region, and what it says.
fn train_in(ctx: &AwsContext, bucket: &str) -> (Train, EventLog) {
    let mut request = request("ok", bucket);
    request.region = ctx.region().into();
    let events = EventLog::default();
    let train = Train::new(
        ctx.clone(),
        request,
        Arc::new(events.clone()),
        Arc::new(MemoryState::default()),
    )
    .unwrap();
    (train, events)
}

/// Empties and deletes a bucket (an earlier run of this test on the same sandbox).
async fn drop_bucket(ctx: &AwsContext, name: &str) {
    let keys = list(ctx, name, "").await;
    for key in keys {
        ctx.s3()
            .delete_object()
            .bucket(name)
            .key(key)
            .send()
            .await
            .unwrap();
    }
    ctx.s3().delete_bucket().bucket(name).send().await.unwrap();
}

#[tokio::test]
async fn a_region_made_ready_ahead_has_one_bucket_and_base_and_its_first_run_creates_nothing() {
    let (ctx, admin) = without_base(REGION).await;
    let quiet = |_: &str| {};
    for old in app_buckets(&ctx).await {
        drop_bucket(&ctx, &old).await;
    }
    let (_dir, services, account) = crate::costs::services();

    // The wizard asks twice (two windows, or a region picked again) and
    // suggests a bucket meanwhile: one bucket, one base, the same answers.
    let (a, b, suggested) = tokio::join!(
        services.prepare_region(&account, REGION, &quiet),
        services.prepare_region(&account, REGION, &quiet),
        services.suggest_bucket(&account, REGION),
    );
    let (a, b, suggested) = (a.unwrap(), b.unwrap(), suggested.unwrap());
    assert_eq!(a.bucket, b.bucket);
    assert_eq!(a.bucket, suggested, "the suggestion is the bucket made");
    assert!(
        a.bucket_created ^ b.bucket_created,
        "made once: {a:?} {b:?}"
    );
    assert_eq!(a.region, REGION);
    assert_eq!(app_buckets(&ctx).await, vec![a.bucket.clone()]);
    let made = creating_calls(REGION);
    assert_eq!(
        made.iter().filter(|op| *op == "CreateStack").count(),
        1,
        "{made:?}"
    );
    assert_eq!(
        made.iter().filter(|op| *op == "CreateBucket").count(),
        1,
        "{made:?}"
    );

    // Asked again once ready: one look, nothing made. "Remove easyTDV
    // from this account" meanwhile waits for it (it would be made again).
    let (again, removal) = tokio::join!(
        services.prepare_region(&account, REGION, &quiet),
        services.remove_bases(&account, &quiet)
    );
    assert!(!again.unwrap().bucket_created);
    assert!(
        matches!(
            removal,
            Err(easytdv_core::overview::LeftoverError::RegionBeingPrepared)
        ),
        "{removal:?}"
    );
    assert!(!services.preparing_region(), "the count is back to 0");
    assert_eq!(creating_calls(REGION), made);

    // The first run there: no stack, no role, no bucket of its own.
    let (mut train, events) = train_in(&ctx, &a.bucket);
    train.run_from(Step::Prepare).await.expect("the run");
    let after = creating_calls(REGION);
    assert_eq!(after, made, "the first run created: {after:?}");
    let said: Vec<String> = events.events().into_iter().map(|e| e.message).collect();
    assert!(
        !said
            .iter()
            .any(|m| m.contains("Creating easyTDV's shared resources")),
        "{said:?}"
    );
    train.delete_resources().await.expect("delete");
    assert!(base::remove(&admin, &quiet).await.unwrap());
}

/// The first run in a region not made ready ahead starts creating the base
/// while it uploads its files (Prepare), then waits for it (Stack): one
/// stack, made once, and the run goes on.
#[tokio::test]
async fn a_first_run_starts_the_base_while_it_uploads_and_waits_for_it() {
    const FIRST: &str = "ap-southeast-1";
    let (ctx, admin) = without_base(FIRST).await;
    let quiet = |_: &str| {};
    let before = creating_calls(FIRST);
    let b = bucket("first-run");
    let (mut train, events) = train_in(&ctx, &b);
    train.run_from(Step::Prepare).await.expect("the run");
    let said = |step: Step| -> Vec<String> {
        events
            .events()
            .into_iter()
            .filter(|e| e.step == step)
            .map(|e| e.message)
            .collect()
    };
    let prepare = said(Step::Prepare);
    assert!(
        prepare
            .iter()
            .any(|m| m == "Started creating easyTDV's shared resources in this region (once)"),
        "{prepare:?}"
    );
    // (The Stack step then waits for it; the sandbox without its latency
    // model has created it by then.)
    let made: Vec<String> = creating_calls(FIRST)[before.len()..].to_vec();
    assert_eq!(
        made.iter().filter(|op| *op == "CreateStack").count(),
        1,
        "{made:?}"
    );
    train.delete_resources().await.expect("delete");
    assert!(base::remove(&admin, &quiet).await.unwrap());
}

/// What the webview sends is checked before anything is asked of AWS: an
/// account the app does not hold, a region that is not one (a host name, a
/// path) are refused before any client is built.
#[tokio::test]
async fn a_preparation_refuses_an_unknown_account_and_a_region_that_is_not_one() {
    let (_dir, services, account) = crate::costs::services();
    let quiet = |_: &str| {};
    let unknown = services
        .prepare_region("not-an-account", "us-east-2", &quiet)
        .await
        .expect_err("an account the app does not hold");
    assert_eq!(
        easytdv_core::explain::Explain::code(&unknown),
        "account_not_found",
        "{unknown}"
    );
    for region in ["evil.example.com#", "../../us-east-2", "us-east-2."] {
        let err = services
            .prepare_region(&account, region, &quiet)
            .await
            .expect_err(region);
        assert_eq!(
            easytdv_core::explain::Explain::code(&err),
            "bad_region",
            "{region}: {err}"
        );
    }
    assert!(!services.preparing_region());
}
