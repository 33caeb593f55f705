//! SageMaker runs meeting what a real AWS account answers, against the
//! sandbox that answers the same way: a training job that was never
//! created, a new role SageMaker cannot assume yet, and a region whose
//! PyTorch image comes from its own registry.

use easytdv_core::aws::{AwsContext, CredentialSource};
use easytdv_core::pipeline::{self, Engine, PipelineError, Step, TrainRequest};

use crate::common::*;

fn sagemaker(case: &str, bucket: &str, instance_type: &str) -> TrainRequest {
    TrainRequest {
        instance_type: instance_type.into(),
        engine: Engine::SageMaker {
            instance_count: 2,
            spot: false,
        },
        ..request(case, bucket)
    }
}

#[tokio::test]
async fn deleting_a_run_whose_training_job_was_never_created_removes_its_stack_and_inputs() {
    let h = Harness::new().await;
    let b = bucket("smnojob");
    // Past the app's own checks, refused by CreateTrainingJob (not a
    // SageMaker training type): the stack and sourcedir.tar.gz exist, the
    // job's name is recorded, the job does not exist.
    let mut train = h.train(sagemaker("fails", &b, "ml.m5.huge"));
    let err = train
        .run_from(Step::Prepare)
        .await
        .expect_err("CreateTrainingJob refuses the type");
    let PipelineError::Aws { code, message, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(code, "ValidationException");
    assert!(message.contains("resourceConfig.instanceType"), "{message}");
    let res = train.resources().clone();
    let job = res
        .training_job_name
        .clone()
        .expect("the job's name is recorded");
    let (_, stack, inputs) = leftovers(&h.ctx, &res.run_id, &b).await;
    assert!(
        stack.is_some() && !inputs.is_empty(),
        "{stack:?} {inputs:?}"
    );

    // AWS's answer for that job: it is gone, not an error.
    let asked = h
        .ctx
        .sagemaker()
        .describe_training_job()
        .training_job_name(&job)
        .send()
        .await
        .expect_err("no such job");
    assert_eq!(
        aws_smithy_types::error::metadata::ProvideErrorMetadata::message(&asked),
        Some("Requested resource not found.")
    );
    let status = pipeline::cloud_status(&h.ctx, &res)
        .await
        .expect("the run's status");
    assert_eq!(status.instance_state, None);

    let deleted = pipeline::delete_resources(&h.ctx, &res, &h.events)
        .await
        .expect("delete");
    assert_eq!(deleted.stopped_training_job, None);
    assert!(deleted.deleted_stack.is_some());
    assert!(deleted
        .deleted_objects
        .iter()
        .any(|k| k.ends_with("/sourcedir.tar.gz")));
    let (_, stack, inputs) = leftovers(&h.ctx, &res.run_id, &b).await;
    assert!(stack.is_none() && inputs.is_empty(), "{stack:?} {inputs:?}");

    // And again: nothing left, no error.
    let again = pipeline::delete_resources(&h.ctx, &res, &h.events)
        .await
        .expect("a second delete");
    assert!(
        again.deleted_stack.is_none() && again.deleted_objects.is_empty(),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_new_role_sagemaker_cannot_assume_yet_is_waited_for() {
    let h = Harness::new().await;
    let b = bucket("smrole");
    let mut train = h.train(sagemaker("sagemaker_ranks", &b, "ml.c6i.xlarge"));
    let run_id = train.resources().run_id.clone();
    let role = format!("easytdv-{run_id}-sagemaker");
    // IAM has not propagated the run's role for its first 5 seconds.
    hook(
        "sagemaker/role-propagation",
        serde_json::json!({ "role": role, "seconds": 5 }),
    );
    let result = train.run_from(Step::Prepare).await;
    hook(
        "sagemaker/role-propagation",
        serde_json::json!({ "role": role, "seconds": 0 }),
    );
    let report = result.expect("the job is created once the role is usable");
    assert_eq!(report.training.status, "Completed");
    let waits: Vec<String> = h
        .events
        .events()
        .into_iter()
        .filter(|e| e.step == Step::Training)
        .map(|e| e.message)
        .filter(|m| m.starts_with("Waiting for the new execution role"))
        .collect();
    assert!(!waits.is_empty(), "the step told the wait");
    let res = train.resources().clone();
    assert_eq!(
        res.training_job_name.as_deref(),
        Some(format!("easytdv-{run_id}-1").as_str())
    );
    pipeline::delete_resources(&h.ctx, &res, &h.events)
        .await
        .expect("delete");
}

#[tokio::test]
async fn a_run_in_osaka_uses_the_pytorch_image_of_osakas_registry() {
    const OSAKA: &str = "ap-northeast-3";
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let ctx = AwsContext::new(
        &CredentialSource::Sandbox {
            endpoint: endpoint(),
        },
        OSAKA,
    )
    .await
    .expect("context");
    let h = Harness {
        ctx,
        events: Default::default(),
        state: Default::default(),
    };
    let b = bucket("smosaka");
    let mut req = sagemaker("sagemaker_ranks", &b, "ml.m5.large");
    req.region = OSAKA.into();
    let mut train = h.train(req);
    train
        .run_from(Step::Prepare)
        .await
        .expect("SageMaker accepts Osaka's own image");
    let res = train.resources().clone();
    let job = h
        .ctx
        .sagemaker()
        .describe_training_job()
        .training_job_name(res.training_job_name.clone().expect("a job"))
        .send()
        .await
        .expect("the job");
    let image = job
        .algorithm_specification()
        .and_then(|a| a.training_image())
        .unwrap_or_default();
    assert!(
        image.starts_with("364406365360.dkr.ecr.ap-northeast-3.amazonaws.com/pytorch-training:"),
        "{image}"
    );
    // The role may pull from that registry: the stack was told its account.
    let stacks = h
        .ctx
        .cloudformation()
        .describe_stacks()
        .stack_name(res.stack_id.clone().expect("a stack"))
        .send()
        .await
        .expect("the stack");
    let account = stacks
        .stacks()
        .first()
        .and_then(|s| {
            s.parameters()
                .iter()
                .find(|p| p.parameter_key() == Some("FrameworkImageAccount"))
        })
        .and_then(|p| p.parameter_value());
    assert_eq!(account, Some("364406365360"));
    pipeline::delete_resources(&h.ctx, &res, &h.events)
        .await
        .expect("delete");
}
