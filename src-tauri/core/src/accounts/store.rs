//! `accounts.json`: the non-secret account metadata, written atomically
//! (temporary file + rename) in the app data directory.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::AccountError;
use super::model::{AccountKind, AccountView};

pub const FILE_NAME: &str = "accounts.json";
const VERSION: u32 = 1;

/// One account as stored: names and settings, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountRecord {
    pub id: String,
    pub name: String,
    pub kind: AccountKind,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub created_at: String,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountsFile {
    pub version: u32,
    #[serde(default)]
    pub default_id: Option<String>,
    #[serde(default)]
    pub accounts: Vec<AccountRecord>,
}

impl Default for AccountsFile {
    fn default() -> Self {
        Self {
            version: VERSION,
            default_id: None,
            accounts: Vec::new(),
        }
    }
}

impl AccountsFile {
    pub fn find(&self, id: &str) -> Result<&AccountRecord, AccountError> {
        self.accounts
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| AccountError::NotFound(id.into()))
    }

    pub fn find_mut(&mut self, id: &str) -> Result<&mut AccountRecord, AccountError> {
        self.accounts
            .iter_mut()
            .find(|a| a.id == id)
            .ok_or_else(|| AccountError::NotFound(id.into()))
    }

    /// Names of all accounts except `id`.
    pub fn other_names<'a>(&'a self, id: Option<&'a str>) -> impl Iterator<Item = &'a str> + 'a {
        self.accounts
            .iter()
            .filter(move |a| Some(a.id.as_str()) != id)
            .map(|a| a.name.as_str())
    }

    /// Keeps the default pointing at an existing account (the first one
    /// when the default is gone), or at nothing when there is none.
    pub fn fix_default(&mut self) {
        let valid = self
            .default_id
            .as_ref()
            .is_some_and(|d| self.accounts.iter().any(|a| &a.id == d));
        if !valid {
            self.default_id = self.accounts.first().map(|a| a.id.clone());
        }
    }

    pub fn view(&self, record: &AccountRecord) -> AccountView {
        AccountView {
            id: record.id.clone(),
            name: record.name.clone(),
            kind: record.kind,
            region: record.region.clone(),
            masked_key_id: record.masked_key_id.clone(),
            profile: record.profile.clone(),
            endpoint: record.endpoint.clone(),
            is_default: self.default_id.as_deref() == Some(record.id.as_str()),
            created_at: record.created_at.clone(),
        }
    }
}

/// Reads and writes `accounts.json` in one directory.
#[derive(Debug, Clone)]
pub struct AccountStore {
    dir: PathBuf,
}

impl AccountStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The stored accounts; an absent file means none.
    pub fn load(&self) -> Result<AccountsFile, AccountError> {
        let path = self.path();
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AccountsFile::default())
            }
            Err(source) => {
                return Err(AccountError::StoreIo {
                    action: "read",
                    path,
                    source,
                })
            }
        };
        let mut file: AccountsFile =
            serde_json::from_slice(&bytes).map_err(|e| AccountError::StoreCorrupt {
                path: path.clone(),
                message: e.to_string(),
            })?;
        file.fix_default();
        Ok(file)
    }

    /// Replaces the file atomically: a reader sees the old or the new list.
    pub fn save(&self, file: &AccountsFile) -> Result<(), AccountError> {
        let path = self.path();
        let io = |action: &'static str| {
            let path = path.clone();
            move |source| AccountError::StoreIo {
                action,
                path,
                source,
            }
        };
        fs::create_dir_all(&self.dir).map_err(io("create the folder of"))?;
        let json = serde_json::to_vec_pretty(file).map_err(|e| AccountError::StoreCorrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let tmp = self.dir.join(format!(
            ".{FILE_NAME}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        let result = write_synced(&tmp, &json).and_then(|()| fs::rename(&tmp, &path));
        if result.is_err() {
            if let Err(e) = fs::remove_file(&tmp) {
                tracing::warn!(path = %tmp.display(), error = %e, "could not remove a temporary account list");
            }
        }
        result.map_err(io("write"))
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str) -> AccountRecord {
        AccountRecord {
            id: id.into(),
            name: name.into(),
            kind: AccountKind::Keys,
            region: "eu-west-3".into(),
            masked_key_id: Some("AKIA…MPLE".into()),
            profile: None,
            endpoint: None,
            created_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn round_trip_and_no_temp_files_left() {
        let dir = tempfile::tempdir().unwrap();
        let store = AccountStore::new(dir.path().join("sub"));
        assert_eq!(store.load().unwrap(), AccountsFile::default());
        let mut file = AccountsFile::default();
        file.accounts.push(record("a", "Work"));
        file.accounts.push(record("b", "Home"));
        file.default_id = Some("b".into());
        store.save(&file).unwrap();
        assert_eq!(store.load().unwrap(), file);
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![FILE_NAME.to_string()]);
        let json = fs::read_to_string(store.path()).unwrap();
        assert!(
            json.contains("\"maskedKeyId\"") && json.contains("\"defaultId\": \"b\""),
            "{json}"
        );
    }

    #[test]
    fn default_is_repaired() {
        let mut file = AccountsFile::default();
        file.accounts.push(record("a", "Work"));
        file.default_id = Some("gone".into());
        file.fix_default();
        assert_eq!(file.default_id.as_deref(), Some("a"));
        file.accounts.clear();
        file.fix_default();
        assert_eq!(file.default_id, None);
    }

    #[test]
    fn corrupt_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), b"{ not json").unwrap();
        let err = AccountStore::new(dir.path()).load().unwrap_err();
        assert!(matches!(err, AccountError::StoreCorrupt { .. }), "{err:?}");
    }
}
