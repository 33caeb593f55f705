//! Accounts against the REAL OS keychain (Secret Service on Linux), under a
//! test service name of its own, never the app's `easytdv`.
//!
//! Run inside a D-Bus session with an unlocked keyring:
//! `HOME=$(mktemp -d) dbus-run-session -- bash -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; cargo test -p easytdv-core --test keychain'`

use std::path::Path;
use std::sync::Once;

use easytdv_core::accounts::{
    parse_credentials_csv, split_pasted_pair, validate_key_id, AccountDraft, Accounts,
    KeyringStore, KeysInput, ProfileInput, SandboxInput, SecretStore, SERVICE,
};
use easytdv_core::aws::CredentialSource;
use easytdv_core::explain::{ErrorReport, Explain};
use easytdv_core::secret::Sensitive;

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

    for id in [&keys.id, &temp.id, &profile.id, &sandbox.id] {
        seen.result("delete", &accounts.delete(id).map(|()| "deleted"));
        assert!(matches!(
            raw_entry(&service, id),
            Err(keyring::Error::NoEntry)
        ));
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
