//! What the wizard offers comes from AWS's answers (here, the sandbox's):
//! machine types, the current image per machine, buckets per region.

use crate::common::*;
use easytdv_core::pipeline::{self, machine};

#[tokio::test]
async fn instance_types_come_from_ec2_with_gpu_details() {
    let ctx = ctx().await;
    let types = machine::list_instance_types(&ctx).await.expect("types");
    assert!(types.len() > 50, "offered types: {}", types.len());
    let t3 = types
        .iter()
        .find(|t| t.name == "t3.medium")
        .expect("t3.medium offered");
    assert_eq!((t3.vcpus, t3.memory_mib, t3.gpu_count), (2, 4096, 0));
    assert_eq!(t3.category, machine::TypeCategory::General);
    let g4 = types
        .iter()
        .find(|t| t.name == "g4dn.xlarge")
        .expect("g4dn.xlarge offered");
    assert_eq!(g4.category, machine::TypeCategory::Gpu);
    assert!(
        g4.gpu_count >= 1 && g4.gpu_model.as_deref().unwrap_or("").contains("T4"),
        "{g4:?}"
    );
    // Sorted: every general-purpose type before every GPU type.
    let first_gpu = types
        .iter()
        .position(|t| t.category == machine::TypeCategory::Gpu)
        .unwrap();
    assert!(types[..first_gpu]
        .iter()
        .all(|t| t.category != machine::TypeCategory::Gpu));
}

#[tokio::test]
async fn the_automatic_image_follows_the_machine_type() {
    let ctx = ctx().await;
    let cpu = machine::describe_type(&ctx, "t3.medium").await.unwrap();
    let gpu = machine::describe_type(&ctx, "g4dn.xlarge").await.unwrap();
    let al = machine::resolve_ami(&ctx, &cpu, None)
        .await
        .expect("cpu image");
    let dl = machine::resolve_ami(&ctx, &gpu, None)
        .await
        .expect("gpu image");
    assert_ne!(al.id, dl.id);
    // The ids are the ones the public SSM parameters hold in this region.
    let param = |name: &'static str| {
        let ssm = ctx.ssm();
        async move {
            ssm.get_parameter()
                .name(name)
                .send()
                .await
                .unwrap()
                .parameter
                .unwrap()
                .value
                .unwrap()
        }
    };
    assert_eq!(al.id, param(machine::AL2023_X86).await);
    assert_eq!(dl.id, param(machine::DLAMI_GPU).await);
    assert!(al.name.contains("al2023"), "{}", al.name);
    assert_eq!(al.root_device_name, "/dev/xvda");
    // A custom image is described, not replaced.
    let custom = machine::resolve_ami(&ctx, &cpu, Some(&al.id))
        .await
        .unwrap();
    assert_eq!(custom, al);
}

#[tokio::test]
async fn buckets_are_listed_per_region_and_a_valid_name_is_suggested() {
    let ctx = ctx().await;
    let here = bucket("here");
    create_bucket(&ctx, &here).await;
    let listed = pipeline::list_buckets_in_region(&ctx)
        .await
        .expect("buckets");
    assert!(listed.contains(&here), "{listed:?}");
    let elsewhere = easytdv_core::aws::AwsContext::new(
        &easytdv_core::aws::CredentialSource::Sandbox {
            endpoint: endpoint(),
        },
        "ap-south-1",
    )
    .await
    .unwrap();
    assert!(!pipeline::list_buckets_in_region(&elsewhere)
        .await
        .unwrap()
        .contains(&here));
    // A new name has a random part no one can guess and claim first...
    let prefix = "easytdv-123456789012-eu-west-3-";
    let existing: Vec<String> = pipeline::list_buckets_in_region(&ctx)
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.starts_with(prefix))
        .collect();
    let suggested = pipeline::suggest_bucket_name(&ctx).await.unwrap();
    assert!(suggested.starts_with(prefix), "{suggested}");
    assert!(pipeline::check_bucket(&suggested).is_ok());
    if existing.is_empty() {
        assert_eq!(suggested.len(), prefix.len() + 8, "{suggested}");
        // ...and once that bucket exists, it is the one suggested again.
        create_bucket(&ctx, &suggested).await;
    }
    let again = pipeline::suggest_bucket_name(&ctx).await.unwrap();
    assert!(
        again.starts_with(prefix) && (existing.contains(&again) || again == suggested),
        "{again}"
    );
}

#[tokio::test]
async fn enabled_regions_come_from_ec2_with_console_names() {
    let ctx = ctx().await;
    let regions = machine::enabled_regions(&ctx).await.expect("regions");
    let paris = regions
        .iter()
        .find(|r| r.code == "eu-west-3")
        .expect("eu-west-3 enabled");
    assert_eq!(paris.name, "Europe (Paris)");
    assert!(regions.len() >= 10, "{}", regions.len());
    assert!(
        regions.windows(2).all(|w| w[0].name <= w[1].name),
        "sorted by name"
    );
}
