//! What can go wrong with secrets, told in plain words. No variant ever holds
//! a secret's value: only names, counts and the keychain's own words.

use crate::accounts::AccountError;
use crate::explain::Explain;

use super::{MAX_PER_RUN, MAX_VALUE_CHARS};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The name is not repeated: a value pasted in the wrong field must not
    /// come back in a message.
    #[error("a secret's name must be a valid environment variable name: {why}")]
    BadName { why: &'static str },

    #[error("{shown} is a name easyTDV or the machine sets itself; a secret may not replace it")]
    ReservedName { shown: String },

    #[error("the secret {name} is empty")]
    EmptyValue { name: String },

    #[error("the secret {name} is {chars} characters long; AWS Parameter Store keeps at most {MAX_VALUE_CHARS}")]
    TooLong { name: String, chars: usize },

    #[error("there is no secret named {name} for the account \"{account}\"")]
    NotFound {
        name: String,
        account: String,
        known: Vec<String>,
    },

    #[error("the secret {name} is chosen twice")]
    Duplicate { name: String },

    #[error("{count} secrets are chosen; a run takes at most {MAX_PER_RUN}")]
    TooMany { count: usize },

    #[error("the OS keychain is not available: {0}")]
    KeychainUnavailable(String),

    #[error("the OS keychain is locked or refused access: {0}")]
    KeychainLocked(String),

    #[error("the keychain's list of secrets for the account \"{account}\" cannot be read")]
    KeychainCorrupt { account: String },

    #[error("the secret {name} is still in the OS keychain after it was deleted")]
    DeleteUnverified { name: String },

    #[error(transparent)]
    Account(#[from] AccountError),
}

impl Explain for SecretError {
    fn code(&self) -> &'static str {
        match self {
            SecretError::BadName { .. } => "secret_bad_name",
            SecretError::ReservedName { .. } => "secret_reserved_name",
            SecretError::EmptyValue { .. } => "secret_empty",
            SecretError::TooLong { .. } => "secret_too_long",
            SecretError::NotFound { .. } => "secret_not_found",
            SecretError::Duplicate { .. } => "secret_duplicate",
            SecretError::TooMany { .. } => "secret_too_many",
            SecretError::KeychainUnavailable(_) => "keychain_unavailable",
            SecretError::KeychainLocked(_) => "keychain_locked",
            SecretError::KeychainCorrupt { .. } => "keychain_entry_corrupt",
            SecretError::DeleteUnverified { .. } => "secret_delete_unverified",
            SecretError::Account(e) => e.code(),
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            SecretError::BadName { .. } => "Use letters, digits and underscores, not starting with a digit, e.g. WANDB_API_KEY or HF_TOKEN.".to_string(),
            SecretError::ReservedName { .. } => "Choose another name (train.py reads it with os.environ[\"NAME\"]); names starting with EASYTDV_ or AWS_, and PATH, HOME, OUTPUT_DIR, DATA_DIR, PYTHONPATH, PYTHONHOME and LD_* are taken.".to_string(),
            SecretError::EmptyValue { .. } => "Paste the token or key itself.".to_string(),
            SecretError::TooLong { .. } => "Keep the value itself (a token, a key), not a file: put files in the data folder or in S3.".to_string(),
            SecretError::NotFound { known, .. } if known.is_empty() => "This account has no secrets yet: add one on the Accounts page (Secrets), or with `easytdv secrets set --account NAME SECRET_NAME` (the value is read from standard input).".to_string(),
            SecretError::NotFound { known, .. } => format!("This account's secrets are: {}. Add the missing one on the Accounts page (Secrets), or with `easytdv secrets set`.", known.join(", ")),
            SecretError::Duplicate { .. } => "Choose each secret once.".to_string(),
            SecretError::TooMany { .. } => "Choose only the secrets train.py reads.".to_string(),
            SecretError::KeychainUnavailable(_) => "easyTDV keeps secrets only in the OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows). Start or install it, then try again.".to_string(),
            SecretError::KeychainLocked(_) => "Unlock the keychain (your login keyring) and try again.".to_string(),
            SecretError::KeychainCorrupt { .. } => "Add the account's secrets again on the Accounts page.".to_string(),
            SecretError::DeleteUnverified { .. } => "Remove the entry by hand in your keychain app (service \"easytdv\").".to_string(),
            SecretError::Account(e) => return e.hint(),
        })
    }
}

/// A keychain failure, told for `account` (never with the stored bytes).
pub(super) fn keychain(err: crate::accounts::KeychainError, account: &str) -> SecretError {
    use crate::accounts::KeychainError;
    match err {
        KeychainError::Unavailable(m) => SecretError::KeychainUnavailable(m),
        KeychainError::Locked(m) => SecretError::KeychainLocked(m),
        KeychainError::Corrupt => SecretError::KeychainCorrupt {
            account: account.to_string(),
        },
    }
}

/// Equal when told the same way (request checks compare errors; an
/// account's error holds no comparable parts).
impl PartialEq for SecretError {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code() && self.to_string() == other.to_string()
    }
}
