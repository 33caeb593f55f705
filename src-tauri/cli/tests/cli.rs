//! The headless CLI end to end: exit codes, timeline, status and delete.

#[path = "../../core/tests/it/common.rs"]
#[allow(dead_code)]
mod common;

use common::*;
use sha2::Digest;
use std::process::Command;

fn easytdv(data_dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_easytdv"))
        .args(args)
        .env("EASYTDV_DATA_DIR", data_dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run easytdv");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `easytdv train` arguments; `access` is e.g. `["--sandbox", url]`.
fn train_args<'a>(
    case: &'a str,
    bucket: &'a str,
    access: [&'a str; 2],
    extra: &[&'a str],
) -> Vec<String> {
    let script = fixture(&format!("{case}/train.py")).display().to_string();
    let reqs = fixture(&format!("{case}/requirements.txt"))
        .display()
        .to_string();
    let mut v: Vec<String> = [
        "train",
        "--script",
        &script,
        "--requirements",
        &reqs,
        "--region",
        REGION,
        "--bucket",
        bucket,
        access[0],
        access[1],
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run_id_of(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("run "))
        .expect("run id line")
        .trim()
        .to_string()
}

#[tokio::test]
async fn train_succeeds_prints_a_timeline_and_cleans_up() {
    let data = tempfile::tempdir().unwrap();
    let (ep, b) = (endpoint(), bucket("cliok"));
    let args = train_args("ok", &b, ["--sandbox", &ep], &[]);
    let (code, out, err) = easytdv(
        data.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    for label in [
        "Prepare files",
        "Create cloud resources",
        "Start the machine",
        "Install requirements",
        "Run training",
        "Collect outputs",
        "Delete resources",
    ] {
        assert!(
            out.contains(&format!("✓ {label}")),
            "{label} missing in:\n{out}"
        );
    }
    // What was sent of the project (the fixture's folder: train.py and requirements.txt).
    assert!(
        out.contains(&format!(
            "Project: 2 files sent (507 bytes); the run's files are in s3://{b}/"
        )),
        "{out}"
    );
    let run_id = run_id_of(&out);
    assert!(
        out.trim_end()
            .ends_with(&format!("succeeded: run {run_id}")),
        "{out}"
    );
    let ctx = ctx().await;
    let (live, stack, inputs) = leftovers(&ctx, &run_id, &b).await;
    assert!(live.is_empty() && stack.is_none() && inputs.is_empty());
    // The history knows the run; status answers from AWS.
    let (code, out, _) = easytdv(data.path(), &["status", &run_id, "--sandbox", &ep]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Deleted") && out.contains("stack") && out.contains("none"),
        "{out}"
    );
    // The run used easyTDV's shared resources of its region, which stay.
    let (code, out, err) = easytdv(
        data.path(),
        &["shared", "--region", REGION, "--json", "--sandbox", &ep],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let found: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        found["sites"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["region"] == REGION && s["status"].as_str().unwrap().ends_with("_COMPLETE")),
        "{out}"
    );
}

#[tokio::test]
async fn keep_warm_hands_the_machine_on_and_warm_lists_and_stops_it() {
    let data = tempfile::tempdir().unwrap();
    let (ep, b) = (endpoint(), bucket("cliwarm"));
    // --keep keeps everything; --keep-warm hands the machine on: not both.
    let both = train_args(
        "ok",
        &b,
        ["--sandbox", &ep],
        &["--keep", "--keep-warm", "10m"],
    );
    let (code, _, err) = easytdv(
        data.path(),
        &both.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--keep and --keep-warm do not go together"),
        "{err}"
    );
    let bad = train_args("ok", &b, ["--sandbox", &ep], &["--keep-warm", "3 days"]);
    let (code, _, err) = easytdv(
        data.path(),
        &bad.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 2, "{err}");

    let args = train_args("ok", &b, ["--sandbox", &ep], &["--keep-warm", "10m"]);
    let (code, out, err) = easytdv(
        data.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("kept warm until"), "{out}");
    let (code, out, err) = easytdv(data.path(), &["warm", "--json", "--sandbox", &ep]);
    assert_eq!(code, 0, "{out}\n{err}");
    let listed: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = listed[0]["instanceId"]
        .as_str()
        .expect("one machine kept warm")
        .to_string();
    let ctx = ctx().await;
    let state = |ctx: easytdv_core::aws::AwsContext, id: String| async move {
        easytdv_core::pipeline::instance_state(&ctx, &id)
            .await
            .unwrap()
            .map(|s| s.as_str().to_string())
    };
    assert_eq!(
        state(ctx.clone(), id.clone()).await.as_deref(),
        Some("running")
    );
    // Not a warm machine: refused as bad input.
    let (code, _, err) = easytdv(
        data.path(),
        &["warm", "--stop", "i-0123456789abcdef0", "--sandbox", &ep],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a machine kept warm"), "{err}");
    let (code, out, err) = easytdv(data.path(), &["warm", "--stop", &id, "--sandbox", &ep]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains(&format!("{id} terminated")), "{out}");
    assert_eq!(state(ctx, id).await.as_deref(), Some("terminated"));
    let (code, out, _) = easytdv(data.path(), &["warm", "--sandbox", &ep]);
    assert_eq!(code, 0);
    assert!(out.contains("no machine is kept warm"), "{out}");
}

#[tokio::test]
async fn a_failing_script_exits_3_and_keep_leaves_resources_for_delete() {
    let data = tempfile::tempdir().unwrap();
    let (ep, b) = (endpoint(), bucket("clifail"));
    let args = train_args("fails", &b, ["--sandbox", &ep], &["--keep"]);
    let (code, out, err) = easytdv(
        data.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(
        err.contains("ValueError: the learning rate is negative"),
        "{err}"
    );
    assert!(err.contains("what to do:"), "{err}");
    let run_id = run_id_of(&out);
    let ctx = ctx().await;
    let (live, stack, _) = leftovers(&ctx, &run_id, &b).await;
    assert_eq!(live.len(), 1, "kept the machine");
    assert!(
        stack.is_none(),
        "an EC2 run has no stack of its own (the base is shared)"
    );
    // The partial outputs come home.
    let dest = data.path().join("results");
    let dest_s = dest.display().to_string();
    let (code, out, err) = easytdv(
        data.path(),
        &["outputs", &run_id, "--to", &dest_s, "--sandbox", &ep],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        std::fs::read_to_string(dest.join("partial.txt")).unwrap(),
        "epoch 1\n"
    );
    let (code, out, err) = easytdv(data.path(), &["delete", &run_id, "--sandbox", &ep]);
    assert_eq!(code, 0, "{out}\n{err}");
    let (live, stack, inputs) = leftovers(&ctx, &run_id, &b).await;
    assert!(live.is_empty() && stack.is_none() && inputs.is_empty());
}

#[test]
fn bad_input_exits_2_with_the_field_and_the_fix() {
    let data = tempfile::tempdir().unwrap();
    let args = train_args("ok", "Bad_Bucket", ["--sandbox", "http://127.0.0.1:9"], &[]);
    let (code, _, err) = easytdv(
        data.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bucket name \"Bad_Bucket\" is not valid") && err.contains("what to do:"),
        "{err}"
    );
    let (code, _, err) = easytdv(
        data.path(),
        &[
            "status",
            "20200101-000000-abcdef",
            "--sandbox",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no run 20200101-000000-abcdef"), "{err}");
}

#[test]
fn bad_engine_options_exit_2_with_what_to_do() {
    let data = tempfile::tempdir().unwrap();
    let b = bucket("cli-sm");
    let run = |extra: &[&str]| {
        let args = train_args("ok", &b, ["--sandbox", "http://127.0.0.1:9"], extra);
        easytdv(
            data.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let (code, _, err) = run(&["--instance-count", "2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("add --engine sagemaker"), "{err}");
    let (code, _, err) = run(&["--engine", "sagemaker", "--instance-count", "0"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--instance-count"), "{err}");
    let (code, _, err) = run(&["--engine", "emr"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("ec2") && err.contains("sagemaker"), "{err}");
    let (code, _, err) = run(&["--engine", "sagemaker", "--instance-type", "g5.xlarge"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("not a SageMaker training type") && err.contains("ml.m5.large"),
        "{err}"
    );
}

/// What a headless user gets wrong is bad input (exit 2) with a clear
/// message, before any AWS call that could leave something behind.
#[tokio::test]
async fn wrong_profile_region_or_machine_type_exit_2_before_anything_is_made() {
    let data = tempfile::tempdir().unwrap();
    let aws = tempfile::tempdir().unwrap();
    let config = aws.path().join("config");
    std::fs::write(
        &config,
        "[profile work]\nregion = eu-west-3\n[profile home]\nregion = us-east-1\n",
    )
    .unwrap();
    let args = train_args("ok", "easytdv-cli-profile", ["--profile", "nope"], &[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_easytdv"))
        .args(&args)
        .env("EASYTDV_DATA_DIR", data.path())
        .env("AWS_CONFIG_FILE", &config)
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            aws.path().join("credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no AWS profile named \"nope\"")
            && (err.contains("home, work") || err.contains("work, home")),
        "{err}"
    );

    let mut args = train_args("ok", "easytdv-cli-region", ["--sandbox", &endpoint()], &[]);
    let at = args.iter().position(|a| a == "--region").unwrap();
    args[at + 1] = "eu-west-99".into();
    let (code, _, err) = easytdv(
        data.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("region \"eu-west-99\" is not an AWS region") && err.contains("eu-west-3"),
        "{err}"
    );

    let b = bucket("cli-type");
    let args = train_args(
        "ok",
        &b,
        ["--sandbox", &endpoint()],
        &["--instance-type", "zz9.huge"],
    );
    let (code, _, err) = easytdv(
        data.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("zz9.huge is not offered in eu-west-3"),
        "{err}"
    );
    let ctx = ctx().await;
    assert!(
        ctx.s3().head_bucket().bucket(&b).send().await.is_err(),
        "nothing was created"
    );
}

#[tokio::test]
async fn aws_context_reaches_sts_and_s3_of_the_sandbox() {
    let ctx = ctx().await;
    let who = ctx.sts().get_caller_identity().send().await.expect("sts");
    assert_eq!(who.account(), Some("123456789012"));
    let b = bucket("ctx");
    create_bucket(&ctx, &b).await;
    let names: Vec<String> = ctx
        .s3()
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|x| x.name().map(str::to_string))
        .collect();
    assert!(names.contains(&b));
    assert!(ctx.calls() >= 3, "the call counter counts operations");
}

#[tokio::test]
async fn a_saved_app_account_can_be_used_by_name() {
    let data = tempfile::tempdir().unwrap();
    let accounts = easytdv_core::accounts::Accounts::open(data.path());
    accounts
        .add_sandbox(easytdv_core::accounts::SandboxInput {
            name: "Local".into(),
            endpoint: endpoint(),
            region: REGION.into(),
        })
        .expect("save a sandbox account");
    let b = bucket("cliacct");
    let args = train_args("ok", &b, ["--account", "Local"], &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = easytdv(data.path(), &args);
    assert_eq!(code, 0, "{out}\n{err}");
    let mut wrong = args.clone();
    let at = wrong.iter().position(|a| *a == "Local").unwrap();
    wrong[at] = "Nope";
    let (code, _, err) = easytdv(data.path(), &wrong);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no saved account named \"Nope\"") && err.contains("Local"),
        "{err}"
    );
}

/// `setup-aws --plan` with an administrator's profile: the plan is printed and
/// nothing is created (the profile here is an administrator of the sandbox).
#[tokio::test]
async fn setup_aws_plan_shows_what_would_be_created_and_creates_nothing() {
    let data = tempfile::tempdir().unwrap();
    let aws = tempfile::tempdir().unwrap();
    let config = aws.path().join("config");
    std::fs::write(
        &config,
        format!(
            "[profile admin]\nregion = eu-west-3\nendpoint_url = {}\n",
            endpoint()
        ),
    )
    .unwrap();
    let creds = aws.path().join("credentials");
    std::fs::write(
        &creds,
        format!(
            "[admin]\naws_access_key_id = {}\naws_secret_access_key = x\n",
            easytdv_core::aws::sandbox::derived_key(&sandbox_key(), "test-admin")
        ),
    )
    .unwrap();
    let user = format!("easytdv-cli-{}", std::process::id());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_easytdv"))
        .args([
            "setup-aws",
            "--admin-profile",
            "admin",
            "--region",
            "eu-west-3",
        ])
        .args(["--user", &user, "--plan"])
        .env("EASYTDV_DATA_DIR", data.path())
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("AWS account 123456789012"), "{stdout}");
    assert!(
        stdout.contains("keep   the policy easytdv-boundary"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("create the IAM user {user}")),
        "{stdout}"
    );
    let iam = aws_sdk_iam::Client::new(&admin_config(REGION).await);
    assert!(
        iam.get_user().user_name(&user).send().await.is_err(),
        "--plan created the user"
    );
}

/// A notebook that is not valid JSON: exit 2 with what is wrong and what to
/// do, before anything is created (no bucket, no run in the history).
#[tokio::test]
async fn a_notebook_that_is_not_json_exits_2_and_creates_nothing() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let nb = dir.path().join("train.ipynb");
    std::fs::write(&nb, "{\"nbformat\": 4, \"cells\": [\n").unwrap();
    let b = bucket("cli-nb");
    let mut args = train_args("ok", &b, ["--sandbox", &endpoint()], &[]);
    let at = args.iter().position(|a| a == "--script").unwrap();
    args[at + 1] = nb.display().to_string();
    let (code, out, err) = easytdv(
        data.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("the notebook train.ipynb is not valid JSON")
            && err.contains("line 2")
            && err.contains("what to do:")
            && err.contains("save it again"),
        "{err}"
    );
    assert!(!out.contains("run "), "no run was opened: {out}");
    let ctx = ctx().await;
    assert!(ctx.s3().head_bucket().bucket(&b).send().await.is_err());
    let (code, out, err) = easytdv(data.path(), &["list", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("train.ipynb") && !out.contains("runId"),
        "{out}"
    );
}

/// `-- ARGS` reach train.py exactly (no shell on the way) and `--env` sets
/// its variables; both are kept in the history.
#[tokio::test]
async fn script_arguments_after_double_dash_and_env_variables_reach_train_py() {
    let data = tempfile::tempdir().unwrap();
    let (ep, b) = (endpoint(), bucket("cliargs"));
    let nasty = [
        "--name",
        "my run",
        "$HOME",
        "a;b",
        "two\nlines",
        "--epochs",
        "3",
    ];
    let mut args = train_args(
        "args",
        &b,
        ["--sandbox", &ep],
        &["--env", "GREETING=hi $(id) there", "--env", "EMPTY=", "--"],
    );
    args.extend(nasty.iter().map(|s| s.to_string()));
    let (code, out, err) = easytdv(
        data.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let run_id = run_id_of(&out);
    let ctx = ctx().await;
    let given: serde_json::Value = serde_json::from_str(
        &get_text(
            &ctx,
            &b,
            &format!("easytdv/runs/{run_id}/outputs/given.json"),
        )
        .await,
    )
    .unwrap();
    assert_eq!(given["argv"], serde_json::json!(nasty));
    assert_eq!(given["greeting"], "hi $(id) there");
    // The history keeps them (a retry reuses them).
    let (code, listed, _) = easytdv(data.path(), &["list", "--json"]);
    assert_eq!(code, 0);
    let runs: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let request = &runs[0]["request"];
    assert_eq!(request["args"], serde_json::json!(nasty));
    assert_eq!(
        request["env"],
        serde_json::json!([{"name": "GREETING", "value": "hi $(id) there"}, {"name": "EMPTY", "value": ""}])
    );
}

/// Bad variables are bad input: exit 2, what to do, and no run recorded
/// (the sandbox address is unreachable: nothing could have been created).
#[test]
fn bad_variables_exit_2_and_create_nothing() {
    let data = tempfile::tempdir().unwrap();
    let b = bucket("cli-env");
    let run = |extra: &[&str]| {
        let args = train_args("ok", &b, ["--sandbox", "http://127.0.0.1:9"], extra);
        easytdv(
            data.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    for (extra, words) in [
        (
            &["--env", "1X=3"][..],
            "\"1X\" is not a valid environment variable name",
        ),
        (
            &["--env", "MY-VAR=3"][..],
            "not a valid environment variable name",
        ),
        (
            &["--env", "OUTPUT_DIR=/tmp"][..],
            "the variable OUTPUT_DIR cannot be set: easyTDV sets it",
        ),
        (
            &["--env", "EASYTDV_HOME=/x"][..],
            "EASYTDV_ are easyTDV's own",
        ),
        (&["--env", "AWS_ACCESS_KEY_ID=AKIA"][..], "the run's role"),
        (
            &["--env", "A=1", "--env", "A=2"][..],
            "the variable A is given twice",
        ),
        (
            &["--env", "NOEQUALS"][..],
            "is not a variable: write it as NAME=value",
        ),
        (
            &["--data", "/nonexistent/easytdv-data"][..],
            "the data folder /nonexistent/easytdv-data does not exist",
        ),
    ] {
        let (code, out, err) = run(extra);
        assert_eq!(code, 2, "{extra:?}: {out}{err}");
        assert!(err.contains(words), "{extra:?}: {err}");
        assert!(!out.contains("run "), "{extra:?}: {out}");
    }
    let (code, listed, _) = easytdv(data.path(), &["list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(listed.trim(), "[]", "no run was recorded");
}

/// `easytdv` with `input` on its standard input.
fn easytdv_stdin(data_dir: &std::path::Path, args: &[&str], input: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_easytdv"))
        .args(args)
        .env("EASYTDV_DATA_DIR", data_dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run easytdv");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("easytdv ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const HF_VALUE: &str = "hf_CLItestSECRETvalue0123456789";

fn no_file_holds(dir: &std::path::Path, needle: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            no_file_holds(&path, needle);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(needle),
                "{} holds the secret",
                path.display()
            );
        }
    }
}

/// `easytdv secrets set|list|delete` against the OS keychain (`./dev test`
/// gives the tests a Secret Service of their own): the value comes from
/// standard input, is never printed, and is never written in the data folder.
#[test]
fn secrets_are_set_from_stdin_listed_by_name_and_deleted() {
    let data = tempfile::tempdir().unwrap();
    let accounts = easytdv_core::accounts::Accounts::open(data.path());
    accounts
        .add_sandbox(easytdv_core::accounts::SandboxInput {
            name: "Local".into(),
            endpoint: "http://127.0.0.1:9".into(),
            region: REGION.into(),
        })
        .expect("save an account");
    let d = data.path();
    let set = ["secrets", "set", "--account", "Local", "HF_TOKEN"];
    let (code, out, err) = easytdv_stdin(d, &set, &format!("{HF_VALUE}\n"));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("saved the secret HF_TOKEN") && out.contains("--secret HF_TOKEN"),
        "{out}"
    );
    let (code, out, _) = easytdv(d, &["secrets", "list", "--account", "Local"]);
    assert_eq!((code, out.as_str()), (0, "HF_TOKEN\n"));
    let (_, json, _) = easytdv(d, &["secrets", "list", "--account", "Local", "--json"]);
    assert_eq!(json.trim(), r#"["HF_TOKEN"]"#);
    // The keychain holds the value, without its line break.
    let run = accounts
        .run_secrets(&accounts.list().unwrap()[0].id, &["HF_TOKEN".into()])
        .unwrap();
    assert_eq!(run.iter().next().unwrap().value.expose(), HF_VALUE);

    // Bad input: exit 2, said plainly, nothing stored.
    let (code, _, err) = easytdv_stdin(
        d,
        &["secrets", "set", "--account", "Local", "WANDB_API_KEY"],
        "\n",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the secret WANDB_API_KEY is empty"), "{err}");
    let (code, _, err) = easytdv_stdin(d, &["secrets", "set", "--account", "Local", "1TOKEN"], "v");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("must be a valid environment variable name") && err.contains("what to do"),
        "{err}"
    );
    let (code, _, err) = easytdv_stdin(d, &["secrets", "set", "--account", "Local", "PATH"], "v");
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = easytdv_stdin(d, &["secrets", "set", "--account", "Nope", "X"], "v");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no saved account named \"Nope\""), "{err}");
    // The value is never an argument.
    let (code, _, _) = easytdv(d, &["secrets", "set", "--account", "Local", "X", "value"]);
    assert_eq!(code, 2);
    let (_, out, _) = easytdv(d, &["secrets", "list", "--account", "Local"]);
    assert_eq!(out, "HF_TOKEN\n", "nothing else was stored");

    let (code, out, err) = easytdv(d, &["secrets", "delete", "--account", "Local", "HF_TOKEN"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = easytdv(d, &["secrets", "delete", "--account", "Local", "HF_TOKEN"]);
    assert_eq!(code, 2);
    assert!(err.contains("there is no secret named HF_TOKEN"), "{err}");
    let (_, out, err) = easytdv(d, &["secrets", "list", "--account", "Local"]);
    assert!(out.is_empty() && err.contains("no secrets"), "{out}{err}");
    no_file_holds(d, HF_VALUE);
    accounts.delete(&accounts.list().unwrap()[0].id).unwrap();
}

/// `train --secret`: a name the account does not have, a name that is not an
/// environment variable, a run without a saved account, or a SageMaker run, each exit 2
/// before anything exists (no run in the history, no bucket); a known secret
/// reaches train.py.
#[tokio::test]
async fn train_with_secrets_refuses_unknown_names_and_delivers_known_ones() {
    let data = tempfile::tempdir().unwrap();
    let accounts = easytdv_core::accounts::Accounts::open(data.path());
    let account = accounts
        .add_sandbox(easytdv_core::accounts::SandboxInput {
            name: "Local".into(),
            endpoint: endpoint(),
            region: REGION.into(),
        })
        .expect("save a sandbox account");
    let d = data.path();
    let b = bucket("clisecret");
    let run = |access: [&str; 2], secret: &str| {
        let args = train_args("secrets", &b, access, &["--secret", secret]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        easytdv(d, &args)
    };
    let (code, _, err) = run(["--account", "Local"], "HF_TOKEN");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("there is no secret named HF_TOKEN for the account \"Local\"")
            && err.contains("easytdv secrets set"),
        "{err}"
    );
    let (code, _, err) = run(["--account", "Local"], "HF-TOKEN");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("must be a valid environment variable name"),
        "{err}"
    );
    let url = endpoint();
    let (code, _, err) = run(["--sandbox", &url], "HF_TOKEN");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--secret needs --account"), "{err}");
    // A SageMaker run takes secrets too: the same keychain check, before anything is made.
    let args = train_args(
        "secrets",
        &b,
        ["--account", "Local"],
        &["--secret", "HF_TOKEN", "--engine", "sagemaker"],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = easytdv(d, &args);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("there is no secret named HF_TOKEN for the account \"Local\"")
            && !err.contains("EC2"),
        "{err}"
    );
    let (_, list, _) = easytdv(d, &["list", "--json"]);
    assert_eq!(list.trim(), "[]", "no run was opened");
    let ctx = ctx().await;
    assert!(
        ctx.s3().head_bucket().bucket(&b).send().await.is_err(),
        "no bucket was made"
    );

    accounts
        .set_secret(
            &account.id,
            "HF_TOKEN",
            &easytdv_core::secret::Sensitive::new(HF_VALUE),
        )
        .unwrap();
    let (code, out, err) = run(["--account", "Local"], "HF_TOKEN");
    assert_eq!(code, 0, "{out}\n{err}");
    let run_id = run_id_of(&out);
    let (_, log, _) = easytdv(d, &["logs", &run_id, "--account", "Local"]);
    let digest: String = sha2::Sha256::digest(HF_VALUE.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let want = format!("HF_TOKEN sha256 {digest}");
    assert!(log.contains(&want), "{log}");
    assert!(log.contains("secret names visible: False"), "{log}");
    assert!(!format!("{out}{err}{log}").contains(HF_VALUE));
    no_file_holds(d, HF_VALUE);
    accounts.delete(&account.id).unwrap();
}

/// The project folder is checked and shown before anything is made: what is
/// sent, what is not and why; a wrong folder, a missing requirements file
/// or a plain-http index is bad input (exit 2).
#[test]
fn the_project_is_checked_and_summarised_before_anything_is_made() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("proj");
    let w = |rel: &str, body: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    w("train.py", "import model\n");
    w("model.py", "W = 1\n");
    w("data/points.csv", "x\n1\n");
    w(".git/HEAD", "ref\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/hostname", root.join("host")).unwrap();
    let script = root.join("train.py").display().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--script",
            &script,
            "--region",
            REGION,
            "--bucket",
            "easytdv-cli-project",
            "--sandbox",
            "http://127.0.0.1:9",
        ];
        args.extend_from_slice(extra);
        easytdv(data.path(), &args)
    };
    // No requirements.txt in the folder, none given.
    let (code, _, err) = run(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no requirements.txt") && err.contains("--requirements"),
        "{err}"
    );
    // A uv project (pyproject.toml + uv.lock): its lock is the requirements.
    w(
        "pyproject.toml",
        "[project]\nname = \"p\"\nversion = \"0\"\n",
    );
    w("uv.lock", "version = 1\n");
    let (_, out, err) = run(&[]);
    assert!(err.contains("at http://127.0.0.1:9"), "{err}");
    assert!(out.contains("(5 files, "), "{out}");
    std::fs::remove_file(root.join("pyproject.toml")).unwrap();
    std::fs::remove_file(root.join("uv.lock")).unwrap();
    // Found in the folder by default; the project is told, then the (dead) sandbox fails.
    w("requirements.txt", "six\n");
    let (_, out, err) = run(&[]);
    assert!(err.contains("at http://127.0.0.1:9"), "{err}");
    assert!(
        out.contains(&format!(
            "project {}",
            std::fs::canonicalize(&root).unwrap().display()
        )) && out.contains("(4 files, "),
        "{out}"
    );
    assert!(out.contains("not sent: .git (never sent)"), "{out}");
    #[cfg(unix)]
    assert!(
        err.contains("note: host is a link to /etc/hostname, outside the project"),
        "{err}"
    );
    // The script outside the folder given with --project.
    let data_dir = root.join("data").display().to_string();
    let (code, _, err) = run(&["--project", &data_dir]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not inside the project folder"), "{err}");
    // A plain-http index.
    w(
        "requirements.txt",
        "--index-url http://pypi.example/simple\nsix\n",
    );
    let (code, _, err) = run(&[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("plain http://") && err.contains("https://"),
        "{err}"
    );
}

/// `easytdv stored`: the project and data files of a bucket with their
/// count, bytes and monthly cost; `--delete-files` deletes them (none is
/// needed by a run in progress here) and says how many; a bad bucket name
/// is bad input (exit 2).
#[tokio::test]
async fn stored_lists_a_buckets_files_and_deletes_them() {
    let data = tempfile::tempdir().unwrap();
    let (code, _, err) = easytdv(
        data.path(),
        &[
            "stored",
            "--bucket",
            "Bad_Bucket",
            "--region",
            REGION,
            "--sandbox",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("Bad_Bucket") && err.contains("what to do:"),
        "{err}"
    );

    let ctx = ctx().await;
    let b = bucket("cli-stored");
    create_bucket(&ctx, &b).await;
    for body in ["one\n", "three\n"] {
        let sha = easytdv_core::project::manifest::hex(&sha2::Sha256::digest(body.as_bytes()));
        ctx.s3()
            .put_object()
            .bucket(&b)
            .key(format!("easytdv/blobs/{sha}"))
            .body(body.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let endpoint = endpoint();
    let args = |extra: &[&'static str]| {
        let mut v = vec![
            "stored",
            "--bucket",
            &b,
            "--region",
            REGION,
            "--sandbox",
            &endpoint,
        ];
        v.extend_from_slice(extra);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        easytdv(
            data.path(),
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let (code, out, err) = run(args(&["--json"]));
    assert_eq!(code, 0, "{err}");
    let listing: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(listing["files"]["count"], 2, "{out}");
    assert_eq!(listing["files"]["sizeBytes"], 10.0, "{out}");
    let (code, out, err) = run(args(&[]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("project and data files: 2 file(s), 10 bytes"),
        "{out}"
    );
    let (code, out, err) = run(args(&["--delete-files"]));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("deleted 2 project and data file(s)") && out.contains("kept 0"),
        "{out}"
    );
    assert!(list(&ctx, &b, "easytdv/blobs/").await.is_empty());
}

#[tokio::test]
async fn shared_prepare_makes_a_region_ready_once_and_refuses_a_bad_bucket_name() {
    const PREPARED: &str = "ap-northeast-1";
    let data = tempfile::tempdir().unwrap();
    let ep = endpoint();
    let args = [
        "shared",
        "--prepare",
        "--region",
        PREPARED,
        "--json",
        "--sandbox",
        &ep,
    ];
    let (code, out, err) = easytdv(data.path(), &args);
    assert_eq!(code, 0, "{out}\n{err}");
    let ready: serde_json::Value = serde_json::from_str(&out).unwrap();
    let made = ready["bucket"].as_str().unwrap().to_string();
    assert!(
        made.starts_with("easytdv-123456789012-ap-northeast-1-"),
        "{out}"
    );
    assert_eq!(ready["region"], PREPARED);
    // Again: the same bucket, found; the shared resources listed as there.
    let (code, out, err) = easytdv(data.path(), &args);
    assert_eq!(code, 0, "{out}\n{err}");
    let again: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (again["bucket"].as_str(), again["bucketCreated"].as_bool()),
        (Some(made.as_str()), Some(false))
    );
    let (code, out, _) = easytdv(
        data.path(),
        &["shared", "--region", PREPARED, "--sandbox", &ep],
    );
    assert_eq!(code, 0);
    assert!(
        out.contains(PREPARED) && out.contains("ready, free"),
        "{out}"
    );
    // A bucket name S3 refuses: exit 2, before anything is made.
    let (code, _, err) = easytdv(
        data.path(),
        &[
            "shared",
            "--prepare",
            "--bucket",
            "Bad_Name",
            "--region",
            PREPARED,
            "--sandbox",
            &ep,
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Bad_Name"), "{err}");
    // --prepare names its region; --bucket only with --prepare; --prepare and --remove not together.
    let (code, _, err) = easytdv(data.path(), &["shared", "--prepare", "--sandbox", &ep]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--region"), "{err}");
    let (code, _, _) = easytdv(
        data.path(),
        &[
            "shared",
            "--bucket",
            "b",
            "--region",
            PREPARED,
            "--sandbox",
            &ep,
        ],
    );
    assert_eq!(code, 2);
    let (code, _, _) = easytdv(
        data.path(),
        &["shared", "--prepare", "--remove", "--sandbox", &ep],
    );
    assert_eq!(code, 2);
    // (Not removed here: removal looks at every region, where other tests' runs use theirs.)
}

/// `easytdv sweep`: the plan and its price printed, three runs side by
/// side, a table with the best one marked; bad values exit 2 before any
/// AWS call; a failing run exits 3 and the others still run.
#[tokio::test]
async fn sweep_runs_a_grid_names_the_best_and_exits_3_when_a_run_fails() {
    let ep = endpoint();
    let b = bucket("cli-sweep");
    let data = tempfile::tempdir().unwrap();
    let mut args = train_args("sweep", &b, ["--sandbox", &ep], &[]);
    args[0] = "sweep".into();
    let with = |extra: &[&str]| {
        let mut a = args.clone();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        easytdv(data.path(), &refs)
    };
    // Bad values: told before anything is asked of AWS (an unreachable sandbox).
    for (extra, says) in [
        (vec!["--grid", "lr"], "NAME=V1,V2"),
        (vec!["--grid", "l r=1,2"], "not an argument name"),
        (vec!["--grid", "lr=1"], "at least two"),
        (vec![], "a sweep needs values"),
        (vec!["--grid", "lr=1,2", "--at-once", "0"], "choose 1 to 16"),
    ] {
        let mut a = train_args("sweep", &b, ["--sandbox", "http://127.0.0.1:9"], &[]);
        a[0] = "sweep".into();
        a.extend(extra.iter().map(|s| s.to_string()));
        let (code, _, err) = run(a);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(says), "{extra:?}: {err}");
    }
    // --plan: the runs and the price, nothing started.
    let (code, out, err) = run(with(&[
        "--grid",
        "lr=0.1,0.01",
        "--grid",
        "epochs=2,3",
        "--plan",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("sweep of 4 runs, at most 4 at once"), "{out}");
    assert!(
        out.contains("lr=0.01 epochs=3") && out.contains("--lr 0.01 --epochs 3"),
        "{out}"
    );
    assert!(out.contains("price: "), "{out}");
    assert!(!out.contains("sweep sweep-"), "{out}");
    // A grid of three: all succeed, the best is lr=0.01 (lowest loss).
    let (code, out, err) = run(with(&["--grid", "lr=0.1,0.01,0.3", "--at-once", "3"]));
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("3 of 3 runs succeeded"), "{out}");
    let best = out.lines().find(|l| l.ends_with("← best")).expect(&out);
    assert!(best.contains("lr=0.01"), "{best}");
    assert!(out.contains("best: run "), "{out}");
    // A list with a failing line: the others run, exit 3.
    let list = data.path().join("runs.txt");
    std::fs::write(&list, "# two runs\n--lr 0.1\n--lr bad\n").unwrap();
    let (code, out, err) = run(with(&["--list", list.to_str().unwrap(), "--one-machine"]));
    assert_eq!(code, 3, "{out}\n{err}");
    assert!(out.contains("1 of 2 runs succeeded"), "{out}");
    assert!(out.contains("one after another on one machine"), "{out}");
}
