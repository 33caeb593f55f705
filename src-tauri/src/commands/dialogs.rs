//! Native dialogs for the commands, each with a test seam: the dialog lives
//! outside the webview, so WebDriver cannot answer it; an environment
//! variable answers instead in the end-to-end tests.

use std::path::PathBuf;

use tauri::WebviewWindow;

/// A folder (`EASYTDV_PICKED_FOLDER` in tests); `None` when cancelled.
pub async fn pick_folder(window: &WebviewWindow, title: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("EASYTDV_PICKED_FOLDER") {
        return Some(PathBuf::from(p));
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
    if let Some(p) = std::env::var_os("EASYTDV_PICKED_SAVE_PATH") {
        return Some(PathBuf::from(p));
    }
    rfd::AsyncFileDialog::new()
        .set_parent(window)
        .set_title(title)
        .set_file_name(name)
        .save_file()
        .await
        .map(|f| f.path().to_path_buf())
}
