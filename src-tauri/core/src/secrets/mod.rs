//! Secrets for train.py (`WANDB_API_KEY`, `HF_TOKEN`…): kept per account in
//! the OS keychain (`vault.rs`), chosen per run by name, and delivered to the
//! run's machine through AWS Systems Manager Parameter Store
//! (`parameters.rs`): a `SecureString` per secret under
//! `/easytdv/runs/<run-id>/secrets/<NAME>`, encrypted with the account's
//! AWS-managed key `aws/ssm`, readable only by that run's instance role,
//! put before the machine starts and deleted (and checked gone) by the
//! clean-up. The machine reads them when the training starts and hands
//! them to train.py's environment only (EC2: `templates/instance/train.sh`;
//! SageMaker: the job's execution role, read by the launcher,
//! `templates/sagemaker/easytdv_secrets.py`, before it becomes the script).
//!
//! A value never appears in an SSM command, a log, the history, the data
//! folder or an IPC response: [`RunSecret`] holds it as [`Sensitive`] (no
//! `Serialize`, a redacted `Debug`), and only names travel anywhere else.

mod error;
mod names;
pub mod parameters;
mod vault;

pub use error::SecretError;
pub use names::{validate_name, MAX_NAME_CHARS};
pub use vault::{check_value, Vault};

use crate::accounts::Accounts;
use crate::secret::Sensitive;

/// The longest value taken: Parameter Store's standard tier keeps 4,096
/// characters ("Standard tier parameters support a maximum parameter value
/// of 4096 characters").
pub const MAX_VALUE_CHARS: usize = 4096;

/// The most secrets one run takes.
pub const MAX_PER_RUN: usize = 20;

/// One secret's name and value, for one run.
#[derive(Clone)]
pub struct RunSecret {
    pub name: String,
    pub value: Sensitive,
}

impl std::fmt::Debug for RunSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RunSecret({}=***)", self.name)
    }
}

/// The secrets a run was given, read from the keychain when it starts (and
/// again when it is retried: a fixed token is picked up).
#[derive(Clone, Default, Debug)]
pub struct RunSecrets(Vec<RunSecret>);

impl RunSecrets {
    pub fn new(secrets: Vec<RunSecret>) -> Self {
        Self(secrets)
    }

    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|s| s.name.as_str()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &RunSecret> {
        self.0.iter()
    }

    /// Whether these are exactly the secrets a request names.
    pub fn matches(&self, names: &[String]) -> bool {
        let mut mine = self.names();
        let mut asked: Vec<&str> = names.iter().map(String::as_str).collect();
        mine.sort_unstable();
        asked.sort_unstable();
        mine == asked
    }

    /// `text` with every value replaced by `***` (an AWS error that quotes
    /// what it was sent, say).
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.0 {
            if !s.value.is_empty() {
                out = out.replace(s.value.expose(), "***");
            }
        }
        out
    }
}

/// The names a run asks for: each a valid name, each once, not too many
/// (both engines take them).
pub fn check_request_names(names: &[String]) -> Result<(), SecretError> {
    if names.len() > MAX_PER_RUN {
        return Err(SecretError::TooMany { count: names.len() });
    }
    for (i, name) in names.iter().enumerate() {
        if validate_name(name)? != *name {
            return Err(SecretError::BadName {
                why: "it has spaces around it",
            });
        }
        if names[..i].contains(name) {
            return Err(SecretError::Duplicate { name: name.clone() });
        }
    }
    Ok(())
}

/// Secrets, per saved account (any kind: keys, profile or practice cloud).
impl Accounts {
    /// The secrets' names of an account, sorted; never their values.
    pub fn secret_names(&self, account_id: &str) -> Result<Vec<String>, SecretError> {
        let account = self.get(account_id)?;
        Vault::new(self.secret_store(), &account.id, &account.name).names()
    }

    /// Adds or replaces a secret of an account; returns the names.
    pub fn set_secret(
        &self,
        account_id: &str,
        name: &str,
        value: &Sensitive,
    ) -> Result<Vec<String>, SecretError> {
        let account = self.get(account_id)?;
        Vault::new(self.secret_store(), &account.id, &account.name).set(name, value)
    }

    /// Deletes a secret of an account (checked gone); returns the names left.
    pub fn delete_secret(&self, account_id: &str, name: &str) -> Result<Vec<String>, SecretError> {
        let account = self.get(account_id)?;
        Vault::new(self.secret_store(), &account.id, &account.name).delete(name)
    }

    /// The values a run needs, read from the keychain now; a name the
    /// account does not have is refused (nothing is created).
    pub fn run_secrets(
        &self,
        account_id: &str,
        names: &[String],
    ) -> Result<RunSecrets, SecretError> {
        if names.is_empty() {
            return Ok(RunSecrets::none());
        }
        let account = self.get(account_id)?;
        Vault::new(self.secret_store(), &account.id, &account.name).resolve(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Explain;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_request_names_each_secret_once() {
        assert!(check_request_names(&[]).is_ok());
        assert!(check_request_names(&names(&["A", "B"])).is_ok());
        let code = |list: &[&str]| check_request_names(&names(list)).unwrap_err().code();
        assert_eq!(code(&["A", "A"]), "secret_duplicate");
        assert_eq!(code(&["A-B"]), "secret_bad_name");
        assert_eq!(code(&[" A"]), "secret_bad_name");
        assert_eq!(code(&["PATH"]), "secret_reserved_name");
        let many: Vec<String> = (0..=MAX_PER_RUN).map(|i| format!("S{i}")).collect();
        assert_eq!(
            check_request_names(&many).unwrap_err().code(),
            "secret_too_many"
        );
    }

    #[test]
    fn run_secrets_show_names_only_and_scrub_values() {
        let run = RunSecrets::new(vec![RunSecret {
            name: "HF_TOKEN".into(),
            value: Sensitive::new("hf_abc123"),
        }]);
        assert_eq!(format!("{run:?}"), "RunSecrets([RunSecret(HF_TOKEN=***)])");
        assert_eq!(
            run.scrub("Value 'hf_abc123' at 'value' failed"),
            "Value '***' at 'value' failed"
        );
        assert!(run.matches(&names(&["HF_TOKEN"])));
        assert!(!run.matches(&names(&["HF_TOKEN", "X"])));
        assert!(RunSecrets::none().matches(&[]));
    }
}
