//! The secret-leak test on SageMaker (issue 21): a whole SageMaker run on
//! the sandbox with a secret from the REAL OS keychain. The job's launcher
//! reads it with the job's role and the script gets it (it prints its
//! SHA-256); the value is in none of the app's log, the history, the data
//! folder, what the app's commands return, the job's description
//! (DescribeTrainingJob: Environment and hyperparameters name it only), the
//! job's CloudWatch log, the run's outputs, the sandbox's call recording
//! (PutParameter's included: names only) or its job's files; the clean-up
//! deletes the parameter. The EC2 run's test is tests/keychain.rs's.
//!
//! Run inside a D-Bus session with an unlocked keyring, with the sandbox's
//! `EASYTDV_SANDBOX_*` exported (see tests/keychain.rs).

use std::path::Path;
use std::sync::Arc;

use easytdv_core::accounts::{Accounts, KeyringStore, SandboxInput, SecretStore};
use easytdv_core::aws::AwsContext;
use easytdv_core::pipeline::sagemaker::LOG_GROUP;
use easytdv_core::pipeline::{Engine, EventLog, TrainRequest};
use easytdv_core::runs::CleanupPolicy;
use easytdv_core::secret::Sensitive;
use easytdv_core::secrets::parameters;
use easytdv_core::services::Services;
use sha2::Digest;

#[path = "it/common.rs"]
#[allow(dead_code)]
mod common;

use common::{bucket, endpoint, get_bytes, hook_json, list, request, REGION};

/// A value of this test's own (tests/keychain.rs has others).
const RUN_SECRET: &str = "hf_SMleakTESTvalue_0a1b2c3d4e5f6789";

fn sha(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every file below `dir` that holds `needle` (as bytes).
fn files_holding(dir: &Path, needle: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            files_holding(&path, needle, out);
        } else if meta.is_file() {
            if let Ok(bytes) = std::fs::read(&path) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    out.push(path.display().to_string());
                }
            }
        }
    }
}

/// Every line the job's machines wrote to CloudWatch Logs.
async fn job_log(ctx: &AwsContext, job: &str) -> Vec<String> {
    let logs = ctx.logs();
    let streams = logs
        .describe_log_streams()
        .log_group_name(LOG_GROUP)
        .log_stream_name_prefix(format!("{job}/"))
        .send()
        .await
        .expect("the job's log streams");
    let mut lines = Vec::new();
    for stream in streams.log_streams() {
        let events = logs
            .get_log_events()
            .log_group_name(LOG_GROUP)
            .log_stream_name(stream.log_stream_name().unwrap_or_default())
            .start_from_head(true)
            .send()
            .await
            .expect("the job's log");
        lines.extend(
            events
                .events()
                .iter()
                .filter_map(|e| e.message().map(str::to_string)),
        );
    }
    lines
}

#[tokio::test]
async fn a_sagemaker_runs_secret_reaches_the_script_and_leaks_nowhere() {
    let service = format!("easytdv-test-{}", uuid::Uuid::new_v4().simple());
    if let Err(e) = KeyringStore::new(&service).get("probe") {
        panic!("no usable OS keychain ({e:?}): run inside dbus-run-session with an unlocked gnome-keyring-daemon");
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut services = Services::open(&data).expect("services");
    services.accounts = Accounts::with_secret_store(&data, KeyringStore::new(&service));
    // Everything the core logs, at the most talkative level, in the data
    // folder's log (searched below with the rest of the folder).
    std::fs::create_dir_all(data.join("logs")).unwrap();
    let log_file = std::fs::File::create(data.join("logs/easytdv.log")).unwrap();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            easytdv_core::paths::log_directives(Some("trace")),
        ))
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(log_file))
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
    let account = services
        .accounts
        .add_sandbox(SandboxInput {
            name: "Practice".into(),
            endpoint: endpoint(),
            region: REGION.into(),
        })
        .unwrap();
    let names = services
        .accounts
        .set_secret(&account.id, "HF_TOKEN", &Sensitive::new(RUN_SECRET))
        .unwrap();
    let b = bucket("smsecretleak");
    let request = TrainRequest {
        secrets: vec!["HF_TOKEN".into()],
        instance_type: "ml.m5.large".into(),
        engine: Engine::SageMaker {
            instance_count: 1,
            spot: false,
        },
        ..request("secrets", &b)
    };
    let secrets = services
        .accounts
        .run_secrets(&account.id, &request.secrets)
        .unwrap();
    let ctx = services.context(&account.id, Some(REGION)).await.unwrap();
    let events = EventLog::default();
    let progress = services.progress(Arc::new(events.clone()));
    let ready = services
        .runs
        .open_with_secrets(ctx.clone(), &account.id, request, secrets, progress.clone())
        .expect("open");
    let run_id = ready.run_id().to_string();
    let end = services
        .runs
        .execute(ready, &progress, CleanupPolicy::Always)
        .await;
    let report = end.result.expect("the job completes");
    let deleted = end.cleanup.expect("cleaned up").expect("clean-up verified");

    // It arrived: the script printed its digest (never the value).
    let arrived = format!("HF_TOKEN sha256 {}", sha(RUN_SECRET));
    let log = job_log(&ctx, &report.instance_id).await;
    assert!(log.contains(&arrived), "{log:?}");
    assert!(events.lines().iter().any(|(_, l)| l.text == arrived));
    // Recorded by name before it was put, deleted by the clean-up.
    let record = services.history().get(&run_id).unwrap();
    let parameter = parameters::parameter_name(&run_id, "HF_TOKEN");
    assert_eq!(record.resources.secret_parameters, vec![parameter.clone()]);
    assert_eq!(deleted.deleted_secrets, 1);
    assert!(parameters::list_run(&ctx, &run_id)
        .await
        .unwrap()
        .is_empty());

    // The job as anyone allowed sagemaker:Describe* sees it.
    let described = ctx
        .sagemaker()
        .describe_training_job()
        .training_job_name(&report.instance_id)
        .send()
        .await
        .expect("the job is still described after the clean-up");
    let env = described.environment().expect("the job's Environment");
    assert_eq!(env["EASYTDV_SECRET_NAMES"], "HF_TOKEN");

    // What the app's commands return (IPC responses), serialised as the app does.
    let mut seen = vec![
        serde_json::to_string(&report).unwrap(),
        serde_json::to_string(&deleted).unwrap(),
        serde_json::to_string(&record).unwrap(),
        serde_json::to_string(&services.history().list().unwrap()).unwrap(),
        serde_json::to_string(&events.events()).unwrap(),
        serde_json::to_string(&names).unwrap(),
        format!("{report:?} {deleted:?} {record:?}"),
        format!("{described:?}"),
    ];
    seen.extend(log);
    // The run's outputs (model.tar.gz's files are searched unpacked in the
    // sandbox's job folder below).
    let outputs = list(&ctx, &b, &format!("easytdv/runs/{run_id}/outputs/")).await;
    assert!(
        outputs.iter().any(|k| k.ends_with("/output/model.tar.gz")),
        "{outputs:?}"
    );
    for key in &outputs {
        seen.push(String::from_utf8_lossy(&get_bytes(&ctx, &b, key).await).into_owned());
    }
    for text in &seen {
        assert!(!text.contains(RUN_SECRET), "the secret leaked into: {text}");
    }

    // The data folder (history db, kept logs, the app's log) and the
    // sandbox's own (its call recording, the job's folders).
    let app_log = std::fs::read_to_string(data.join("logs/easytdv.log")).unwrap();
    assert!(
        app_log.contains("PutParameter") && app_log.contains("DeleteParameters"),
        "the log saw the secret's calls: its check is not empty"
    );
    let mut holding = Vec::new();
    files_holding(&data, RUN_SECRET, &mut holding);
    let sandbox = hook_json("data-dir", serde_json::json!({}));
    let sandbox_dir = Path::new(sandbox["path"].as_str().expect("the sandbox's data dir"));
    let job_dir = sandbox_dir
        .join("sagemaker")
        .join(REGION)
        .join(&report.instance_id);
    assert!(
        job_dir.join("algo-1/model/model.txt").is_file(),
        "the job's folder is searched"
    );
    files_holding(sandbox_dir, RUN_SECRET, &mut holding);
    assert!(holding.is_empty(), "files holding the secret: {holding:?}");
    let calls = std::fs::read_to_string(sandbox["calls"].as_str().unwrap()).unwrap();
    assert!(
        calls.contains(&format!("\"Name\": \"{parameter}\"")),
        "PutParameter was recorded, by name"
    );
    assert!(
        calls.contains("\"principal\": \"sagemaker:") && calls.contains("GetParameters"),
        "the job read it with its own role"
    );
    services.accounts.delete(&account.id).unwrap();
}
