//! Where access keys live: the OS keychain (one entry per account, service
//! `easytdv`, user = account id), behind a small trait so unit tests can use
//! an in-memory fake.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::secret::Sensitive;

/// The keychain service name of the app. Tests use their own.
pub const SERVICE: &str = "easytdv";

/// A keychain failure, without any secret (keyring's own error can hold the
/// stored bytes, so it is never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeychainError {
    /// No keychain service (no Secret Service on D-Bus, …).
    Unavailable(String),
    /// The keychain is locked or access was refused.
    Locked(String),
    /// The entry exists but cannot be read as easyTDV keys.
    Corrupt,
}

/// Stores one secret per account id.
pub trait SecretStore: Send + Sync {
    fn put(&self, account_id: &str, value: &Sensitive) -> Result<(), KeychainError>;
    /// `Ok(None)` when there is no entry.
    fn get(&self, account_id: &str) -> Result<Option<Sensitive>, KeychainError>;
    /// Removing a missing entry is not an error.
    fn delete(&self, account_id: &str) -> Result<(), KeychainError>;
}

/// The OS keychain through the `keyring` crate.
#[derive(Debug, Clone)]
pub struct KeyringStore {
    service: String,
}

impl KeyringStore {
    /// `service` is [`SERVICE`] in the app; tests pass a name of their own.
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, account_id: &str) -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(&self.service, account_id).map_err(map_keyring)
    }
}

/// Keeps only the kind and the platform message (never `BadEncoding`'s bytes).
fn map_keyring(err: keyring::Error) -> KeychainError {
    match err {
        keyring::Error::NoStorageAccess(e) => KeychainError::Locked(e.to_string()),
        keyring::Error::PlatformFailure(e) => KeychainError::Unavailable(e.to_string()),
        keyring::Error::BadEncoding(_) => KeychainError::Corrupt,
        keyring::Error::NoEntry => KeychainError::Corrupt,
        other => KeychainError::Unavailable(other.to_string()),
    }
}

impl SecretStore for KeyringStore {
    fn put(&self, account_id: &str, value: &Sensitive) -> Result<(), KeychainError> {
        self.entry(account_id)?
            .set_password(value.expose())
            .map_err(map_keyring)
    }

    fn get(&self, account_id: &str) -> Result<Option<Sensitive>, KeychainError> {
        match self.entry(account_id)?.get_password() {
            Ok(value) => Ok(Some(Sensitive::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring(e)),
        }
    }

    fn delete(&self, account_id: &str) -> Result<(), KeychainError> {
        match self.entry(account_id)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_keyring(e)),
        }
    }
}

/// An in-memory keychain for tests.
#[derive(Debug, Default)]
pub struct MemorySecretStore {
    entries: Mutex<HashMap<String, Sensitive>>,
}

impl MemorySecretStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries are stored.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn poisoned<T>(_: T) -> KeychainError {
    KeychainError::Unavailable("in-memory keychain poisoned".into())
}

impl SecretStore for MemorySecretStore {
    fn put(&self, account_id: &str, value: &Sensitive) -> Result<(), KeychainError> {
        self.entries
            .lock()
            .map_err(poisoned)?
            .insert(account_id.to_string(), value.clone());
        Ok(())
    }

    fn get(&self, account_id: &str) -> Result<Option<Sensitive>, KeychainError> {
        Ok(self
            .entries
            .lock()
            .map_err(poisoned)?
            .get(account_id)
            .cloned())
    }

    fn delete(&self, account_id: &str) -> Result<(), KeychainError> {
        self.entries.lock().map_err(poisoned)?.remove(account_id);
        Ok(())
    }
}

impl<T: SecretStore + ?Sized> SecretStore for std::sync::Arc<T> {
    fn put(&self, account_id: &str, value: &Sensitive) -> Result<(), KeychainError> {
        (**self).put(account_id, value)
    }

    fn get(&self, account_id: &str) -> Result<Option<Sensitive>, KeychainError> {
        (**self).get(account_id)
    }

    fn delete(&self, account_id: &str) -> Result<(), KeychainError> {
        (**self).delete(account_id)
    }
}

/// The keys of one account, as stored in its keychain entry (JSON).
#[derive(Debug, Clone)]
pub struct StoredKeys {
    pub access_key_id: String,
    pub secret_access_key: Sensitive,
    pub session_token: Option<Sensitive>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryJson {
    access_key_id: String,
    secret_access_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session_token: Option<String>,
}

impl StoredKeys {
    /// The entry value. Only ever handed to the keychain.
    pub fn to_entry(&self) -> Sensitive {
        let json = EntryJson {
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.expose().to_string(),
            session_token: self.session_token.as_ref().map(|t| t.expose().to_string()),
        };
        // Serializing plain strings cannot fail.
        Sensitive::new(serde_json::to_string(&json).unwrap_or_default())
    }

    /// Reads an entry value; `None` if it is not easyTDV's JSON.
    pub fn from_entry(value: &Sensitive) -> Option<Self> {
        let json: EntryJson = serde_json::from_str(value.expose()).ok()?;
        Some(Self {
            access_key_id: json.access_key_id,
            secret_access_key: Sensitive::new(json.secret_access_key),
            session_token: json.session_token.map(Sensitive::new),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trip() {
        let keys = StoredKeys {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: Sensitive::new("s3cr3t/value"),
            session_token: Some(Sensitive::new("tok")),
        };
        let back = StoredKeys::from_entry(&keys.to_entry()).expect("parses");
        assert_eq!(back.access_key_id, keys.access_key_id);
        assert_eq!(back.secret_access_key, keys.secret_access_key);
        assert_eq!(back.session_token, keys.session_token);
        assert!(!format!("{back:?}").contains("s3cr3t"));
        assert!(StoredKeys::from_entry(&Sensitive::new("not json")).is_none());
    }

    #[test]
    fn memory_store() {
        let store = MemorySecretStore::new();
        store.put("a", &Sensitive::new("x")).unwrap();
        assert_eq!(store.get("a").unwrap(), Some(Sensitive::new("x")));
        store.delete("a").unwrap();
        store.delete("a").unwrap();
        assert_eq!(store.get("a").unwrap(), None);
        assert!(store.is_empty());
    }
}
