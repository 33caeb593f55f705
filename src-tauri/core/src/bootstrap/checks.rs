//! What the setup refuses or names before it changes anything: an existing
//! user holding more than easyTDV's policies, and `easytdv-*` roles easyTDV
//! would not have made.

use super::{
    BootstrapError, SetupStep, StepAction, BOUNDARY_NAME, READ_POLICY_NAME, USER_POLICY_NAME,
};
use crate::aws::AwsContext;

/// `easytdv-*` roles easyTDV would not have made: without the boundary (an
/// older easyTDV's, or someone's), or trusting anything but one AWS service
/// (a way in for another account). The setup names them; deleting them is
/// the person's call.
pub(super) async fn suspicious_roles(admin: &AwsContext) -> Result<Vec<SetupStep>, BootstrapError> {
    let iam = admin.iam();
    let mut found = Vec::new();
    let mut marker = None;
    loop {
        let page = iam
            .list_roles()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| BootstrapError::from_sdk("iam:ListRoles", &e))?;
        for role in page.roles() {
            if !role.role_name().starts_with("easytdv-") {
                continue;
            }
            // ListRoles leaves the boundary out: ask for the role itself. A
            // role deleted since the listing (a run's clean-up) is gone, not
            // suspicious.
            let full = match iam.get_role().role_name(role.role_name()).send().await {
                Ok(full) => full,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_no_such_entity_exception()) =>
                {
                    continue
                }
                Err(e) => return Err(BootstrapError::from_sdk("iam:GetRole", &e)),
            };
            let Some(r) = full.role() else { continue };
            let bounded = r
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .is_some_and(|arn| arn.ends_with(&format!(":policy/{BOUNDARY_NAME}")));
            let trust = percent_encoding::percent_decode_str(
                r.assume_role_policy_document().unwrap_or_default(),
            )
            .decode_utf8_lossy()
            .into_owned();
            let why = match (bounded, trusts_one_service(&trust)) {
                (true, true) => continue,
                (false, true) => "has no easyTDV permissions boundary (an older easyTDV's run, or someone else's): delete it in the IAM console if no run of yours is using it".to_string(),
                (_, false) => "may be taken on by something other than an AWS service (its trust policy names another principal): delete it in the IAM console unless you made it on purpose".to_string(),
            };
            found.push(SetupStep {
                action: StepAction::Review,
                what: format!("the role {}", r.role_name()),
                why,
            });
        }
        match page.marker() {
            Some(m) if page.is_truncated() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    Ok(found)
}

/// Whether a trust policy lets only AWS services (`*.amazonaws.com`) assume the role.
pub fn trusts_one_service(trust: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(trust) else {
        return false;
    };
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    statements
        .iter()
        .filter(|st| st["Effect"] == "Allow")
        .all(|st| {
            let p = &st["Principal"];
            p.as_object()
                .is_some_and(|o| o.keys().all(|k| k == "Service"))
                && match &p["Service"] {
                    serde_json::Value::String(s) => s.ends_with(".amazonaws.com"),
                    serde_json::Value::Array(a) => a
                        .iter()
                        .all(|s| s.as_str().is_some_and(|s| s.ends_with(".amazonaws.com"))),
                    _ => false,
                }
        })
}

/// Refuses an existing user that holds anything besides easyTDV's two
/// policies (other managed or inline policies, groups): a key made for it
/// would not be the bounded identity the setup promises.
pub(super) async fn only_easytdv_rights(
    admin: &AwsContext,
    user: &str,
) -> Result<(), BootstrapError> {
    let iam = admin.iam();
    let mut other = Vec::new();
    let attached = iam
        .list_attached_user_policies()
        .user_name(user)
        .send()
        .await
        .map_err(|e| BootstrapError::from_sdk("iam:ListAttachedUserPolicies", &e))?;
    for p in attached.attached_policies() {
        let name = p.policy_name().unwrap_or_default();
        if name != USER_POLICY_NAME && name != READ_POLICY_NAME {
            other.push(format!("the policy {name}"));
        }
    }
    let inline = iam
        .list_user_policies()
        .user_name(user)
        .send()
        .await
        .map_err(|e| BootstrapError::from_sdk("iam:ListUserPolicies", &e))?;
    other.extend(
        inline
            .policy_names()
            .iter()
            .map(|n| format!("the inline policy {n}")),
    );
    let groups = iam
        .list_groups_for_user()
        .user_name(user)
        .send()
        .await
        .map_err(|e| BootstrapError::from_sdk("iam:ListGroupsForUser", &e))?;
    other.extend(
        groups
            .groups()
            .iter()
            .map(|g| format!("the group {}", g.group_name())),
    );
    if other.is_empty() {
        Ok(())
    } else {
        Err(BootstrapError::UserNotOurs {
            user: user.to_string(),
            holds: other.join(", "),
        })
    }
}
