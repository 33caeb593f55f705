//! Bad input and failing cloud steps: a clear, named error, and nothing left behind.

use crate::common::*;
use easytdv_core::explain::Explain;
use easytdv_core::pipeline::{PipelineError, Step, Train};
use std::sync::Arc;

async fn bucket_exists(h: &Harness, bucket: &str) -> bool {
    h.ctx.s3().head_bucket().bucket(bucket).send().await.is_ok()
}

#[tokio::test]
async fn each_invalid_input_is_named_and_creates_nothing() {
    let h = Harness::new().await;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.py");
    std::fs::write(&empty, "").unwrap();
    let binary = dir.path().join("model.py");
    std::fs::write(&binary, [0x80, 0x81, 0xfe]).unwrap();
    let bad_req = dir.path().join("requirements.txt");
    std::fs::write(&bad_req, "numpy\nplease install torch\n").unwrap();

    let b = bucket("inputs");
    type Edit = Box<dyn Fn(&mut easytdv_core::pipeline::TrainRequest)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "file_missing",
            Box::new(|r| r.script_path = "/nonexistent/train.py".into()),
        ),
        (
            "file_empty",
            Box::new(move |r| r.script_path = empty.clone()),
        ),
        (
            "file_not_text",
            Box::new(move |r| r.script_path = binary.clone()),
        ),
        (
            "script_not_python",
            Box::new(|r| r.script_path = fixture("ok/requirements.txt")),
        ),
        (
            "bad_requirement",
            Box::new(move |r| r.requirements_path = bad_req.clone()),
        ),
        ("bad_bucket", Box::new(|r| r.bucket = "My_Bucket".into())),
        ("bad_region", Box::new(|r| r.region = "paris".into())),
        (
            "bad_instance_type",
            Box::new(|r| r.instance_type = "big machine".into()),
        ),
        ("bad_disk_size", Box::new(|r| r.disk_gb = 4)),
        ("bad_ami", Box::new(|r| r.ami = Some("ubuntu".into()))),
        ("bad_max_runtime", Box::new(|r| r.max_runtime_hours = 0)),
    ];
    for (code, edit) in cases {
        let mut req = request("ok", &b);
        edit(&mut req);
        let err = Train::new(
            h.ctx.clone(),
            req,
            Arc::new(h.events.clone()),
            Arc::new(h.state.clone()),
        )
        .err()
        .unwrap_or_else(|| panic!("{code}: accepted"));
        assert_eq!(err.code(), code, "{err}");
        assert!(
            err.hint().is_some_and(|h| !h.is_empty()),
            "{code} has a hint"
        );
    }
    assert!(!bucket_exists(&h, &b).await, "nothing was created");
    assert!(h.state.latest().is_none(), "no run was opened");
}

#[tokio::test]
async fn unknown_machine_type_and_image_fail_before_anything_is_created() {
    let h = Harness::new().await;
    let b = bucket("machine");
    let mut req = request("ok", &b);
    req.instance_type = "zz9.enormous".into();
    let err = h.train(req).prepare_env().await.expect_err("unknown type");
    assert_eq!(err.code(), "unknown_instance_type", "{err}");
    let mut req = request("ok", &b);
    req.ami = Some("ami-0123456789abcdef0".into());
    let err = h.train(req).prepare_env().await.expect_err("unknown image");
    assert_eq!(err.code(), "unknown_image", "{err}");
    assert!(!bucket_exists(&h, &b).await);
}

#[tokio::test]
async fn a_bucket_in_another_region_is_refused() {
    let h = Harness::new().await;
    let b = bucket("region");
    let us = easytdv_core::aws::AwsContext::new(
        &easytdv_core::aws::CredentialSource::Sandbox {
            endpoint: endpoint(),
        },
        "us-west-2",
    )
    .await
    .unwrap();
    create_bucket(&us, &b).await;
    let mut train = h.train(request("ok", &b));
    let err = train.prepare_env().await.expect_err("other region");
    match &err {
        PipelineError::BucketOtherRegion {
            actual, expected, ..
        } => {
            assert_eq!(
                (actual.as_str(), expected.as_str()),
                ("us-west-2", "eu-west-3")
            )
        }
        other => panic!("unexpected {other}"),
    }
    assert!(
        list(&us, &b, "easytdv/").await.is_empty(),
        "nothing uploaded"
    );
}

#[tokio::test]
async fn a_failing_base_fails_the_runs_stack_step_with_the_resource_reason() {
    // A region of its own: the first run there creates the base, whose
    // machine role's name is already taken.
    const HERE: &str = "ap-southeast-2";
    let ctx = crate::launch_preflight::ctx_in(HERE).await;
    let b = bucket("stackfail");
    let mut request = request("ok", &b);
    request.region = HERE.into();
    let events = easytdv_core::pipeline::EventLog::default();
    let mut train = Train::new(
        ctx.clone(),
        request,
        Arc::new(events.clone()),
        Arc::new(easytdv_core::pipeline::MemoryState::default()),
    )
    .expect("valid request");
    // (Taken before the run prepares: its Prepare step starts the base.)
    let role = format!("easytdv-base-{HERE}-instance");
    ctx.iam()
        .create_role()
        .role_name(&role)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    let prepared = train.prepare_env().await.expect("prepare");
    let err = train
        .create_stack(&prepared)
        .await
        .expect_err("the base must fail");
    let message = err.to_string();
    assert_eq!(err.code(), "stack_failed", "{message}");
    assert!(
        message.contains("InstanceRole (AWS::IAM::Role)") && message.contains("already exists"),
        "{message}"
    );
    let failed = events
        .events()
        .into_iter()
        .rev()
        .find(|e| e.step == Step::Stack)
        .unwrap();
    assert_eq!(failed.state, easytdv_core::pipeline::StepState::Failed);
    assert!(
        easytdv_core::pipeline::stack_status(&ctx, "easytdv-base")
            .await
            .unwrap()
            .is_none(),
        "the failed base is deleted"
    );
    ctx.iam()
        .delete_role()
        .role_name(&role)
        .send()
        .await
        .unwrap();
    train.delete_resources().await.expect("delete");
    let (live, stack, inputs) = leftovers(&ctx, train.run_id(), &b).await;
    assert!(live.is_empty() && stack.is_none() && inputs.is_empty());
}

#[tokio::test]
async fn an_unreachable_sandbox_is_said_before_anything_is_sent() {
    // Nothing answers there: the context is refused at once, in plain words
    // (the practice cloud's check comes before any call).
    let err = easytdv_core::aws::AwsContext::new(
        &easytdv_core::aws::CredentialSource::Sandbox {
            endpoint: "http://127.0.0.1:9".into(),
        },
        REGION,
    )
    .await
    .expect_err("nothing listens on port 9");
    assert_eq!(err.code(), "sandbox_unreachable", "{err}");
    assert!(err.hint().unwrap().contains("Start the practice cloud"));
}
