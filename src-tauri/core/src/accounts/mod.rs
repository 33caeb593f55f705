//! Accounts: named ways to reach AWS (access keys in the OS keychain, an AWS
//! CLI profile, or the local sandbox) with a default region.
//!
//! Secrets live only in the OS keychain; `accounts.json` in the app data
//! directory holds names and settings (the key ID masked as `AKIA…WXYZ`).

mod classify;
mod csv_import;
mod error;
mod input;
mod keychain;
mod model;
mod permissions;
mod preflight;
mod profiles;
mod remote;
mod setup_aws;
mod simulation;
mod store;
mod verify;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub use classify::{classify_failure, FailureFacts};
pub use csv_import::parse_credentials_csv;
pub use error::{AccountError, CsvError, CONSOLE_KEYS_PATH, SANDBOX_START_COMMAND};
pub use input::{mask_key_id, split_pasted_pair, validate_key_id, MAX_NAME_CHARS};
pub use keychain::{
    KeychainError, KeyringStore, MemorySecretStore, SecretStore, StoredKeys, SERVICE,
};
pub use model::{
    AccountDraft, AccountKind, AccountSetup, AccountView, Identity, KeysInput, MissingPermission,
    PermissionCheck, PermissionReport, ProfileInfo, ProfileInput, SandboxInput,
};
pub use permissions::NEEDED as NEEDED_PERMISSIONS;
pub use preflight::{principal_of, Principal};
pub use profiles::{detect_profiles, detect_profiles_in};
pub use setup_aws::{refuse_root, AdminCredentials};
pub use store::FILE_NAME as ACCOUNTS_FILE;
pub use verify::verify_source;

use crate::aws::CredentialSource;
use crate::secret::Sensitive;
use store::{AccountRecord, AccountStore, AccountsFile};

/// The accounts of this user. Cheap to share (`&self` everywhere); writes to
/// `accounts.json` are serialised.
pub struct Accounts {
    store: AccountStore,
    secrets: Box<dyn SecretStore>,
    profile_files: Option<(PathBuf, PathBuf)>,
    write_lock: Mutex<()>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts")
            .field("file", &self.store.path())
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// The app's accounts: `accounts.json` in `data_dir`, keys in the OS
    /// keychain under the service `easytdv`.
    pub fn open(data_dir: impl Into<PathBuf>) -> Self {
        Self::with_secret_store(data_dir, KeyringStore::new(SERVICE))
    }

    /// Accounts with another keychain (tests: another service name, or the
    /// in-memory fake).
    pub fn with_secret_store(
        data_dir: impl Into<PathBuf>,
        secrets: impl SecretStore + 'static,
    ) -> Self {
        Self {
            store: AccountStore::new(data_dir),
            secrets: Box::new(secrets),
            profile_files: None,
            write_lock: Mutex::new(()),
        }
    }

    /// Reads profiles from these files instead of the user's (tests).
    pub fn with_profile_files(
        mut self,
        config: impl Into<PathBuf>,
        credentials: impl Into<PathBuf>,
    ) -> Self {
        self.profile_files = Some((config.into(), credentials.into()));
        self
    }

    /// The keychain the accounts' keys and secrets are kept in.
    pub(crate) fn secret_store(&self) -> &dyn SecretStore {
        self.secrets.as_ref()
    }

    /// The `accounts.json` path.
    pub fn file_path(&self) -> PathBuf {
        self.store.path()
    }

    /// The AWS CLI profiles found on this computer (names and settings only).
    pub fn profiles(&self) -> Vec<ProfileInfo> {
        match &self.profile_files {
            Some((config, credentials)) => detect_profiles_in(Some(config), Some(credentials)),
            None => detect_profiles(),
        }
    }

    pub fn list(&self) -> Result<Vec<AccountView>, AccountError> {
        let file = self.store.load()?;
        Ok(file.accounts.iter().map(|r| file.view(r)).collect())
    }

    pub fn get(&self, id: &str) -> Result<AccountView, AccountError> {
        let file = self.store.load()?;
        Ok(file.view(file.find(id)?))
    }

    /// The account used when none is chosen; `None` before the first one.
    pub fn default_account(&self) -> Result<Option<AccountView>, AccountError> {
        let file = self.store.load()?;
        let found = file.default_id.as_deref().and_then(|id| file.find(id).ok());
        Ok(found.map(|r| file.view(r)))
    }

    /// Saves access keys in the keychain and the account in the list. Not
    /// verified: call [`Accounts::verify`] before, or [`Accounts::setup`] after.
    pub fn add_keys(&self, input: KeysInput) -> Result<AccountView, AccountError> {
        let keys = keys_of(&input)?;
        let region = input::validate_region(&input.region)?;
        let _guard = self.lock();
        let mut file = self.store.load()?;
        let name = input::validate_name(&input.name, file.other_names(None))?;
        let record = new_record(name, AccountKind::Keys, region);
        let record = AccountRecord {
            masked_key_id: Some(mask_key_id(&keys.access_key_id)),
            ..record
        };
        self.secrets
            .put(&record.id, &keys.to_entry())
            .map_err(|e| keychain_error(e, &record.name))?;
        let id = record.id.clone();
        self.push_and_save(&mut file, record).inspect_err(|_| {
            // Leave no orphan secret behind.
            if let Err(e) = self.secrets.delete(&id) {
                tracing::error!(account_id = id, error = ?e, "could not remove the keychain entry of an account that was not saved");
            }
        })
    }

    /// New keys for a keys account (temporary keys expire): the account,
    /// its id and so its runs stay; only the keychain entry changes. Not
    /// verified: call [`Accounts::verify`] first.
    pub fn replace_keys(&self, id: &str, input: KeysInput) -> Result<AccountView, AccountError> {
        let keys = keys_of(&input)?;
        let _guard = self.lock();
        let mut file = self.store.load()?;
        let record = file.find(id)?.clone();
        if record.kind != AccountKind::Keys {
            return Err(AccountError::NotKeysAccount { name: record.name });
        }
        self.secrets
            .put(id, &keys.to_entry())
            .map_err(|e| keychain_error(e, &record.name))?;
        file.find_mut(id)?.masked_key_id = Some(mask_key_id(&keys.access_key_id));
        self.store.save(&file)?;
        Ok(file.view(file.find(id)?))
    }

    /// Adds an account using an AWS CLI profile (SSO included); nothing of
    /// the profile is copied. The region defaults to the profile's.
    pub fn add_profile(&self, input: ProfileInput) -> Result<AccountView, AccountError> {
        let (profile, region) = self.profile_and_region(&input)?;
        let _guard = self.lock();
        let mut file = self.store.load()?;
        let name = input::validate_name(&input.name, file.other_names(None))?;
        let record = AccountRecord {
            profile: Some(profile),
            ..new_record(name, AccountKind::Profile, region)
        };
        self.push_and_save(&mut file, record)
    }

    /// Adds an account for the local sandbox at `endpoint`.
    pub fn add_sandbox(&self, input: SandboxInput) -> Result<AccountView, AccountError> {
        let endpoint = input::validate_endpoint(&input.endpoint)?;
        let region = input::validate_region(&input.region)?;
        let _guard = self.lock();
        let mut file = self.store.load()?;
        let name = input::validate_name(&input.name, file.other_names(None))?;
        let record = AccountRecord {
            endpoint: Some(endpoint),
            ..new_record(name, AccountKind::Sandbox, region)
        };
        self.push_and_save(&mut file, record)
    }

    pub fn rename(&self, id: &str, name: &str) -> Result<AccountView, AccountError> {
        self.update(id, |file| {
            let name = input::validate_name(name, file.other_names(Some(id)))?;
            file.find_mut(id)?.name = name;
            Ok(())
        })
    }

    /// Changes the account's default region.
    pub fn set_region(&self, id: &str, region: &str) -> Result<AccountView, AccountError> {
        let region = input::validate_region(region)?;
        self.update(id, |file| {
            file.find_mut(id)?.region = region;
            Ok(())
        })
    }

    /// Points the sandbox accounts that used `old` at `new` (the practice
    /// cloud came back on another port); returns how many changed.
    pub fn repoint_sandboxes(&self, old: &str, new: &str) -> Result<usize, AccountError> {
        let new = input::validate_endpoint(new)?;
        let _guard = self.lock();
        let mut file = self.store.load()?;
        let mut changed = 0;
        for a in file.accounts.iter_mut() {
            if a.kind == AccountKind::Sandbox && a.endpoint.as_deref() == Some(old) {
                a.endpoint = Some(new.clone());
                changed += 1;
            }
        }
        if changed > 0 {
            self.store.save(&file)?;
        }
        Ok(changed)
    }

    pub fn set_default(&self, id: &str) -> Result<AccountView, AccountError> {
        self.update(id, |file| {
            file.find(id)?;
            file.default_id = Some(id.to_string());
            Ok(())
        })
    }

    /// Removes the account and its keychain entry, and checks the entry is
    /// really gone. If the default is deleted, the first remaining account
    /// becomes the default.
    pub fn delete(&self, id: &str) -> Result<(), AccountError> {
        let _guard = self.lock();
        let mut file = self.store.load()?;
        let record = file.find(id)?.clone();
        if record.kind == AccountKind::Keys {
            self.secrets
                .delete(id)
                .map_err(|e| keychain_error(e, &record.name))?;
            let still_there = self
                .secrets
                .get(id)
                .map_err(|e| keychain_error(e, &record.name))?;
            if still_there.is_some() {
                return Err(AccountError::KeychainDeleteUnverified { name: record.name });
            }
        }
        // The account's secrets for train.py go with it.
        crate::secrets::Vault::new(self.secrets.as_ref(), id, &record.name)
            .forget_all()
            .map_err(|e| match e {
                crate::secrets::SecretError::KeychainLocked(m) => AccountError::KeychainLocked(m),
                crate::secrets::SecretError::KeychainCorrupt { .. } => {
                    AccountError::KeychainEntryCorrupt {
                        name: record.name.clone(),
                    }
                }
                other => AccountError::KeychainUnavailable(other.to_string()),
            })?;
        file.accounts.retain(|a| a.id != id);
        file.fix_default();
        self.store.save(&file)
    }

    /// How the pipeline reaches AWS with this account, and its region. Keys
    /// are read from the keychain here and handed over as `Sensitive`.
    pub fn credential_source(&self, id: &str) -> Result<(CredentialSource, String), AccountError> {
        let file = self.store.load()?;
        let record = file.find(id)?;
        let source = match record.kind {
            AccountKind::Keys => {
                let name = &record.name;
                let entry = self.secrets.get(id).map_err(|e| keychain_error(e, name))?;
                let entry = entry
                    .ok_or_else(|| AccountError::KeychainEntryMissing { name: name.clone() })?;
                let keys = StoredKeys::from_entry(&entry)
                    .ok_or_else(|| AccountError::KeychainEntryCorrupt { name: name.clone() })?;
                static_source(keys)
            }
            AccountKind::Profile => CredentialSource::Profile {
                name: record.profile.clone().unwrap_or_default(),
            },
            AccountKind::Sandbox => CredentialSource::Sandbox {
                endpoint: record.endpoint.clone().unwrap_or_default(),
            },
        };
        Ok((source, record.region.clone()))
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The guarded data is the file on disk; a panic elsewhere leaves it valid.
        self.write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push_and_save(
        &self,
        file: &mut AccountsFile,
        record: AccountRecord,
    ) -> Result<AccountView, AccountError> {
        file.accounts.push(record);
        file.fix_default();
        self.store.save(file)?;
        let saved = file
            .accounts
            .last()
            .ok_or_else(|| AccountError::NotFound(String::new()))?;
        Ok(file.view(saved))
    }

    fn update(
        &self,
        id: &str,
        change: impl FnOnce(&mut AccountsFile) -> Result<(), AccountError>,
    ) -> Result<AccountView, AccountError> {
        let _guard = self.lock();
        let mut file = self.store.load()?;
        change(&mut file)?;
        self.store.save(&file)?;
        Ok(file.view(file.find(id)?))
    }

    fn profile_and_region(&self, input: &ProfileInput) -> Result<(String, String), AccountError> {
        let name = input.profile.trim();
        if name.is_empty() {
            return Err(AccountError::ProfileEmpty);
        }
        let profile = self.profiles().into_iter().find(|p| p.name == name);
        let profile = profile.ok_or_else(|| AccountError::ProfileNotFound(name.to_string()))?;
        let region = match input
            .region
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            Some(region) => input::validate_region(region)?,
            None => profile
                .region
                .ok_or_else(|| AccountError::ProfileNoRegion {
                    profile: name.to_string(),
                })?,
        };
        Ok((name.to_string(), region))
    }
}

/// Validated keys of an input.
fn keys_of(input: &KeysInput) -> Result<StoredKeys, AccountError> {
    let (access_key_id, secret_access_key) =
        input::normalize_keys(&input.access_key_id, &input.secret_access_key)?;
    let session_token = input
        .session_token
        .as_ref()
        .map(|t| Sensitive::new(t.expose().trim()))
        .filter(|t| !t.is_empty());
    if access_key_id.starts_with("ASIA") && session_token.is_none() {
        return Err(AccountError::SessionTokenMissing);
    }
    Ok(StoredKeys {
        access_key_id,
        secret_access_key,
        session_token,
    })
}

fn static_source(keys: StoredKeys) -> CredentialSource {
    CredentialSource::Static {
        access_key_id: keys.access_key_id,
        secret_access_key: keys.secret_access_key,
        session_token: keys.session_token,
    }
}

fn new_record(name: String, kind: AccountKind, region: String) -> AccountRecord {
    AccountRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        kind,
        region,
        masked_key_id: None,
        profile: None,
        endpoint: None,
        created_at: now_rfc3339(),
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn keychain_error(err: KeychainError, account_name: &str) -> AccountError {
    match err {
        KeychainError::Unavailable(m) => AccountError::KeychainUnavailable(m),
        KeychainError::Locked(m) => AccountError::KeychainLocked(m),
        KeychainError::Corrupt => AccountError::KeychainEntryCorrupt {
            name: account_name.to_string(),
        },
    }
}

/// Reads an access-key CSV file from disk (the app passes the picked path).
pub fn read_credentials_csv(path: &Path) -> Result<(String, Sensitive), AccountError> {
    let bytes = std::fs::read(path).map_err(|source| AccountError::FileUnreadable {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(parse_credentials_csv(&bytes)?)
}

#[cfg(test)]
mod tests;
