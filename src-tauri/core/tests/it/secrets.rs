//! A run's secrets on the sandbox (issue 21): a retried training gets the
//! keychain's current value, a secret the machine cannot read is told, and a
//! parameter a crash left behind is found by the leftovers scan. (The whole
//! run from the real keychain, and where its value must never appear, is in
//! tests/keychain.rs, the secret-leak test.)

use std::sync::Arc;

use aws_sdk_ssm::types::ParameterType;
use easytdv_core::explain::Explain;
use easytdv_core::history::History;
use easytdv_core::pipeline::{
    EventLog, MemoryState, RunResources, RunStateSink, Step, Train, TrainRequest,
};
use easytdv_core::scan::{self, LeftoverKind};
use easytdv_core::secret::Sensitive;
use easytdv_core::secrets::{parameters, RunSecret, RunSecrets};
use sha2::Digest;

use crate::common::*;

const VALUE: &str = "hf_LEAKtestVALUE_9f8e7d6c5b4a3210";

fn sha(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn with_secret(bucket: &str) -> TrainRequest {
    TrainRequest {
        secrets: vec!["HF_TOKEN".into()],
        ..request("secrets", bucket)
    }
}

fn one(value: &str) -> RunSecrets {
    RunSecrets::new(vec![RunSecret {
        name: "HF_TOKEN".into(),
        value: Sensitive::new(value),
    }])
}

#[tokio::test]
async fn a_retried_training_gets_the_current_value_and_an_unreadable_secret_is_told() {
    let h = Harness::new().await;
    let b = bucket("secretretry");
    let mut train = h
        .train(with_secret(&b))
        .with_secrets(one("first-value"))
        .unwrap();
    let report = train.run_from(Step::Prepare).await.expect("first run");
    assert!(report
        .training
        .stdout_tail
        .contains(&format!("HF_TOKEN sha256 {}", sha("first-value"))));
    let run_id = train.run_id().to_string();
    let instance = report.instance_id.clone();

    // Gone behind the app's back: the machine says so, train.py never starts.
    let parameter = parameters::parameter_name(&run_id, "HF_TOKEN");
    h.ctx
        .ssm()
        .delete_parameters()
        .names(&parameter)
        .send()
        .await
        .unwrap();
    let err = train.run_training(&instance).await.unwrap_err();
    assert_eq!(err.code(), "secrets_unreadable", "{err}");
    let detail = err.detail().unwrap_or_default();
    assert!(
        detail.contains("could not read the run's secrets (HF_TOKEN)"),
        "{detail}"
    );
    assert!(err.hint().unwrap().contains("easytdv-boundary"));

    // A retry (the value fixed in the keychain meanwhile) puts it again.
    let mut retry = Train::resume(
        h.ctx.clone(),
        with_secret(&b),
        train.resources().clone(),
        Arc::new(EventLog::default()),
        Arc::new(MemoryState::default()),
    )
    .unwrap()
    .with_secrets(one("second-value"))
    .unwrap();
    let again = retry.run_from(Step::Training).await.expect("retry");
    assert!(again
        .training
        .stdout_tail
        .contains(&format!("HF_TOKEN sha256 {}", sha("second-value"))));
    let deleted = retry.delete_resources().await.unwrap();
    assert_eq!(deleted.deleted_secrets, 1);
    assert!(parameters::list_run(&h.ctx, &run_id)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_secret_a_crash_left_is_found_by_the_leftovers_scan_and_deleted() {
    let h = Harness::new().await;
    let lost = easytdv_core::pipeline::new_run_id();
    let kept = easytdv_core::pipeline::new_run_id();
    // As a crash after the PutParameter leaves them: no history row knows `lost`.
    for run in [&lost, &kept] {
        for name in ["HF_TOKEN", "WANDB_API_KEY"] {
            h.ctx
                .ssm()
                .put_parameter()
                .name(parameters::parameter_name(run, name))
                .value(VALUE)
                .r#type(ParameterType::SecureString)
                .send()
                .await
                .unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(&dir.path().join("history.db")).unwrap();
    history
        .record(&RunResources {
            run_id: kept.clone(),
            region: REGION.into(),
            ..Default::default()
        })
        .unwrap();
    let records = history.list().unwrap();

    let found = scan::secret_leftovers(&h.ctx, &records).await.unwrap();
    assert!(
        found
            .iter()
            .all(|l| l.run_id.as_deref() != Some(kept.as_str())),
        "a run of the history is not a leftover"
    );
    let leftover = found
        .iter()
        .find(|l| l.run_id.as_deref() == Some(lost.as_str()))
        .expect("the lost run's secrets are found")
        .clone();
    assert_eq!(leftover.kind, LeftoverKind::Secrets);
    assert_eq!(leftover.id, format!("/easytdv/runs/{lost}/secrets"));
    assert_eq!(leftover.usd_per_hour, Some(0.0));
    assert!(
        leftover.detail.contains("2 secrets")
            && leftover.detail.contains("HF_TOKEN, WANDB_API_KEY"),
        "{}",
        leftover.detail
    );
    assert!(!serde_json::to_string(&found).unwrap().contains(VALUE));

    scan::delete_leftover(&h.ctx, &leftover, &[], &EventLog::default())
        .await
        .expect("deleted");
    assert!(parameters::list_run(&h.ctx, &lost)
        .await
        .unwrap()
        .is_empty());
    let after = scan::secret_leftovers(&h.ctx, &records).await.unwrap();
    assert!(after
        .iter()
        .all(|l| l.run_id.as_deref() != Some(lost.as_str())));
    // (the history's run is cleaned up by its own delete)
    parameters::delete(
        &h.ctx,
        &kept,
        &[
            parameters::parameter_name(&kept, "HF_TOKEN"),
            parameters::parameter_name(&kept, "WANDB_API_KEY"),
        ],
    )
    .await
    .unwrap();
}

/// On SageMaker (issue 21): the job's launcher reads the secret with the
/// job's execution role and becomes the script with it; the job's
/// description names the secret and its path, never its value; a parameter
/// gone behind the app's back is told (`secrets_unreadable`, the script did
/// not start); a retry puts the keychain's current value; the clean-up
/// deletes it.
#[tokio::test]
async fn a_sagemaker_job_gets_its_secrets_through_the_launcher() {
    use easytdv_core::pipeline::Engine;

    let h = Harness::new().await;
    let b = bucket("secretsm");
    let on_sagemaker = || TrainRequest {
        instance_type: "ml.m5.large".into(),
        engine: Engine::SageMaker {
            instance_count: 1,
            spot: false,
        },
        ..with_secret(&b)
    };
    let mut train = h.train(on_sagemaker()).with_secrets(one(VALUE)).unwrap();
    train
        .run_from(Step::Prepare)
        .await
        .expect("the job completes");
    let run_id = train.run_id().to_string();
    let lines = train_lines(&h);
    let arrived = format!("HF_TOKEN sha256 {}", sha(VALUE));
    assert!(lines.contains(&arrived), "{lines:?}");
    assert!(lines.iter().any(|l| l == "secret names visible: False"));
    assert!(lines.iter().all(|l| !l.contains(VALUE)));

    // What anyone allowed sagemaker:Describe* sees: the names and the path.
    let job = train.resources().training_job_name.clone().unwrap();
    let described = h
        .ctx
        .sagemaker()
        .describe_training_job()
        .training_job_name(&job)
        .send()
        .await
        .unwrap();
    let env = described.environment().expect("the job's Environment");
    assert_eq!(env["EASYTDV_SECRET_NAMES"], "HF_TOKEN");
    assert_eq!(env["EASYTDV_SECRETS_PATH"], parameters::run_path(&run_id));
    let hps = described.hyper_parameters().expect("hyperparameters");
    assert_eq!(hps["sagemaker_program"], "\"easytdv_launch.py\"");
    assert!(!format!("{described:?}").contains(VALUE));

    // Gone behind the app's back: the job says so, the script never starts.
    let parameter = parameters::parameter_name(&run_id, "HF_TOKEN");
    h.ctx
        .ssm()
        .delete_parameters()
        .names(&parameter)
        .send()
        .await
        .unwrap();
    let err = train.run_from(Step::Training).await.unwrap_err();
    assert_eq!(err.code(), "secrets_unreadable", "{err}");
    let detail = err.detail().unwrap_or_default();
    assert!(
        detail.contains("could not read the run's secrets (HF_TOKEN)"),
        "{detail}"
    );

    // A retry (the value fixed in the keychain meanwhile) puts it again.
    let events = EventLog::default();
    let mut retry = Train::resume(
        h.ctx.clone(),
        on_sagemaker(),
        train.resources().clone(),
        Arc::new(events.clone()),
        Arc::new(MemoryState::default()),
    )
    .unwrap()
    .with_secrets(one("second-value"))
    .unwrap();
    retry.run_from(Step::Training).await.expect("retry");
    let second = format!("HF_TOKEN sha256 {}", sha("second-value"));
    assert!(
        events.lines().iter().any(|(_, l)| l.text == second),
        "the retried job got the keychain's current value"
    );
    let deleted = retry.delete_resources().await.unwrap();
    assert_eq!(deleted.deleted_secrets, 1);
    assert!(parameters::list_run(&h.ctx, &run_id)
        .await
        .unwrap()
        .is_empty());
}
