//! train.py's arguments and plain variables reach it exactly, on both
//! engines, and never travel in an SSM command or a hyperparameter.

use easytdv_core::logs::LogName;
use easytdv_core::pipeline::{Engine, EnvVar, Step, TrainRequest};

use crate::common::*;

/// Spaces, quotes, `$HOME`, a backtick command, `;`, a newline, an empty one.
fn nasty_args() -> Vec<String> {
    [
        "--name",
        "my run",
        "it's \"quoted\"",
        "$HOME",
        "`touch /tmp/easytdv-pwned`",
        "; echo pwned",
        "two\nlines",
        "",
        "--epochs=3",
    ]
    .map(String::from)
    .to_vec()
}

const GREETING: &str = "hello $(echo pwned) `id` ; world";

fn request_with_args(b: &str, engine: Engine, instance_type: &str) -> TrainRequest {
    TrainRequest {
        instance_type: instance_type.into(),
        engine,
        args: nasty_args(),
        env: vec![EnvVar::new("GREETING", GREETING)],
        ..request("args", b)
    }
}

fn train_lines(h: &Harness) -> Vec<String> {
    h.events
        .lines()
        .into_iter()
        .filter(|(name, _)| *name == LogName::Train)
        .map(|(_, l)| l.text)
        .collect()
}

/// The JSON lines train.py printed: its argv and the variable, literally.
fn assert_printed_literally(lines: &[String]) {
    let strip = |l: &str| {
        l.rsplit_once("] ")
            .filter(|_| l.starts_with("[algo-"))
            .map_or(l.to_string(), |(_, t)| t.to_string())
    };
    let lines: Vec<String> = lines.iter().map(|l| strip(l)).collect();
    let printed = |key: &str| -> serde_json::Value {
        let line = lines
            .iter()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} line: {lines:#?}"));
        serde_json::from_str(line).expect("JSON")
    };
    assert_eq!(printed("ARGV="), serde_json::json!(nasty_args()));
    assert_eq!(printed("GREETING="), serde_json::json!(GREETING));
    // Nothing was run by a shell: "pwned" only inside what train.py printed.
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("pwned") && !l.starts_with("ARGV=") && !l.starts_with("GREETING=")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn ec2_train_py_gets_its_arguments_and_variables_exactly_and_ssm_never_sees_them() {
    let h = Harness::new().await;
    let b = bucket("args");
    let mut train = h.train(request_with_args(&b, Engine::Ec2, "t3.medium"));
    let report = train
        .run_from(Step::Prepare)
        .await
        .expect("the run succeeds");
    assert!(report.training.succeeded());
    assert_printed_literally(&train_lines(&h));
    assert!(!std::path::Path::new("/tmp/easytdv-pwned").exists());

    // Exactly, in the outputs.
    let res = train.resources().clone();
    let given: serde_json::Value = serde_json::from_str(
        &get_text(&h.ctx, &b, &format!("{}given.json", res.outputs_prefix())).await,
    )
    .unwrap();
    assert_eq!(given["argv"], serde_json::json!(nasty_args()));
    assert_eq!(given["greeting"], GREETING);

    // The SSM commands of the run (what SSM keeps in its history) name the
    // arguments' file by its SHA-256, never its content.
    let instance = res.instance_id.clone().expect("instance");
    let commands = h
        .ctx
        .ssm()
        .list_commands()
        .instance_id(&instance)
        .send()
        .await
        .expect("list commands");
    let texts: Vec<String> = commands
        .commands()
        .iter()
        .flat_map(|c| {
            c.parameters()
                .and_then(|p| p.get("commands"))
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("easytdv-run-args.bin")),
        "{texts:#?}"
    );
    let all = texts.join("\n");
    for secretish in [
        "my run",
        "quoted",
        "touch /tmp",
        "echo pwned",
        "two\nlines",
        "--epochs=3",
        GREETING,
        "GREETING",
    ] {
        assert!(
            !all.contains(secretish),
            "{secretish:?} is in the command text"
        );
    }
    // The file sits with the scripts, in the machine's folder (deleted with the run's inputs).
    let folder = res.machine_prefix().to_string();
    assert!(list(&h.ctx, &b, &format!("{folder}/scripts/"))
        .await
        .contains(&format!("{folder}/scripts/easytdv-run-args.bin")));
    train.delete_resources().await.expect("delete");
    let (live, stack, inputs) = leftovers(&h.ctx, &res.run_id, &b).await;
    assert!(
        live.is_empty() && stack.is_none() && inputs.is_empty(),
        "{live:?} {stack:?} {inputs:?}"
    );
}

#[tokio::test]
async fn sagemaker_train_py_gets_its_arguments_through_the_launcher_and_variables_in_the_environment(
) {
    let h = Harness::new().await;
    let b = bucket("smargs");
    let engine = Engine::SageMaker {
        instance_count: 1,
        spot: false,
    };
    let mut train = h.train(request_with_args(&b, engine, "ml.c5.2xlarge"));
    let report = train
        .run_from(Step::Prepare)
        .await
        .expect("the job completes");
    assert_eq!(report.training.status, "Completed");
    assert_printed_literally(&train_lines(&h));

    // The job: the launcher is the program, no argument is a hyperparameter,
    // the variable is in its Environment (visible there: plain variables only).
    let job = train.resources().training_job_name.clone().expect("job");
    let d = h
        .ctx
        .sagemaker()
        .describe_training_job()
        .training_job_name(&job)
        .send()
        .await
        .expect("describe");
    let hps = d.hyper_parameters().cloned().unwrap_or_default();
    assert_eq!(hps["sagemaker_program"], "\"easytdv_launch.py\"");
    let hp_text = format!("{hps:?}");
    for arg in ["my run", "quoted", "--epochs", "two"] {
        assert!(!hp_text.contains(arg), "{arg} in {hp_text}");
    }
    let env = d.environment().cloned().unwrap_or_default();
    assert_eq!(env.get("GREETING").map(String::as_str), Some(GREETING));
    train.delete_resources().await.expect("delete");
}

/// A retry reads the request back from the history: train.py gets the same
/// arguments and variables again (the arguments' file is sent again).
#[tokio::test]
async fn a_retry_from_the_history_passes_the_same_arguments_again() {
    use easytdv_core::history::History;
    use easytdv_core::pipeline::Tracked;
    use easytdv_core::runs::{CleanupPolicy, Runs};
    use std::sync::Arc;

    let h = Harness::new().await;
    let b = bucket("argsretry");
    let runs = Runs::new(Arc::new(History::in_memory().unwrap()));
    let progress = Tracked::new(Arc::new(h.events.clone()));
    let ready = runs
        .open(
            h.ctx.clone(),
            "acc-1",
            request_with_args(&b, Engine::Ec2, "t3.medium"),
            progress.clone(),
        )
        .expect("open");
    let run_id = ready.run_id().to_string();
    let end = runs.execute(ready, &progress, CleanupPolicy::Never).await;
    assert!(end.result.is_ok(), "{:?}", end.result.err());
    let given_key = format!("easytdv/runs/{run_id}/outputs/given.json");
    h.ctx
        .s3()
        .delete_object()
        .bucket(&b)
        .key(&given_key)
        .send()
        .await
        .expect("delete the first given.json");

    let retry = runs.retryable(&run_id).expect("retryable");
    assert_eq!(retry.request.args, nasty_args());
    assert_eq!(retry.request.env, vec![EnvVar::new("GREETING", GREETING)]);
    let ready = runs
        .resume(h.ctx.clone(), retry, Step::Training, progress.clone())
        .expect("resume");
    let end = runs.execute(ready, &progress, CleanupPolicy::Always).await;
    assert!(end.result.is_ok(), "{:?}", end.result.err());
    let given: serde_json::Value =
        serde_json::from_str(&get_text(&h.ctx, &b, &given_key).await).unwrap();
    assert_eq!(given["argv"], serde_json::json!(nasty_args()));
    assert_eq!(given["greeting"], GREETING);
}
