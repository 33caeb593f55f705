//! The headless CLI end to end: exit codes, timeline, status and delete.

#[path = "../../core/tests/it/common.rs"]
#[allow(dead_code)]
mod common;

use common::*;
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
    assert!(stack.is_some(), "kept the stack");
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
