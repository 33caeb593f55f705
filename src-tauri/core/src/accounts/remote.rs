//! What AWS says of an account's credentials: who they belong to, which
//! permissions a run lacks, the guided setup's check. Saves nothing.

use super::{
    input, keys_of, preflight, refuse_root, static_source, verify, AccountDraft, AccountError,
    AccountSetup, Accounts, Identity, PermissionReport,
};
use crate::aws::{AwsContext, CredentialSource};

impl Accounts {
    /// Checks credentials before saving them: who AWS says they belong to.
    /// Saves nothing, creates nothing. The draft's name is not checked.
    pub async fn verify(&self, draft: &AccountDraft) -> Result<Identity, AccountError> {
        let (source, region) = match draft {
            AccountDraft::Keys(input) => {
                let keys = keys_of(input)?;
                (static_source(keys), input::validate_region(&input.region)?)
            }
            AccountDraft::Profile(input) => {
                let (name, region) = self.profile_and_region(input)?;
                (CredentialSource::Profile { name }, region)
            }
            AccountDraft::Sandbox(input) => {
                let endpoint = input::validate_endpoint(&input.endpoint)?;
                (
                    CredentialSource::Sandbox { endpoint },
                    input::validate_region(&input.region)?,
                )
            }
        };
        let identity = self
            .identify(&source, &region)
            .await
            .map(|(_, identity)| identity)?;
        if !matches!(draft, AccountDraft::Sandbox(_)) {
            refuse_root(&identity.arn)?;
        }
        Ok(identity)
    }

    /// Checks a saved account's credentials.
    pub async fn verify_account(&self, id: &str) -> Result<Identity, AccountError> {
        let (source, region) = self.credential_source(id)?;
        self.identify(&source, &region)
            .await
            .map(|(_, identity)| identity)
    }

    /// Which permissions a run needs that this account lacks. Creates nothing.
    pub async fn check_permissions(&self, id: &str) -> Result<PermissionReport, AccountError> {
        let (source, region) = self.credential_source(id)?;
        let (ctx, identity) = self.identify(&source, &region).await?;
        preflight::check_permissions(&ctx, &source, &identity).await
    }

    /// The guided-setup check of a saved account: identity, then permissions.
    pub async fn setup(&self, id: &str) -> Result<AccountSetup, AccountError> {
        let account = self.get(id)?;
        let (source, region) = self.credential_source(id)?;
        let (ctx, identity) = self.identify(&source, &region).await?;
        let report = preflight::check_permissions(&ctx, &source, &identity).await?;
        Ok(AccountSetup {
            account,
            identity,
            missing_permissions: report.missing,
            unchecked_permissions: report.unchecked,
            permission_check: report.check,
        })
    }

    /// GetCallerIdentity, with a vanished profile named as such (the SDK
    /// only says that no credentials were found).
    pub(super) async fn identify(
        &self,
        source: &CredentialSource,
        region: &str,
    ) -> Result<(AwsContext, Identity), AccountError> {
        let ctx = verify::context(source, region).await?;
        match verify::verify_context(&ctx, source).await {
            Ok(identity) => Ok((ctx, identity)),
            Err(AccountError::NoCredentials {
                profile: Some(name),
                detail,
            }) => {
                if self.profiles().iter().any(|p| p.name == name) {
                    Err(AccountError::NoCredentials {
                        profile: Some(name),
                        detail,
                    })
                } else {
                    Err(AccountError::ProfileNotFound(name))
                }
            }
            Err(other) => Err(other),
        }
    }
}
