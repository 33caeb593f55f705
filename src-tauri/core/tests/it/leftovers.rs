//! The leftovers check on an account as AWS answers it: a bucket in another
//! region (S3 answers 301 to the wrong regional endpoint), a region closed by
//! an organisation's SCP; and a delete refused for anything the last check
//! did not find.

use crate::common::*;
use crate::costs::{services, tagged_machine};
use easytdv_core::accounts::SandboxInput;
use easytdv_core::aws::{AwsContext, CredentialSource};
use easytdv_core::explain::Explain;
use easytdv_core::pipeline::EventLog;
use easytdv_core::scan::LeftoverKind;

/// A region no other test uses: closed while this test runs.
const CLOSED: &str = "sa-east-1";

/// Opens the region again when the test ends, even failing.
struct Closed(&'static str);

impl Closed {
    fn region(region: &'static str) -> Self {
        hook("deny-region", serde_json::json!({"region": region}));
        Closed(region)
    }
}

impl Drop for Closed {
    fn drop(&mut self) {
        hook(
            "deny-region",
            serde_json::json!({"region": self.0, "deny": false}),
        );
    }
}

async fn ctx_in(region: &str) -> AwsContext {
    AwsContext::new(
        &CredentialSource::Sandbox {
            endpoint: endpoint(),
        },
        region,
    )
    .await
    .unwrap()
}

fn new_run_id() -> String {
    format!(
        "20260102-000000-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    )
}

async fn put_input(ctx: &AwsContext, bucket: &str, run_id: &str) {
    ctx.s3()
        .put_object()
        .bucket(bucket)
        .key(format!("easytdv/runs/{run_id}/train.py"))
        .body(b"print(1)".to_vec().into())
        .send()
        .await
        .expect("put input");
}

#[tokio::test]
async fn the_check_goes_on_past_a_bucket_in_another_region_and_a_closed_region() {
    let ctx = ctx().await;
    let (_dir, services, account) = services();
    let run_id = new_run_id();
    let machine = tagged_machine(&ctx, &run_id).await;
    // The run's inputs in a bucket of us-west-2 (the account's region is eu-west-3).
    let west = ctx_in("us-west-2").await;
    let far = bucket("far");
    create_bucket(&west, &far).await;
    put_input(&west, &far, &run_id).await;
    // Its machine's folder on the base there: a script, and an output the
    // app never brought home (it was closed when the run ended); and a
    // folder the machine made up (`?` in its write grant matches `/`),
    // which must not become a run named `base`.
    let folder = format!("easytdv/m/AROAEXAMPLE:i-0abc/{run_id}");
    let made_up = "easytdv/m/AROAEXAMPLE:i-0abc/base/xyz-123456-123456/outputs/p";
    for (key, body) in [
        (format!("{folder}/scripts/train.sh"), "echo"),
        (format!("{folder}/outputs/model.txt"), "w=3"),
        (made_up.to_string(), "x"),
    ] {
        west.s3()
            .put_object()
            .bucket(&far)
            .key(key)
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    // And in a bucket of a region the organisation then closes.
    let closed_ctx = ctx_in(CLOSED).await;
    let shut = bucket("scp");
    create_bucket(&closed_ctx, &shut).await;
    put_input(&closed_ctx, &shut, &run_id).await;
    let _closed = Closed::region(CLOSED);

    let scan = services.leftovers(&account).await.expect("the check ends");
    let ours: Vec<_> = scan
        .leftovers
        .iter()
        .filter(|l| l.run_id.as_deref() == Some(run_id.as_str()))
        .collect();
    assert!(
        ours.iter()
            .any(|l| l.kind == LeftoverKind::Machine && l.id == machine),
        "the machine is found: {ours:?}"
    );
    assert!(
        scan.leftovers
            .iter()
            .all(|l| l.run_id.as_deref().is_none_or(|r| r.len() == 22)),
        "a folder a machine made up is no run: {:?}",
        scan.leftovers
    );
    let files = ours
        .iter()
        .find(|l| l.kind == LeftoverKind::Files && l.bucket.as_deref() == Some(far.as_str()))
        .expect("the inputs in us-west-2 are found");
    assert_eq!(files.region, "us-west-2");

    let region_row = scan
        .failures
        .iter()
        .find(|f| f.region == CLOSED && f.bucket.is_none())
        .unwrap_or_else(|| panic!("the closed region is a row: {:?}", scan.failures));
    assert_eq!(region_row.code, "access_denied");
    assert!(
        region_row
            .message
            .contains("with an explicit deny in a service control policy"),
        "{}",
        region_row.message
    );
    assert!(
        region_row
            .hint
            .as_deref()
            .is_some_and(|h| h.contains(&format!("close {CLOSED}"))),
        "{:?}",
        region_row.hint
    );
    let bucket_row = scan
        .failures
        .iter()
        .find(|f| f.bucket.as_deref() == Some(shut.as_str()))
        .unwrap_or_else(|| panic!("the closed region's bucket is a row: {:?}", scan.failures));
    assert_eq!(bucket_row.region, CLOSED);
    assert!(
        scan.failures
            .iter()
            .all(|f| f.region == CLOSED || f.bucket.is_some()),
        "no other region failed: {:?}",
        scan.failures
    );

    // The inputs found in us-west-2 are deleted there; the outputs rule holds.
    assert_eq!(
        ours.iter()
            .filter(|l| l.kind == LeftoverKind::Files && l.bucket.as_deref() == Some(far.as_str()))
            .count(),
        1,
        "the run's inputs and its machine's folder are one row"
    );
    services
        .delete_leftover(&account, &files.region, &files.id, &EventLog::default())
        .await
        .expect("deleted in its region");
    // The machine's folder went too, but its output, which stays where it
    // is (nothing of a folder is copied over a run's outputs: which machine
    // was truly that run's is not known once the history is gone).
    assert_eq!(
        list(&west, &far, "easytdv/m/").await,
        vec![format!("{folder}/outputs/model.txt"), made_up.to_string()]
    );
    assert!(list(&west, &far, "easytdv/runs/").await.is_empty());
    easytdv_core::pipeline::terminate_machines(&ctx, &[machine])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_delete_of_something_the_last_check_did_not_list_is_refused() {
    let ctx = ctx().await;
    let (_dir, services, account) = services();
    let other = services
        .accounts
        .add_sandbox(SandboxInput {
            name: "Second".into(),
            endpoint: endpoint(),
            region: REGION.into(),
        })
        .unwrap()
        .id;
    let run_id = new_run_id();
    let machine = tagged_machine(&ctx, &run_id).await;
    let events = EventLog::default();
    let refused = |r: Result<(), easytdv_core::overview::LeftoverError>| {
        let e = r.expect_err("refused");
        assert_eq!(e.code(), "leftover_not_found", "{e}");
        assert!(e
            .hint()
            .unwrap()
            .contains("Check for forgotten resources again"));
    };

    // Before any check: refused, and the machine still runs.
    refused(
        services
            .delete_leftover(&account, REGION, &machine, &events)
            .await,
    );
    let scan = services.leftovers(&account).await.unwrap();
    assert!(scan.leftovers.iter().any(|l| l.id == machine));
    // An id the check did not list, the right id in another region, the
    // right id for another account: all refused.
    refused(
        services
            .delete_leftover(&account, REGION, "i-0123456789abcdef0", &events)
            .await,
    );
    refused(
        services
            .delete_leftover(&account, "us-west-2", &machine, &events)
            .await,
    );
    refused(
        services
            .delete_leftover(&other, REGION, &machine, &events)
            .await,
    );
    let state = |id: String| {
        let ctx = ctx.clone();
        async move {
            ctx.ec2()
                .describe_instances()
                .instance_ids(id)
                .send()
                .await
                .unwrap()
                .reservations()[0]
                .instances()[0]
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_default()
        }
    };
    assert_eq!(
        state(machine.clone()).await,
        "running",
        "nothing was deleted"
    );

    // What the check listed is deleted, once.
    services
        .delete_leftover(&account, REGION, &machine, &events)
        .await
        .expect("deleted");
    assert_ne!(state(machine.clone()).await, "running");
    refused(
        services
            .delete_leftover(&account, REGION, &machine, &events)
            .await,
    );
}
