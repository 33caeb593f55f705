//! What the account itself may stop a launch with, found before anything is
//! created: no default subnet where the type is offered. Each test works in
//! a region of its own (the account's settings there are changed).

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
            ctx.ec2()
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
    let err = train.prepare_env().await.expect_err("no subnet to launch in");

    for zone in &offering {
        if !all.iter().any(|(z, _)| z == zone) {
            continue;
        }
        ctx.ec2()
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
