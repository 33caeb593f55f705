//! Unit tests of the `Accounts` service with the in-memory keychain.

use std::sync::Arc;

use super::*;
use crate::explain::Explain;

const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "easytdvFAKEsecret0123456789abcdefghijklmn";

fn accounts() -> (tempfile::TempDir, Arc<MemorySecretStore>, Accounts) {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Arc::new(MemorySecretStore::new());
    let accounts = Accounts::with_secret_store(dir.path(), secrets.clone());
    (dir, secrets, accounts)
}

fn keys(name: &str) -> KeysInput {
    KeysInput {
        name: name.into(),
        access_key_id: KEY.into(),
        secret_access_key: Sensitive::new(SECRET),
        session_token: None,
        region: "eu-west-3".into(),
    }
}

#[test]
fn add_keys_stores_secret_only_in_keychain() {
    let (dir, secrets, accounts) = accounts();
    let view = accounts.add_keys(keys("Work")).unwrap();
    assert_eq!(view.kind, AccountKind::Keys);
    assert_eq!(view.masked_key_id.as_deref(), Some("AKIA…MPLE"));
    assert!(view.is_default, "the first account becomes the default");
    assert_eq!(secrets.len(), 1);
    let json = std::fs::read_to_string(dir.path().join(ACCOUNTS_FILE)).unwrap();
    assert!(!json.contains(SECRET) && !json.contains(KEY), "{json}");

    let (source, region) = accounts.credential_source(&view.id).unwrap();
    assert_eq!(region, "eu-west-3");
    match source {
        CredentialSource::Static {
            access_key_id,
            secret_access_key,
            session_token,
        } => {
            assert_eq!(access_key_id, KEY);
            assert_eq!(secret_access_key.expose(), SECRET);
            assert!(session_token.is_none());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn store_round_trip_across_instances() {
    let (dir, secrets, accounts) = accounts();
    let a = accounts.add_keys(keys("Work")).unwrap();
    let b = accounts
        .add_sandbox(SandboxInput {
            name: "Sandbox".into(),
            endpoint: "http://127.0.0.1:5000/".into(),
            region: "us-east-1".into(),
        })
        .unwrap();
    assert_eq!(b.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
    assert!(!b.is_default);

    let reopened = Accounts::with_secret_store(dir.path(), secrets.clone());
    assert_eq!(reopened.list().unwrap(), accounts.list().unwrap());
    assert_eq!(
        reopened.default_account().unwrap().map(|d| d.id),
        Some(a.id.clone())
    );
    let (source, _) = reopened.credential_source(&b.id).unwrap();
    assert!(
        matches!(source, CredentialSource::Sandbox { endpoint } if endpoint == "http://127.0.0.1:5000")
    );
}

#[test]
fn pasted_pair_in_key_field() {
    let (_dir, _secrets, accounts) = accounts();
    let input = KeysInput {
        access_key_id: format!(" {KEY},{SECRET} "),
        secret_access_key: Sensitive::new(""),
        ..keys("Pasted")
    };
    let view = accounts.add_keys(input).unwrap();
    let (source, _) = accounts.credential_source(&view.id).unwrap();
    assert!(
        matches!(source, CredentialSource::Static { secret_access_key, .. } if secret_access_key.expose() == SECRET)
    );
}

#[test]
fn bad_input_creates_nothing() {
    let (dir, secrets, accounts) = accounts();
    let cases = [
        (
            KeysInput {
                name: " ".into(),
                ..keys("x")
            },
            "account_name_empty",
        ),
        (
            KeysInput {
                access_key_id: "AKIA123".into(),
                ..keys("x")
            },
            "access_key_id_invalid",
        ),
        (
            KeysInput {
                secret_access_key: Sensitive::new(""),
                ..keys("x")
            },
            "secret_key_empty",
        ),
        (
            KeysInput {
                region: "Paris".into(),
                ..keys("x")
            },
            "region_invalid",
        ),
        (
            KeysInput {
                access_key_id: "ASIAIOSFODNN7EXAMPLE".into(),
                ..keys("x")
            },
            "session_token_missing",
        ),
    ];
    for (input, code) in cases {
        assert_eq!(accounts.add_keys(input).unwrap_err().code(), code);
    }
    assert!(secrets.is_empty());
    assert!(!dir.path().join(ACCOUNTS_FILE).exists());
}

#[test]
fn names_are_unique_and_rename_checks_them() {
    let (_dir, secrets, accounts) = accounts();
    let a = accounts.add_keys(keys("Work")).unwrap();
    assert_eq!(
        accounts.add_keys(keys(" work ")).unwrap_err().code(),
        "account_name_taken"
    );
    assert_eq!(secrets.len(), 1, "a refused add leaves no secret behind");
    let b = accounts
        .add_sandbox(SandboxInput {
            name: "Sandbox".into(),
            endpoint: "http://127.0.0.1:1".into(),
            region: "us-east-1".into(),
        })
        .unwrap();
    assert_eq!(
        accounts.rename(&b.id, "WORK").unwrap_err().code(),
        "account_name_taken"
    );
    assert_eq!(
        accounts.rename(&a.id, " Work (old) ").unwrap().name,
        "Work (old)"
    );
    assert_eq!(
        accounts.rename(&a.id, "Work (old)").unwrap().name,
        "Work (old)",
        "same name again is fine"
    );
    assert_eq!(
        accounts.rename("nope", "x").unwrap_err().code(),
        "account_not_found"
    );
}

#[test]
fn default_and_region() {
    let (_dir, _secrets, accounts) = accounts();
    let a = accounts.add_keys(keys("A")).unwrap();
    let b = accounts.add_keys(keys("B")).unwrap();
    assert!(accounts.set_default(&b.id).unwrap().is_default);
    assert!(!accounts.get(&a.id).unwrap().is_default);
    assert_eq!(
        accounts.set_region(&a.id, "us-west-2").unwrap().region,
        "us-west-2"
    );
    assert_eq!(
        accounts.set_region(&a.id, "mars").unwrap_err().code(),
        "region_invalid"
    );
    accounts.delete(&b.id).unwrap();
    assert_eq!(
        accounts.default_account().unwrap().map(|d| d.id),
        Some(a.id.clone())
    );
    accounts.delete(&a.id).unwrap();
    assert_eq!(accounts.default_account().unwrap(), None);
}

#[test]
fn delete_removes_the_secret() {
    let (_dir, secrets, accounts) = accounts();
    let a = accounts.add_keys(keys("Work")).unwrap();
    assert!(secrets.get(&a.id).unwrap().is_some());
    accounts.delete(&a.id).unwrap();
    assert_eq!(secrets.get(&a.id).unwrap(), None);
    assert!(accounts.list().unwrap().is_empty());
    assert_eq!(
        accounts.delete(&a.id).unwrap_err().code(),
        "account_not_found"
    );
}

#[test]
fn an_accounts_secrets_go_with_it() {
    let (_dir, secrets, accounts) = accounts();
    let a = accounts.add_keys(keys("Work")).unwrap();
    let b = accounts
        .add_sandbox(SandboxInput {
            name: "Practice".into(),
            endpoint: "http://127.0.0.1:4566".into(),
            region: "eu-west-3".into(),
        })
        .unwrap();
    accounts
        .set_secret(&a.id, "HF_TOKEN", &Sensitive::new("hf_1"))
        .unwrap();
    accounts
        .set_secret(&b.id, "HF_TOKEN", &Sensitive::new("hf_2"))
        .unwrap();
    assert_eq!(
        secrets.len(),
        5,
        "a's keys, and two entries per account's secret"
    );
    assert_eq!(accounts.secret_names(&a.id).unwrap(), vec!["HF_TOKEN"]);
    accounts.delete(&a.id).unwrap();
    assert_eq!(secrets.len(), 2, "only b's secret is left");
    assert_eq!(
        accounts.secret_names(&a.id).unwrap_err().code(),
        "account_not_found"
    );
    let run = accounts.run_secrets(&b.id, &["HF_TOKEN".into()]).unwrap();
    assert_eq!(run.iter().next().unwrap().value.expose(), "hf_2");
}

#[test]
fn missing_keychain_entry_is_explained() {
    let (_dir, secrets, accounts) = accounts();
    let a = accounts.add_keys(keys("Work")).unwrap();
    secrets.delete(&a.id).unwrap();
    let err = accounts.credential_source(&a.id).unwrap_err();
    assert_eq!(err.code(), "keychain_entry_missing");
    secrets.put(&a.id, &Sensitive::new("garbage")).unwrap();
    assert_eq!(
        accounts.credential_source(&a.id).unwrap_err().code(),
        "keychain_entry_corrupt"
    );
    // An account whose entry vanished can still be deleted.
    secrets.delete(&a.id).unwrap();
    accounts.delete(&a.id).unwrap();
}

/// A keychain whose delete silently does nothing.
struct StickyStore(MemorySecretStore);

impl SecretStore for StickyStore {
    fn put(&self, id: &str, value: &Sensitive) -> Result<(), KeychainError> {
        self.0.put(id, value)
    }
    fn get(&self, id: &str) -> Result<Option<Sensitive>, KeychainError> {
        self.0.get(id)
    }
    fn delete(&self, _id: &str) -> Result<(), KeychainError> {
        Ok(())
    }
}

#[test]
fn delete_proves_the_secret_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = Accounts::with_secret_store(dir.path(), StickyStore(MemorySecretStore::new()));
    let a = accounts.add_keys(keys("Work")).unwrap();
    assert_eq!(
        accounts.delete(&a.id).unwrap_err().code(),
        "keychain_delete_unverified"
    );
    assert_eq!(
        accounts.list().unwrap().len(),
        1,
        "the account stays listed while its secret exists"
    );
}

#[test]
fn profiles_accounts() {
    let (dir, _secrets, accounts) = accounts();
    let config = dir.path().join("config");
    std::fs::write(
        &config,
        "[profile work]\nsso_session = corp\nregion = eu-central-1\n[profile bare]\n",
    )
    .unwrap();
    let accounts = accounts.with_profile_files(&config, dir.path().join("credentials"));
    let input = |profile: &str, region: Option<&str>| ProfileInput {
        name: format!("P {profile}"),
        profile: profile.into(),
        region: region.map(str::to_string),
    };
    let view = accounts.add_profile(input("work", None)).unwrap();
    assert_eq!(
        (view.region.as_str(), view.profile.as_deref()),
        ("eu-central-1", Some("work"))
    );
    let (source, _) = accounts.credential_source(&view.id).unwrap();
    assert!(matches!(source, CredentialSource::Profile { name } if name == "work"));
    assert_eq!(
        accounts
            .add_profile(input("bare", None))
            .unwrap_err()
            .code(),
        "profile_no_region"
    );
    assert_eq!(
        accounts
            .add_profile(input("bare", Some("us-east-2")))
            .unwrap()
            .region,
        "us-east-2"
    );
    assert_eq!(
        accounts
            .add_profile(input("nope", None))
            .unwrap_err()
            .code(),
        "profile_not_found"
    );
    assert_eq!(
        accounts.add_profile(input(" ", None)).unwrap_err().code(),
        "profile_empty"
    );
}

#[test]
fn csv_file_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.csv");
    std::fs::write(
        &path,
        format!("Access key ID,Secret access key\r\n{KEY},{SECRET}\r\n"),
    )
    .unwrap();
    let (key, secret) = read_credentials_csv(&path).unwrap();
    assert_eq!((key.as_str(), secret.expose()), (KEY, SECRET));
    let err = read_credentials_csv(&dir.path().join("none.csv")).unwrap_err();
    assert_eq!(err.code(), "file_unreadable");
    std::fs::write(&path, "").unwrap();
    assert_eq!(read_credentials_csv(&path).unwrap_err().code(), "csv_empty");
}

#[test]
fn views_serialize_camel_case_without_secrets() {
    let (_dir, _secrets, accounts) = accounts();
    let view = accounts.add_keys(keys("Work")).unwrap();
    let json = serde_json::to_value(&view).unwrap();
    for field in [
        "id",
        "name",
        "kind",
        "region",
        "maskedKeyId",
        "profile",
        "endpoint",
        "isDefault",
        "createdAt",
    ] {
        assert!(json.get(field).is_some(), "{field} in {json}");
    }
    assert_eq!(json["kind"], "keys");
    assert!(!json.to_string().contains(SECRET));
}

#[test]
fn usable_as_shared_app_state() {
    fn shared<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let (_dir, _secrets, accounts) = accounts();
    shared(&accounts);
    // Async commands need Send futures.
    send(accounts.setup("x"));
    send(accounts.check_permissions("x"));
    send(accounts.verify_account("x"));
    send(accounts.verify(&AccountDraft::Keys(keys("x"))));
}

#[tokio::test]
async fn verify_rejects_bad_input_before_calling_aws() {
    let (_dir, _secrets, accounts) = accounts();
    let draft = AccountDraft::Keys(KeysInput {
        access_key_id: "nope".into(),
        ..keys("x")
    });
    assert_eq!(
        accounts.verify(&draft).await.unwrap_err().code(),
        "access_key_id_invalid"
    );
    let draft = AccountDraft::Sandbox(SandboxInput {
        name: "s".into(),
        endpoint: "localhost:5000".into(),
        region: "us-east-1".into(),
    });
    assert_eq!(
        accounts.verify(&draft).await.unwrap_err().code(),
        "sandbox_endpoint_invalid"
    );
    let draft = AccountDraft::Profile(ProfileInput {
        name: "p".into(),
        profile: "surely-not-a-profile-name".into(),
        region: Some("us-east-1".into()),
    });
    assert_eq!(
        accounts.verify(&draft).await.unwrap_err().code(),
        "profile_not_found"
    );
    assert_eq!(
        accounts.verify_account("missing").await.unwrap_err().code(),
        "account_not_found"
    );
}

#[test]
fn repointing_moves_only_the_sandbox_accounts_on_the_old_address() {
    let (_dir, _secrets, accounts) = accounts();
    let sandbox = |name: &str, endpoint: &str| {
        accounts
            .add_sandbox(SandboxInput {
                name: name.into(),
                endpoint: endpoint.into(),
                region: "us-east-1".into(),
            })
            .unwrap()
    };
    let old = sandbox("Practice", "http://127.0.0.1:4566");
    let other = sandbox("Mine", "http://127.0.0.1:5000");
    let keys = accounts.add_keys(keys("Work")).unwrap();
    let changed = accounts
        .repoint_sandboxes("http://127.0.0.1:4566", "http://127.0.0.1:41234")
        .unwrap();
    assert_eq!(changed, 1);
    assert_eq!(
        accounts.get(&old.id).unwrap().endpoint.as_deref(),
        Some("http://127.0.0.1:41234")
    );
    assert_eq!(accounts.get(&other.id).unwrap().endpoint, other.endpoint);
    assert_eq!(accounts.get(&keys.id).unwrap().endpoint, None);
    assert!(accounts
        .repoint_sandboxes("http://127.0.0.1:41234", "ftp://nope")
        .is_err());
}
