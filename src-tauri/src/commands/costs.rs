//! What things cost and what is left in the account: prices for the
//! wizard, the history's statuses in one refresh, month totals, leftovers.

use easytdv_core::environments::CachedEnvironment;
use easytdv_core::overview::{MonthCost, Refresh};
use easytdv_core::pipeline::RunEvent;
use easytdv_core::prices::{self, Quote, SpotPrice};
use easytdv_core::scan::{BaseRemoval, BaseScan, LeftoverScan};
use easytdv_core::stored::{FilesDeleted, StoredFiles};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::AppError;
use crate::state::AppState;

/// "About $X per hour; at most $Y until the safety stop" for the review.
#[tauri::command]
#[specta::specta]
pub async fn price_quote(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
    instance_type: String,
    disk_gb: u32,
    max_runtime_hours: u32,
    budget_usd: Option<f64>,
) -> Result<Quote, AppError> {
    let ctx = state.context(&account_id, Some(&region)).await?;
    let hours = f64::from(max_runtime_hours);
    let quote = state
        .prices
        .quote(&ctx, &instance_type, disk_gb, hours, budget_usd);
    Ok(quote.await?)
}

/// The same for a SageMaker job on `machines` machines (no disk).
#[tauri::command]
#[specta::specta]
pub async fn training_quote(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
    training_type: String,
    machines: u32,
    max_runtime_hours: u32,
    budget_usd: Option<f64>,
) -> Result<Quote, AppError> {
    let ctx = state.context(&account_id, Some(&region)).await?;
    let hours = f64::from(max_runtime_hours);
    let quote = state
        .prices
        .training_quote(&ctx, &training_type, machines, hours, budget_usd);
    Ok(quote.await?)
}

/// Current spot prices of a machine type, per zone, cheapest first.
#[tauri::command]
#[specta::specta]
pub async fn spot_prices(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
    instance_type: String,
) -> Result<Vec<SpotPrice>, AppError> {
    let ctx = state.context(&account_id, Some(&region)).await?;
    Ok(prices::spot_prices(&ctx, &instance_type).await?)
}

/// Every run's stack and machine status, in two AWS calls per account and region.
#[tauri::command]
#[specta::specta]
pub async fn refresh_runs(state: State<'_, AppState>) -> Result<Refresh, AppError> {
    Ok(state.refresh_statuses().await?)
}

/// What the runs started this month cost, per account.
#[tauri::command]
#[specta::specta]
pub fn month_costs(state: State<'_, AppState>) -> Result<Vec<MonthCost>, AppError> {
    Ok(state.services.month_costs()?)
}

/// easyTDV resources in the account that no run of this history owns, and
/// the regions or buckets that could not be looked at.
#[tauri::command]
#[specta::specta]
pub async fn find_leftovers(
    state: State<'_, AppState>,
    account_id: String,
) -> Result<LeftoverScan, AppError> {
    Ok(state.leftovers(&account_id).await?)
}

/// Deletes one leftover of the account's last check, named by region and id
/// (the core refuses anything that check did not find).
#[tauri::command]
#[specta::specta]
pub async fn delete_leftover(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
    id: String,
    on_event: Channel<RunEvent>,
) -> Result<(), AppError> {
    let progress = state.progress(on_event);
    Ok(state
        .services
        .delete_leftover(&account_id, &region, &id, progress.as_ref())
        .await?)
}

/// Every region where the account has easyTDV's shared resources (the base).
#[tauri::command]
#[specta::specta]
pub async fn find_bases(
    state: State<'_, AppState>,
    account_id: String,
) -> Result<BaseScan, AppError> {
    Ok(state.services.bases(&account_id).await?)
}

/// "Remove easyTDV from this account": its shared resources in every region
/// where none of its machines runs (the core checks each region itself).
#[tauri::command]
#[specta::specta]
pub async fn remove_bases(
    state: State<'_, AppState>,
    account_id: String,
) -> Result<BaseRemoval, AppError> {
    let notice = |m: &str| tracing::info!(message = m, "remove easyTDV");
    Ok(state.services.remove_bases(&account_id, &notice).await?)
}

/// The cached environments (installed requirements kept for the next run).
#[tauri::command]
#[specta::specta]
pub async fn list_environments(
    state: State<'_, AppState>,
    account_id: String,
) -> Result<Vec<CachedEnvironment>, AppError> {
    Ok(state.environments(&account_id).await?)
}

/// Deletes one cached environment; the next run installs afresh.
#[tauri::command]
#[specta::specta]
pub async fn delete_environment(
    state: State<'_, AppState>,
    account_id: String,
    environment: CachedEnvironment,
) -> Result<(), AppError> {
    Ok(state.delete_environment(&account_id, &environment).await?)
}

/// The project and data files kept in each bucket of this account's runs
/// (sent once, shared by every run).
#[tauri::command]
#[specta::specta]
pub async fn list_stored_files(
    state: State<'_, AppState>,
    account_id: String,
) -> Result<Vec<StoredFiles>, AppError> {
    Ok(state.stored_files(&account_id).await?)
}

/// Deletes one bucket's project and data files, keeping those a run in
/// progress needs; the next run sends its files again.
#[tauri::command]
#[specta::specta]
pub async fn delete_stored_files(
    state: State<'_, AppState>,
    account_id: String,
    bucket: String,
    region: String,
) -> Result<FilesDeleted, AppError> {
    Ok(state
        .delete_stored_files(&account_id, &bucket, &region)
        .await?)
}
