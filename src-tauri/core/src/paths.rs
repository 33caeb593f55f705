//! Where easyTDV keeps its own files (never secrets: those are in the OS keychain).

use std::path::PathBuf;

/// `$EASYTDV_DATA_DIR`, else the platform data folder (`~/.local/share/easytdv`).
pub fn data_dir() -> PathBuf {
    std::env::var_os("EASYTDV_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("easytdv")))
        .unwrap_or_else(|| PathBuf::from(".easytdv"))
}

pub fn history_db(dir: &std::path::Path) -> PathBuf {
    dir.join("history.db")
}
