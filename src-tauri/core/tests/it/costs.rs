//! Prices from the Price List API (the sandbox serves AWS's record format),
//! the history's status refresh in a constant number of calls, and
//! leftovers: easyTDV resources no run of this history owns.

use crate::common::*;
use easytdv_core::accounts::SandboxInput;
use easytdv_core::aws::AwsContext;
use easytdv_core::catalog::Catalog;
use easytdv_core::pipeline::{machine, EventLog, RunResources};
use easytdv_core::prices::{self, Prices, Service};
use easytdv_core::scan::LeftoverKind;
use easytdv_core::services::Services;

#[tokio::test]
async fn machine_prices_are_read_once_then_kept() {
    let ctx = ctx().await;
    let prices = Prices::in_memory().unwrap();
    let catalog = Catalog::default();
    let types = catalog
        .instance_types("acc", &ctx, Some(&prices))
        .await
        .expect("types");
    let t3 = types.iter().find(|t| t.name == "t3.medium").unwrap();
    let usd = t3.usd_per_hour.expect("t3.medium has a price");
    assert!(usd > 0.01 && usd < 0.2, "t3.medium ${usd}/h");
    let gpu = types.iter().find(|t| t.name == "g4dn.xlarge").unwrap();
    assert!(gpu.usd_per_hour.unwrap() > usd, "a GPU machine costs more");
    assert!(types.iter().any(|t| t.recommended.is_some()));
    let gp3 = prices.gp3_gb_month(&ctx).await.expect("gp3 price");
    assert!(gp3 > 0.05 && gp3 < 0.2, "gp3 ${gp3}/GB-month");

    // Asked again: from prices.db, no Price List call.
    let before = ctx.calls();
    let again = catalog
        .instance_types("acc", &ctx, Some(&prices))
        .await
        .unwrap();
    assert_eq!(ctx.calls(), before, "prices and types were kept");
    assert_eq!(
        again
            .iter()
            .find(|t| t.name == "t3.medium")
            .unwrap()
            .usd_per_hour,
        Some(usd)
    );

    // A budget cap sets the safety stop: hours = cap ÷ (machine + disk).
    let quote = prices
        .quote(&ctx, "t3.medium", 30, 24.0, Some(usd))
        .await
        .unwrap();
    let rate = quote.usd_per_hour.unwrap();
    assert!(rate > usd, "the disk is priced too");
    assert!((quote.safety_stop_hours - usd / rate).abs() < 1e-9);
    assert!((quote.at_most_usd.unwrap() - usd).abs() < 1e-9);
    assert!(prices
        .quote(&ctx, "t3.medium", 30, 24.0, Some(0.0001))
        .await
        .is_err());
}

#[tokio::test]
async fn training_types_are_the_ml_twins_sagemaker_prices() {
    let ctx = ctx().await;
    let prices = Prices::in_memory().unwrap();
    let types = Catalog::default()
        .training_types("acc", &ctx, &prices)
        .await
        .expect("training types");
    assert!(types.len() > 10, "training types: {}", types.len());
    assert!(types.iter().all(|t| t.name.starts_with("ml.")));
    assert!(types.iter().all(|t| t.usd_per_hour.is_some()));
    let g5 = types
        .iter()
        .find(|t| t.name == "ml.g5.xlarge")
        .expect("ml.g5.xlarge");
    assert!(g5.gpu_count >= 1, "{g5:?}");
    let recommended: Vec<&str> = types
        .iter()
        .filter(|t| t.recommended.is_some())
        .map(|t| t.name.as_str())
        .collect();
    assert!(recommended.contains(&"ml.m5.xlarge"), "{recommended:?}");
    // ml.* costs more than the same EC2 machine.
    let ec2 = prices
        .hourly(&ctx, Service::Ec2, "g5.xlarge")
        .await
        .unwrap();
    let one = g5.usd_per_hour.unwrap();
    assert!(one > ec2, "ml.g5.xlarge ${one}/h vs g5.xlarge ${ec2}/h");

    // Two machines cost twice one, and a budget cap counts both.
    let quote = prices
        .training_quote(&ctx, "ml.g5.xlarge", 2, 24.0, Some(one))
        .await
        .unwrap();
    assert!((quote.usd_per_hour.unwrap() - 2.0 * one).abs() < 1e-9);
    assert!((quote.safety_stop_hours - 0.5).abs() < 1e-9);
}

#[tokio::test]
async fn an_unknown_price_never_blocks() {
    let ctx = ctx().await;
    let prices = Prices::in_memory().unwrap();
    assert_eq!(prices.hourly(&ctx, Service::Ec2, "zz9.nothing").await, None);
    let quote = prices
        .quote(&ctx, "zz9.nothing", 30, 5.0, Some(1.0))
        .await
        .expect("no error");
    assert_eq!(quote.usd_per_hour, None);
    assert_eq!(quote.safety_stop_hours, 5.0);
    assert!(quote.budget_ignored);
}

#[tokio::test]
async fn spot_prices_come_per_zone_cheapest_first() {
    let ctx = ctx().await;
    let spot = prices::spot_prices(&ctx, "g4dn.xlarge")
        .await
        .expect("spot");
    assert!(!spot.is_empty());
    assert!(spot
        .iter()
        .all(|s| s.zone.starts_with(REGION) && s.usd_per_hour > 0.0));
    assert!(spot
        .windows(2)
        .all(|w| w[0].usd_per_hour <= w[1].usd_per_hour));
}

/// Services in a fresh data folder with the sandbox as its account.
pub(crate) fn services() -> (tempfile::TempDir, Services, String) {
    let dir = tempfile::tempdir().unwrap();
    let services = Services::open(dir.path()).unwrap();
    let account = services
        .accounts
        .add_sandbox(SandboxInput {
            name: "Sandbox".into(),
            endpoint: endpoint(),
            region: REGION.into(),
        })
        .unwrap();
    (dir, services, account.id)
}

pub(crate) fn record_runs(services: &Services, account: &str, n: usize, tag: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            let run_id = format!("20260101-000000-{tag}{i:04}");
            let res = RunResources {
                run_id: run_id.clone(),
                region: REGION.into(),
                bucket: "b".into(),
                prefix: format!("easytdv/runs/{run_id}"),
                ..Default::default()
            };
            services.history().save_resources(&res).unwrap();
            services
                .history()
                .attach_request(&run_id, account, &request("simple", "b"))
                .unwrap();
            run_id
        })
        .collect()
}

/// The tags the launcher puts on a run's machine and disk.
pub(crate) fn run_tags(
    kind: aws_sdk_ec2::types::ResourceType,
    run_id: &str,
) -> aws_sdk_ec2::types::TagSpecification {
    let tag = |k: &str, v: &str| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build();
    aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(kind)
        .tags(tag("easytdv:app", "easytdv"))
        .tags(tag("easytdv:run-id", run_id))
        .build()
}

/// A machine tagged like a run's (what the launcher starts).
pub(crate) async fn tagged_machine(ctx: &AwsContext, run_id: &str) -> String {
    let info = machine::describe_type(ctx, "t3.micro").await.unwrap();
    let image = machine::resolve_ami(ctx, &info, None).await.unwrap();
    let tags = run_tags(aws_sdk_ec2::types::ResourceType::Instance, run_id);
    let out = aws_sdk_ec2::Client::new(&admin_config(REGION).await)
        .run_instances()
        .image_id(image.id)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .tag_specifications(tags)
        .send()
        .await
        .expect("run instances");
    out.instances()[0].instance_id().unwrap().to_string()
}

#[tokio::test]
async fn refresh_makes_the_same_calls_for_one_run_and_fifty() {
    let ctx = ctx().await;
    let (_dir, services, account) = services();
    let first = record_runs(&services, &account, 1, "r");
    let machine = tagged_machine(&ctx, &first[0]).await;
    let one = services.refresh_statuses().await.unwrap();
    assert!(one.failures.is_empty(), "{:?}", one.failures);
    assert_eq!(one.statuses.len(), 1);
    assert_eq!(one.statuses[0].instance_state.as_deref(), Some("running"));

    record_runs(&services, &account, 49, "s");
    let fifty = services.refresh_statuses().await.unwrap();
    assert_eq!(fifty.statuses.len(), 50);
    assert_eq!(
        fifty.calls, one.calls,
        "calls for 1 run: {}, for 50: {}",
        one.calls, fifty.calls
    );
    assert!(fifty.calls <= 4, "{} calls", fifty.calls);
    easytdv_core::pipeline::terminate_machines(&ctx, &[machine])
        .await
        .unwrap();
}

#[tokio::test]
async fn leftovers_outside_the_history_are_found_and_deleted() {
    let ctx = ctx().await;
    let (_dir, services, account) = services();
    // Another computer's run: a machine and input files, none in this history.
    let run_id = format!(
        "20260101-000000-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    let machine = tagged_machine(&ctx, &run_id).await;
    let bucket = bucket("left");
    create_bucket(&ctx, &bucket).await;
    ctx.s3()
        .put_object()
        .bucket(&bucket)
        .key(format!("easytdv/runs/{run_id}/train.py"))
        .body(b"print(1)".to_vec().into())
        .send()
        .await
        .unwrap();
    ctx.s3()
        .put_object()
        .bucket(&bucket)
        .key(format!("easytdv/runs/{run_id}/outputs/model.txt"))
        .body(b"kept".to_vec().into())
        .send()
        .await
        .unwrap();

    // A disk no machine uses, tagged like the run's.
    let admin = aws_sdk_ec2::Client::new(&admin_config(REGION).await);
    let volume = admin
        .create_volume()
        .availability_zone(format!("{REGION}a"))
        .size(30)
        .volume_type(aws_sdk_ec2::types::VolumeType::Gp3)
        .tag_specifications(run_tags(aws_sdk_ec2::types::ResourceType::Volume, &run_id))
        .send()
        .await
        .expect("create volume")
        .volume_id
        .expect("volume id");

    let found = services.leftovers(&account).await.expect("leftovers");
    let ours: Vec<_> = found
        .leftovers
        .iter()
        .filter(|l| l.run_id.as_deref() == Some(&run_id))
        .collect();
    let m = ours
        .iter()
        .find(|l| l.kind == LeftoverKind::Machine)
        .expect("the machine is a leftover");
    assert_eq!(m.id, machine);
    assert!(
        m.usd_per_hour.unwrap() > 0.0,
        "the machine's price is shown"
    );
    let f = ours
        .iter()
        .find(|l| l.kind == LeftoverKind::Files)
        .expect("the inputs are a leftover");
    assert_eq!(f.bucket.as_deref(), Some(bucket.as_str()));

    // A run this history knows is not a leftover.
    let known = record_runs(&services, &account, 1, "k");
    let mine = tagged_machine(&ctx, &known[0]).await;
    let again = services.leftovers(&account).await.unwrap();
    assert!(
        again.leftovers.iter().all(|l| l.id != mine),
        "a known run's machine is not a leftover"
    );

    let v = ours
        .iter()
        .find(|l| l.kind == LeftoverKind::Volume)
        .expect("the disk is a leftover");
    assert_eq!(v.id, volume);
    assert!(v.usd_per_hour.unwrap() > 0.0, "the disk's price is shown");

    let events = EventLog::default();
    for l in [*m, *f, *v] {
        services
            .delete_leftover(&account, &l.region, &l.id, &events)
            .await
            .expect("deleted");
    }
    let after = services.leftovers(&account).await.unwrap();
    assert!(
        after
            .leftovers
            .iter()
            .all(|l| l.run_id.as_deref() != Some(&run_id)),
        "nothing of the run is left: {after:?}"
    );
    let keys = list(&ctx, &bucket, &format!("easytdv/runs/{run_id}/")).await;
    assert_eq!(
        keys,
        [format!("easytdv/runs/{run_id}/outputs/model.txt")],
        "outputs kept"
    );
    easytdv_core::pipeline::terminate_machines(&ctx, &[mine])
        .await
        .unwrap();
}

#[tokio::test]
async fn cached_environments_are_listed_with_their_cost_and_deleted() {
    let ctx = ctx().await;
    let bucket = bucket("envs");
    create_bucket(&ctx, &bucket).await;
    let key = "ab".repeat(32);
    let other = "cd".repeat(32);
    for (k, created) in [
        (&key, "2026-12-01T10:00:00Z"),
        (&other, "2026-12-02T10:00:00Z"),
    ] {
        let desc = serde_json::json!({
            "key": k, "requirements": "requests==2.32.3\nsix\n", "python": "3.12.7",
            "arch": "x86_64", "image": "ami-1", "installer": "uv 0.5.11",
            "archive": format!("{k}.tar.zst"), "size": 2_000_000, "created": created,
        });
        for (name, body) in [
            (
                format!("easytdv/cache/{k}.json"),
                desc.to_string().into_bytes(),
            ),
            (format!("easytdv/cache/{k}.tar.zst"), vec![7u8; 2_000_000]),
        ] {
            ctx.s3()
                .put_object()
                .bucket(&bucket)
                .key(name)
                .body(body.into())
                .send()
                .await
                .unwrap();
        }
    }
    let found = easytdv_core::environments::list(&ctx, &bucket)
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].key, other, "newest first");
    assert_eq!(found[1].python, "3.12.7");
    assert!(found[1].requirements.contains("requests==2.32.3"));
    assert!(found[1].size_bytes > 2_000_000.0);
    let per_month = found[1].usd_per_month;
    assert!(per_month > 0.0 && per_month < 0.001, "${per_month}/month");

    easytdv_core::environments::delete(&ctx, &bucket, &key)
        .await
        .unwrap();
    let left = easytdv_core::environments::list(&ctx, &bucket)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].key, other);
    assert!(easytdv_core::environments::delete(&ctx, &bucket, "../x")
        .await
        .is_err());
}

/// Benchmark (prints, asserts only the call count): the history's refresh
/// for 10, 100 and 1,000 runs. Figures: `cargo test -p easytdv-core --test it
/// refresh_scales -- --nocapture` with the sandbox running.
#[tokio::test]
async fn refresh_scales_to_a_thousand_runs() {
    let (_dir, services, account) = services();
    let mut recorded = 0;
    let mut calls = Vec::new();
    for n in [10, 100, 1000] {
        record_runs(&services, &account, n - recorded, &format!("b{n}"));
        recorded = n;
        let start = std::time::Instant::now();
        let refresh = services.refresh_statuses().await.unwrap();
        let took = start.elapsed();
        assert_eq!(refresh.statuses.len(), n);
        println!(
            "refresh of {n:>5} runs: {:>3} AWS calls, {:>7.1} ms",
            refresh.calls,
            took.as_secs_f64() * 1000.0
        );
        calls.push(refresh.calls);
    }
    assert!(calls.windows(2).all(|w| w[0] == w[1]), "calls: {calls:?}");
}
