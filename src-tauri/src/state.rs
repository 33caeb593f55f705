//! What the commands share: the data folder, the history, the accounts and
//! the runs in progress.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use easytdv_core::accounts::Accounts;
use easytdv_core::aws::AwsContext;
use easytdv_core::explain::ErrorReport;
use easytdv_core::history::{History, RunRecord};
use easytdv_core::pipeline::machine::InstanceTypeInfo;

use crate::error::report;
use crate::feeds::Feeds;

pub struct AppState {
    pub history: Arc<History>,
    pub accounts: Accounts,
    pub feeds: Feeds,
    /// Machine types per (account, region): a few dozen AWS calls, asked once a session.
    pub instance_types: Mutex<HashMap<(String, String), Vec<InstanceTypeInfo>>>,
    /// Runs being worked on in this process, with the task to stop when the
    /// user deletes a run that is still going (`None`: a clean-up).
    active: Mutex<HashMap<String, Option<tauri::async_runtime::JoinHandle<()>>>>,
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
            feeds: Feeds::default(),
            instance_types: Mutex::new(HashMap::new()),
            active: Mutex::new(HashMap::new()),
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

    /// A recorded run and an AWS context for its account and region.
    pub async fn run_context(&self, run_id: &str) -> Result<(RunRecord, AwsContext), ErrorReport> {
        let record = self.history.get(run_id).map_err(report)?;
        let account_id = record.account_id.clone().unwrap_or_default();
        let ctx = self
            .context(&account_id, Some(&record.resources.region))
            .await?;
        Ok((record, ctx))
    }

    pub fn is_busy(&self) -> bool {
        self.active.lock().map(|a| !a.is_empty()).unwrap_or(false)
    }

    /// Marks a run active; false if it already was (a double click).
    pub fn begin(&self, run_id: &str) -> bool {
        let Ok(mut a) = self.active.lock() else {
            return false;
        };
        if a.contains_key(run_id) {
            return false;
        }
        a.insert(run_id.to_string(), None);
        true
    }

    /// Remembers the task running the pipeline, so it can be stopped.
    pub fn attach(&self, run_id: &str, task: tauri::async_runtime::JoinHandle<()>) {
        // Only while the run is still marked active: a task that already
        // ended must not leave the run looking busy.
        if let Ok(mut a) = self.active.lock() {
            if let Some(slot) = a.get_mut(run_id) {
                *slot = Some(task);
            }
        }
    }

    pub fn is_active(&self, run_id: &str) -> bool {
        self.active
            .lock()
            .map(|a| a.contains_key(run_id))
            .unwrap_or(false)
    }

    /// Stops the run's pipeline task if one is running; true if it did.
    pub fn stop(&self, run_id: &str) -> bool {
        let Ok(mut a) = self.active.lock() else {
            return false;
        };
        match a.get(run_id) {
            Some(Some(task)) => {
                task.abort();
                a.remove(run_id);
                true
            }
            _ => false,
        }
    }

    pub fn end(&self, run_id: &str) {
        if let Ok(mut a) = self.active.lock() {
            a.remove(run_id);
        }
    }
}
