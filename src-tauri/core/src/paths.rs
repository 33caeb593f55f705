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

/// The logging directives of the app and the CLI: `EASYTDV_LOG` (default
/// `info`), with the AWS SDK's and the HTTP stack's own logs capped at
/// `info`, whatever is asked: their request traces would print session
/// tokens and signed headers.
pub fn log_directives(asked: Option<&str>) -> String {
    let base = asked.filter(|a| !a.trim().is_empty()).unwrap_or("info");
    let capped = [
        "aws_smithy_runtime",
        "aws_smithy_runtime_api",
        "aws_smithy_http",
        "aws_smithy_http_client",
        "aws_sigv4",
        "aws_config",
        "aws_credential_types",
        "aws_runtime",
        "hyper",
        "hyper_util",
        "h2",
        "rustls",
    ];
    let mut out = base.to_string();
    for target in capped {
        out.push_str(&format!(",{target}=info"));
    }
    out
}
