//! Accounts against the local AWS sandbox (tests/sandbox): verification,
//! the permission preflight, and a sandbox that is not running.
//!
//! Needs `EASYTDV_SANDBOX_ENDPOINT` (printed by `tests/sandbox/run`).

use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

use easytdv_core::accounts::{
    AccountDraft, AccountError, Accounts, MemorySecretStore, PermissionCheck, ProfileInput,
    SandboxInput,
};
use easytdv_core::explain::Explain;

fn endpoint() -> String {
    match std::env::var("EASYTDV_SANDBOX_ENDPOINT") {
        Ok(e) if !e.trim().is_empty() => e.trim().to_string(),
        _ => panic!(
            "EASYTDV_SANDBOX_ENDPOINT is not set. Start the sandbox with \
             `tests/sandbox/run --background --pidfile /tmp/sandbox.pid --port 0 --data-dir /tmp/sandbox` \
             and export the EASYTDV_SANDBOX_ENDPOINT=... line it prints."
        ),
    }
}

static ENV: Once = Once::new();

/// The AWS config files of this test process (set once, before any AWS call:
/// changing the environment while other threads read it is not safe).
fn aws_files() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("easytdv-accounts-sandbox-{}", std::process::id()));
    (dir.join("config"), dir.join("credentials"))
}

/// No instance-metadata probing, and no AWS settings of the developer.
fn quiet_env() {
    ENV.call_once(|| {
        let (config, credentials) = aws_files();
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", &config);
        std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &credentials);
        for var in [
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
        ] {
            std::env::remove_var(var);
        }
    });
}

fn accounts(dir: &tempfile::TempDir) -> Accounts {
    Accounts::with_secret_store(dir.path(), MemorySecretStore::new())
}

#[tokio::test]
async fn sandbox_account_verifies_and_needs_no_permissions() {
    quiet_env();
    let endpoint = endpoint();
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&dir);
    let input = SandboxInput {
        name: "Local sandbox".into(),
        endpoint: endpoint.clone(),
        region: "eu-west-3".into(),
    };

    let identity = accounts
        .verify(&AccountDraft::Sandbox(input.clone()))
        .await
        .expect("verify before saving");
    assert_eq!(identity.account_id.len(), 12, "{identity:?}");
    assert!(
        identity.account_id.chars().all(|c| c.is_ascii_digit()),
        "{identity:?}"
    );
    assert!(identity.arn.starts_with("arn:aws:"), "{identity:?}");
    assert!(accounts.list().unwrap().is_empty(), "verify saves nothing");

    let view = accounts.add_sandbox(input).unwrap();
    assert_eq!(accounts.verify_account(&view.id).await.unwrap(), identity);

    let setup = accounts.setup(&view.id).await.expect("setup");
    assert_eq!(setup.identity, identity);
    assert_eq!(setup.permission_check, PermissionCheck::Sandbox);
    assert!(setup.missing_permissions.is_empty() && setup.unchecked_permissions.is_empty());
}

#[tokio::test]
async fn unreachable_sandbox_is_reported_quickly() {
    quiet_env();
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts(&dir);
    let input = SandboxInput {
        name: "Down".into(),
        endpoint: "http://127.0.0.1:9".into(),
        region: "us-east-1".into(),
    };
    let start = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        accounts.verify(&AccountDraft::Sandbox(input)),
    )
    .await
    .expect("an unreachable sandbox must fail at once, not hang");
    println!("unreachable sandbox reported after {:?}", start.elapsed());
    let err = result.expect_err("nothing listens on port 9");
    assert!(
        matches!(err, AccountError::SandboxUnreachable { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "sandbox_unreachable");
    assert!(err.to_string().contains("http://127.0.0.1:9"), "{err}");
    assert!(err.hint().unwrap_or_default().contains("tests/sandbox/run"));
}

/// A profile account whose profile points at the sandbox takes the real-AWS
/// preflight path: moto has no SimulatePrincipalPolicy (it answers 500), so
/// the preflight falls back to dry runs and reports the rest as unchecked,
/// without failing and without creating anything.
#[tokio::test]
async fn preflight_falls_back_when_simulation_is_unavailable() {
    quiet_env();
    let endpoint = endpoint();
    // An IAM user of the sandbox, so the caller ARN is a user ARN that the
    // preflight tries to simulate.
    // The test's own administrator key: easyTDV's users create no IAM users.
    let conf = crate::common::admin_config("us-east-1").await;
    let admin_iam = aws_sdk_iam::Client::new(&conf);
    let user = format!("easytdv-accounts-test-{}", uuid::Uuid::new_v4().simple());
    admin_iam
        .create_user()
        .user_name(&user)
        .send()
        .await
        .expect("create sandbox user");
    let key = admin_iam
        .create_access_key()
        .user_name(&user)
        .send()
        .await
        .expect("create key");
    let key = key.access_key().expect("key");

    let dir = tempfile::tempdir().unwrap();
    let (config, credentials) = aws_files();
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!(
            "[profile sandbox-user]\nregion = us-east-1\nendpoint_url = {endpoint}\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            key.access_key_id(),
            key.secret_access_key()
        ),
    )
    .unwrap();
    std::fs::write(&credentials, "").unwrap();

    let accounts = accounts(&dir).with_profile_files(&config, &credentials);
    let view = accounts
        .add_profile(ProfileInput {
            name: "Sandbox via profile".into(),
            profile: "sandbox-user".into(),
            region: None,
        })
        .unwrap();
    let identity = accounts.verify_account(&view.id).await.expect("verify");
    assert!(
        identity.arn.ends_with(&format!(":user/{user}")),
        "{identity:?}"
    );

    let report = accounts
        .check_permissions(&view.id)
        .await
        .expect("preflight does not fail");
    println!("{report:#?}");
    assert_eq!(report.check, PermissionCheck::DryRun);
    assert!(
        report.missing.is_empty(),
        "moto allows everything: {:?}",
        report.missing
    );
    assert!(
        !report.unchecked.is_empty(),
        "what dry runs cannot check is reported, not guessed"
    );
    assert!(report.unchecked.iter().any(|m| m.action == "iam:PassRole"));
    assert!(report
        .unchecked
        .iter()
        .all(|m| m.fix.contains("could not check")));
    assert!(
        !report
            .unchecked
            .iter()
            .any(|m| m.action == "ec2:DescribeVpcs"),
        "{report:?}"
    );

    // Nothing was created by the preflight.
    let groups = aws_sdk_ec2::Client::new(&conf)
        .describe_security_groups()
        .send()
        .await
        .unwrap();
    assert!(!groups
        .security_groups()
        .iter()
        .any(|g| g.group_name() == Some("easytdv-preflight")));
    if let Some(parent) = config.parent() {
        let _ = std::fs::remove_dir_all(parent);
    }
}
