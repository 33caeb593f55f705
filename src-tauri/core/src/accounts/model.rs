//! Types that cross IPC (serde camelCase + specta) and the inputs of the
//! `Accounts` service. None of the serializable types can hold a secret.

use serde::{Deserialize, Serialize};

use crate::secret::Sensitive;

/// How an account reaches AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum AccountKind {
    /// Access keys kept in the OS keychain.
    Keys,
    /// A profile of the AWS CLI config files (SSO included), never copied.
    Profile,
    /// The local AWS sandbox.
    Sandbox,
}

/// An account as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub kind: AccountKind,
    pub region: String,
    /// `AKIA…WXYZ` for keys accounts.
    pub masked_key_id: Option<String>,
    /// The AWS CLI profile name for profile accounts.
    pub profile: Option<String>,
    /// The sandbox address for sandbox accounts.
    pub endpoint: Option<String>,
    pub is_default: bool,
    /// RFC 3339 time the account was added.
    pub created_at: String,
}

/// Who AWS says the credentials belong to (STS GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The 12-digit AWS account number.
    pub account_id: String,
    pub arn: String,
}

/// A permission a training run needs that the account lacks (or that could
/// not be checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct MissingPermission {
    /// The IAM action, e.g. `ec2:RunInstances`.
    pub action: String,
    /// What easyTDV needs it for, e.g. "create the training machine".
    pub purpose: String,
    /// What to do about it.
    pub fix: String,
}

/// How the permissions were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum PermissionCheck {
    /// IAM policy simulation of the caller: every action was checked.
    Simulated,
    /// Simulation was not allowed; dry-run calls checked some actions.
    DryRun,
    /// The caller is the account root user, who may do everything.
    RootUser,
    /// The local sandbox does not enforce permissions.
    Sandbox,
}

/// The result of the permission preflight. It never creates anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct PermissionReport {
    pub check: PermissionCheck,
    /// Actions AWS says are denied.
    pub missing: Vec<MissingPermission>,
    /// Actions that could not be checked (neither allowed nor denied known).
    pub unchecked: Vec<MissingPermission>,
}

/// The result of the guided setup of one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AccountSetup {
    pub account: AccountView,
    pub identity: Identity,
    pub missing_permissions: Vec<MissingPermission>,
    pub unchecked_permissions: Vec<MissingPermission>,
    pub permission_check: PermissionCheck,
}

/// A profile found in the AWS CLI config files (names and settings only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ProfileInfo {
    pub name: String,
    pub region: Option<String>,
    pub is_sso: bool,
}

/// New access keys, as typed, pasted or imported by the user.
#[derive(Debug, Clone)]
pub struct KeysInput {
    pub name: String,
    /// May also hold a pasted `AKIA…,secret` pair (then `secret_access_key`
    /// may be empty).
    pub access_key_id: String,
    pub secret_access_key: Sensitive,
    pub session_token: Option<Sensitive>,
    pub region: String,
}

/// A new account using an AWS CLI profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInput {
    pub name: String,
    pub profile: String,
    /// `None`: the profile's own region.
    pub region: Option<String>,
}

/// A new account using the local sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInput {
    pub name: String,
    pub endpoint: String,
    pub region: String,
}

/// Any new account, for `verify` before saving.
#[derive(Debug, Clone)]
pub enum AccountDraft {
    Keys(KeysInput),
    Profile(ProfileInput),
    Sandbox(SandboxInput),
}
