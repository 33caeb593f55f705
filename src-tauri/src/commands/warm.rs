//! The machines kept warm for the next run: listed on the Runs screen, each
//! with "Stop now".

use easytdv_core::warm::WarmMachine;
use tauri::State;

use crate::error::AppError;
use crate::state::AppState;

/// The machines kept warm now (every account's), soonest stop first; one
/// still running well past its own stop is ended first.
#[tauri::command]
#[specta::specta]
pub async fn warm_machines(state: State<'_, AppState>) -> Result<Vec<WarmMachine>, AppError> {
    state.services.end_overdue_warm().await;
    Ok(state.services.warm_machines()?)
}

/// "Stop now": terminates a machine kept warm. Only an id the history holds
/// as warm is acted on; anything else is refused before any AWS call.
#[tauri::command]
#[specta::specta]
pub async fn stop_warm_machine(
    state: State<'_, AppState>,
    instance_id: String,
) -> Result<WarmMachine, AppError> {
    Ok(state.services.stop_warm(&instance_id).await?)
}
