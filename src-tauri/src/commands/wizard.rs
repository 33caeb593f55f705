//! The launch wizard's commands: native file pickers, and what AWS offers
//! (machine types, images, buckets) for the chosen account and region.

use std::path::PathBuf;

use easytdv_core::chosen::ProjectView;
use easytdv_core::pipeline::region_ready::RegionReady;
use easytdv_core::pipeline::{self, machine, CheckedFile, FileKind};
use easytdv_core::regions::{self, RegionInfo};
use tauri::{State, WebviewWindow};

use super::dialogs;
use crate::error::AppError;
use crate::state::AppState;

/// The native dialog for an input file; the chosen path is remembered (the
/// webview may send it back to start a run) and the file checked.
async fn pick(
    window: &WebviewWindow,
    state: &AppState,
    kind: FileKind,
) -> Result<Option<CheckedFile>, AppError> {
    let Some(path) = dialogs::pick_input(window, kind).await else {
        return Ok(None);
    };
    state.chosen.add_file(&path);
    Ok(Some(state.chosen.check_file(kind, &path)?))
}

/// Opens the native dialog for train.py; `null` when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn pick_script(
    window: WebviewWindow,
    state: State<'_, AppState>,
) -> Result<Option<CheckedFile>, AppError> {
    pick(&window, &state, FileKind::Script).await
}

/// Opens the native dialog for requirements.txt; `null` when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn pick_requirements(
    window: WebviewWindow,
    state: State<'_, AppState>,
) -> Result<Option<CheckedFile>, AppError> {
    pick(&window, &state, FileKind::Requirements).await
}

/// Checks a file dropped on the window. Only a path the window received
/// in a drop (or one chosen with the dialog) is read: any other is refused.
#[tauri::command]
#[specta::specta]
pub fn check_file(
    state: State<'_, AppState>,
    path: PathBuf,
    kind: FileKind,
) -> Result<CheckedFile, AppError> {
    Ok(state.chosen.check_file(kind, &path)?)
}

/// Opens the native dialog for the project folder; `null` when cancelled.
/// The folder becomes the project: `script` when it is inside, else its
/// train.py (or main.py).
#[tauri::command]
#[specta::specta]
pub async fn pick_project(
    window: WebviewWindow,
    state: State<'_, AppState>,
    script: Option<PathBuf>,
) -> Result<Option<ProjectView>, AppError> {
    let Some(root) = dialogs::pick_folder(&window, "Choose your project folder").await else {
        return Ok(None);
    };
    state.chosen.add_project_root(&root);
    let inside =
        script.filter(
            |s| match (std::fs::canonicalize(&root), std::fs::canonicalize(s)) {
                (Ok(r), Ok(s)) => easytdv_core::project::select::relative(&r, &s).is_some(),
                _ => false,
            },
        );
    Ok(Some(state.chosen.project(
        Some(&root),
        inside.as_deref(),
        None,
    )?))
}

/// What will be sent of a project (a chosen or dropped folder, or the
/// chosen script's folder): files, size, the largest, a warning, what is
/// left out; the script and requirements file found.
#[tauri::command]
#[specta::specta]
pub fn project_summary(
    state: State<'_, AppState>,
    root: Option<PathBuf>,
    script: Option<PathBuf>,
    requirements: Option<PathBuf>,
) -> Result<ProjectView, AppError> {
    Ok(state
        .chosen
        .project(root.as_deref(), script.as_deref(), requirements.as_deref())?)
}

#[tauri::command]
#[specta::specta]
pub fn list_regions() -> Vec<RegionInfo> {
    regions::regions()
}

/// The regions enabled for this account (asks AWS), with their names.
#[tauri::command]
#[specta::specta]
pub async fn list_account_regions(
    state: State<'_, AppState>,
    account_id: String,
) -> Result<Vec<RegionInfo>, AppError> {
    let ctx = state.context(&account_id, None).await?;
    machine::enabled_regions(&ctx).await.map_err(AppError::from)
}

/// Machine types offered in the region, with vCPUs, memory and GPUs.
#[tauri::command]
#[specta::specta]
pub async fn list_instance_types(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
) -> Result<Vec<machine::InstanceTypeInfo>, AppError> {
    let ctx = state.context(&account_id, Some(&region)).await?;
    let prices = Some(state.prices.as_ref());
    Ok(state
        .catalog
        .instance_types(&account_id, &ctx, prices)
        .await?)
}

/// SageMaker training types (`ml.*`) of the region, with $/hour per machine.
#[tauri::command]
#[specta::specta]
pub async fn list_training_types(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
) -> Result<Vec<machine::InstanceTypeInfo>, AppError> {
    let ctx = state.context(&account_id, Some(&region)).await?;
    let types = state
        .catalog
        .training_types(&account_id, &ctx, &state.prices);
    Ok(types.await?)
}

/// The image "Automatic" would use for this machine type, or the custom one.
#[tauri::command]
#[specta::specta]
pub async fn resolve_ami(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
    instance_type: String,
    custom: Option<String>,
) -> Result<machine::AmiInfo, AppError> {
    let ctx = state.context(&account_id, Some(&region)).await?;
    let info = machine::describe_type(&ctx, &instance_type)
        .await
        .map_err(AppError::from)?;
    machine::resolve_ami(&ctx, &info, custom.as_deref().filter(|c| !c.is_empty()))
        .await
        .map_err(AppError::from)
}

/// The account's buckets in the region.
#[tauri::command]
#[specta::specta]
pub async fn list_buckets(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
) -> Result<Vec<String>, AppError> {
    let ctx = state.context(&account_id, Some(&region)).await?;
    pipeline::list_buckets_in_region(&ctx)
        .await
        .map_err(AppError::from)
}

/// A valid bucket name for a new bucket: `easytdv-<account>-<region>`.
#[tauri::command]
#[specta::specta]
pub async fn suggest_bucket_name(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
) -> Result<String, AppError> {
    Ok(state.suggest_bucket(&account_id, &region).await?)
}

/// Gets the region ready for the first run there while the user fills in
/// the wizard: the bucket and easyTDV's shared resources (free; about two
/// minutes when new, one look afterwards). A run launched meanwhile waits
/// for the same resources.
#[tauri::command]
#[specta::specta]
pub async fn prepare_region(
    state: State<'_, AppState>,
    account_id: String,
    region: String,
) -> Result<RegionReady, AppError> {
    let notice = |m: &str| tracing::info!(message = m, "prepare region");
    Ok(state.prepare_region(&account_id, &region, &notice).await?)
}

/// Checks a bucket name against S3's rules (no AWS call).
#[tauri::command]
#[specta::specta]
pub fn check_bucket_name(name: String) -> Result<(), AppError> {
    pipeline::check_bucket(&name).map_err(AppError::from)
}
