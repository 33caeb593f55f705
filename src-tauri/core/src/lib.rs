//! easyTDV core: everything the app and the CLI do, with no Tauri dependency.
pub mod accounts;
pub mod aws;
pub mod explain;
pub mod pipeline;
pub mod regions;
pub mod secret;
