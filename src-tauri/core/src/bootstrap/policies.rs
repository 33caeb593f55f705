//! easyTDV's managed policies in the account: read the one in force, create
//! it or make the wanted document its default version.

use super::{documents, tag, BootstrapError};
use crate::aws::failure;
use crate::aws::AwsContext;

/// The document of a managed policy's default version, or `None` when the
/// policy does not exist.
pub(super) async fn current_document(
    admin: &AwsContext,
    arn: &str,
) -> Result<Option<String>, BootstrapError> {
    let iam = admin.iam();
    let policy = match iam.get_policy().policy_arn(arn).send().await {
        Ok(out) => out.policy,
        Err(e) if failure::code_of(&e) == Some("NoSuchEntity") => return Ok(None),
        Err(e) => return Err(BootstrapError::from_sdk("iam:GetPolicy", &e)),
    };
    let Some(version) = policy.and_then(|p| p.default_version_id) else {
        return Ok(Some(String::new()));
    };
    let out = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .map_err(|e| BootstrapError::from_sdk("iam:GetPolicyVersion", &e))?;
    let encoded = out
        .policy_version
        .and_then(|v| v.document)
        .unwrap_or_default();
    // IAM answers documents URL-encoded (RFC 3986).
    Ok(Some(
        percent_encoding::percent_decode_str(&encoded)
            .decode_utf8_lossy()
            .into_owned(),
    ))
}

/// Creates or updates one managed policy so its default version is `doc`.
pub(super) async fn ensure_policy(
    admin: &AwsContext,
    arn: &str,
    name: &str,
    doc: &str,
) -> Result<(), BootstrapError> {
    let iam = admin.iam();
    match current_document(admin, arn).await? {
        Some(current) if documents::same_document(&current, doc) => Ok(()),
        None => iam
            .create_policy()
            .policy_name(name)
            .policy_document(doc)
            .description(
                "easyTDV (https://github.com/easytdv): created by its one-time account setup",
            )
            .tags(tag()?)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| BootstrapError::from_sdk("iam:CreatePolicy", &e)),
        Some(_) => {
            // A managed policy keeps at most 5 versions: drop the oldest spare one.
            let versions = iam
                .list_policy_versions()
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| BootstrapError::from_sdk("iam:ListPolicyVersions", &e))?
                .versions
                .unwrap_or_default();
            if versions.len() >= 5 {
                let oldest = versions
                    .iter()
                    .filter(|v| !v.is_default_version)
                    .min_by_key(|v| v.create_date.map(|d| d.secs()));
                if let Some(id) = oldest.and_then(|v| v.version_id.clone()) {
                    iam.delete_policy_version()
                        .policy_arn(arn)
                        .version_id(id)
                        .send()
                        .await
                        .map_err(|e| BootstrapError::from_sdk("iam:DeletePolicyVersion", &e))?;
                }
            }
            iam.create_policy_version()
                .policy_arn(arn)
                .policy_document(doc)
                .set_as_default(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| BootstrapError::from_sdk("iam:CreatePolicyVersion", &e))
        }
    }
}
