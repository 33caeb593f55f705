//! What can go wrong with accounts, told in plain words. No variant ever
//! holds a secret: only key ids (masked), names, regions and AWS messages.

use std::path::PathBuf;

use crate::explain::Explain;
use crate::regions;

/// Where the AWS console offers the access-key file.
pub const CONSOLE_KEYS_PATH: &str = "In the AWS console open IAM → Users → your user → Security credentials → Create access key, then press \"Download .csv file\"";

/// The command that starts the local sandbox.
pub const SANDBOX_START_COMMAND: &str = "tests/sandbox/run";

/// A credentials CSV file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is not a text file (it is not UTF-8)")]
    NotUtf8,
    #[error("the file holds console sign-in credentials (a password), not access keys")]
    PasswordOnly,
    #[error("the file does not have the \"Access key ID\" and \"Secret access key\" columns")]
    WrongHeaders,
    #[error("the file has the access-key columns but no key in them")]
    NoDataRow,
    #[error("the file could not be read as CSV: {0}")]
    Malformed(String),
}

impl Explain for CsvError {
    fn code(&self) -> &'static str {
        match self {
            CsvError::Empty => "csv_empty",
            CsvError::NotUtf8 => "csv_not_utf8",
            CsvError::PasswordOnly => "csv_password_only",
            CsvError::WrongHeaders => "csv_wrong_headers",
            CsvError::NoDataRow => "csv_no_data_row",
            CsvError::Malformed(_) => "csv_malformed",
        }
    }

    fn hint(&self) -> Option<String> {
        let what = "You need the access-key file the AWS console gives when you create an access key (usually named like \"<user>_accessKeys.csv\").";
        let extra = match self {
            CsvError::PasswordOnly => {
                " A password lets a person sign in to the console; easyTDV needs an access key instead."
            }
            _ => "",
        };
        Some(format!("{what}{extra} {CONSOLE_KEYS_PATH}."))
    }
}

/// An error of the accounts module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    // --- input -----------------------------------------------------------
    #[error("the account name is empty")]
    NameEmpty,
    #[error("the account name is longer than {max} characters")]
    NameTooLong { max: usize },
    #[error("an account named \"{0}\" already exists")]
    NameTaken(String),
    #[error("the access key ID is empty")]
    KeyIdEmpty,
    #[error("the access key ID is not valid: {reason}")]
    KeyIdInvalid { reason: String },
    #[error("the secret access key is empty")]
    SecretEmpty,
    #[error("temporary keys (ASIA…) need their session token")]
    SessionTokenMissing,
    #[error("the secret access key does not look right: {reason}")]
    SecretInvalid { reason: String },
    #[error("\"{0}\" is not an AWS region code (expected something like eu-west-3)")]
    RegionInvalid(String),
    #[error("the sandbox address \"{0}\" is not an http:// URL")]
    EndpointInvalid(String),
    #[error("the profile name is empty")]
    ProfileEmpty,
    #[error("there is no AWS profile named \"{0}\" in the AWS config files")]
    ProfileNotFound(String),
    #[error("the profile \"{profile}\" has no region and none was chosen")]
    ProfileNoRegion { profile: String },
    #[error("could not read {path}: {source}")]
    FileUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the access key file cannot be used: {0}")]
    Csv(#[from] CsvError),

    // --- local storage ----------------------------------------------------
    #[error("no account with id \"{0}\"")]
    NotFound(String),
    #[error("the account \"{name}\" does not use access keys")]
    NotKeysAccount { name: String },
    #[error("the OS keychain is not available: {0}")]
    KeychainUnavailable(String),
    #[error("the OS keychain refused access: {0}")]
    KeychainLocked(String),
    #[error("the keys of account \"{name}\" are no longer in the OS keychain")]
    KeychainEntryMissing { name: String },
    #[error("the keychain entry of account \"{name}\" is damaged")]
    KeychainEntryCorrupt { name: String },
    #[error("the keys of account \"{name}\" are still in the OS keychain after deleting them")]
    KeychainDeleteUnverified { name: String },
    #[error("could not {action} the account list {path}: {source}")]
    StoreIo {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the account list {path} is damaged: {message}")]
    StoreCorrupt { path: PathBuf, message: String },

    // --- verification ------------------------------------------------------
    #[error("AWS does not know this access key")]
    UnknownAccessKey,
    #[error("the secret access key does not match the access key ID")]
    WrongSecret,
    #[error("your temporary keys expired")]
    SessionExpired { profile: Option<String> },
    #[error("the AWS SSO sign-in of profile \"{profile}\" has expired")]
    SsoExpired { profile: String },
    #[error("this computer's clock is too far from AWS's time")]
    ClockSkew,
    #[error("AWS could not be reached: {detail}")]
    NoNetwork { detail: String },
    #[error("the local sandbox at {endpoint} is not reachable")]
    SandboxUnreachable { endpoint: String },
    #[error("these are the root user's keys of the AWS account: they can do everything, even close the account, so easyTDV does not keep them")]
    RootKeys,
    #[error("{0}")]
    Setup(#[from] crate::bootstrap::BootstrapError),
    /// The sandbox address or the sandbox itself is refused before anything is sent.
    #[error("{0}")]
    Sandbox(crate::aws::AwsError),
    #[error("the region {region} is not enabled for this AWS account")]
    RegionNotEnabled { region: String },
    #[error("AWS refused the request: {message}")]
    AccessDenied { message: String },
    #[error("no AWS credentials could be loaded: {detail}")]
    NoCredentials {
        profile: Option<String>,
        detail: String,
    },
    #[error("AWS answered with an error{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Aws {
        code: Option<String>,
        message: String,
    },
}

impl Explain for AccountError {
    fn code(&self) -> &'static str {
        use AccountError::*;
        match self {
            NameEmpty => "account_name_empty",
            NameTooLong { .. } => "account_name_too_long",
            NameTaken(_) => "account_name_taken",
            KeyIdEmpty => "access_key_id_empty",
            KeyIdInvalid { .. } => "access_key_id_invalid",
            SecretEmpty => "secret_key_empty",
            SecretInvalid { .. } => "secret_key_invalid",
            SessionTokenMissing => "session_token_missing",
            RegionInvalid(_) => "region_invalid",
            EndpointInvalid(_) => "sandbox_endpoint_invalid",
            ProfileEmpty => "profile_empty",
            ProfileNotFound(_) => "profile_not_found",
            ProfileNoRegion { .. } => "profile_no_region",
            FileUnreadable { .. } => "file_unreadable",
            Csv(e) => e.code(),
            NotFound(_) => "account_not_found",
            NotKeysAccount { .. } => "account_not_keys",
            KeychainUnavailable(_) => "keychain_unavailable",
            KeychainLocked(_) => "keychain_locked",
            KeychainEntryMissing { .. } => "keychain_entry_missing",
            KeychainEntryCorrupt { .. } => "keychain_entry_corrupt",
            KeychainDeleteUnverified { .. } => "keychain_delete_unverified",
            StoreIo { .. } => "account_store_io",
            StoreCorrupt { .. } => "account_store_corrupt",
            UnknownAccessKey => "aws_key_unknown",
            WrongSecret => "aws_secret_wrong",
            SessionExpired { .. } => "aws_session_expired",
            SsoExpired { .. } => "aws_sso_expired",
            ClockSkew => "clock_skew",
            NoNetwork { .. } => "network_unreachable",
            SandboxUnreachable { .. } => "sandbox_unreachable",
            Sandbox(e) => e.code(),
            RootKeys => "root_keys",
            Setup(e) => e.code(),
            RegionNotEnabled { .. } => "region_not_enabled",
            AccessDenied { .. } => "aws_access_denied",
            NoCredentials { .. } => "aws_credentials_missing",
            Aws { .. } => "aws_error",
        }
    }

    fn hint(&self) -> Option<String> {
        use AccountError::*;
        let hint = match self {
            NameEmpty => "Give the account a short name, e.g. \"My AWS\".".to_string(),
            NameTooLong { max } => format!("Use at most {max} characters."),
            NameTaken(_) => "Choose another name, or rename the existing account first.".to_string(),
            KeyIdEmpty | KeyIdInvalid { .. } => format!(
                "An access key ID is 20 characters and starts with AKIA (long-term key) or ASIA (temporary key), e.g. AKIAIOSFODNN7EXAMPLE. Copy it again, or import the .csv file: {CONSOLE_KEYS_PATH}."
            ),
            SecretEmpty | SecretInvalid { .. } => format!(
                "The secret access key is the 40-character value shown once when the key was created. If you no longer have it, create a new access key: {CONSOLE_KEYS_PATH}."
            ),
            SessionTokenMissing => "Temporary keys come as three values: access key ID, secret access key and session token. Paste the session token too, or use a long-term key (AKIA…) or an AWS CLI profile.".to_string(),
            RegionInvalid(_) => "Pick a region from the list, e.g. eu-west-3 (Europe (Paris)).".to_string(),
            EndpointInvalid(_) => format!(
                "Use the address printed by `{SANDBOX_START_COMMAND}`, e.g. http://127.0.0.1:5000."
            ),
            ProfileEmpty => "Pick one of the profiles found in ~/.aws/config.".to_string(),
            ProfileNotFound(p) => format!(
                "Check the name with `aws configure list-profiles`, or create it with `aws configure --profile {p}` (or `aws configure sso --profile {p}`)."
            ),
            ProfileNoRegion { .. } => "Choose a region for this account.".to_string(),
            FileUnreadable { .. } => "Check that the file still exists and that you may read it, then pick it again.".to_string(),
            Csv(e) => return e.hint(),
            NotFound(_) => "The account was probably deleted; reload the list.".to_string(),
            NotKeysAccount { .. } => "A profile account takes its keys from the AWS CLI: refresh them there (e.g. `aws sso login`).".to_string(),
            KeychainUnavailable(_) => "easyTDV keeps access keys in the OS keychain (Secret Service on Linux: GNOME Keyring or KWallet). Make sure it is installed and running, or use an AWS CLI profile instead.".to_string(),
            KeychainLocked(_) => "Unlock your keychain (log in again or open your keyring app) and try again.".to_string(),
            KeychainEntryMissing { .. } => "Delete this account and add it again with your access keys.".to_string(),
            KeychainEntryCorrupt { .. } => "Delete this account and add it again with your access keys.".to_string(),
            KeychainDeleteUnverified { .. } => "Remove the \"easytdv\" entry by hand in your keychain app (e.g. Seahorse, Keychain Access or Credential Manager), then try again.".to_string(),
            StoreIo { .. } => "Check that the disk is not full and that you can write to the easyTDV data folder.".to_string(),
            StoreCorrupt { path, .. } => format!(
                "Move {} aside and add your accounts again (access keys stay in the keychain under \"easytdv\").",
                path.display()
            ),
            UnknownAccessKey => format!(
                "The access key ID is wrong, or the key was deleted or deactivated. Check it in the console, or create a new one: {CONSOLE_KEYS_PATH}."
            ),
            WrongSecret => "The secret access key was mistyped or belongs to another key. Paste it again exactly, or create a new access key and import its .csv file.".to_string(),
            SessionExpired { profile: Some(p) } => format!(
                "Refresh the profile's credentials (for an SSO profile: `aws sso login --profile {p}`), then try again."
            ),
            SessionExpired { profile: None } => "Paste new ones (Accounts → Replace keys: the account and its runs stay), or sign in again with `aws sso login` for a profile account. If the keys are not temporary, check that this computer's clock is right.".to_string(),
            SsoExpired { profile } => format!("Sign in again with `aws sso login --profile {profile}`, then try again."),
            ClockSkew => "Set your computer's date and time to update automatically (network time), then try again.".to_string(),
            NoNetwork { .. } => "Check your internet connection (and any proxy or VPN), then try again.".to_string(),
            Sandbox(e) => return e.hint(),
            Setup(e) => return e.hint(),
            RootKeys => "Let easyTDV set up its own identity with them once (“Set up easyTDV with these keys”): it makes an IAM user that can only run trainings, keeps that user's keys, and forgets these. Then delete the root access keys: AWS console → your account name → Security credentials → Access keys → Delete.".to_string(),
            SandboxUnreachable { .. } => format!(
                "Start the local sandbox with `{SANDBOX_START_COMMAND}` from the easyTDV folder, and use the address it prints."
            ),
            RegionNotEnabled { region } => format!(
                "{} is an opt-in region. Enable it in the AWS console (your account menu → Account → AWS Regions → Enable), or choose a region enabled by default such as us-east-1. If the region is enabled, the access key itself is not recognised.",
                regions::display_name(region)
            ),
            AccessDenied { .. } => "Your AWS user is not allowed to do this. Ask your administrator for the permissions easyTDV lists, or use an account with AdministratorAccess.".to_string(),
            NoCredentials { profile: Some(p), .. } => format!(
                "The profile \"{p}\" gives no usable credentials. Check it with `aws sts get-caller-identity --profile {p}`."
            ),
            NoCredentials { profile: None, .. } => "Add access keys or choose an AWS CLI profile.".to_string(),
            Aws { .. } => "Try again; if it keeps failing, check the AWS Health Dashboard or ask your administrator.".to_string(),
        };
        Some(hint)
    }
}
