//! The job's request: script mode, where things land, what the Environment carries.

use super::*;

fn spec(machines: u32, spot: bool) -> JobSpec {
    JobSpec {
        name: job_name("20261201-120000-abcdef"),
        run_id: "20261201-120000-abcdef".into(),
        region: "eu-west-3".into(),
        role_arn: "arn:aws:iam::123456789012:role/easytdv-20261201-120000-abcdef-sagemaker".into(),
        ml_type: "ml.m5.large".into(),
        machines,
        gpus_per_machine: 0,
        spot,
        disk_gb: 30,
        max_runtime_secs: 3600,
        bucket: "b".into(),
        prefix: "easytdv/runs/20261201-120000-abcdef".into(),
        program: "train.py".into(),
        entry: "train.py".into(),
        env: Vec::new(),
        secrets: Vec::new(),
        notebook: false,
        bucket_owner: "123456789012".into(),
        lock: false,
        data: None,
    }
}

#[test]
fn arguments_go_through_the_launcher_and_variables_in_the_environment() {
    let with = JobSpec {
        program: crate::pipeline::run_args::LAUNCHER.into(),
        entry: "train.py".into(),
        env: vec![EnvVar::new("GREETING", "hello world")],
        ..spec(1, false)
    };
    let hps: std::collections::HashMap<_, _> = with.hyperparameters().into_iter().collect();
    assert_eq!(hps["sagemaker_program"], "\"easytdv_launch.py\"");
    // No user argument travels as a hyperparameter.
    assert!(hps.keys().all(|k| k.starts_with("sagemaker_")), "{hps:?}");
    let env = with.environment();
    assert_eq!(env[0].0, "OUTPUT_DIR");
    assert_eq!(
        env.last(),
        Some(&("GREETING".to_string(), "hello world".to_string()))
    );
}

#[test]
fn a_notebook_runs_once_and_its_job_says_where_it_goes() {
    let nb = JobSpec {
        gpus_per_machine: 4,
        notebook: true,
        ..spec(1, false)
    };
    assert!(!nb
        .hyperparameters()
        .iter()
        .any(|(k, _)| k == "sagemaker_torch_distributed_enabled"));
    let env: std::collections::HashMap<_, _> = nb.environment().into_iter().collect();
    assert_eq!(
        env["EASYTDV_OUTPUTS_URI"],
        "s3://b/easytdv/runs/20261201-120000-abcdef/outputs/"
    );
    assert_eq!(env["EASYTDV_BUCKET_OWNER"], "123456789012");
    assert!(!env.contains_key("EASYTDV_REQUIREMENTS"));
    let with_secrets = JobSpec {
        secrets: vec![
            ("EASYTDV_SECRETS_PATH", "/easytdv/runs/r/secrets".into()),
            ("EASYTDV_SECRET_NAMES", "HF_TOKEN".into()),
        ],
        lock: true,
        ..spec(1, false)
    };
    let env: std::collections::HashMap<_, _> = with_secrets.environment().into_iter().collect();
    assert_eq!(env["EASYTDV_SECRET_NAMES"], "HF_TOKEN");
    assert_eq!(env["EASYTDV_REQUIREMENTS"], "uv.lock");
    assert!(!env.contains_key("EASYTDV_OUTPUTS_URI"));
}

#[test]
fn a_job_aws_does_not_know_is_gone() {
    // AWS's words for DescribeTrainingJob / StopTrainingJob of an unknown job.
    assert!(is_no_such_job(
        Some("ValidationException"),
        Some("Requested resource not found.")
    ));
    assert!(is_no_such_job(
        Some("ResourceNotFound"),
        Some("Resource being access is not found.")
    ));
    // Other refusals are not "gone".
    assert!(!is_no_such_job(
        Some("ValidationException"),
        Some("The request was rejected because the training job is in status Stopped.")
    ));
    assert!(!is_no_such_job(Some("ValidationException"), None));
    assert!(!is_no_such_job(
        Some("AccessDeniedException"),
        Some("Requested resource not found.")
    ));
    assert!(!is_no_such_job(None, None));
}

#[test]
fn script_mode_and_where_things_land() {
    let one = spec(1, false);
    assert_eq!(one.name, "easytdv-20261201-120000-abcdef");
    let hps: std::collections::HashMap<_, _> = one.hyperparameters().into_iter().collect();
    assert_eq!(hps["sagemaker_program"], "\"train.py\"");
    assert_eq!(
        hps["sagemaker_submit_directory"],
        "\"s3://b/easytdv/runs/20261201-120000-abcdef/sourcedir.tar.gz\""
    );
    assert!(!hps.contains_key("sagemaker_torch_distributed_enabled"));
    assert_eq!(
        one.output_uri(),
        "s3://b/easytdv/runs/20261201-120000-abcdef/outputs"
    );
    assert!(one.checkpoint_uri().ends_with("/outputs/checkpoints/"));
    assert_eq!(one.max_wait_secs(), None);
    let two = spec(2, true);
    let hps: std::collections::HashMap<_, _> = two.hyperparameters().into_iter().collect();
    assert_eq!(hps["sagemaker_torch_distributed_enabled"], "true");
    assert_eq!(two.max_wait_secs(), Some(7200));
    assert!(two.environment().contains(&(
        "EASYTDV_CHECKPOINT_DIR".to_string(),
        "/opt/ml/checkpoints".to_string()
    )));
    assert!(!two.environment().iter().any(|(k, _)| k == "DATA_DIR"));
    // With data: DATA_DIR is the channel's folder (SM_CHANNEL_DATA).
    let with_data = JobSpec {
        data: Some(JobData {
            s3_uri: "s3://b/easytdv/runs/r/data.manifest".into(),
            manifest: true,
        }),
        ..spec(1, false)
    };
    assert!(with_data.environment().contains(&(
        "DATA_DIR".to_string(),
        "/opt/ml/input/data/data".to_string()
    )));
    // One machine with four GPUs: torchrun too, one process per GPU.
    let four_gpus = JobSpec {
        gpus_per_machine: 4,
        ..spec(1, false)
    };
    let hps: std::collections::HashMap<_, _> = four_gpus.hyperparameters().into_iter().collect();
    assert_eq!(hps["sagemaker_torch_distributed_enabled"], "true");
    let one_gpu = JobSpec {
        gpus_per_machine: 1,
        ..spec(1, false)
    };
    assert!(!one_gpu
        .hyperparameters()
        .iter()
        .any(|(k, _)| k == "sagemaker_torch_distributed_enabled"));
}
