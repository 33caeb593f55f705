//! Runs: start, retry, delete, list, live status. Long work streams its
//! progress through a `Channel`; the core's `Runs` records every outcome.

use easytdv_core::history::RunRecord;
use easytdv_core::pipeline::{self, DeleteReport, RunEvent, Step, TrainRequest};
use easytdv_core::runs::CleanupPolicy;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::error::AppError;
use crate::state::AppState;

/// After a success nothing is left to retry, so the machine and stack are
/// deleted at once (the outputs stay); after a failure they stay for
/// "Retry from this step", with the machine's own time limits as safety nets.
const POLICY: CleanupPolicy = CleanupPolicy::AfterSuccess;

/// Checks the request (its files must be ones chosen in this window), opens
/// a run and starts it; returns the run id at once.
#[tauri::command]
#[specta::specta]
pub async fn start_run(
    state: State<'_, AppState>,
    account_id: String,
    request: TrainRequest,
    on_event: Channel<RunEvent>,
) -> Result<String, AppError> {
    state.chosen.check_request(&request)?;
    // Valid names? Then the values come from the keychain, before anything
    // is created.
    easytdv_core::secrets::check_request_names(&request.secrets)?;
    let secrets = state.accounts.run_secrets(&account_id, &request.secrets)?;
    let ctx = state.context(&account_id, Some(&request.region)).await?;
    let progress = state.progress(on_event);
    let ready =
        state
            .runs
            .open_with_secrets(ctx, &account_id, request, secrets, progress.clone())?;
    let run_id = ready.run_id().to_string();
    state.runs.spawn(ready, progress, POLICY);
    Ok(run_id)
}

/// Starts a failed run again from `from` (files are read again, so a fixed
/// script or requirements file is used).
#[tauri::command]
#[specta::specta]
pub async fn retry_run(
    state: State<'_, AppState>,
    run_id: String,
    from: Step,
    on_event: Channel<RunEvent>,
) -> Result<(), AppError> {
    let retry = state.runs.retryable(&run_id)?;
    // The keychain's values now: a token fixed since the failure is the one sent.
    let secrets = state
        .accounts
        .run_secrets(&retry.account_id, &retry.request.secrets)?;
    let ctx = state
        .context(&retry.account_id, Some(&retry.resources.region))
        .await?;
    let progress = state.progress(on_event);
    let ready = state
        .runs
        .resume_with_secrets(ctx, retry, from, secrets, progress.clone())?;
    state.runs.spawn(ready, progress, POLICY);
    Ok(())
}

/// Deletes the run's machine, stack and input files, waits and verifies.
/// A run still in progress is stopped first (its outputs so far are kept).
#[tauri::command]
#[specta::specta]
pub async fn delete_run(
    state: State<'_, AppState>,
    run_id: String,
    on_event: Channel<RunEvent>,
) -> Result<DeleteReport, AppError> {
    let (_, ctx) = state.run_context(&run_id).await?;
    let progress = state.progress(on_event);
    Ok(state.runs.delete(&ctx, &run_id, progress.as_ref()).await?)
}

/// Sends the run's progress so far in this session, then every new event
/// (for a run view opened again, or from the history, while the run goes on).
#[tauri::command]
#[specta::specta]
pub fn watch_run(state: State<'_, AppState>, run_id: String, on_event: Channel<RunEvent>) {
    state.feeds.watch(&run_id, on_event);
}

/// The history, newest first.
#[tauri::command]
#[specta::specta]
pub fn list_runs(state: State<'_, AppState>) -> Result<Vec<RunRecord>, AppError> {
    Ok(state.history().list()?)
}

/// One run of the history (its page asks for it rather than the whole list),
/// by an id checked for its shape and against the history.
#[tauri::command]
#[specta::specta]
pub fn get_run(state: State<'_, AppState>, run_id: String) -> Result<RunRecord, AppError> {
    Ok(state.run_record(&run_id)?)
}

#[derive(Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LiveStatus {
    /// `None`: no stack (never created, or deleted).
    pub stack_status: Option<String>,
    /// `None`: no machine known.
    pub instance_state: Option<String>,
    /// True while this app is working on the run.
    pub active: bool,
}

/// Asks AWS for the run's stack and machine status now.
#[tauri::command]
#[specta::specta]
pub async fn run_live_status(
    state: State<'_, AppState>,
    run_id: String,
) -> Result<LiveStatus, AppError> {
    let (record, ctx) = state.run_context(&run_id).await?;
    let cloud = pipeline::cloud_status(&ctx, &record.resources).await?;
    let active = state.runs.active().is_active(&run_id);
    Ok(LiveStatus {
        stack_status: cloud.stack_status,
        instance_state: cloud.instance_state,
        active,
    })
}
