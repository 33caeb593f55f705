use serde::Serialize;

#[derive(Debug, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct AppInfo {
    pub name: String,
    pub version: String,
    /// Something the user must know since this start (a history that could
    /// not be used and was kept aside), in plain words.
    pub notice: Option<String>,
    /// Where the app writes its log.
    pub log_dir: String,
}

/// Product name and version, for the header and the About box.
#[tauri::command]
#[specta::specta]
pub fn app_info(state: tauri::State<'_, crate::state::AppState>) -> AppInfo {
    // The UI asks this as it mounts: the package test times the first screen by this line.
    tracing::info!("first screen: the window asked for the app info");
    AppInfo {
        name: "easyTDV".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        notice: state.history().moved_aside().map(|a| {
            format!(
                "The run history could not be used ({}). It was kept as {} and a new, empty history was started.",
                a.reason,
                a.path.display()
            )
        }),
        log_dir: state.data_dir.join("logs").display().to_string(),
    }
}
