//! What can go wrong in the account setup, in plain words.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::failure::{self, FailureKind};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    #[error("these credentials may not do {action} (they cannot administer IAM)")]
    NotAllowed { action: &'static str },
    #[error("the IAM user {user} already exists and holds {holds}: easyTDV's key must hold easyTDV's policies only")]
    UserNotOurs { user: String, holds: String },
    #[error("the IAM user {user} already has two access keys, the most IAM allows")]
    TooManyKeys { user: String },
    #[error("\"{0}\" is not a valid IAM user name")]
    BadUserName(String),
    #[error("AWS could not be reached during {action}: {message}")]
    Unreachable {
        action: &'static str,
        message: String,
    },
    #[error("AWS refused {action}{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Aws {
        action: &'static str,
        code: Option<String>,
        message: String,
    },
}

impl BootstrapError {
    pub fn from_sdk<E>(action: &'static str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let f = failure::classify(err);
        match f.kind {
            FailureKind::Denied => Self::NotAllowed { action },
            FailureKind::Unreachable => Self::Unreachable {
                action,
                message: f.message,
            },
            _ => Self::Aws {
                action,
                code: f.code,
                message: f.message,
            },
        }
    }
}

impl crate::explain::Explain for BootstrapError {
    fn code(&self) -> &'static str {
        match self {
            Self::NotAllowed { .. } => "setup_not_admin",
            Self::TooManyKeys { .. } => "setup_too_many_keys",
            Self::UserNotOurs { .. } => "setup_user_not_ours",
            Self::BadUserName(_) => "setup_bad_user_name",
            Self::Unreachable { .. } => "no_network",
            Self::Aws { .. } => "aws_error",
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::NotAllowed { .. } => "Use a profile or keys of someone who administers the account (AdministratorAccess or IAMFullAccess), once. Or send the three documents below to the person who manages the account: they create them and attach the two easyTDV policies to your IAM user.".into(),
            Self::TooManyKeys { user } => format!("Delete an unused access key of {user} in the IAM console (IAM → Users → {user} → Security credentials), then run the setup again."),
            Self::UserNotOurs { .. } => "Choose another name for easyTDV's IAM user (for example easytdv-runs): easyTDV will create it with its own policies only.".into(),
            Self::BadUserName(_) => "Use letters, digits and + = , . @ _ - (up to 64 characters).".into(),
            Self::Unreachable { .. } => "Check your internet connection, then run the setup again: what was done is kept, and the setup continues from there.".into(),
            Self::Aws { .. } => "Run the setup again: what was done is kept. If it keeps failing, create the documents below by hand.".into(),
        })
    }
}

/// IAM's user-name rule: `[\w+=,.@-]{1,64}`.
pub fn check_user_name(name: &str) -> Result<String, BootstrapError> {
    let name = name.trim();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(name.to_string())
    } else {
        Err(BootstrapError::BadUserName(name.to_string()))
    }
}
