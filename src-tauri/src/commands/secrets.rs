//! train.py's secrets, per account, in the OS keychain. A value comes from
//! the webview once (like an access key) and never goes back: only names do.

use easytdv_core::secret::Sensitive;
use tauri::State;

use crate::error::AppError;
use crate::state::AppState;

/// The account's secrets, by name.
#[tauri::command]
#[specta::specta]
pub fn list_secrets(
    state: State<'_, AppState>,
    account_id: String,
) -> Result<Vec<String>, AppError> {
    Ok(state.accounts.secret_names(&account_id)?)
}

/// Adds or replaces a secret; returns the names.
#[tauri::command]
#[specta::specta]
pub fn set_secret(
    state: State<'_, AppState>,
    account_id: String,
    name: String,
    value: String,
) -> Result<Vec<String>, AppError> {
    let value = Sensitive::new(value);
    Ok(state.accounts.set_secret(&account_id, &name, &value)?)
}

/// Deletes a secret (checked gone); returns the names left.
#[tauri::command]
#[specta::specta]
pub fn delete_secret(
    state: State<'_, AppState>,
    account_id: String,
    name: String,
) -> Result<Vec<String>, AppError> {
    Ok(state.accounts.delete_secret(&account_id, &name)?)
}
