//! Everything the app and the CLI share, opened from one data folder: the
//! run history and the runs in progress, the accounts, the catalog of what
//! AWS offers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::accounts::{AccountError, Accounts};
use crate::aws::AwsContext;
use crate::catalog::Catalog;
use crate::explain::Explain;
use crate::history::{History, HistoryError, RunRecord};
use crate::logs::Keeper;
use crate::paths;
use crate::pipeline::{ProgressSink, Tracked};
use crate::prices::Prices;
use crate::runs::{RunError, Runs};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServicesError {
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
}

impl Explain for ServicesError {
    fn code(&self) -> &'static str {
        match self {
            ServicesError::DataDir { .. } => "data_dir",
            ServicesError::History(e) => e.code(),
            ServicesError::Account(e) => e.code(),
            ServicesError::Run(e) => e.code(),
            ServicesError::Aws(e) => e.code(),
        }
    }
    fn hint(&self) -> Option<String> {
        match self {
            ServicesError::DataDir { .. } => {
                Some("Check the permissions of your home folder, or set EASYTDV_DATA_DIR.".into())
            }
            ServicesError::History(e) => e.hint(),
            ServicesError::Account(e) => e.hint(),
            ServicesError::Run(e) => e.hint(),
            ServicesError::Aws(e) => e.hint(),
        }
    }
}

pub struct Services {
    pub data_dir: PathBuf,
    pub runs: Arc<Runs>,
    pub accounts: Accounts,
    pub catalog: Catalog,
    /// Prices, kept in prices.db (read from AWS at most daily).
    pub prices: Arc<Prices>,
    /// What each account's last leftovers scan found: the only leftovers
    /// the app deletes.
    pub last_scans: crate::scan::LastScans,
}

impl Services {
    /// Opens everything in `data_dir` (created if missing).
    pub fn open(data_dir: &Path) -> Result<Self, ServicesError> {
        std::fs::create_dir_all(data_dir).map_err(|source| ServicesError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let history = History::open(&paths::history_db(data_dir))?;
        let prices = Arc::new(
            Prices::open(&data_dir.join("prices.db"))
                .map_err(|e| ServicesError::History(HistoryError::Db(e)))?,
        );
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            runs: Arc::new(Runs::new(Arc::new(history)).with_prices(prices.clone())),
            accounts: Accounts::open(data_dir),
            catalog: Catalog::default(),
            prices,
            last_scans: Default::default(),
        })
    }

    /// A progress sink for work on a run: the run's log lines are kept in
    /// the data folder, then everything goes to `inner`.
    pub fn progress(&self, inner: Arc<dyn ProgressSink>) -> Arc<Tracked> {
        Tracked::new(Arc::new(Keeper::new(self.data_dir.clone(), inner)))
    }

    pub fn history(&self) -> &Arc<History> {
        self.runs.history()
    }

    /// An AWS context for a saved account, in `region` (or the account's own).
    pub async fn context(
        &self,
        account_id: &str,
        region: Option<&str>,
    ) -> Result<AwsContext, ServicesError> {
        let (source, default_region) = self.accounts.credential_source(account_id)?;
        let region = region.filter(|r| !r.is_empty()).unwrap_or(&default_region);
        Ok(AwsContext::new(&source, region).await?)
    }

    /// A recorded run and an AWS context for its account and region.
    pub async fn run_context(
        &self,
        run_id: &str,
    ) -> Result<(RunRecord, AwsContext), ServicesError> {
        let record = self.history().get(run_id)?;
        let account_id = record.account_id.clone().unwrap_or_default();
        let ctx = self
            .context(&account_id, Some(&record.resources.region))
            .await?;
        Ok((record, ctx))
    }
}
