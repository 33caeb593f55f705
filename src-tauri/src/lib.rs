//! easyTDV desktop shell: thin Tauri commands over `easytdv_core`.

mod bindings;
mod commands;
mod error;
mod feeds;
mod logging;
mod notify;
mod resources;
mod seams;
mod state;
mod webview;
mod window;

pub use bindings::{render_bindings, specta_builder};

use easytdv_core::services::Services;
use tauri::Manager;

/// Starts the desktop app.
pub fn run() {
    webview::before_start();
    let data_dir = easytdv_core::paths::data_dir();
    let _log = logging::init(&data_dir);
    let services = match Services::open(&data_dir) {
        Ok(s) => s,
        Err(e) => {
            let e = easytdv_core::explain::ErrorReport::from(e);
            tracing::error!(
                code = e.code,
                message = e.message,
                "easyTDV could not start"
            );
            eprintln!(
                "easyTDV could not start: {}. {}",
                e.message,
                e.hint.unwrap_or_default()
            );
            std::process::exit(1);
        }
    };
    if let Err(e) = services.history().mark_interrupted() {
        tracing::error!(error = %e, "could not mark the runs a closed app interrupted");
    }
    tracing::info!(data_dir = %data_dir.display(), "easyTDV starting");
    let builder = specta_builder();
    let context = tauri::generate_context!();
    let resources = resources::Resources::new(&context);
    let app = tauri::Builder::default()
        .manage(state::AppState::new(services, resources))
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            app.state::<state::AppState>()
                .runs
                .set_notifier(std::sync::Arc::new(notify::Desktop));
            if let Some(main) = app.get_webview_window("main") {
                webview::lighten(&main);
                window::confirm_close_during_runs(&main);
                window::remember_drops(&main);
            }
            resume_practice_cloud(app.handle().clone());
            Ok(())
        })
        .build(context);
    match app {
        Ok(app) => app.run(|handle, event| {
            if let tauri::RunEvent::Exit = event {
                handle.state::<state::AppState>().practice.stop();
            }
        }),
        Err(err) => {
            tracing::error!(error = %err, "the window could not run");
            eprintln!("easyTDV could not start: {err}");
            std::process::exit(1);
        }
    }
}

/// Sandbox accounts made with the practice cloud find it running again.
fn resume_practice_cloud(handle: tauri::AppHandle) {
    tauri::async_runtime::spawn_blocking(move || {
        let state = handle.state::<state::AppState>();
        if let Err(e) = state.practice.resume(&state.accounts) {
            tracing::error!(code = easytdv_core::explain::Explain::code(&e), error = %e, "the practice cloud did not start again");
        }
    });
}
