//! "Remove easyTDV from this account" on the sandbox: the base found in the
//! regions where it is, kept where an easyTDV machine still runs, removed
//! (checked gone) elsewhere. In the sandbox's other account (111111111111):
//! the removal looks at every region of its account, and the other tests'
//! bases are in the app's account.

use crate::common::*;
use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};
use easytdv_core::aws::AwsContext;
use easytdv_core::pipeline::base::{self, Wanted};
use easytdv_core::pipeline::machine;
use easytdv_core::pipeline::storage::RunBucket;
use easytdv_core::scan;

const HERE: &str = "eu-west-1";
const OTHER_ACCOUNT: &str = "111111111111";

async fn other_account(region: &str) -> AwsContext {
    AwsContext::from_sdk_config(other_account_config(region).await, Some(endpoint()))
}

#[tokio::test]
async fn the_base_is_found_kept_while_a_machine_runs_and_removed_after() {
    let ctx = other_account(HERE).await;
    // That account's one-time easyTDV setup: the permissions boundary.
    let _ = ctx
        .iam()
        .create_policy()
        .policy_name("easytdv-boundary")
        .policy_document(include_str!(
            "../../../../templates/iam/easytdv-boundary.json"
        ))
        .send()
        .await;
    let name = bucket("removal");
    create_bucket(&ctx, &name).await;
    let wanted = Wanted {
        vpc_id: machine::default_vpc(&ctx).await.unwrap(),
        ebs_kms_key_arn: None,
    };
    let made = base::ensure(
        &ctx,
        &RunBucket::new(&ctx, &name, OTHER_ACCOUNT),
        &wanted,
        &|_| {},
    )
    .await
    .expect("the base");

    let found = scan::bases(&ctx).await.unwrap();
    assert!(found.failures.is_empty(), "{:?}", found.failures);
    assert_eq!(found.sites.len(), 1, "{:?}", found.sites);
    assert_eq!(found.sites[0].region, HERE);
    assert_eq!(found.sites[0].machines_running, 0);

    // An easyTDV machine runs there: its role and profile are in the base.
    let info = machine::describe_type(&ctx, "t3.medium").await.unwrap();
    let image = machine::resolve_ami(&ctx, &info, None).await.unwrap();
    let machine = ctx
        .ec2()
        .run_instances()
        .image_id(image.id)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Medium)
        .min_count(1)
        .max_count(1)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .tags(Tag::builder().key("easytdv:app").value("easytdv").build())
                .tags(
                    Tag::builder()
                        .key("easytdv:run-id")
                        .value("20261206-120000-abcdef")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    let said = std::sync::Mutex::new(Vec::<String>::new());
    let notice = |m: &str| said.lock().unwrap().push(m.to_string());
    let kept = scan::remove_bases(&ctx, &notice).await.unwrap();
    assert!(
        kept.removed.is_empty() && kept.failures.is_empty(),
        "{kept:?}"
    );
    assert_eq!(kept.kept.len(), 1);
    assert_eq!(
        (kept.kept[0].region.as_str(), kept.kept[0].machines_running),
        (HERE, 1)
    );
    assert!(said.lock().unwrap().is_empty(), "nothing was removed");
    assert!(easytdv_core::pipeline::stack_status(&ctx, base::STACK_NAME)
        .await
        .unwrap()
        .is_some());

    // The machine ended: removed, the roles and the launcher with it.
    easytdv_core::pipeline::terminate_machines(&ctx, std::slice::from_ref(&machine))
        .await
        .unwrap();
    let removed = scan::remove_bases(&ctx, &notice).await.unwrap();
    assert_eq!(removed.removed, vec![HERE.to_string()], "{removed:?}");
    assert!(removed.kept.is_empty() && removed.failures.is_empty());
    assert!(said
        .lock()
        .unwrap()
        .iter()
        .any(|m| m == &format!("Removing easyTDV's shared resources in {HERE}")));
    assert!(scan::bases(&ctx).await.unwrap().sites.is_empty());
    for role in ["instance", "launcher"] {
        let role = format!("easytdv-base-{HERE}-{role}");
        assert!(
            ctx.iam().get_role().role_name(&role).send().await.is_err(),
            "{role}"
        );
    }
    assert!(ctx
        .lambda()
        .get_function()
        .function_name(&made.launch_function)
        .send()
        .await
        .is_err());
}
