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
        warning: warning_of(family, accelerator, arm),
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

#[test]
fn nvidia_families_the_deep_learning_image_does_not_support_get_no_automatic_image() {
    // AWS's Deep Learning Base OSS NVIDIA images (AL2023) list G4dn, G5, G6,
    // Gr6, G6e, G7e, P4d, P4de, P5, P5e, P5en, P6 (x86_64) and G5g, P6e (arm64).
    for name in [
        "p2.xlarge",
        "p3.2xlarge",
        "p3dn.24xlarge",
        "g3.4xlarge",
        "g3s.xlarge",
        "g6f.large",
    ] {
        let t = info(name, 1, "nvidia", false);
        assert_eq!(t.accelerator, Accelerator::Nvidia, "{name}");
        assert!(!offered_for_ec2(&t), "{name} is not offered");
        let why = t.warning.clone().unwrap_or_default();
        assert!(why.contains("Older NVIDIA GPU"), "{name}: {why}");
        match default_image_parameter(&t) {
            Err(e @ PipelineError::NoAutomaticImage { .. }) => {
                assert!(e.is_bad_input(), "the CLI exits 2");
                assert!(e.to_string().contains(name), "{e}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    for (name, arm) in [
        ("g4dn.xlarge", false),
        ("g5.xlarge", false),
        ("g6e.xlarge", false),
        ("gr6.4xlarge", false),
        ("p4d.24xlarge", false),
        ("p5.48xlarge", false),
        ("p6-b200.48xlarge", false),
        ("g5g.xlarge", true),
        ("p6e-gb200.36xlarge", true),
    ] {
        let t = info(name, 1, "nvidia", arm);
        assert!(offered_for_ec2(&t), "{name} is offered");
        assert!(t.warning.is_none(), "{name}");
        assert!(default_image_parameter(&t).is_ok(), "{name}");
    }
    // g5g's family on x86_64 would not be the x86 image's.
    assert!(!offered_for_ec2(&info("g5g.xlarge", 1, "nvidia", false)));
    // CPU, AMD and Neuron types keep being listed (with their warnings).
    for (name, gpus, vendor) in [
        ("t3.medium", 0, ""),
        ("g4ad.xlarge", 1, "amd"),
        ("inf2.xlarge", 0, ""),
    ] {
        assert!(offered_for_ec2(&info(name, gpus, vendor, false)), "{name}");
    }
}
