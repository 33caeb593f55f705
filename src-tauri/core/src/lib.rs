//! easyTDV core: everything the app and the CLI do, with no Tauri dependency.
pub mod accounts;
pub mod aws;
pub mod catalog;
pub mod environments;
pub mod explain;
pub mod history;
pub mod logs;
pub mod overview;
pub mod paths;
pub mod pipeline;
pub mod practice;
pub mod prices;
pub mod regions;
pub mod runs;
pub mod scan;
pub mod secret;
pub mod services;
