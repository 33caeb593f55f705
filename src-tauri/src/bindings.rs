//! The list of commands exposed to the webview, and the TypeScript bindings
//! generated from them (ui/src/bindings.ts, checked fresh by a test).

use crate::commands;

pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new().commands(tauri_specta::collect_commands![commands::app::app_info,])
}

/// Renders the TypeScript bindings as they would be written to disk.
pub fn render_bindings() -> Result<String, specta_typescript::ExportError> {
    let path = std::env::temp_dir().join(format!("easytdv-bindings-{}.ts", std::process::id()));
    specta_builder().export(bindings_config(), &path)?;
    let text = std::fs::read_to_string(&path).map_err(specta_typescript::ExportError::Io)?;
    let _ = std::fs::remove_file(&path);
    Ok(text)
}

fn bindings_config() -> specta_typescript::Typescript {
    specta_typescript::Typescript::default()
        .header("// Generated from the Rust commands by tauri-specta. Do not edit: run\n// `UPDATE_BINDINGS=1 cargo test -p easytdv-app bindings` to refresh.\n")
        .bigint(specta_typescript::BigIntExportBehavior::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_fresh() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/bindings.ts");
        let fresh = render_bindings().expect("render bindings");
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).expect("write bindings");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/bindings.ts is stale: run `UPDATE_BINDINGS=1 cargo test -p easytdv-app bindings` and commit it"
        );
    }
}
