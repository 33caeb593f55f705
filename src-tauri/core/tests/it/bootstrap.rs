//! The one-time account setup (`easytdv_core::bootstrap`) against the
//! sandbox, with an administrator's key of the sandbox: it says what it
//! will do, does it, makes a key that really works, updates an old policy,
//! and stops at IAM's two keys per user. A run refuses an account without
//! the boundary before creating anything.

use easytdv_core::bootstrap::{
    self, StepAction, BOUNDARY_NAME, READ_POLICY_NAME, USER_POLICY_NAME,
};
use easytdv_core::explain::Explain;

use crate::common::{self, ctx, REGION};

const ACCOUNT: &str = "123456789012";

fn actions(plan: &bootstrap::SetupPlan) -> Vec<(String, StepAction)> {
    plan.steps
        .iter()
        .map(|s| (s.what.clone(), s.action))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_setup_plans_creates_a_working_identity_and_updates_old_policies() {
    // An administrator's key (not the app's: tests/policy checks the app's calls
    // against the easyTDV policies, and the setup is an administrator's work).
    let admin = easytdv_core::aws::AwsContext::from_sdk_config(
        common::admin_config(REGION).await,
        Some(common::endpoint()),
    );
    let user = format!("easytdv-{}", &uuid_suffix());
    let plan = bootstrap::plan(&admin, &user).await.unwrap();
    assert_eq!(plan.account_id, ACCOUNT);
    assert!(!plan.admin_is_root);
    let steps = actions(&plan);
    // The sandbox account's boundary was made when it started (its "setup").
    assert!(
        steps.contains(&(format!("the policy {BOUNDARY_NAME}"), StepAction::Keep)),
        "{steps:?}"
    );
    assert!(
        steps.contains(&(format!("the IAM user {user}"), StepAction::Create)),
        "{steps:?}"
    );
    // Planning created nothing.
    let iam = admin.iam();
    assert!(iam.get_user().user_name(&user).send().await.is_err());

    let made = bootstrap::apply(&admin, &user).await.unwrap();
    assert!(
        made.user_arn.ends_with(&format!(":user/{user}")),
        "{}",
        made.user_arn
    );
    let attached: Vec<String> = iam
        .list_attached_user_policies()
        .user_name(&user)
        .send()
        .await
        .unwrap()
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_name().map(str::to_string))
        .collect();
    assert!(
        attached.contains(&USER_POLICY_NAME.to_string())
            && attached.contains(&READ_POLICY_NAME.to_string()),
        "{attached:?}"
    );

    // The new key is the user's, and works (the sandbox accepts keys its IAM issued).
    let sts = static_sts(&made.access_key_id, made.secret_access_key.expose()).await;
    let who = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn(), Some(made.user_arn.as_str()));

    // A newer app ships a newer policy: the plan says Update, apply makes it current.
    let arn = bootstrap::policy_arn("aws", ACCOUNT, USER_POLICY_NAME);
    iam.create_policy_version()
        .policy_arn(&arn)
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let plan = bootstrap::plan(&admin, &user).await.unwrap();
    assert!(
        actions(&plan).contains(&(format!("the policy {USER_POLICY_NAME}"), StepAction::Update))
    );
    bootstrap::apply(&admin, &user).await.unwrap(); // (a second key)
    let plan = bootstrap::plan(&admin, &user).await.unwrap();
    for step in &plan.steps[..4] {
        assert_eq!(step.action, StepAction::Keep, "{step:?}");
    }

    // IAM allows two keys per user: a third setup says what to do.
    let e = bootstrap::apply(&admin, &user).await.unwrap_err();
    assert_eq!(e.code(), "setup_too_many_keys");
    assert!(e.hint().unwrap().contains("Security credentials"));
}

/// Attack: the setup is pointed at an existing administrator's user name. A key
/// made for it would not be bounded: the setup refuses, in the plan already.
#[tokio::test(flavor = "multi_thread")]
async fn an_existing_user_with_other_rights_is_not_reused() {
    let admin = easytdv_core::aws::AwsContext::from_sdk_config(
        common::admin_config(REGION).await,
        Some(common::endpoint()),
    );
    let user = format!("admin-{}", uuid_suffix());
    let iam = admin.iam();
    iam.create_user().user_name(&user).send().await.unwrap();
    iam.put_user_policy()
        .user_name(&user)
        .policy_name("everything")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let e = bootstrap::plan(&admin, &user).await.unwrap_err();
    assert_eq!(e.code(), "setup_user_not_ours");
    assert!(
        e.to_string().contains("the inline policy everything"),
        "{e}"
    );
    let e = bootstrap::apply(&admin, &user).await.unwrap_err();
    assert_eq!(e.code(), "setup_user_not_ours");
    let keys = iam
        .list_access_keys()
        .user_name(&user)
        .send()
        .await
        .unwrap();
    assert!(
        keys.access_key_metadata().is_empty(),
        "no key was made for it"
    );
}

/// Attack: someone holding the easyTDV keys made a role trusting their own
/// account (or an older easyTDV left roles without the boundary). The setup's
/// plan names them for the person to delete.
#[tokio::test(flavor = "multi_thread")]
async fn the_plan_names_easytdv_roles_easytdv_would_not_have_made() {
    let admin = easytdv_core::aws::AwsContext::from_sdk_config(
        common::admin_config(REGION).await,
        Some(common::endpoint()),
    );
    let iam = admin.iam();
    let boundary = bootstrap::policy_arn("aws", ACCOUNT, BOUNDARY_NAME);
    let suffix = uuid_suffix();
    let outside = format!("easytdv-{suffix}-launcher");
    iam.create_role()
        .role_name(&outside)
        .permissions_boundary(&boundary)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let unbounded = format!("easytdv-{suffix}-instance");
    iam.create_role()
        .role_name(&unbounded)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let fine = format!("easytdv-{suffix}-sagemaker");
    iam.create_role()
        .role_name(&fine)
        .permissions_boundary(&boundary)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let plan = bootstrap::plan(&admin, &format!("easytdv-u-{suffix}"))
        .await
        .unwrap();
    let review: Vec<&bootstrap::SetupStep> = plan
        .steps
        .iter()
        .filter(|s| s.action == StepAction::Review)
        .collect();
    let named = |name: &str| review.iter().find(|s| s.what == format!("the role {name}"));
    assert!(
        named(&outside)
            .unwrap()
            .why
            .contains("other than an AWS service"),
        "{review:?}"
    );
    assert!(
        named(&unbounded)
            .unwrap()
            .why
            .contains("no easyTDV permissions boundary"),
        "{review:?}"
    );
    assert!(named(&fine).is_none(), "{review:?}");
    for r in [&outside, &unbounded, &fine] {
        iam.delete_role().role_name(r).send().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_refuses_an_account_without_the_boundary() {
    let c = ctx().await;
    // The sandbox's other account (111111111111) never had easyTDV's setup.
    let e = easytdv_core::pipeline::require_account_setup(&c, "111111111111")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "account_not_set_up");
    assert!(e.hint().unwrap().contains("Set up easyTDV"));
    easytdv_core::pipeline::require_account_setup(&c, ACCOUNT)
        .await
        .unwrap();
}

fn uuid_suffix() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// An STS client of the sandbox signed with these keys (an IAM user's).
async fn static_sts(access_key_id: &str, secret: &str) -> aws_sdk_sts::Client {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(common::endpoint())
        .credentials_provider(aws_credential_types::Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            "test",
        ))
        .load()
        .await;
    aws_sdk_sts::Client::new(&conf)
}
