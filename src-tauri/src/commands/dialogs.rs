//! Native dialogs for the commands. Each has a test seam (debug builds
//! only, see `crate::seams`): the dialog lives outside the webview, so
//! WebDriver cannot answer it; an environment variable answers instead in
//! the end-to-end tests.

use std::path::PathBuf;

use easytdv_core::pipeline::FileKind;
use tauri::WebviewWindow;

use crate::seams::picked;

/// A folder (`EASYTDV_PICKED_FOLDER` in tests); `None` when cancelled.
pub async fn pick_folder(window: &WebviewWindow, title: &str) -> Option<PathBuf> {
    if let Some(p) = picked!("EASYTDV_PICKED_FOLDER") {
        return Some(p);
    }
    rfd::AsyncFileDialog::new()
        .set_parent(window)
        .set_title(title)
        .pick_folder()
        .await
        .map(|f| f.path().to_path_buf())
}

/// Where to save a file (`EASYTDV_PICKED_SAVE_PATH` in tests).
pub async fn save_file(window: &WebviewWindow, title: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = picked!("EASYTDV_PICKED_SAVE_PATH") {
        return Some(p);
    }
    rfd::AsyncFileDialog::new()
        .set_parent(window)
        .set_title(title)
        .set_file_name(name)
        .save_file()
        .await
        .map(|f| f.path().to_path_buf())
}

/// train.py (or a notebook) or requirements.txt (`EASYTDV_PICKED_SCRIPT`,
/// `EASYTDV_PICKED_REQUIREMENTS` in tests).
pub async fn pick_input(window: &WebviewWindow, kind: FileKind) -> Option<PathBuf> {
    let seam = match kind {
        FileKind::Script => picked!("EASYTDV_PICKED_SCRIPT"),
        FileKind::Requirements => picked!("EASYTDV_PICKED_REQUIREMENTS"),
    };
    if seam.is_some() {
        return seam;
    }
    let dialog = match kind {
        FileKind::Script => rfd::AsyncFileDialog::new()
            .set_title("Choose your training script or notebook")
            .add_filter("Python script or Jupyter notebook", &["py", "ipynb"]),
        FileKind::Requirements => rfd::AsyncFileDialog::new()
            .set_title("Choose your requirements file")
            .add_filter("Requirements", &["txt"]),
    };
    dialog
        .set_parent(window)
        .pick_file()
        .await
        .map(|f| f.path().to_path_buf())
}

/// The access-key CSV from the AWS console (`EASYTDV_PICKED_CSV` in tests).
pub async fn pick_csv(window: &WebviewWindow) -> Option<PathBuf> {
    if let Some(p) = picked!("EASYTDV_PICKED_CSV") {
        return Some(p);
    }
    rfd::AsyncFileDialog::new()
        .set_parent(window)
        .set_title("Choose the access key file (.csv) from the AWS console")
        .add_filter("CSV file", &["csv"])
        .pick_file()
        .await
        .map(|f| f.path().to_path_buf())
}
