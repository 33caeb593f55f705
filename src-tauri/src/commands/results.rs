//! What a run produced: its outputs (downloaded with progress), its logs
//! (read by windows, searched, saved) and its metrics. Run ids from the
//! webview are checked against the history (`Services::run_log`,
//! `run_context`) before any path is built from them.

use easytdv_core::logs::{self, LogLine, LogName, MetricSeries};
use easytdv_core::pipeline::{self, DownloadProgress, DownloadReport};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{State, WebviewWindow};

use super::dialogs;
use crate::error::AppError;
use crate::state::AppState;

/// Asks for a folder and copies the run's outputs into it, reporting
/// progress; `null` when cancelled. Files already there are skipped.
#[tauri::command]
#[specta::specta]
pub async fn download_outputs(
    window: WebviewWindow,
    state: State<'_, AppState>,
    run_id: String,
    on_progress: Channel<DownloadProgress>,
) -> Result<Option<DownloadReport>, AppError> {
    let (record, ctx) = state.run_context(&run_id).await?;
    let title = "Choose where to save the training outputs";
    let Some(folder) = dialogs::pick_folder(&window, title).await else {
        return Ok(None);
    };
    let target = folder.join(format!("easytdv-{}", record.run_id));
    let send = move |p: DownloadProgress| {
        if let Err(e) = on_progress.send(p) {
            tracing::debug!(error = %e, "the download's view went away");
        }
    };
    let mut report = pipeline::download_outputs(&ctx, &record.resources, &target, &send).await?;
    // "Open folder" may show it (and only folders the app made).
    state.chosen.add_folder(&target);
    // A notebook's run: "Open the executed notebook" may open that file.
    let script = record.request.as_ref().map(|r| r.script_path.as_path());
    if let Some(nb) = script.and_then(|s| pipeline::notebook::executed_in(&target, s)) {
        state.chosen.add_made_file(&nb);
        report.executed_notebook = Some(nb.display().to_string());
    }
    Ok(Some(report))
}

/// Opens a folder the app made (a download's) in the file manager.
#[tauri::command]
#[specta::specta]
pub fn open_folder(state: State<'_, AppState>, path: String) -> Result<(), AppError> {
    Ok(state.chosen.open_folder(std::path::Path::new(&path))?)
}

/// Opens a file the app downloaded (a run's executed notebook) with the
/// desktop's default app for it.
#[tauri::command]
#[specta::specta]
pub fn open_output_file(state: State<'_, AppState>, path: String) -> Result<(), AppError> {
    Ok(state.chosen.open_file(std::path::Path::new(&path))?)
}

#[derive(Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct LogWindow {
    /// Lines in the whole log.
    pub total: u32,
    pub from: u32,
    pub lines: Vec<LogLine>,
}

/// Lines `from..from+count` of a run's log (fetched from S3 once when this
/// computer has no copy, e.g. a run of another computer).
#[tauri::command]
#[specta::specta]
pub async fn read_log(
    state: State<'_, AppState>,
    run_id: String,
    log: LogName,
    from: u32,
    count: u32,
) -> Result<LogWindow, AppError> {
    let file = state.run_log(&run_id, log).await?;
    let total = file.len()?;
    let lines = file.read(from as usize, count.min(5000) as usize)?;
    Ok(LogWindow {
        total: u32::try_from(total).unwrap_or(u32::MAX),
        from,
        lines,
    })
}

/// The next (or previous) line holding `query`, ignoring case.
#[tauri::command]
#[specta::specta]
pub async fn search_log(
    state: State<'_, AppState>,
    run_id: String,
    log: LogName,
    query: String,
    from: u32,
    forward: bool,
) -> Result<Option<u32>, AppError> {
    let file = state.run_log(&run_id, log).await?;
    Ok(file
        .search(&query, from as usize, forward)?
        .map(|i| u32::try_from(i).unwrap_or(u32::MAX)))
}

/// Saves the log as plain text where the user says; `null` when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn save_log(
    window: WebviewWindow,
    state: State<'_, AppState>,
    run_id: String,
    log: LogName,
) -> Result<Option<String>, AppError> {
    let file = state.run_log(&run_id, log).await?;
    let name = format!("easytdv-{run_id}-{}.log", log.as_str());
    let Some(target) = dialogs::save_file(&window, "Save the log", &name).await else {
        return Ok(None);
    };
    file.copy_text_to(&target)?;
    Ok(Some(target.display().to_string()))
}

/// The curves of the metrics the run's script printed.
#[tauri::command]
#[specta::specta]
pub async fn run_metrics(
    state: State<'_, AppState>,
    run_id: String,
) -> Result<Vec<MetricSeries>, AppError> {
    let file = state.run_log(&run_id, LogName::Train).await?;
    Ok(logs::series_of(&file)?)
}
