//! "Try without an AWS account": the practice cloud the app runs itself, and
//! the example script to try it with.

use easytdv_core::pipeline::{CheckedFile, FileKind};
use easytdv_core::practice::PracticeProgress;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::State;

use crate::error::AppError;
use crate::state::AppState;

/// Starts the practice cloud (or finds it running) and returns its address;
/// `progress` tells what it is doing (the first start takes about a minute).
#[tauri::command]
#[specta::specta]
pub async fn start_practice_cloud(
    state: State<'_, AppState>,
    progress: Channel<PracticeProgress>,
) -> Result<String, AppError> {
    let reuse = crate::seams::sandbox_endpoint();
    let send = move |p: PracticeProgress| {
        if let Err(e) = progress.send(p) {
            tracing::debug!(error = %e, "the setup screen no longer listens");
        }
    };
    Ok(state.practice.start(reuse, send).await?)
}

#[derive(Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct ExampleFiles {
    pub script: CheckedFile,
    pub requirements: CheckedFile,
}

/// The example shipped with the app: recognising handwritten digits with
/// scikit-learn on a dataset it carries. `null` when this copy has none.
#[tauri::command]
#[specta::specta]
pub fn example_files(state: State<'_, AppState>) -> Result<Option<ExampleFiles>, AppError> {
    let Some(dir) = state.resources.example() else {
        return Ok(None);
    };
    let (script, requirements) = (dir.join("train.py"), dir.join("requirements.txt"));
    state.chosen.add_file(&script);
    state.chosen.add_file(&requirements);
    let script = state.chosen.check_file(FileKind::Script, &script)?;
    let requirements = state
        .chosen
        .check_file(FileKind::Requirements, &requirements)?;
    Ok(Some(ExampleFiles {
        script,
        requirements,
    }))
}
