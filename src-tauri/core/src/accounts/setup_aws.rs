//! "Set up easyTDV on my AWS account": the one-time setup of
//! [`crate::bootstrap`] run with administrator credentials that are used for
//! it and never stored, ending with an account of easyTDV's own, bounded
//! identity whose keys go straight to the keychain.

use std::time::{Duration, Instant};

use super::error::AccountError;
use super::model::{AccountSetup, KeysInput};
use super::{input, Accounts};
use crate::aws::CredentialSource;
use crate::bootstrap::{self, SetupPlan};
use crate::secret::Sensitive;

/// How long new access keys may take to work (IAM is eventually consistent).
const NEW_KEY_WAIT: Duration = Duration::from_secs(60);

/// Administrator credentials for the setup: used once, never saved.
#[derive(Debug, Clone)]
pub enum AdminCredentials {
    Keys {
        access_key_id: String,
        secret_access_key: Sensitive,
        session_token: Option<Sensitive>,
    },
    Profile {
        name: String,
    },
}

impl AdminCredentials {
    fn source(&self) -> Result<CredentialSource, AccountError> {
        Ok(match self {
            AdminCredentials::Keys {
                access_key_id,
                secret_access_key,
                session_token,
            } => {
                let (access_key_id, secret_access_key) =
                    input::normalize_keys(access_key_id, secret_access_key)?;
                CredentialSource::Static {
                    access_key_id,
                    secret_access_key,
                    session_token: session_token.clone().filter(|t| !t.is_empty()),
                }
            }
            AdminCredentials::Profile { name } => CredentialSource::Profile { name: name.clone() },
        })
    }
}

impl Accounts {
    /// What the setup would create in the account; creates nothing.
    pub async fn plan_aws_setup(
        &self,
        admin: &AdminCredentials,
        region: &str,
        user_name: &str,
    ) -> Result<SetupPlan, AccountError> {
        let region = input::validate_region(region)?;
        let source = admin.source()?;
        let (ctx, _) = self.identify(&source, &region).await?;
        Ok(bootstrap::plan(&ctx, user_name).await?)
    }

    /// Does the setup, then saves easyTDV's own identity as the account
    /// `name` (keys in the keychain) and checks it like any new account.
    pub async fn set_up_aws(
        &self,
        admin: &AdminCredentials,
        name: &str,
        region: &str,
        user_name: &str,
    ) -> Result<AccountSetup, AccountError> {
        let region = input::validate_region(region)?;
        let source = admin.source()?;
        let (ctx, _) = self.identify(&source, &region).await?;
        let made = bootstrap::apply(&ctx, user_name).await?;
        let saved = self.add_keys(KeysInput {
            name: name.to_string(),
            access_key_id: made.access_key_id.clone(),
            secret_access_key: made.secret_access_key.clone(),
            session_token: None,
            region: region.clone(),
        });
        let account = match saved {
            Ok(a) => a,
            Err(e) => {
                // Nobody holds the key then: take it back.
                if let Err(revoke) =
                    bootstrap::revoke_key(&ctx, user_name, &made.access_key_id).await
                {
                    tracing::error!(error = %revoke, "could not delete the access key the setup made");
                }
                return Err(e);
            }
        };
        // A new access key takes a few seconds to work everywhere.
        let start = Instant::now();
        loop {
            match self.verify_account(&account.id).await {
                Ok(_) => break,
                Err(AccountError::UnknownAccessKey | AccountError::WrongSecret)
                    if start.elapsed() < NEW_KEY_WAIT =>
                {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => return Err(e),
            }
        }
        tracing::info!(account = %account.id, user = %made.user_arn, "easyTDV's own identity is saved");
        self.setup(&account.id).await
    }
}

/// The checks of a new account (`verify`) refuse the root user's keys: they
/// can do everything, including closing the account; easyTDV offers the
/// setup instead, which makes a bounded identity with them.
pub fn refuse_root(arn: &str) -> Result<(), AccountError> {
    if bootstrap::is_root_arn(arn) {
        return Err(AccountError::RootKeys);
    }
    Ok(())
}
