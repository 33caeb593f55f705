//! The launch wizard's commands: native file pickers, and what AWS offers
//! (machine types, images, buckets) for the chosen account and region.

use std::path::PathBuf;

use easytdv_core::pipeline::{self, machine, CheckedFile, FileKind};
use easytdv_core::regions::{self, RegionInfo};
use tauri::{State, WebviewWindow};

use crate::error::AppError;
use crate::state::AppState;

/// Test seam: `EASYTDV_PICKED_SCRIPT` / `EASYTDV_PICKED_REQUIREMENTS` stand
/// in for the native dialog, which lives outside the webview and cannot be
/// driven by WebDriver.
fn seam(kind: FileKind) -> Option<PathBuf> {
    let var = match kind {
        FileKind::Script => "EASYTDV_PICKED_SCRIPT",
        FileKind::Requirements => "EASYTDV_PICKED_REQUIREMENTS",
    };
    std::env::var_os(var).map(PathBuf::from)
}

async fn pick(window: &WebviewWindow, kind: FileKind) -> Result<Option<CheckedFile>, AppError> {
    let path = match seam(kind) {
        Some(p) => Some(p),
        None => {
            let dialog = match kind {
                FileKind::Script => rfd::AsyncFileDialog::new()
                    .set_parent(window)
                    .set_title("Choose your training script")
                    .add_filter("Python script", &["py"]),
                FileKind::Requirements => rfd::AsyncFileDialog::new()
                    .set_parent(window)
                    .set_title("Choose your requirements file")
                    .add_filter("Requirements", &["txt"]),
            };
            dialog.pick_file().await.map(|f| f.path().to_path_buf())
        }
    };
    match path {
        None => Ok(None),
        Some(p) => pipeline::read_input(kind, &p)
            .map(|(f, _)| Some(f))
            .map_err(AppError::from),
    }
}

/// Opens the native dialog for train.py; `null` when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn pick_script(window: WebviewWindow) -> Result<Option<CheckedFile>, AppError> {
    pick(&window, FileKind::Script).await
}

/// Opens the native dialog for requirements.txt; `null` when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn pick_requirements(window: WebviewWindow) -> Result<Option<CheckedFile>, AppError> {
    pick(&window, FileKind::Requirements).await
}

/// Checks a file dropped on the window.
#[tauri::command]
#[specta::specta]
pub fn check_file(path: PathBuf, kind: FileKind) -> Result<CheckedFile, AppError> {
    pipeline::read_input(kind, &path)
        .map(|(f, _)| f)
        .map_err(AppError::from)
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
    let ctx = state.context(&account_id, Some(&region)).await?;
    pipeline::suggest_bucket_name(&ctx)
        .await
        .map_err(AppError::from)
}

/// Checks a bucket name against S3's rules (no AWS call).
#[tauri::command]
#[specta::specta]
pub fn check_bucket_name(name: String) -> Result<(), AppError> {
    pipeline::check_bucket(&name).map_err(AppError::from)
}
