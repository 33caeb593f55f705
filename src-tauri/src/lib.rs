//! easyTDV desktop shell: thin Tauri commands over `easytdv_core`.

mod bindings;
mod commands;
mod error;

pub use bindings::specta_builder;

/// Starts the desktop app.
pub fn run() {
    let builder = specta_builder();
    let result = tauri::Builder::default()
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(err) = result {
        eprintln!("easyTDV could not start: {err}");
        std::process::exit(1);
    }
}
