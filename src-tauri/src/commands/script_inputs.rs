//! The Review step's "Arguments for train.py" and variables fields, and
//! "Run again with changes" (the wizard filled from a recorded run).

use easytdv_core::data_source::folder::DataFolderSummary;
use easytdv_core::pipeline::run_args::{self, ScriptInputs};
use easytdv_core::pipeline::{CheckedFile, Engine, FileKind, TrainRequest};
use serde::Serialize;
use tauri::State;

use crate::error::AppError;
use crate::state::AppState;

/// Splits the arguments like a shell would and checks both fields: what
/// train.py will get, or what to fix (an unclosed quote, a name easyTDV sets…).
#[tauri::command]
#[specta::specta]
pub fn check_script_inputs(
    args_text: String,
    env_text: String,
    engine: Engine,
) -> Result<ScriptInputs, AppError> {
    Ok(run_args::check_inputs(&args_text, &env_text, &engine)?)
}

/// A recorded run, for the wizard to start again from.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ReusedRun {
    pub account_id: String,
    pub request: TrainRequest,
    /// The run's files as they are now (`null`: gone or unreadable; the
    /// wizard asks for them again).
    pub script: Option<CheckedFile>,
    pub requirements: Option<CheckedFile>,
    /// The run's data folder as it is now (`null`: no data folder, or it is
    /// gone or empty).
    pub data_folder: Option<DataFolderSummary>,
}

/// The request of a recorded run; its files (and its data folder) become
/// the wizard's chosen ones again (the paths come from the history, not from the webview).
#[tauri::command]
#[specta::specta]
pub fn reuse_run(state: State<'_, AppState>, run_id: String) -> Result<ReusedRun, AppError> {
    let retry = state.runs.retryable(&run_id)?;
    let mut request = retry.request;
    if request.args_text.is_empty() && !request.args.is_empty() {
        // The field shows them quoted so that they split back exactly.
        request.args_text = run_args::join(&request.args);
    }
    let checked = |kind: FileKind, path: &std::path::Path| {
        state.chosen.add_file(path);
        state.chosen.check_file(kind, path).ok()
    };
    let script = checked(FileKind::Script, &request.script_path);
    let requirements = checked(FileKind::Requirements, &request.requirements_path);
    let data_folder = state.chosen.add_recorded(&request);
    Ok(ReusedRun {
        account_id: retry.account_id,
        request,
        script,
        requirements,
        data_folder,
    })
}
