//! easyTDV core: everything the app and the CLI do, with no Tauri dependency.
pub mod aws;
