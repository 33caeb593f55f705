//! Runs: start, retry, delete, list, live status. Long work streams its
//! progress through a `Channel`; the history records every outcome.

use std::sync::Arc;

use easytdv_core::history::{Cleanup, Outcome, RunRecord};
use easytdv_core::pipeline::{
    self, DeleteReport, ProgressEvent, ProgressSink, Step, Tracked, Train, TrainRequest,
};
use easytdv_core::recorded::run_and_record;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};

use crate::error::{report, AppError};
use crate::state::AppState;

/// Progress goes to the run's feed (kept for this session, fanned out to
/// every watcher), starting with the caller's channel.
fn channel_sink(state: &AppState, channel: Channel<ProgressEvent>) -> Arc<Tracked> {
    Tracked::new(state.feeds.sink(channel))
}

fn busy(run_id: &str) -> AppError {
    AppError {
        code: "run_busy".into(),
        message: format!("run {run_id} is already being worked on"),
        hint: Some("Wait for the current step to finish.".into()),
    }
}

/// Runs the pipeline from `from` in the background and records the result.
/// After a success nothing is left to retry, so the machine and stack are
/// deleted at once (the outputs stay): no machine is ever forgotten and
/// billing. After a failure they stay for "Retry from this step", with the
/// machine's own time limit as a safety net.
fn spawn_run(app: AppHandle, mut train: Train, from: Step, sink: Arc<Tracked>) {
    let run_id = train.run_id().to_string();
    let state_handle = app.clone();
    let task = tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        // The outcome and the clean-up are in the history; the UI got the events.
        let _ = run_and_record(&mut train, from, &state.history, &sink, |r| r.is_ok()).await;
        state.end(train.run_id());
    });
    state_handle.state::<AppState>().attach(&run_id, task);
}

/// Checks the request, opens a run and starts it; returns the run id at once.
#[tauri::command]
#[specta::specta]
pub async fn start_run(
    app: AppHandle,
    state: State<'_, AppState>,
    account_id: String,
    request: TrainRequest,
    on_event: Channel<ProgressEvent>,
) -> Result<String, AppError> {
    let ctx = state.context(&account_id, Some(&request.region)).await?;
    let sink = channel_sink(&state, on_event);
    let train = Train::new(ctx, request, sink.clone(), state.history.clone()).map_err(report)?;
    let run_id = train.run_id().to_string();
    state
        .history
        .attach_request(&run_id, &account_id, train.request())
        .map_err(report)?;
    state.begin(&run_id);
    spawn_run(app, train, Step::Prepare, sink);
    Ok(run_id)
}

/// Starts a failed run again from `from` (files are read again, so a fixed
/// script or requirements file is used).
#[tauri::command]
#[specta::specta]
pub async fn retry_run(
    app: AppHandle,
    state: State<'_, AppState>,
    run_id: String,
    from: Step,
    on_event: Channel<ProgressEvent>,
) -> Result<(), AppError> {
    let record = state.history.get(&run_id).map_err(report)?;
    let (Some(account_id), Some(request)) = (record.account_id.clone(), record.request.clone())
    else {
        return Err(AppError {
            code: "run_incomplete".into(),
            message: "this run was started outside the app and cannot be retried here".into(),
            hint: Some("Delete it, then start a new run.".into()),
        });
    };
    let ctx = state
        .context(&account_id, Some(&record.resources.region))
        .await?;
    if !state.begin(&run_id) {
        return Err(busy(&run_id));
    }
    let sink = channel_sink(&state, on_event);
    let started = Train::resume(
        ctx,
        request,
        record.resources,
        sink.clone(),
        state.history.clone(),
    )
    .map_err(report)
    .and_then(|t| {
        state
            .history
            .set_outcome(&run_id, Outcome::Running, Some(from), None, None)
            .map_err(report)?;
        Ok(t)
    });
    match started {
        Ok(train) => {
            spawn_run(app, train, from, sink);
            Ok(())
        }
        Err(e) => {
            state.end(&run_id);
            Err(e)
        }
    }
}

/// Deletes the run's machine, stack and input files, waits and verifies.
/// A run still in progress is stopped first (its outputs so far are kept).
#[tauri::command]
#[specta::specta]
pub async fn delete_run(
    state: State<'_, AppState>,
    run_id: String,
    on_event: Channel<ProgressEvent>,
) -> Result<DeleteReport, AppError> {
    let (record, ctx) = state.run_context(&run_id).await?;
    // Deleting a run that is still going stops it first.
    if state.stop(&run_id) {
        let _ = state.history.set_outcome(
            &run_id,
            Outcome::Failed,
            None,
            Some("Stopped by you before it finished."),
            None,
        );
    }
    if !state.begin(&run_id) {
        return Err(busy(&run_id));
    }
    let _ = state.history.set_cleanup(&run_id, Cleanup::Deleting, None);
    let sink: Arc<dyn ProgressSink> = channel_sink(&state, on_event);
    let result = pipeline::delete_resources(&ctx, &record.resources, sink.as_ref()).await;
    let _ = state.history.record_delete_result(&run_id, &result);
    state.end(&run_id);
    result.map_err(report)
}

/// Sends the run's progress so far in this session, then every new event
/// (for a run view opened again, or from the history, while the run goes on).
#[tauri::command]
#[specta::specta]
pub fn watch_run(state: State<'_, AppState>, run_id: String, on_event: Channel<ProgressEvent>) {
    state.feeds.watch(&run_id, on_event);
}

/// The history, newest first.
#[tauri::command]
#[specta::specta]
pub fn list_runs(state: State<'_, AppState>) -> Result<Vec<RunRecord>, AppError> {
    state.history.list().map_err(report)
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
    let cloud = pipeline::cloud_status(&ctx, &record.resources)
        .await
        .map_err(report)?;
    let active = state.is_active(&run_id);
    Ok(LiveStatus {
        stack_status: cloud.stack_status,
        instance_state: cloud.instance_state,
        active,
    })
}

#[derive(Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct DownloadReport {
    pub folder: String,
    pub files: u32,
}

/// Asks for a folder and copies the run's outputs into it; `null` when
/// cancelled. (Test seam: `EASYTDV_PICKED_FOLDER`.)
#[tauri::command]
#[specta::specta]
pub async fn download_outputs(
    window: tauri::WebviewWindow,
    state: State<'_, AppState>,
    run_id: String,
) -> Result<Option<DownloadReport>, AppError> {
    let (record, ctx) = state.run_context(&run_id).await?;
    let folder = match std::env::var_os("EASYTDV_PICKED_FOLDER") {
        Some(p) => Some(std::path::PathBuf::from(p)),
        None => rfd::AsyncFileDialog::new()
            .set_parent(&window)
            .set_title("Choose where to save the training outputs")
            .pick_folder()
            .await
            .map(|f| f.path().to_path_buf()),
    };
    let Some(folder) = folder else {
        return Ok(None);
    };
    let target = folder.join(format!("easytdv-{run_id}"));
    let files = pipeline::download_outputs(&ctx, &record.resources, &target)
        .await
        .map_err(report)?;
    Ok(Some(DownloadReport {
        folder: target.display().to_string(),
        files: u32::try_from(files.len()).unwrap_or(u32::MAX),
    }))
}
