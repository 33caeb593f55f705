//! The one-time setup of an AWS account for easyTDV, done for a person who
//! is not a cloud specialist (as `coiled setup aws` does): with credentials
//! that may administer IAM — a profile or SSO session, or keys typed once —
//! used for this and never stored, it creates
//!
//! 1. the permissions boundary `easytdv-boundary`, which caps every role a
//!    run creates (the easyTDV policies may create roles only with it);
//! 2. the two easyTDV policies (`easytdv-user-policy`, `easytdv-read-policy`);
//! 3. the IAM user `easytdv` with both attached, and an access key for it,
//!    which goes straight to the OS keychain ([`crate::accounts`]).
//!
//! [`plan`] says what it will create (or update: a newer app ships newer
//! documents, like CDK's bootstrap versions) before anything is done;
//! [`apply`] does it, idempotently. Without such credentials the setup
//! screen shows the same documents with Copy ([`documents`]).

mod checks;
pub(crate) mod documents;
mod error;
mod policies;

use aws_sdk_iam::types::Tag;
use serde::Serialize;

pub use documents::{
    documents, policy_arn, PolicyDocument, BOUNDARY_NAME, DEFAULT_USER_NAME, READ_POLICY_NAME,
    USER_POLICY_NAME,
};
pub use error::BootstrapError;

use crate::aws::failure;
use crate::aws::AwsContext;
use crate::secret::Sensitive;

pub use checks::trusts_one_service;
use checks::{only_easytdv_rights, suspicious_roles};
use policies::{current_document, ensure_policy};

/// What one step of the setup will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum StepAction {
    Create,
    Update,
    /// Already there as it should be.
    Keep,
    /// Already there but not as easyTDV makes it: for the person to look at.
    Review,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SetupStep {
    pub action: StepAction,
    /// e.g. "the policy easytdv-boundary".
    pub what: String,
    /// Why, in plain words.
    pub why: String,
}

/// What [`apply`] will do in this account, shown before it does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct SetupPlan {
    pub account_id: String,
    /// Who the administrator credentials belong to.
    pub admin_arn: String,
    /// The account's root user: its keys are the most dangerous to keep.
    pub admin_is_root: bool,
    pub user_name: String,
    pub steps: Vec<SetupStep>,
}

/// The easyTDV identity [`apply`] made. The secret never crosses IPC.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub account_id: String,
    pub user_arn: String,
    pub access_key_id: String,
    pub secret_access_key: Sensitive,
}

/// Whether an ARN from GetCallerIdentity is the account's root user.
pub fn is_root_arn(arn: &str) -> bool {
    arn.rsplit_once(':')
        .is_some_and(|(head, tail)| tail == "root" && head.contains(":iam::"))
}

fn tag() -> Result<Tag, BootstrapError> {
    Tag::builder()
        .key("easytdv:app")
        .value("easytdv")
        .build()
        .map_err(|e| BootstrapError::Aws {
            action: "iam:TagPolicy",
            code: None,
            message: e.to_string(),
        })
}

/// Who the administrator credentials are: (account, arn).
async fn caller(admin: &AwsContext) -> Result<(String, String), BootstrapError> {
    let who = admin
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| BootstrapError::from_sdk("sts:GetCallerIdentity", &e))?;
    Ok((
        who.account().unwrap_or_default().to_string(),
        who.arn().unwrap_or_default().to_string(),
    ))
}

fn policy_step(name: &str, current: &Option<String>, wanted: &str, why: &str) -> SetupStep {
    let action = match current {
        None => StepAction::Create,
        Some(doc) if documents::same_document(doc, wanted) => StepAction::Keep,
        Some(_) => StepAction::Update,
    };
    SetupStep {
        action,
        what: format!("the policy {name}"),
        why: why.into(),
    }
}

fn wanted() -> [(&'static str, &'static str, &'static str); 3] {
    [
        (
            BOUNDARY_NAME,
            documents::BOUNDARY,
            "caps every role a run creates: no IAM, Organizations or KMS administration, only easyTDV's own files",
        ),
        (
            USER_POLICY_NAME,
            documents::USER_POLICY,
            "what a run changes: uploads, the run's roles (only with the boundary), its machine, the clean-up",
        ),
        (
            READ_POLICY_NAME,
            documents::READ_POLICY,
            "what easyTDV reads: machine types, images, prices, quotas, its own permissions",
        ),
    ]
}

/// What [`apply`] would do; creates nothing.
pub async fn plan(admin: &AwsContext, user_name: &str) -> Result<SetupPlan, BootstrapError> {
    let user_name = error::check_user_name(user_name)?;
    let (account, arn) = caller(admin).await?;
    let partition = documents::partition_of(&arn).to_string();
    let mut steps = Vec::new();
    for (name, doc, why) in wanted() {
        let current = current_document(admin, &policy_arn(&partition, &account, name)).await?;
        steps.push(policy_step(name, &current, doc, why));
    }
    let user_exists = match admin.iam().get_user().user_name(&user_name).send().await {
        Ok(_) => {
            only_easytdv_rights(admin, &user_name).await?;
            true
        }
        Err(e) if failure::code_of(&e) == Some("NoSuchEntity") => false,
        Err(e) => return Err(BootstrapError::from_sdk("iam:GetUser", &e)),
    };
    steps.push(SetupStep {
        action: if user_exists {
            StepAction::Keep
        } else {
            StepAction::Create
        },
        what: format!("the IAM user {user_name}"),
        why: "the identity easyTDV signs in as, with the two easyTDV policies attached".into(),
    });
    steps.extend(suspicious_roles(admin).await?);
    steps.push(SetupStep {
        action: StepAction::Create,
        what: format!("an access key of {user_name}"),
        why:
            "kept only in this computer's keychain; delete it in the IAM console to revoke easyTDV"
                .into(),
    });
    Ok(SetupPlan {
        account_id: account,
        admin_is_root: is_root_arn(&arn),
        admin_arn: arn,
        user_name,
        steps,
    })
}

/// Makes sure the boundary exists (and is the current one). For accounts set
/// up by hand and for the practice cloud, whose credentials may do it.
pub async fn ensure_boundary(admin: &AwsContext) -> Result<(), BootstrapError> {
    let (account, arn) = caller(admin).await?;
    let partition = documents::partition_of(&arn);
    ensure_policy(
        admin,
        &policy_arn(partition, &account, BOUNDARY_NAME),
        BOUNDARY_NAME,
        documents::BOUNDARY,
    )
    .await
}

/// Whether the account has easyTDV's boundary: without it, no run can create
/// its roles (the user policy requires it). Read with the user's own
/// credentials (`iam:GetPolicy` on the boundary is in the read policy).
pub async fn boundary_exists(
    ctx: &AwsContext,
    account: &str,
    partition: &str,
) -> Result<bool, BootstrapError> {
    match ctx
        .iam()
        .get_policy()
        .policy_arn(policy_arn(partition, account, BOUNDARY_NAME))
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if failure::code_of(&e) == Some("NoSuchEntity") => Ok(false),
        Err(e) => Err(BootstrapError::from_sdk("iam:GetPolicy", &e)),
    }
}

/// Does the setup: the three policies, the user, its access key.
pub async fn apply(admin: &AwsContext, user_name: &str) -> Result<NewIdentity, BootstrapError> {
    let user_name = error::check_user_name(user_name)?;
    let (account, arn) = caller(admin).await?;
    let partition = documents::partition_of(&arn).to_string();
    for (name, doc, _) in wanted() {
        ensure_policy(admin, &policy_arn(&partition, &account, name), name, doc).await?;
    }
    let iam = admin.iam();
    let user_arn = match iam.get_user().user_name(&user_name).send().await {
        Ok(out) => {
            // An existing user is reused only if it holds nothing but easyTDV's
            // policies: its new key must be as bounded as the plan says.
            only_easytdv_rights(admin, &user_name).await?;
            out.user.map(|u| u.arn).unwrap_or_default()
        }
        Err(e) if failure::code_of(&e) == Some("NoSuchEntity") => iam
            .create_user()
            .user_name(&user_name)
            .tags(tag()?)
            .send()
            .await
            .map_err(|e| BootstrapError::from_sdk("iam:CreateUser", &e))?
            .user
            .map(|u| u.arn)
            .unwrap_or_default(),
        Err(e) => return Err(BootstrapError::from_sdk("iam:GetUser", &e)),
    };
    for name in [USER_POLICY_NAME, READ_POLICY_NAME] {
        iam.attach_user_policy()
            .user_name(&user_name)
            .policy_arn(policy_arn(&partition, &account, name))
            .send()
            .await
            .map_err(|e| BootstrapError::from_sdk("iam:AttachUserPolicy", &e))?;
    }
    let keys = iam
        .list_access_keys()
        .user_name(&user_name)
        .send()
        .await
        .map_err(|e| BootstrapError::from_sdk("iam:ListAccessKeys", &e))?
        .access_key_metadata;
    if keys.len() >= 2 {
        // IAM allows two access keys per user.
        return Err(BootstrapError::TooManyKeys { user: user_name });
    }
    let key = iam
        .create_access_key()
        .user_name(&user_name)
        .send()
        .await
        .map_err(|e| BootstrapError::from_sdk("iam:CreateAccessKey", &e))?
        .access_key
        .ok_or_else(|| BootstrapError::Aws {
            action: "iam:CreateAccessKey",
            code: None,
            message: "IAM answered without the new key".into(),
        })?;
    tracing::info!(account, user = %user_name, "easyTDV's account setup is done");
    Ok(NewIdentity {
        account_id: account,
        user_arn,
        access_key_id: key.access_key_id,
        secret_access_key: Sensitive::new(key.secret_access_key),
    })
}

/// Deletes an access key [`apply`] made, when keeping it failed (the
/// keychain refused it): nothing is left behind that nobody holds.
pub async fn revoke_key(
    admin: &AwsContext,
    user_name: &str,
    access_key_id: &str,
) -> Result<(), BootstrapError> {
    admin
        .iam()
        .delete_access_key()
        .user_name(user_name)
        .access_key_id(access_key_id)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| BootstrapError::from_sdk("iam:DeleteAccessKey", &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_arns() {
        assert!(is_root_arn("arn:aws:iam::123456789012:root"));
        assert!(is_root_arn("arn:aws-cn:iam::123456789012:root"));
        assert!(!is_root_arn("arn:aws:iam::123456789012:user/root"));
        assert!(!is_root_arn(
            "arn:aws:sts::123456789012:assumed-role/root/x"
        ));
    }

    #[test]
    fn only_service_trust_policies_are_trusted() {
        let service = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        assert!(trusts_one_service(service));
        for other in [
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com","AWS":"*"},"Action":"sts:AssumeRole"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Federated":"accounts.google.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#,
            "not json",
        ] {
            assert!(!trusts_one_service(other), "{other}");
        }
    }

    #[test]
    fn steps_say_create_update_or_keep() {
        let doc = documents::BOUNDARY;
        assert_eq!(policy_step("p", &None, doc, "").action, StepAction::Create);
        assert_eq!(
            policy_step("p", &Some(doc.replace(' ', "")), doc, "").action,
            StepAction::Keep
        );
        assert_eq!(
            policy_step("p", &Some("{}".into()), doc, "").action,
            StepAction::Update
        );
    }
}
