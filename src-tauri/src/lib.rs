//! easyTDV desktop shell: thin Tauri commands over `easytdv_core`.

mod bindings;
mod commands;
mod error;
mod feeds;
mod state;
mod window;

pub use bindings::{render_bindings, specta_builder};

use tauri::Manager;

/// Starts the desktop app.
pub fn run() {
    let builder = specta_builder();
    let state = match state::AppState::open(easytdv_core::paths::data_dir()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "easyTDV could not start: {}. {}",
                e.message,
                e.hint.unwrap_or_default()
            );
            std::process::exit(1);
        }
    };
    let _ = state.history.mark_interrupted();
    let result = tauri::Builder::default()
        .manage(state)
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            if let Some(main) = app.get_webview_window("main") {
                window::confirm_close_during_runs(&main);
            }
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(err) = result {
        eprintln!("easyTDV could not start: {err}");
        std::process::exit(1);
    }
}
