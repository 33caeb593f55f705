//! The Code step's "Data (optional)" card: a data folder chosen with the
//! native dialog, or an S3 location typed by the person.

use easytdv_core::data_source::{self, folder::DataFolderSummary, S3LocationView};
use tauri::{State, WebviewWindow};

use super::dialogs;
use crate::error::AppError;
use crate::state::AppState;

/// Opens the native dialog for the data folder; `null` when cancelled. The
/// folder becomes the session's data folder (a run may name it) and is
/// summed up: how many files, how big, the largest.
#[tauri::command]
#[specta::specta]
pub async fn pick_data_folder(
    window: WebviewWindow,
    state: State<'_, AppState>,
) -> Result<Option<DataFolderSummary>, AppError> {
    let Some(path) = dialogs::pick_folder(&window, "Choose the folder that holds your data").await
    else {
        return Ok(None);
    };
    state.chosen.add_data_folder(&path);
    Ok(Some(data_source::folder::summary(&path)?))
}

/// Checks a typed `s3://bucket/prefix` (its shape only, no AWS call: the
/// bucket's region, owner and read access are checked at launch).
#[tauri::command]
#[specta::specta]
pub fn check_data_location(text: String) -> Result<S3LocationView, AppError> {
    Ok(data_source::check_s3_location(&text)?)
}
