//! "Set up easyTDV on my AWS account": the one-time setup with an
//! administrator's profile or keys (used for it, never stored), and the IAM
//! documents it creates, for a person who sets it up by hand.

use easytdv_core::accounts::{AccountSetup, AdminCredentials};
use easytdv_core::bootstrap::{self, PolicyDocument, SetupPlan};
use easytdv_core::secret::Sensitive;
use serde::Deserialize;
use tauri::State;

use crate::error::AppError;
use crate::state::AppState;

/// The administrator credentials the webview sends: a profile name, or keys
/// typed once (the secret is wrapped at once and never sent back).
/// No `Debug`: it holds a secret until it becomes [`AdminCredentials`].
#[derive(Deserialize, specta::Type)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum AdminInput {
    Profile {
        profile: String,
    },
    #[serde(rename_all = "camelCase")]
    Keys {
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    },
}

impl From<AdminInput> for AdminCredentials {
    fn from(input: AdminInput) -> Self {
        match input {
            AdminInput::Profile { profile } => AdminCredentials::Profile { name: profile },
            AdminInput::Keys {
                access_key_id,
                secret_access_key,
                session_token,
            } => AdminCredentials::Keys {
                access_key_id,
                secret_access_key: Sensitive::new(secret_access_key),
                session_token: session_token
                    .filter(|t| !t.trim().is_empty())
                    .map(|t| Sensitive::new(t.trim())),
            },
        }
    }
}

/// The three IAM documents of the setup (boundary, run policy, read policy).
#[tauri::command]
#[specta::specta]
pub fn policy_documents() -> Vec<PolicyDocument> {
    bootstrap::documents()
}

/// What the setup will create in the account; creates nothing.
#[tauri::command]
#[specta::specta]
pub async fn plan_aws_setup(
    state: State<'_, AppState>,
    admin: AdminInput,
    region: String,
    user_name: String,
) -> Result<SetupPlan, AppError> {
    let admin = AdminCredentials::from(admin);
    Ok(state
        .accounts
        .plan_aws_setup(&admin, &region, &user_name)
        .await?)
}

/// Does the setup and saves easyTDV's own identity as the account `name`.
#[tauri::command]
#[specta::specta]
pub async fn set_up_aws(
    state: State<'_, AppState>,
    admin: AdminInput,
    name: String,
    region: String,
    user_name: String,
) -> Result<AccountSetup, AppError> {
    let admin = AdminCredentials::from(admin);
    Ok(state
        .accounts
        .set_up_aws(&admin, &name, &region, &user_name)
        .await?)
}
