//! Sweeps: plan, start, follow, stop, delete and retry several runs of one
//! request. The core's `Sweeps` does the work; a sweep id from the webview
//! is checked (shape, then the history) before anything is done with it.

use easytdv_core::history::SweepRecord;
use easytdv_core::pipeline::{DeleteReport, RunEvent};
use easytdv_core::runs::CleanupPolicy;
use easytdv_core::sweep::{BestBy, SweepPlan, SweepRequest, SweepStart, SweepView, Sweeps};
use tauri::ipc::Channel;
use tauri::State;

use crate::error::AppError;
use crate::state::AppState;

/// Every run's machine is deleted when it ends, a failed one's too: a
/// sweep's failures would otherwise keep machines up (and cost) beyond the
/// machines at once it was priced and checked for. "Retry the failed ones"
/// starts them anew (their environment is in the cache).
const POLICY: CleanupPolicy = CleanupPolicy::Always;

/// The runs a sweep would make, checked (nothing is read or created).
#[tauri::command]
#[specta::specta]
pub fn plan_sweep(request: SweepRequest) -> Result<SweepPlan, AppError> {
    Ok(request.plan()?)
}

async fn start_of(
    state: &AppState,
    account_id: &str,
    request: &SweepRequest,
) -> Result<SweepStart, AppError> {
    easytdv_core::secrets::check_request_names(&request.base.secrets)?;
    let secrets = state
        .accounts
        .run_secrets(account_id, &request.base.secrets)?;
    let ctx = state
        .context(account_id, Some(&request.base.region))
        .await?;
    Ok(SweepStart {
        ctx,
        account_id: account_id.to_string(),
        secrets,
        policy: POLICY,
        progress: state.quiet_progress(),
    })
}

/// Checks the sweep (its files must be ones chosen in this window), records
/// it and starts its runs in the background; returns the sweep id at once.
#[tauri::command]
#[specta::specta]
pub async fn start_sweep(
    state: State<'_, AppState>,
    account_id: String,
    request: SweepRequest,
) -> Result<String, AppError> {
    state.chosen.check_request(&request.base)?;
    let start = start_of(&state, &account_id, &request).await?;
    let record = state.sweeps.open(request, &start).await?;
    state
        .sweeps
        .spawn(&record.sweep_id, start, Sweeps::all_jobs(&record));
    Ok(record.sweep_id)
}

/// The sweep, its runs, their cost and the best one.
#[tauri::command]
#[specta::specta]
pub fn sweep_view(state: State<'_, AppState>, sweep_id: String) -> Result<SweepView, AppError> {
    Ok(state.sweeps.view(&sweep_id)?)
}

/// Every sweep, newest first (the Runs screen shows each as one row).
#[tauri::command]
#[specta::specta]
pub fn list_sweeps(state: State<'_, AppState>) -> Result<Vec<SweepRecord>, AppError> {
    Ok(state.history().list_sweeps()?)
}

/// Ranks the sweep's runs by this metric (`null`: the default one).
#[tauri::command]
#[specta::specta]
pub fn set_sweep_metric(
    state: State<'_, AppState>,
    sweep_id: String,
    best_by: Option<BestBy>,
) -> Result<SweepView, AppError> {
    state.sweeps.set_best_by(&sweep_id, best_by.as_ref())?;
    Ok(state.sweeps.view(&sweep_id)?)
}

/// "Stop all": no more runs start; those under way are stopped and their
/// machines deleted (outputs so far are kept). Returns the runs stopped.
#[tauri::command]
#[specta::specta]
pub async fn stop_sweep(
    state: State<'_, AppState>,
    sweep_id: String,
    on_event: Channel<RunEvent>,
) -> Result<Vec<String>, AppError> {
    let (record, ctx) = sweep_context(&state, &sweep_id).await?;
    let progress = state.progress(on_event);
    let stopped = state
        .sweeps
        .stop_all(&ctx, &record.sweep_id, progress.as_ref())
        .await;
    first_error(&stopped)?;
    Ok(stopped.into_iter().map(|(id, _)| id).collect())
}

/// "Delete all": stops the sweep, deletes every run's machine, stack and
/// input files (outputs stay), and ends a machine it kept warm.
#[tauri::command]
#[specta::specta]
pub async fn delete_sweep(
    state: State<'_, AppState>,
    sweep_id: String,
    on_event: Channel<RunEvent>,
) -> Result<Vec<String>, AppError> {
    let (record, ctx) = sweep_context(&state, &sweep_id).await?;
    let progress = state.progress(on_event);
    let deleted = state
        .sweeps
        .delete_all(&ctx, &record.sweep_id, progress.as_ref())
        .await?;
    first_error(&deleted)?;
    Ok(deleted.into_iter().map(|(id, _)| id).collect())
}

/// Runs again the failed, stopped and never started runs only (a failed one
/// from its failed step while its machine is there).
#[tauri::command]
#[specta::specta]
pub async fn retry_sweep(state: State<'_, AppState>, sweep_id: String) -> Result<(), AppError> {
    let record = state.sweeps.record(&sweep_id)?;
    state.sweeps.ensure_idle(&record.sweep_id)?;
    let start = start_of(&state, &record.account_id, &record.request).await?;
    let jobs = state.sweeps.retry_jobs(&record);
    state.sweeps.spawn(&record.sweep_id, start, jobs);
    Ok(())
}

/// A sweep of the history (its id checked) and a context for its account
/// and region, as the history says (never as the webview says).
async fn sweep_context(
    state: &AppState,
    sweep_id: &str,
) -> Result<(SweepRecord, easytdv_core::aws::AwsContext), AppError> {
    let record = state.sweeps.record(sweep_id)?;
    let ctx = state
        .context(&record.account_id, Some(&record.request.base.region))
        .await?;
    Ok((record, ctx))
}

fn first_error(
    results: &[(String, Result<DeleteReport, easytdv_core::runs::RunError>)],
) -> Result<(), AppError> {
    match results.iter().find_map(|(_, r)| r.as_ref().err()) {
        Some(e) => Err(AppError::from_error(e)),
        None => Ok(()),
    }
}
