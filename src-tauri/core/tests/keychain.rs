//! Accounts against the REAL OS keychain (Secret Service on Linux), under a
//! test service name of its own, never the app's `easytdv`; and the
//! secret-leak tests: no key or secret in anything a caller sees, the data
//! folder or the log, including a whole run on the sandbox that gives
//! train.py a secret (`EASYTDV_SANDBOX_ENDPOINT`, as for tests/it).
//!
//! Run inside a D-Bus session with an unlocked keyring:
//! `HOME=$(mktemp -d) dbus-run-session -- bash -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo test -p easytdv-core --test keychain'`

use std::path::Path;
use std::sync::Once;

use std::sync::Arc;

use easytdv_core::accounts::{
    parse_credentials_csv, split_pasted_pair, validate_key_id, AccountDraft, Accounts,
    KeyringStore, KeysInput, ProfileInput, SandboxInput, SecretStore, SERVICE,
};
use easytdv_core::aws::{AwsContext, CredentialSource};
use easytdv_core::explain::{ErrorReport, Explain};
use easytdv_core::pipeline::{EventLog, TrainRequest};
use easytdv_core::runs::CleanupPolicy;
use easytdv_core::secret::Sensitive;
use easytdv_core::secrets::parameters;
use easytdv_core::services::Services;
use sha2::Digest;

#[path = "it/common.rs"]
#[allow(dead_code)]
mod common;

use common::{bucket, endpoint, get_bytes, get_text, hook_json, list, request, REGION};

/// The run test's secret (a value of its own: the test above stores SECRET).
const RUN_SECRET: &str = "hf_LEAKtestVALUE_9f8e7d6c5b4a3210";

fn sha(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const KEY: &str = "AKIAEASYTDVTEST12345";
const SECRET: &str = "easytdvFAKEsecret0123456789abcdefghijklmn";
const TOKEN: &str = "easytdvFAKEsessionTOKEN0123456789";

static ENV: Once = Once::new();

/// Keep verification off the internet: every AWS call goes to a closed port.
fn hermetic_env() {
    ENV.call_once(|| {
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var(easytdv_core::aws::TEST_ENDPOINT_VAR, "http://127.0.0.1:9");
        for var in [
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            std::env::remove_var(var);
        }
    });
}

fn test_service() -> String {
    let service = format!("easytdv-test-{}", uuid::Uuid::new_v4().simple());
    assert_ne!(service, SERVICE);
    service
}

/// The keychain must be reachable; say how to provide one if it is not.
fn require_keychain(service: &str) {
    let probe = KeyringStore::new(service);
    if let Err(e) = probe.get("probe") {
        panic!(
            "no usable OS keychain ({e:?}). Run these tests inside `dbus-run-session` with an unlocked \
             gnome-keyring-daemon (see the top of tests/accounts_keychain.rs)."
        );
    }
}

fn keys_input(name: &str) -> KeysInput {
    KeysInput {
        name: name.into(),
        access_key_id: format!("  {KEY} "),
        secret_access_key: Sensitive::new(format!("{SECRET}\n")),
        session_token: None,
        region: "eu-west-3".into(),
    }
}

fn raw_entry(service: &str, account_id: &str) -> keyring::Result<String> {
    keyring::Entry::new(service, account_id)?.get_password()
}

#[test]
fn keys_round_trip_through_the_real_keychain() {
    hermetic_env();
    let service = test_service();
    require_keychain(&service);
    let dir = tempfile::tempdir().unwrap();
    let accounts = Accounts::with_secret_store(dir.path(), KeyringStore::new(&service));

    let view = accounts
        .add_keys(keys_input("Keychain test"))
        .expect("add keys");
    assert_eq!(view.masked_key_id.as_deref(), Some("AKIA…2345"));

    // The secret is in the keychain entry (service, user = account id)…
    let stored = raw_entry(&service, &view.id).expect("entry exists");
    assert!(stored.contains(SECRET));
    // …and nowhere in the app's own entry.
    assert!(matches!(
        raw_entry(SERVICE, &view.id),
        Err(keyring::Error::NoEntry)
    ));

    // Read back for use, as the pipeline does.
    let (source, region) = accounts
        .credential_source(&view.id)
        .expect("credential source");
    assert_eq!(region, "eu-west-3");
    match &source {
        CredentialSource::Static {
            access_key_id,
            secret_access_key,
            session_token,
        } => {
            assert_eq!(access_key_id, KEY);
            assert_eq!(secret_access_key.expose(), SECRET);
            assert!(session_token.is_none());
        }
        other => panic!("expected static keys, got {other:?}"),
    }

    // A second instance (app restart) sees the same account and secret.
    let reopened = Accounts::with_secret_store(dir.path(), KeyringStore::new(&service));
    assert!(reopened.credential_source(&view.id).is_ok());

    accounts.delete(&view.id).expect("delete");
    match raw_entry(&service, &view.id) {
        Err(keyring::Error::NoEntry) => {}
        other => panic!(
            "the keychain entry must be gone, got {:?}",
            other.map(|_| "an entry")
        ),
    }
    assert!(accounts.list().unwrap().is_empty());
    assert_eq!(
        reopened.credential_source(&view.id).unwrap_err().code(),
        "account_not_found"
    );
}

/// Everything a caller can see: JSON of returned values, Debug of values and
/// errors, error messages, hints and reports.
#[derive(Default)]
struct Seen(Vec<String>, Vec<&'static str>);

impl Seen {
    fn value<T: serde::Serialize + std::fmt::Debug>(&mut self, what: &str, v: &T) {
        self.0.push(format!(
            "{what}: {}",
            serde_json::to_string(v).expect("serializable")
        ));
        self.0.push(format!("{what}: {v:?} {v:#?}"));
    }

    fn error<E: Explain + std::fmt::Debug>(&mut self, what: &str, e: &E) {
        self.0
            .push(format!("{what}: {e} | {e:?} | {e:#?} | {:?}", e.hint()));
        self.1.push(e.code());
        let report = ErrorReport::from_error(e);
        self.0
            .push(serde_json::to_string(&report).expect("serializable"));
    }

    fn result<T, E>(&mut self, what: &str, r: &Result<T, E>)
    where
        T: serde::Serialize + std::fmt::Debug,
        E: Explain + std::fmt::Debug,
    {
        match r {
            Ok(v) => self.value(what, v),
            Err(e) => self.error(what, e),
        }
    }

    fn assert_clean(&self) {
        for text in &self.0 {
            for secret in [SECRET, TOKEN, &SECRET[..20], &SECRET[20..]] {
                assert!(!text.contains(secret), "a secret leaked into: {text}");
            }
        }
    }
}

fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn no_secret_leaks_from_any_operation() {
    hermetic_env();
    let service = test_service();
    require_keychain(&service);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("aws-config");
    let credentials = dir.path().join("aws-credentials");
    std::fs::write(&config, "[profile dev]\nregion = us-west-2\n").unwrap();
    std::fs::write(
        &credentials,
        format!("[dev]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\naws_session_token = {TOKEN}\n"),
    )
    .unwrap();
    let accounts = Accounts::with_secret_store(&data, KeyringStore::new(&service))
        .with_profile_files(&config, &credentials);
    let mut seen = Seen::default();
    // Everything the core logs while it works, at the most talkative level,
    // goes to a file in the data folder: it is searched for secrets below.
    std::fs::create_dir_all(data.join("logs")).unwrap();
    let log_file = std::fs::File::create(data.join("logs/easytdv.log")).unwrap();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            easytdv_core::paths::log_directives(Some("trace")),
        ))
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(log_file))
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    // Input handling, including mistakes that put the secret in odd places.
    let (k, s) = split_pasted_pair(&format!("{KEY},{SECRET}")).expect("pair");
    seen.0.push(format!("{k} {s:?} {s}"));
    seen.result(
        "parse csv",
        &parse_credentials_csv(
            format!("Access key ID,Secret access key\n{KEY},{SECRET}\n").as_bytes(),
        )
        .map(|(k, _)| k),
    );
    seen.result(
        "csv password",
        &parse_credentials_csv(format!("User name,Password\nalice,{SECRET}\n").as_bytes())
            .map(|(k, _)| k),
    );
    seen.result(
        "csv no key",
        &parse_credentials_csv(format!("Access key ID,Secret access key\n,{SECRET}\n").as_bytes())
            .map(|(k, _)| k),
    );
    seen.result(
        "csv headers",
        &parse_credentials_csv(format!("{SECRET},x\n1,2\n").as_bytes()).map(|(k, _)| k),
    );
    seen.result("key id check", &validate_key_id(SECRET).map(|()| "ok"));
    let swapped = KeysInput {
        access_key_id: SECRET.into(),
        secret_access_key: Sensitive::new(KEY),
        ..keys_input("Swapped")
    };
    seen.result("swapped fields", &accounts.add_keys(swapped));
    let spaced = KeysInput {
        secret_access_key: Sensitive::new(format!("{SECRET} x")),
        ..keys_input("Spaced")
    };
    seen.result("secret with space", &accounts.add_keys(spaced));

    // Every account operation.
    let keys = accounts.add_keys(keys_input("Keys")).expect("add keys");
    seen.value("add keys", &keys);
    let temp = KeysInput {
        access_key_id: "ASIAEASYTDVTEST12345".into(),
        session_token: Some(Sensitive::new(TOKEN)),
        ..keys_input("Temporary keys")
    };
    let temp = accounts.add_keys(temp).expect("add temporary keys");
    seen.value("add temp", &temp);
    seen.result("add duplicate", &accounts.add_keys(keys_input("keys")));
    let profile = accounts
        .add_profile(ProfileInput {
            name: "Profile".into(),
            profile: "dev".into(),
            region: None,
        })
        .expect("add profile");
    seen.value("add profile", &profile);
    let sandbox = accounts
        .add_sandbox(SandboxInput {
            name: "Sandbox".into(),
            endpoint: "http://127.0.0.1:9".into(),
            region: "us-east-1".into(),
        })
        .expect("add sandbox");
    seen.value("add sandbox", &sandbox);
    seen.value("profiles", &accounts.profiles());
    seen.result("list", &accounts.list());
    seen.result("get", &accounts.get(&keys.id));
    seen.result("rename", &accounts.rename(&keys.id, "Keys renamed"));
    seen.result("rename taken", &accounts.rename(&keys.id, "Sandbox"));
    seen.result("set default", &accounts.set_default(&temp.id));
    seen.result("set region", &accounts.set_region(&keys.id, "us-east-2"));
    seen.result("default", &accounts.default_account());
    // New keys for the same account: same id (its runs stay), new secret.
    let rekeyed = accounts
        .replace_keys(
            &temp.id,
            KeysInput {
                access_key_id: "ASIAEASYTDVTEST99999".into(),
                session_token: Some(Sensitive::new(TOKEN)),
                ..keys_input("ignored")
            },
        )
        .expect("replace keys");
    assert_eq!(
        (rekeyed.id.as_str(), rekeyed.name.as_str()),
        (temp.id.as_str(), "Temporary keys")
    );
    assert_eq!(rekeyed.masked_key_id.as_deref(), Some("ASIA…9999"));
    seen.value("replace keys", &rekeyed);
    seen.result(
        "replace keys of a profile",
        &accounts.replace_keys(&profile.id, keys_input("x")),
    );

    let (source, _) = accounts.credential_source(&temp.id).expect("source");
    seen.0.push(format!("{source:?} {source:#?}"));

    // Verification and preflight fail (no network here) and must not leak.
    let draft = AccountDraft::Keys(keys_input("Draft"));
    seen.0.push(format!("{draft:?}"));
    seen.result("verify draft", &accounts.verify(&draft).await);
    for id in [&keys.id, &temp.id, &profile.id, &sandbox.id] {
        seen.result("verify account", &accounts.verify_account(id).await);
        seen.result("check permissions", &accounts.check_permissions(id).await);
        seen.result("setup", &accounts.setup(id).await);
    }

    // train.py's secrets (issue 21): set, listed by name, read for a run, deleted.
    seen.result(
        "set secret",
        &accounts.set_secret(&sandbox.id, "HF_TOKEN", &Sensitive::new(SECRET)),
    );
    seen.result(
        "set secret with a bad name",
        &accounts.set_secret(&sandbox.id, &format!("{SECRET}/x"), &Sensitive::new(SECRET)),
    );
    seen.result(
        "set a secret too long",
        &accounts.set_secret(&sandbox.id, "BIG", &Sensitive::new(SECRET.repeat(200))),
    );
    seen.result("secret names", &accounts.secret_names(&sandbox.id));
    let run = accounts
        .run_secrets(&sandbox.id, &["HF_TOKEN".into()])
        .expect("read for a run");
    assert_eq!(run.iter().next().unwrap().value.expose(), SECRET);
    seen.0.push(format!("{run:?} {run:#?}"));
    seen.result(
        "run secrets, unknown",
        &accounts
            .run_secrets(&sandbox.id, &["NOPE".into()])
            .map(|r| r.names().join(",")),
    );
    seen.result(
        "delete secret",
        &accounts.delete_secret(&sandbox.id, "HF_TOKEN"),
    );
    assert!(matches!(
        raw_entry(&service, &format!("{}:secret:HF_TOKEN", sandbox.id)),
        Err(keyring::Error::NoEntry)
    ));
    accounts
        .set_secret(&sandbox.id, "WANDB_API_KEY", &Sensitive::new(TOKEN))
        .expect("a secret the account's deletion removes");

    for id in [&keys.id, &temp.id, &profile.id, &sandbox.id] {
        seen.result("delete", &accounts.delete(id).map(|()| "deleted"));
        assert!(matches!(
            raw_entry(&service, id),
            Err(keyring::Error::NoEntry)
        ));
        for user in [
            format!("{id}:secrets"),
            format!("{id}:secret:WANDB_API_KEY"),
        ] {
            assert!(
                matches!(raw_entry(&service, &user), Err(keyring::Error::NoEntry)),
                "{user} is gone with its account"
            );
        }
    }
    seen.result("list after", &accounts.list());
    seen.result(
        "delete again",
        &accounts.delete(&keys.id).map(|()| "deleted"),
    );
    seen.0.push(format!("{accounts:?}"));
    println!("error codes seen: {:?}", seen.1);
    seen.assert_clean();

    // Nothing written in the data dir holds a secret (key ids stay masked).
    let mut files = Vec::new();
    all_files(&data, &mut files);
    assert!(!files.is_empty(), "accounts.json was written");
    let log = std::fs::read_to_string(data.join("logs/easytdv.log")).unwrap();
    assert!(
        !log.is_empty(),
        "the core logged nothing: the log check would be empty"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for needle in [SECRET, TOKEN, KEY] {
            assert!(!text.contains(needle), "{} holds {needle}", file.display());
        }
    }
}

#[test]
fn keyring_store_deletes_idempotently() {
    let service = test_service();
    require_keychain(&service);
    let store = KeyringStore::new(&service);
    store.put("x", &Sensitive::new(SECRET)).unwrap();
    assert_eq!(
        store
            .get("x")
            .unwrap()
            .map(|s| s.expose().to_string())
            .as_deref(),
        Some(SECRET)
    );
    store.delete("x").unwrap();
    store.delete("x").unwrap();
    assert_eq!(store.get("x").unwrap(), None);
}

/// Every file below `dir` that holds `needle` (as bytes).
fn files_holding(dir: &Path, needle: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(_) => continue,
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

/// The text of every SSM command sent to a machine of the run.
async fn command_texts(ctx: &AwsContext, instance: &str) -> Vec<String> {
    let out = ctx
        .ssm()
        .list_commands()
        .instance_id(instance)
        .send()
        .await
        .expect("list commands");
    out.commands()
        .iter()
        .flat_map(|c| {
            c.parameters()
                .into_iter()
                .flat_map(|p| p.values().flatten().cloned().collect::<Vec<_>>())
        })
        .collect()
}

/// A whole run on the sandbox with a secret from the real keychain (issue
/// 21): it reaches train.py (which prints its SHA-256), and the value is in
/// none of the app's log, the history, the data folder, what the app's
/// commands return, the run's outputs and `_logs`, the SSM commands, the
/// sandbox's call recording (PutParameter's included: names only) or its
/// machine's files; the clean-up deletes the parameter.
#[tokio::test]
async fn a_runs_secret_reaches_train_py_and_leaks_nowhere() {
    let service = test_service();
    require_keychain(&service);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut services = Services::open(&data).expect("services");
    services.accounts = Accounts::with_secret_store(&data, KeyringStore::new(&service));
    // Everything the core logs, at the most talkative level, goes to the
    // data folder's log (searched below with the rest of the folder). The
    // process-wide subscriber: a thread's own would miss lines whose
    // callsites another test's thread met first.
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
    let b = bucket("secretleak");
    let request = TrainRequest {
        secrets: vec!["HF_TOKEN".into()],
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
    let report = end.result.expect("the run succeeds");
    let deleted = end.cleanup.expect("cleaned up").expect("clean-up verified");

    // It arrived: train.py printed its digest (never the value).
    let arrived = format!("HF_TOKEN sha256 {}", sha(RUN_SECRET));
    assert!(
        report.training.stdout_tail.contains(&arrived),
        "{}",
        report.training.stdout_tail
    );
    assert!(report
        .training
        .stdout_tail
        .contains("secret names visible: False"));
    // Recorded by name before it was put, deleted by the clean-up.
    let record = services.history().get(&run_id).unwrap();
    let parameter = format!("/easytdv/runs/{run_id}/secrets/HF_TOKEN");
    assert_eq!(record.resources.secret_parameters, vec![parameter.clone()]);
    assert_eq!(
        record.request.as_ref().unwrap().secrets,
        vec!["HF_TOKEN".to_string()]
    );
    assert_eq!(deleted.deleted_secrets, 1);
    assert!(parameters::list_run(&ctx, &run_id)
        .await
        .unwrap()
        .is_empty());
    // (Not read back with GetParameters: the app's own policy may not read
    // secrets, and tests/policy checks every call this test makes.)

    // What the app's commands return (IPC responses), serialised as the app does.
    let mut seen = vec![
        serde_json::to_string(&report).unwrap(),
        serde_json::to_string(&deleted).unwrap(),
        serde_json::to_string(&record).unwrap(),
        serde_json::to_string(&services.history().list().unwrap()).unwrap(),
        serde_json::to_string(&events.events()).unwrap(),
        serde_json::to_string(&names).unwrap(),
        serde_json::to_string(&services.accounts.secret_names(&account.id).unwrap()).unwrap(),
        serde_json::to_string(&services.accounts.list().unwrap()).unwrap(),
        format!("{report:?} {deleted:?} {record:?}"),
    ];
    // The run's outputs, its logs included.
    let outputs = list(&ctx, &b, &format!("easytdv/runs/{run_id}/outputs/")).await;
    assert!(
        outputs
            .iter()
            .any(|k| k.ends_with("_logs/train-stdout.log")),
        "{outputs:?}"
    );
    for key in &outputs {
        seen.push(String::from_utf8_lossy(&get_bytes(&ctx, &b, key).await).into_owned());
    }
    let train_log = get_text(
        &ctx,
        &b,
        &format!("easytdv/runs/{run_id}/outputs/_logs/train-stdout.log"),
    )
    .await;
    assert!(train_log.contains(&arrived), "{train_log}");
    // Every SSM command sent to the machine: names only.
    let commands = command_texts(&ctx, &report.instance_id).await;
    assert!(
        commands
            .iter()
            .any(|c| c.contains("EASYTDV_SECRET_NAMES") && c.contains("HF_TOKEN")),
        "{commands:?}"
    );
    seen.extend(commands);
    for text in &seen {
        assert!(!text.contains(RUN_SECRET), "the secret leaked into: {text}");
    }

    // The data folder (history db, kept logs, the app's log) and the
    // sandbox's own (its call recording, the machine's files).
    let log = std::fs::read_to_string(data.join("logs/easytdv.log")).unwrap();
    assert!(
        log.contains("PutParameter") && log.contains("DeleteParameters"),
        "the log saw the secret's calls: its check is not empty"
    );
    let mut holding = Vec::new();
    files_holding(&data, RUN_SECRET, &mut holding);
    let sandbox = hook_json("data-dir", serde_json::json!({}));
    let sandbox_dir = sandbox["path"].as_str().expect("the sandbox's data dir");
    files_holding(Path::new(sandbox_dir), RUN_SECRET, &mut holding);
    assert!(holding.is_empty(), "files holding the secret: {holding:?}");
    // Its account's deletion takes the secret out of the keychain.
    services.accounts.delete(&account.id).unwrap();
    assert!(matches!(
        raw_entry(&service, &format!("{}:secret:HF_TOKEN", account.id)),
        Err(keyring::Error::NoEntry)
    ));
    let calls = std::fs::read_to_string(sandbox["calls"].as_str().unwrap()).unwrap();
    assert!(
        calls.contains(&format!("\"Name\": \"{parameter}\"")),
        "PutParameter was recorded, by name"
    );
}
