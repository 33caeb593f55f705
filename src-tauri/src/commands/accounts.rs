//! Accounts and the guided first-run setup. Secrets come in once (typed or
//! from a CSV the backend reads itself) and never go back to the webview.

use easytdv_core::accounts::{
    read_credentials_csv, AccountDraft, AccountError, AccountSetup, AccountView, KeysInput,
    ProfileInfo, ProfileInput, SandboxInput,
};
use easytdv_core::secret::Sensitive;
use tauri::{State, WebviewWindow};

use super::dialogs;
use crate::error::AppError;
use crate::state::AppState;

/// Verifies a draft, saves it, then runs the identity + permission check.
async fn verify_then_save(
    state: &AppState,
    draft: AccountDraft,
    save: impl FnOnce() -> Result<AccountView, AccountError>,
) -> Result<AccountSetup, AppError> {
    state
        .accounts
        .verify(&draft)
        .await
        .map_err(AppError::from)?;
    let account = save().map_err(AppError::from)?;
    state
        .accounts
        .setup(&account.id)
        .await
        .map_err(AppError::from)
}

fn keys_input(
    name: String,
    access_key_id: String,
    secret: Sensitive,
    token: Option<String>,
    region: String,
) -> KeysInput {
    KeysInput {
        name,
        access_key_id,
        secret_access_key: secret,
        session_token: token
            .filter(|t| !t.trim().is_empty())
            .map(|t| Sensitive::new(t.trim())),
        region,
    }
}

async fn add_keys(state: &AppState, input: KeysInput) -> Result<AccountSetup, AppError> {
    verify_then_save(state, AccountDraft::Keys(input.clone()), || {
        state.accounts.add_keys(input)
    })
    .await
}

#[tauri::command]
#[specta::specta]
pub fn list_accounts(state: State<'_, AppState>) -> Result<Vec<AccountView>, AppError> {
    state.accounts.list().map_err(AppError::from)
}

/// AWS CLI profiles found on this computer (names and regions only).
#[tauri::command]
#[specta::specta]
pub fn detect_profiles(state: State<'_, AppState>) -> Vec<ProfileInfo> {
    state.accounts.profiles()
}

/// Verifies typed or pasted access keys, stores them in the OS keychain and
/// checks the permissions a run needs.
#[tauri::command]
#[specta::specta]
pub async fn add_keys_account(
    state: State<'_, AppState>,
    name: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    region: String,
) -> Result<AccountSetup, AppError> {
    let input = keys_input(
        name,
        access_key_id,
        Sensitive::new(secret_access_key),
        session_token,
        region,
    );
    add_keys(&state, input).await
}

/// Opens a file dialog for the access-key CSV from the AWS console, then
/// does what `add_keys_account` does; `null` when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn import_csv_account(
    window: WebviewWindow,
    state: State<'_, AppState>,
    name: String,
    region: String,
) -> Result<Option<AccountSetup>, AppError> {
    let path = dialogs::pick_csv(&window).await;
    let Some(path) = path else { return Ok(None) };
    let (key_id, secret) = read_credentials_csv(&path).map_err(AppError::from)?;
    add_keys(&state, keys_input(name, key_id, secret, None, region))
        .await
        .map(Some)
}

/// New access keys for a keys account (its runs stay): verified, stored in
/// the OS keychain, then the account is checked again.
#[tauri::command]
#[specta::specta]
pub async fn replace_account_keys(
    state: State<'_, AppState>,
    id: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
) -> Result<AccountSetup, AppError> {
    let account = state.accounts.get(&id)?;
    let input = keys_input(
        account.name,
        access_key_id,
        Sensitive::new(secret_access_key),
        session_token,
        account.region,
    );
    state
        .accounts
        .verify(&AccountDraft::Keys(input.clone()))
        .await?;
    state.accounts.replace_keys(&id, input)?;
    Ok(state.accounts.setup(&id).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn add_profile_account(
    state: State<'_, AppState>,
    name: String,
    profile: String,
    region: Option<String>,
) -> Result<AccountSetup, AppError> {
    let input = ProfileInput {
        name,
        profile,
        region: region.filter(|r| !r.is_empty()),
    };
    verify_then_save(&state, AccountDraft::Profile(input.clone()), || {
        state.accounts.add_profile(input)
    })
    .await
}

/// The local sandbox's address: the port `./dev run` starts it on (or, in
/// a debug build, `$EASYTDV_SANDBOX_ENDPOINT`).
#[tauri::command]
#[specta::specta]
pub fn default_sandbox_endpoint() -> String {
    crate::seams::sandbox_endpoint().unwrap_or_else(|| "http://127.0.0.1:4566".into())
}

#[tauri::command]
#[specta::specta]
pub async fn add_sandbox_account(
    state: State<'_, AppState>,
    name: String,
    endpoint: String,
    region: String,
) -> Result<AccountSetup, AppError> {
    let input = SandboxInput {
        name,
        endpoint,
        region,
    };
    verify_then_save(&state, AccountDraft::Sandbox(input.clone()), || {
        state.accounts.add_sandbox(input)
    })
    .await
}

/// Checks a saved account again (identity and permissions).
#[tauri::command]
#[specta::specta]
pub async fn check_account(
    state: State<'_, AppState>,
    id: String,
) -> Result<AccountSetup, AppError> {
    state.accounts.setup(&id).await.map_err(AppError::from)
}

#[tauri::command]
#[specta::specta]
pub fn rename_account(
    state: State<'_, AppState>,
    id: String,
    name: String,
) -> Result<AccountView, AppError> {
    state.accounts.rename(&id, &name).map_err(AppError::from)
}

#[tauri::command]
#[specta::specta]
pub fn set_account_region(
    state: State<'_, AppState>,
    id: String,
    region: String,
) -> Result<AccountView, AppError> {
    state
        .accounts
        .set_region(&id, &region)
        .map_err(AppError::from)
}

#[tauri::command]
#[specta::specta]
pub fn set_default_account(
    state: State<'_, AppState>,
    id: String,
) -> Result<AccountView, AppError> {
    state.accounts.set_default(&id).map_err(AppError::from)
}

/// Deletes the account and its keychain entry.
#[tauri::command]
#[specta::specta]
pub fn delete_account(state: State<'_, AppState>, id: String) -> Result<(), AppError> {
    state.accounts.delete(&id).map_err(AppError::from)
}
