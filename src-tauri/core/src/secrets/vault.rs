//! Where secrets live: the OS keychain, beside the account's keys (service
//! `easytdv`). One entry per secret (user `<account-id>:secret:<NAME>`, the
//! value alone) and one per account listing the names (user
//! `<account-id>:secrets`, a JSON list): the keychain has no search, and a
//! list of names is not secret but is kept out of the data folder anyway.
//! Values are only ever read back for a run; listing reads names only.

use std::sync::{Mutex, MutexGuard};

use super::error::{keychain, SecretError};
use super::names::validate_name;
use super::{RunSecret, RunSecrets, MAX_VALUE_CHARS};
use crate::accounts::SecretStore;
use crate::secret::Sensitive;

/// Changes to an account's list of names, one at a time (in this process).
static LIST_LOCK: Mutex<()> = Mutex::new(());

fn lock() -> MutexGuard<'static, ()> {
    // The guarded data is in the keychain; a panic elsewhere leaves it valid.
    LIST_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn list_user(account_id: &str) -> String {
    format!("{account_id}:secrets")
}

fn value_user(account_id: &str, name: &str) -> String {
    format!("{account_id}:secret:{name}")
}

/// The secrets of one account in a keychain.
pub struct Vault<'a> {
    store: &'a dyn SecretStore,
    account_id: &'a str,
    /// The account's name, for messages.
    account_name: &'a str,
}

impl<'a> Vault<'a> {
    pub fn new(store: &'a dyn SecretStore, account_id: &'a str, account_name: &'a str) -> Self {
        Self {
            store,
            account_id,
            account_name,
        }
    }

    /// The names, sorted.
    pub fn names(&self) -> Result<Vec<String>, SecretError> {
        let Some(list) = self
            .store
            .get(&list_user(self.account_id))
            .map_err(|e| keychain(e, self.account_name))?
        else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> =
            serde_json::from_str(list.expose()).map_err(|_| SecretError::KeychainCorrupt {
                account: self.account_name.to_string(),
            })?;
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn save_names(&self, names: &[String]) -> Result<(), SecretError> {
        let user = list_user(self.account_id);
        if names.is_empty() {
            return self
                .store
                .delete(&user)
                .map_err(|e| keychain(e, self.account_name));
        }
        // A list of plain strings always serialises.
        let json = serde_json::to_string(names).unwrap_or_default();
        self.store
            .put(&user, &Sensitive::new(json))
            .map_err(|e| keychain(e, self.account_name))
    }

    /// Adds or replaces a secret; returns the names. The value is checked
    /// (not empty, within what Parameter Store keeps) before anything is stored.
    pub fn set(&self, name: &str, value: &Sensitive) -> Result<Vec<String>, SecretError> {
        let name = validate_name(name)?;
        check_value(&name, value)?;
        let _guard = lock();
        let mut names = self.names()?;
        self.store
            .put(&value_user(self.account_id, &name), value)
            .map_err(|e| keychain(e, self.account_name))?;
        if !names.contains(&name) {
            names.push(name.clone());
            names.sort();
            if let Err(e) = self.save_names(&names) {
                // No value the list does not name.
                if let Err(e) = self.store.delete(&value_user(self.account_id, &name)) {
                    tracing::error!(secret = name, error = ?e, "could not remove a secret whose name was not saved");
                }
                return Err(e);
            }
        }
        Ok(names)
    }

    /// Deletes a secret and checks it is gone; returns the names left.
    pub fn delete(&self, name: &str) -> Result<Vec<String>, SecretError> {
        let _guard = lock();
        let mut names = self.names()?;
        let Some(found) = names.iter().position(|n| n == name.trim()) else {
            return Err(SecretError::NotFound {
                name: name.trim().to_string(),
                account: self.account_name.to_string(),
                known: names,
            });
        };
        let name = names.remove(found);
        let user = value_user(self.account_id, &name);
        self.store
            .delete(&user)
            .map_err(|e| keychain(e, self.account_name))?;
        if self
            .store
            .get(&user)
            .map_err(|e| keychain(e, self.account_name))?
            .is_some()
        {
            return Err(SecretError::DeleteUnverified { name });
        }
        self.save_names(&names)?;
        Ok(names)
    }

    /// The values of `names`, for one run: every name must be one of the
    /// account's secrets.
    pub fn resolve(&self, names: &[String]) -> Result<RunSecrets, SecretError> {
        let known = self.names()?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let value = known
                .contains(name)
                .then(|| self.store.get(&value_user(self.account_id, name)))
                .transpose()
                .map_err(|e| keychain(e, self.account_name))?
                .flatten();
            let Some(value) = value else {
                return Err(SecretError::NotFound {
                    name: name.clone(),
                    account: self.account_name.to_string(),
                    known,
                });
            };
            out.push(RunSecret {
                name: name.clone(),
                value,
            });
        }
        Ok(RunSecrets::new(out))
    }

    /// Removes every secret of the account (the account is being deleted).
    pub fn forget_all(&self) -> Result<(), SecretError> {
        let _guard = lock();
        for name in self.names()? {
            self.store
                .delete(&value_user(self.account_id, &name))
                .map_err(|e| keychain(e, self.account_name))?;
        }
        self.save_names(&[])
    }
}

/// A value Parameter Store takes: not empty, at most [`MAX_VALUE_CHARS`]
/// characters (its standard tier).
pub fn check_value(name: &str, value: &Sensitive) -> Result<(), SecretError> {
    if value.expose().trim().is_empty() {
        return Err(SecretError::EmptyValue {
            name: name.to_string(),
        });
    }
    let chars = value.expose().chars().count();
    if chars > MAX_VALUE_CHARS {
        return Err(SecretError::TooLong {
            name: name.to_string(),
            chars,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::MemorySecretStore;
    use crate::explain::Explain;

    const VALUE: &str = "hf_FAKEvalue0123456789";

    #[test]
    fn set_list_resolve_delete() {
        let store = MemorySecretStore::new();
        let vault = Vault::new(&store, "acc-1", "Work");
        assert!(vault.names().unwrap().is_empty());
        assert_eq!(
            vault.set("WANDB_API_KEY", &Sensitive::new("w")).unwrap(),
            vec!["WANDB_API_KEY"]
        );
        assert_eq!(
            vault.set(" HF_TOKEN ", &Sensitive::new(VALUE)).unwrap(),
            vec!["HF_TOKEN", "WANDB_API_KEY"]
        );
        // Replacing keeps one name.
        vault.set("HF_TOKEN", &Sensitive::new(VALUE)).unwrap();
        assert_eq!(vault.names().unwrap().len(), 2);
        assert_eq!(store.len(), 3, "two values and the list of names");

        let run = vault.resolve(&["HF_TOKEN".into()]).unwrap();
        assert_eq!(run.names(), vec!["HF_TOKEN"]);
        assert_eq!(run.iter().next().unwrap().value.expose(), VALUE);
        assert!(!format!("{run:?}").contains(VALUE));

        let missing = vault.resolve(&["OPENAI_API_KEY".into()]).unwrap_err();
        assert_eq!(missing.code(), "secret_not_found");
        assert!(missing.hint().unwrap().contains("HF_TOKEN, WANDB_API_KEY"));

        assert_eq!(vault.delete("HF_TOKEN").unwrap(), vec!["WANDB_API_KEY"]);
        assert_eq!(
            vault.delete("HF_TOKEN").unwrap_err().code(),
            "secret_not_found"
        );
        vault.delete("WANDB_API_KEY").unwrap();
        assert!(store.is_empty(), "nothing left in the keychain");
    }

    #[test]
    fn accounts_do_not_share_secrets() {
        let store = MemorySecretStore::new();
        Vault::new(&store, "a", "A")
            .set("TOKEN", &Sensitive::new("x"))
            .unwrap();
        let other = Vault::new(&store, "b", "B");
        assert!(other.names().unwrap().is_empty());
        assert_eq!(
            other.resolve(&["TOKEN".into()]).unwrap_err().code(),
            "secret_not_found"
        );
        Vault::new(&store, "a", "A").forget_all().unwrap();
        assert!(store.is_empty());
    }

    #[test]
    fn bad_values_store_nothing() {
        let store = MemorySecretStore::new();
        let vault = Vault::new(&store, "a", "A");
        for (value, code) in [
            ("", "secret_empty"),
            (" \n", "secret_empty"),
            (&"x".repeat(MAX_VALUE_CHARS + 1), "secret_too_long"),
        ] {
            assert_eq!(
                vault
                    .set("TOKEN", &Sensitive::new(value))
                    .unwrap_err()
                    .code(),
                code
            );
        }
        assert_eq!(
            vault.set("1X", &Sensitive::new("v")).unwrap_err().code(),
            "secret_bad_name"
        );
        assert!(store.is_empty());
        // 4,096 characters (not bytes) is the limit, as Parameter Store counts.
        vault
            .set("TOKEN", &Sensitive::new("é".repeat(MAX_VALUE_CHARS)))
            .unwrap();
    }

    #[test]
    fn a_list_that_is_not_json_is_told() {
        let store = MemorySecretStore::new();
        store
            .put(&list_user("a"), &Sensitive::new("not json"))
            .unwrap();
        let e = Vault::new(&store, "a", "Work").names().unwrap_err();
        assert_eq!(e.code(), "keychain_entry_corrupt");
        assert!(e.to_string().contains("Work"));
    }
}
