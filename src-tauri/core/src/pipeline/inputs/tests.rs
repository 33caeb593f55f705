use super::*;
use crate::explain::Explain;

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

const NOTEBOOK: &str = r#"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
 {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [], "execution_count": null, "source": "epochs = 2\n"},
 {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": null, "source": "print(epochs)\n"}]}"#;

fn notebook_request(dir: &Path, script: &str, params: &[&str]) -> TrainRequest {
    std::fs::write(dir.join("requirements.txt"), "numpy==2.1.0").unwrap();
    TrainRequest {
        script_path: dir.join(script),
        requirements_path: dir.join("requirements.txt"),
        instance_type: "t3.medium".into(),
        disk_gb: 30,
        region: "eu-west-3".into(),
        bucket: "easytdv-notebooks".into(),
        ami: None,
        max_runtime_hours: 2,
        budget_usd: None,
        engine: Engine::Ec2,
        args: params.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn a_notebook_is_an_entry_point_checked_when_picked() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    std::fs::write(p("Train Model.ipynb"), NOTEBOOK).unwrap();
    std::fs::write(p("broken.ipynb"), "{\"nbformat\": 4, \"cells\": [}").unwrap();
    std::fs::write(p("v3.ipynb"), r#"{"nbformat": 3, "worksheets": []}"#).unwrap();
    let (f, _) = read_input(FileKind::Script, &p("Train Model.ipynb")).unwrap();
    assert_eq!(f.name, "Train Model.ipynb");
    // Picked or started, a broken notebook is refused with what is wrong.
    let err = read_input(FileKind::Script, &p("broken.ipynb")).unwrap_err();
    assert_eq!(err.code(), "notebook_not_json");
    assert!(
        err.to_string().contains("broken.ipynb is not valid JSON")
            && err.to_string().contains("column"),
        "{err}"
    );
    assert!(err.hint().unwrap().contains("save it again"));
    let err = read_input(FileKind::Script, &p("v3.ipynb")).unwrap_err();
    assert_eq!(err.code(), "notebook_old_format");
    let err = check_request(&notebook_request(dir.path(), "broken.ipynb", &[])).unwrap_err();
    assert_eq!(err.code(), "notebook_not_json");
    // A notebook may be larger than a script (its outputs), within a bound.
    let big = format!(
        r#"{{"nbformat": 4, "cells": [], "metadata": {{"pad": "{}"}}}}"#,
        "x".repeat(MAX_SCRIPT_BYTES as usize)
    );
    std::fs::write(p("big.ipynb"), big).unwrap();
    assert!(read_input(FileKind::Script, &p("big.ipynb")).is_ok());
}

#[test]
fn a_notebook_run_keeps_its_name_its_parameters_and_installs_its_executor() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Train Model.ipynb"), NOTEBOOK).unwrap();
    std::fs::write(dir.path().join("train.py"), "print(1)\n").unwrap();
    // Its arguments are papermill's parameters, written as papermill's flags.
    let checked = check_request(&notebook_request(
        dir.path(),
        "Train Model.ipynb",
        &["--parameters", "epochs", "3"],
    ))
    .unwrap();
    assert_eq!(checked.entry, "Train Model.ipynb");
    assert_eq!(
        checked.request.args,
        vec!["-p".to_string(), "epochs".into(), "3".into()]
    );
    let reqs = String::from_utf8(checked.requirements).unwrap();
    assert!(
        reqs.starts_with("numpy==2.1.0\n")
            && reqs.contains(notebook::PAPERMILL)
            && reqs.contains(notebook::IPYKERNEL),
        "{reqs}"
    );
    // A script gets its arguments as they are.
    let script = check_request(&notebook_request(
        dir.path(),
        "train.py",
        &["--parameters", "epochs"],
    ))
    .unwrap();
    assert_eq!(
        (
            script.entry.as_str(),
            script.request.args.clone(),
            script.requirements
        ),
        (
            "train.py",
            vec!["--parameters".to_string(), "epochs".into()],
            b"numpy==2.1.0".to_vec()
        )
    );
    // An unknown parameter, an argument that is not a parameter: refused.
    let code = |r: TrainRequest| check_request(&r).unwrap_err().code();
    assert_eq!(
        code(notebook_request(
            dir.path(),
            "Train Model.ipynb",
            &["--epochs", "3"]
        )),
        "notebook_bad_parameters"
    );
    assert_eq!(
        code(notebook_request(
            dir.path(),
            "Train Model.ipynb",
            &["-p", "lr", "3"]
        )),
        "notebook_unknown_parameter"
    );
    let on_sagemaker = TrainRequest {
        instance_type: "ml.m5.large".into(),
        engine: Engine::SageMaker {
            instance_count: 1,
            spot: false,
        },
        ..notebook_request(dir.path(), "Train Model.ipynb", &[])
    };
    // SageMaker takes a notebook too (on one machine), its requirements with the executor.
    let on_two = TrainRequest {
        engine: Engine::SageMaker {
            instance_count: 2,
            spot: false,
        },
        ..on_sagemaker.clone()
    };
    assert_eq!(code(on_two), "notebook_one_machine");
    let checked = check_request(&on_sagemaker).expect("a notebook on SageMaker");
    let requirements = String::from_utf8(checked.requirements).unwrap();
    assert!(
        requirements.contains(crate::pipeline::notebook::PAPERMILL)
            && requirements.contains(crate::pipeline::notebook::IPYKERNEL),
        "{requirements}"
    );
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
fn a_uv_lock_is_taken_by_both_engines() {
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
        ..Default::default()
    };
    assert!(check_fields(&request(Engine::SageMaker {
        instance_count: 1,
        spot: false,
    }))
    .is_ok());
    assert!(check_fields(&request(Engine::Ec2)).is_ok());
}
