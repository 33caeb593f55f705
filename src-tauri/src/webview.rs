//! The webview made as light as a plain page (issue 24): WebKitGTK's own
//! settings, reached through Tauri's `with_webview`. Each was measured with
//! `tests/bench/window-weight.sh`; the README says what each saved.

use tauri::WebviewWindow;

/// Set to `1` to leave WebKit's GPU compositing on (its own choice).
#[cfg(target_os = "linux")]
const GPU_VAR: &str = "EASYTDV_WEBVIEW_GPU";

/// Applies the settings below to the window's webview.
pub fn lighten(window: &WebviewWindow) {
    #[cfg(target_os = "linux")]
    {
        let gpu = std::env::var(GPU_VAR).is_ok_and(|v| v == "1");
        if let Err(e) = window.with_webview(move |webview| linux::lighten(&webview.inner(), gpu)) {
            tracing::warn!(error = %e, "the webview's memory settings were not applied");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

#[cfg(target_os = "linux")]
mod linux {
    use webkit2gtk::{
        CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt,
    };

    pub fn lighten(view: &webkit2gtk::WebView, gpu: bool) {
        // One local page, never browsed away from: WebKit's smallest
        // caches ("a viewer of local files") instead of a web browser's.
        if let Some(context) = view.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
        // Pages drawn without GPU compositing: forms, tables and 2D charts
        // need none, and compositing's buffers (rendered by the CPU where
        // there is no GPU, as under Xvfb or in a virtual machine) were a
        // third of the page's memory.
        if !gpu {
            if let Some(settings) = WebViewExt::settings(view) {
                settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
            }
        }
    }
}
