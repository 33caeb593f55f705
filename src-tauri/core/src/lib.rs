//! easyTDV core: everything the app and the CLI do, with no Tauri dependency.
pub mod aws;
pub mod explain;
pub mod secret;
