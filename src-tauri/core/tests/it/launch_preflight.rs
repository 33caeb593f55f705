//! What the account itself may stop a launch with: no default subnet where
//! the type is offered (found before anything is created), a customer-managed
//! default EBS key. Each test works in a region of its own (the account's
//! settings there are changed).

use std::sync::Arc;

use crate::common::*;
use aws_sdk_ec2::types::{Filter, LocationType};
use easytdv_core::aws::{AwsContext, CredentialSource};
use easytdv_core::explain::Explain;
use easytdv_core::pipeline::{EventLog, MemoryState, PipelineError, Train, TrainRequest};

pub async fn ctx_in(region: &str) -> AwsContext {
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    AwsContext::new(
        &CredentialSource::Sandbox {
            endpoint: endpoint(),
        },
        region,
    )
    .await
    .expect("context")
}

pub fn train_in(ctx: &AwsContext, request: TrainRequest) -> Train {
    Train::new(
        ctx.clone(),
        request,
        Arc::new(EventLog::default()),
        Arc::new(MemoryState::default()),
    )
    .expect("valid request")
}

/// The zones of the region that offer the type.
async fn zones_offering(ctx: &AwsContext, instance_type: &str) -> Vec<String> {
    let out = ctx
        .ec2()
        .describe_instance_type_offerings()
        .location_type(LocationType::AvailabilityZone)
        .filters(
            Filter::builder()
                .name("instance-type")
                .values(instance_type)
                .build(),
        )
        .send()
        .await
        .expect("offerings");
    let mut zones: Vec<String> = out
        .instance_type_offerings()
        .iter()
        .filter_map(|o| o.location().map(str::to_string))
        .collect();
    zones.sort();
    zones
}

async fn default_subnets(ctx: &AwsContext) -> Vec<(String, String)> {
    let out = ctx
        .ec2()
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("default-for-az")
                .values("true")
                .build(),
        )
        .send()
        .await
        .expect("subnets");
    out.subnets()
        .iter()
        .map(|s| {
            (
                s.availability_zone().unwrap_or_default().to_string(),
                s.subnet_id().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_type_offered_only_in_zones_without_a_default_subnet_is_refused_naming_them() {
    const HERE: &str = "eu-north-1";
    const TYPE: &str = "g5.xlarge";
    let ctx = ctx_in(HERE).await;
    // Changing the network is the test's doing, not the app's (the sandbox
    // records who calls): the test's own administrator key.
    let admin = aws_sdk_ec2::Client::new(&admin_config(HERE).await);
    hook(
        "quotas",
        serde_json::json!({"region": HERE, "quotas": {"L-DB2E81BA": 8}}),
    );
    let offering = zones_offering(&ctx, TYPE).await;
    assert!(!offering.is_empty(), "{TYPE} is offered in {HERE}");
    let all = default_subnets(&ctx).await;
    assert!(
        all.iter().any(|(zone, _)| !offering.contains(zone)),
        "a zone that does not offer {TYPE} keeps its default subnet: {all:?} vs {offering:?}"
    );
    for (zone, id) in &all {
        if offering.contains(zone) {
            admin
                .delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .expect("delete the zone's default subnet");
        }
    }

    let b = bucket("nosubnet");
    let mut request = request("ok", &b);
    request.region = HERE.into();
    request.instance_type = TYPE.into();
    let mut train = train_in(&ctx, request);
    let err = train
        .prepare_env()
        .await
        .expect_err("no subnet to launch in");

    for zone in &offering {
        if !all.iter().any(|(z, _)| z == zone) {
            continue;
        }
        admin
            .create_default_subnet()
            .availability_zone(zone)
            .send()
            .await
            .expect("put the default subnet back");
    }
    match &err {
        PipelineError::NoSubnetForType { zones, .. } => assert_eq!(zones, &offering),
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        offering.iter().all(|z| text.contains(z.as_str())) && text.contains("no subnet"),
        "{text}"
    );
    assert!(
        err.hint()
            .unwrap_or_default()
            .contains("aws ec2 create-default-subnet --availability-zone"),
        "{err:?}"
    );
    assert!(err.is_bad_input(), "the CLI exits 2");
    assert!(
        ctx.s3().head_bucket().bucket(&b).send().await.is_err(),
        "nothing was created"
    );
}

/// The region's default EBS key, set up through the sandbox's hook: a new
/// customer-managed key (with this key policy, or KMS's default one) or, with
/// `None`, AWS's own key again.
fn set_default_ebs_key(region: &str, key_policy: Option<Option<serde_json::Value>>) {
    let body = match key_policy {
        None => serde_json::json!({"region": region, "reset": true}),
        Some(None) => serde_json::json!({"region": region}),
        Some(Some(policy)) => serde_json::json!({"region": region, "key_policy": policy}),
    };
    hook("ebs-default-key", body);
}

async fn default_ebs_key(region: &str) -> String {
    aws_sdk_ec2::Client::new(&admin_config(region).await)
        .get_ebs_default_kms_key_id()
        .send()
        .await
        .expect("default EBS key")
        .kms_key_id()
        .unwrap_or_default()
        .to_string()
}

async fn root_volume_key(ctx: &AwsContext, instance_id: &str) -> Option<String> {
    let out = ctx
        .ec2()
        .describe_volumes()
        .filters(
            Filter::builder()
                .name("attachment.instance-id")
                .values(instance_id)
                .build(),
        )
        .send()
        .await
        .expect("volumes");
    out.volumes()
        .first()
        .and_then(|v| v.kms_key_id())
        .map(str::to_string)
}

/// An account whose default EBS key is a customer-managed KMS key: the
/// launcher gets AWS's documented permissions on exactly that key; when the
/// key's own policy does not let the account's IAM policies use it, the
/// machine goes pending → terminated and the app says why, in AWS's words
/// and plain ones.
#[tokio::test]
async fn a_customer_managed_default_ebs_key_is_granted_to_the_launcher() {
    const HERE: &str = "ca-central-1";
    let ctx = ctx_in(HERE).await;
    let b = bucket("ebskey");

    // 1. A key whose policy lets only a key administrator use it: the
    // launcher's grants are not enough, as on AWS.
    let admin_only = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/KeyAdmin"},
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    set_default_ebs_key(HERE, Some(Some(admin_only)));
    let key = default_ebs_key(HERE).await;
    assert!(key.starts_with("arn:aws:kms:ca-central-1:"), "{key}");
    let mut request = request("ok", &b);
    request.region = HERE.into();
    let mut train = train_in(&ctx, request.clone());
    let prepared = train.prepare_env().await.expect("prepare");
    assert_eq!(prepared.ebs_kms_key_arn.as_deref(), Some(key.as_str()));
    train.create_stack(&prepared).await.expect("stack");
    let err = train
        .launch_instance()
        .await
        .expect_err("the disk cannot be encrypted");
    match &err {
        PipelineError::InstanceEnded { code, message, .. } => {
            assert_eq!(code, "Client.InternalError");
            assert_eq!(message, "Client.InternalError: Client error on launch");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("default EBS key"), "{err}");
    let hint = err.hint().unwrap_or_default();
    assert!(
        hint.contains("aws ec2 get-ebs-default-kms-key-id --region ca-central-1")
            && hint.contains("Enable IAM User Permissions"),
        "{hint}"
    );
    train.delete_resources().await.expect("delete");
    let (live, stack, inputs) = leftovers(&ctx, train.run_id(), &b).await;
    assert!(live.is_empty() && stack.is_none() && inputs.is_empty());

    // 2. KMS's default key policy (the account's IAM policies decide): the
    // stack gives the launcher exactly that key, and the machine runs.
    set_default_ebs_key(HERE, Some(None));
    let key = default_ebs_key(HERE).await;
    let mut train = train_in(&ctx, request);
    let prepared = train.prepare_env().await.expect("prepare");
    assert_eq!(prepared.ebs_kms_key_arn.as_deref(), Some(key.as_str()));
    let launched = async {
        train.create_stack(&prepared).await?;
        train.launch_instance().await
    }
    .await;
    set_default_ebs_key(HERE, None);
    let instance_id = launched.expect("the machine runs");
    assert_eq!(
        root_volume_key(&ctx, &instance_id).await.as_deref(),
        Some(key.as_str())
    );
    let stack = ctx
        .cloudformation()
        .describe_stacks()
        .stack_name("easytdv-base")
        .send()
        .await
        .expect("stack");
    let passed = stack.stacks()[0]
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("EbsKmsKeyArn"))
        .and_then(|p| p.parameter_value())
        .map(str::to_string);
    assert_eq!(passed.as_deref(), Some(key.as_str()));
    train.delete_resources().await.expect("delete");
    assert_eq!(default_ebs_key(HERE).await, "alias/aws/ebs");
}
