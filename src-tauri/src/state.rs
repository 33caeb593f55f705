//! What the commands share: the data folder, the history, the accounts and
//! the runs in progress.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use easytdv_core::accounts::Accounts;
use easytdv_core::aws::AwsContext;
use easytdv_core::explain::ErrorReport;
use easytdv_core::history::History;

use crate::error::report;

pub struct AppState {
    pub history: Arc<History>,
    pub accounts: Accounts,
    /// Runs whose pipeline or clean-up is running in this process.
    pub active: Mutex<HashSet<String>>,
}

impl AppState {
    pub fn open(data_dir: PathBuf) -> Result<Self, ErrorReport> {
        std::fs::create_dir_all(&data_dir).map_err(|e| ErrorReport {
            code: "data_dir".into(),
            message: format!("cannot create the data folder {}: {e}", data_dir.display()),
            hint: Some("Check the permissions of your home folder.".into()),
        })?;
        let history = History::open(&easytdv_core::paths::history_db(&data_dir)).map_err(report)?;
        Ok(Self {
            history: Arc::new(history),
            accounts: Accounts::open(&data_dir),
            active: Mutex::new(HashSet::new()),
        })
    }

    /// An AWS context for an account, in `region` (or the account's own).
    pub async fn context(
        &self,
        account_id: &str,
        region: Option<&str>,
    ) -> Result<AwsContext, ErrorReport> {
        let (source, default_region) = self
            .accounts
            .credential_source(account_id)
            .map_err(report)?;
        let region = region.filter(|r| !r.is_empty()).unwrap_or(&default_region);
        AwsContext::new(&source, region).await.map_err(report)
    }

    pub fn is_busy(&self) -> bool {
        self.active.lock().map(|a| !a.is_empty()).unwrap_or(false)
    }

    /// Marks a run active; false if it already was (a double click).
    pub fn begin(&self, run_id: &str) -> bool {
        self.active
            .lock()
            .map(|mut a| a.insert(run_id.to_string()))
            .unwrap_or(false)
    }

    pub fn end(&self, run_id: &str) {
        if let Ok(mut a) = self.active.lock() {
            a.remove(run_id);
        }
    }
}
