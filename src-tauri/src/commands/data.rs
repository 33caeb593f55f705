//! The Code step's "Data (optional)" card: a data folder chosen with the
//! native dialog, or an S3 location typed by the person.

use easytdv_core::data_source::{self, folder::DataFolderSummary, DataSource, S3LocationView};
use easytdv_core::stored::DataReview;
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

/// What the Review step shows of the run's data: a folder's files, bytes
/// and storage cost a month (only a folder chosen with the dialog); an S3
/// location's objects and bytes (listed with the account's keys, bounded)
/// and whether its bucket is in the run's region.
#[tauri::command]
#[specta::specta]
pub async fn review_data(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
    data: DataSource,
) -> Result<DataReview, AppError> {
    state.chosen.check_data(Some(&data))?;
    Ok(state.review_data(&account_id, &region, &data).await?)
}
