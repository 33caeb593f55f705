use super::*;

#[test]
fn bucket_rules() {
    for ok in [
        "abc",
        "my-bucket.data",
        "easytdv-123456789012-eu-west-3",
        &"a".repeat(63),
    ] {
        assert_eq!(check_bucket(ok), Ok(()), "{ok}");
    }
    for bad in [
        "ab",
        "My-Bucket",
        "-abc",
        "abc-",
        "a..b",
        "a.-b",
        "192.168.1.1",
        "xn--abc",
        "abc-s3alias",
        "a_b",
    ] {
        assert!(
            matches!(check_bucket(bad), Err(InputError::BadBucket { .. })),
            "{bad}"
        );
    }
    assert!(check_bucket(&"a".repeat(64)).is_err());
}

#[test]
fn requirements_lines() {
    let pkgs = parse_requirements("# comment\nnumpy==2.1.0\n\npandas>=2 # data\n-r other.txt\ntorch[cuda]; python_version>'3'\nsix\n").unwrap();
    assert_eq!(
        pkgs,
        vec![
            "numpy==2.1.0",
            "pandas>=2",
            "torch[cuda]; python_version>'3'",
            "six"
        ]
    );
    assert_eq!(
        parse_requirements("numpy\nthis is not a package\n"),
        Err(InputError::BadRequirement {
            line: 2,
            text: "this is not a package".into()
        })
    );
}

#[test]
fn instance_types_and_amis() {
    for ok in [
        "t3.medium",
        "g4dn.xlarge",
        "p4d.24xlarge",
        "m7i-flex.large",
        "u-6tb1.metal",
    ] {
        assert!(check_instance_type(ok).is_ok(), "{ok}");
    }
    for bad in ["", "t3", "T3.medium", ".large", "t3.", "t3 medium"] {
        assert!(check_instance_type(bad).is_err(), "{bad}");
    }
    assert!(check_training_type("ml.g5.xlarge").is_ok());
    for bad in ["g5.xlarge", "ml.", "ml.g5", "ML.g5.xlarge"] {
        assert!(check_training_type(bad).is_err(), "{bad}");
    }
    assert!(check_instance_type("ml.m5.large").is_err());
    assert!(check_ami("ami-0123456789abcdef0").is_ok());
    assert!(check_ami("ami-12345678").is_ok());
    for bad in [
        "ami-xyz",
        "0123456789abcdef0",
        "ami-0123456789ABCDEF0",
        "ami-123",
    ] {
        assert!(check_ami(bad).is_err(), "{bad}");
    }
}

#[test]
fn files() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("train.py"), "print('hi')\n").unwrap();
    std::fs::write(p("empty.py"), "  \n").unwrap();
    std::fs::write(p("bin.py"), [0xff, 0xfe, 0x00]).unwrap();
    std::fs::write(p("train.txt"), "print('hi')\n").unwrap();
    std::fs::write(p("req.txt"), "six==1.16.0\n").unwrap();
    let (f, bytes) = read_input(FileKind::Script, &p("train.py")).unwrap();
    assert_eq!(
        (f.name.as_str(), f.size_bytes, bytes.len()),
        ("train.py", 12, 12)
    );
    assert_eq!(
        read_input(FileKind::Requirements, &p("req.txt"))
            .unwrap()
            .0
            .packages,
        vec!["six==1.16.0"]
    );
    let code = |k, n: &str| read_input(k, &p(n)).unwrap_err().code();
    assert_eq!(code(FileKind::Script, "missing.py"), "file_missing");
    assert_eq!(code(FileKind::Script, "empty.py"), "file_empty");
    assert_eq!(code(FileKind::Script, "bin.py"), "file_not_text");
    assert_eq!(code(FileKind::Script, "train.txt"), "script_not_python");
    assert_eq!(
        read_input(FileKind::Script, dir.path()).unwrap_err().code(),
        "file_not_a_file"
    );
}

#[test]
fn sagemaker_runs_only_where_the_pytorch_image_is_published() {
    let sagemaker = Engine::SageMaker {
        instance_count: 1,
        spot: false,
    };
    // Osaka and Mexico have their own registries: offered.
    for region in ["eu-west-3", "ap-northeast-3", "mx-central-1"] {
        assert!(check_engine_region(&sagemaker, region).is_ok(), "{region}");
    }
    // A region the SDK lists no image for (one too new for the table).
    let err = check_engine_region(&sagemaker, "eu-west-9").expect_err("refused");
    assert_eq!(err.code(), "no_sagemaker_in_region");
    assert!(err.to_string().contains("eu-west-9"), "{err}");
    assert!(err.hint().unwrap_or_default().contains("another region"));
    assert!(check_engine_region(&Engine::Ec2, "eu-west-9").is_ok());
}

#[test]
fn a_uv_lock_lists_the_packages_it_pins_but_not_the_project_itself() {
    let lock = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/uv-project/uv.lock"),
    )
    .unwrap();
    assert_eq!(
        crate::project::requirements::lock_packages(&lock),
        vec!["tinydep==0.1.0"]
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("uv.lock");
    std::fs::write(&p, &lock).unwrap();
    // Read as requirements, a lock is not pip's format: its pins are the packages.
    let (file, _) = read_input(FileKind::Requirements, &p).unwrap();
    assert_eq!(file.packages, vec!["tinydep==0.1.0"]);
}

#[test]
fn a_uv_lock_is_refused_for_sagemaker_before_anything_is_made() {
    let request = |engine: Engine| TrainRequest {
        script_path: "/p/train.py".into(),
        requirements_path: "/p/uv.lock".into(),
        instance_type: match engine {
            Engine::Ec2 => "t3.medium".into(),
            Engine::SageMaker { .. } => "ml.m5.large".into(),
        },
        disk_gb: 30,
        region: "eu-west-3".into(),
        bucket: "my-bucket".into(),
        ami: None,
        max_runtime_hours: 2,
        budget_usd: None,
        engine,
        project_dir: None,
    };
    let err = check_fields(&request(Engine::SageMaker {
        instance_count: 1,
        spot: false,
    }))
    .expect_err("refused");
    assert_eq!(err.code(), "uv_lock_on_sagemaker");
    assert!(err.hint().unwrap_or_default().contains("requirements.txt"));
    assert!(check_fields(&request(Engine::Ec2)).is_ok());
}
