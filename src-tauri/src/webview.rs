//! The webview made as light as a plain page (issue 24): WebKitGTK's own
//! settings, reached through Tauri's `with_webview`. Each was measured with
//! `tests/bench/window-weight.sh`; the README says what each saved.

use tauri::WebviewWindow;

/// Applies the settings below to the window's webview.
pub fn lighten(window: &WebviewWindow) {
    #[cfg(target_os = "linux")]
    if let Err(e) = window.with_webview(|webview| linux::lighten(&webview.inner())) {
        tracing::warn!(error = %e, "the webview's memory settings were not applied");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

#[cfg(target_os = "linux")]
mod linux {
    use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};

    pub fn lighten(view: &webkit2gtk::WebView) {
        // One local page, never browsed away from: WebKit's smallest
        // caches ("a viewer of local files") instead of a web browser's.
        if let Some(context) = view.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    }
}
