//! The webview made as light as a plain page (issue 24): WebKitGTK's own
//! settings, reached through Tauri's `with_webview`. Each was measured with
//! `tests/bench/window-weight.sh`; the README says what each saved.

use tauri::WebviewWindow;

/// Set to `1` to leave WebKit's GPU compositing on (its own choice).
#[cfg(target_os = "linux")]
const GPU_VAR: &str = "EASYTDV_WEBVIEW_GPU";

/// Set to `1` to leave JavaScriptCore's JIT compilers on.
#[cfg(target_os = "linux")]
const JIT_VAR: &str = "EASYTDV_WEBVIEW_JIT";

/// Settings the web process reads from its environment when it starts: to be
/// called first thing, before any thread or window (the web process inherits
/// the app's environment).
///
/// JavaScriptCore's JIT off: the page's script is a form, a table and small
/// charts, fast enough interpreted, and the compiled code the JIT kept after
/// each page was the memory that grew as one went from run page to run page
/// (the README has the figures). A user can set `JSC_useJIT` themselves, or
/// `EASYTDV_WEBVIEW_JIT=1` to keep WebKit's default.
pub fn before_start() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("JSC_useJIT").is_none() && std::env::var(JIT_VAR).as_deref() != Ok("1") {
        std::env::set_var("JSC_useJIT", "false");
    }
}

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
