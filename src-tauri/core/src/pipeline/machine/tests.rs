use super::*;

fn info(name: &str, gpus: i32, vendor: &str, arm: bool) -> InstanceTypeInfo {
    let family = name.split('.').next().unwrap();
    let accelerator = accelerator_of(family, gpus, vendor);
    InstanceTypeInfo {
        name: name.into(),
        vcpus: 4,
        memory_mib: 16384,
        gpu_count: gpus,
        gpu_model: None,
        arm,
        category: TypeCategory::Gpu,
        accelerator,
        warning: accelerator_warning(accelerator),
        previous_generation: false,
        usd_per_hour: None,
        recommended: None,
    }
}

#[test]
fn the_image_follows_architecture_and_accelerator_vendor() {
    // g5g: ARM with NVIDIA GPUs gets the arm64 Deep Learning AMI.
    let g5g = info("g5g.xlarge", 1, "nvidia", true);
    assert_eq!(g5g.accelerator, Accelerator::Nvidia);
    assert_eq!(default_image_parameter(&g5g).unwrap(), DLAMI_GPU_ARM);
    let g5 = info("g5.xlarge", 1, "nvidia", false);
    assert_eq!(default_image_parameter(&g5).unwrap(), DLAMI_GPU);
    assert_eq!(
        default_image_parameter(&info("t3.medium", 0, "", false)).unwrap(),
        AL2023_X86
    );
    assert_eq!(
        default_image_parameter(&info("m7g.large", 0, "", true)).unwrap(),
        AL2023_ARM
    );
    // AMD GPUs, Inferentia/Trainium and FPGAs: no automatic image, with a warning.
    for (name, gpus, vendor, expect) in [
        ("g4ad.xlarge", 1, "amd", Accelerator::Amd),
        ("inf2.xlarge", 0, "", Accelerator::Neuron),
        ("trn1.2xlarge", 0, "", Accelerator::Neuron),
        ("f1.2xlarge", 0, "", Accelerator::Other),
    ] {
        let t = info(name, gpus, vendor, false);
        assert_eq!(t.accelerator, expect, "{name}");
        assert!(t.warning.is_some(), "{name} carries a warning");
        assert!(
            matches!(
                default_image_parameter(&t),
                Err(PipelineError::NoAutomaticImage { .. })
            ),
            "{name}"
        );
    }
}
