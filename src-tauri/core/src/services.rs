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
use crate::logs::{self, Keeper, LogFile, LogName};
use crate::paths;
use crate::pipeline::{PipelineError, ProgressSink, Tracked};
use crate::prices::Prices;
use crate::private;
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
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// An id that is not shaped like a run id (`../../etc`, a path): it is
    /// refused before it is looked up, and long before a path is built.
    #[error("\"{0}\" is not a run id")]
    BadRunId(String),
    /// "Stop now" of a machine that is not (any more) kept warm.
    #[error("{0} is not a machine kept warm for the next run")]
    NotWarm(String),
}

impl Explain for ServicesError {
    fn code(&self) -> &'static str {
        match self {
            ServicesError::DataDir { .. } => "data_dir",
            ServicesError::History(e) => e.code(),
            ServicesError::Account(e) => e.code(),
            ServicesError::Run(e) => e.code(),
            ServicesError::Aws(e) => e.code(),
            ServicesError::Pipeline(e) => e.code(),
            ServicesError::BadRunId(_) => "bad_run_id",
            ServicesError::NotWarm(_) => "not_warm",
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
            ServicesError::Pipeline(e) => e.hint(),
            ServicesError::BadRunId(_) => Some("Open the run from the Runs list.".into()),
            ServicesError::NotWarm(_) => Some(
                "A run took it, or it stopped itself: refresh the list of machines kept warm."
                    .into(),
            ),
        }
    }
}

pub struct Services {
    pub data_dir: PathBuf,
    pub runs: Arc<Runs>,
    /// Sweeps: several runs from one wizard (their runs are in `runs`).
    pub sweeps: Arc<crate::sweep::Sweeps>,
    pub accounts: Accounts,
    pub catalog: Catalog,
    /// Prices, kept in prices.db (read from AWS at most daily).
    pub prices: Arc<Prices>,
    /// What each account's last leftovers scan found: the only leftovers
    /// the app deletes.
    pub last_scans: crate::scan::LastScans,
    /// Held while a region's bucket is chosen (see [`crate::region_prep`]).
    pub(crate) bucket_locks: crate::region_prep::BucketLocks,
}

impl Services {
    /// Opens everything in `data_dir` (created if missing), which is made
    /// its owner's only (see [`crate::private`]).
    pub fn open(data_dir: &Path) -> Result<Self, ServicesError> {
        let data_dir_error = |source| ServicesError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        };
        private::create_dir(data_dir).map_err(data_dir_error)?;
        let history_db = paths::history_db(data_dir);
        let prices_db = data_dir.join("prices.db");
        for db in [&history_db, &prices_db] {
            private::create_file(db).map_err(data_dir_error)?;
        }
        let history = History::open(&history_db)?;
        let prices = Arc::new(
            Prices::open(&prices_db).map_err(|e| ServicesError::History(HistoryError::Db(e)))?,
        );
        // After the opens: the journals exist, and a history moved aside
        // left a new file in its place.
        match private::tighten(data_dir) {
            Ok(0) => {}
            Ok(n) => tracing::info!(changed = n, "made the data folder's files private"),
            Err(e) => {
                tracing::warn!(path = %data_dir.display(), error = %e, "could not make every file of the data folder private")
            }
        }
        let runs = Arc::new(Runs::new(Arc::new(history)).with_prices(prices.clone()));
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            sweeps: Arc::new(crate::sweep::Sweeps::new(runs.clone())),
            runs,
            accounts: Accounts::open(data_dir),
            catalog: Catalog::default(),
            prices,
            last_scans: Default::default(),
            bucket_locks: Default::default(),
        })
    }

    /// A progress sink for work on a run: the run's log lines are kept in
    /// the data folder, then everything goes to `inner`.
    pub fn progress(&self, inner: Arc<dyn ProgressSink>) -> Arc<Tracked> {
        Tracked::new(Arc::new(Keeper::new(self.data_dir.clone(), inner)))
    }

    /// A new progress sink per run of a sweep, each keeping its run's log
    /// lines like [`Services::progress`], then going to the sink `inner` gives.
    pub fn progress_factory(
        &self,
        inner: impl Fn() -> Arc<dyn ProgressSink> + Send + Sync + 'static,
    ) -> crate::sweep::ProgressFactory {
        let data_dir = self.data_dir.clone();
        Arc::new(move || Tracked::new(Arc::new(Keeper::new(data_dir.clone(), inner()))))
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

    /// A run of the history, by an id that came from outside (the webview,
    /// the command line): refused unless it is shaped like a run id and
    /// the history holds it, so what is built from it (a log's path, a
    /// download's folder name) stays in place.
    pub fn run_record(&self, run_id: &str) -> Result<RunRecord, ServicesError> {
        if !logs::is_run_id(run_id) {
            return Err(ServicesError::BadRunId(run_id.chars().take(80).collect()));
        }
        Ok(self.history().get(run_id)?)
    }

    /// A recorded run and an AWS context for its account and region.
    pub async fn run_context(
        &self,
        run_id: &str,
    ) -> Result<(RunRecord, AwsContext), ServicesError> {
        let record = self.run_record(run_id)?;
        let account_id = record.account_id.clone().unwrap_or_default();
        let ctx = self
            .context(&account_id, Some(&record.resources.region))
            .await?;
        Ok((record, ctx))
    }

    /// A run's log on this computer: the copy kept while it ran here (maybe
    /// right now), else fetched once from the run's outputs in S3. The id is
    /// checked against the history before any path is built from it.
    pub async fn run_log(&self, run_id: &str, name: LogName) -> Result<LogFile, ServicesError> {
        let record = self.run_record(run_id)?;
        let here = LogFile::new(&self.data_dir, &record.run_id, name);
        if self.runs.active().is_active(&record.run_id) || here.exists() {
            return Ok(here);
        }
        let account_id = record.account_id.clone().unwrap_or_default();
        let ctx = self
            .context(&account_id, Some(&record.resources.region))
            .await?;
        Ok(logs::local_log(&ctx, &record.resources, &self.data_dir, name).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogLine;
    use crate::pipeline::RunResources;

    fn record_run(services: &Services, run_id: &str) {
        services
            .history()
            .save_resources(&RunResources {
                run_id: run_id.into(),
                region: "eu-west-3".into(),
                bucket: "b".into(),
                prefix: format!("easytdv/runs/{run_id}"),
                ..Default::default()
            })
            .unwrap();
    }

    #[tokio::test]
    async fn run_ids_are_checked_against_the_history_before_a_path_is_built() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        // Files a traversal would reach: `<data>/runs/../../secret/train.log`.
        let secret = root.path().join("secret");
        std::fs::create_dir_all(&secret).unwrap();
        std::fs::write(secret.join("train.log"), "top secret\n").unwrap();
        std::fs::create_dir_all(root.path().join("etc/passwd")).unwrap();
        std::fs::write(root.path().join("etc/passwd/train.log"), "root:x:0:0\n").unwrap();
        let services = Services::open(&data).unwrap();
        // Once a run was kept here, the path the app used to build from such
        // an id does reach them.
        std::fs::create_dir_all(data.join("runs/20251231-000000-ffffff")).unwrap();
        assert!(LogFile::new(&data, "../../secret", LogName::Train).exists());
        assert!(LogFile::new(&data, "../../etc/passwd", LogName::Train).exists());

        for bad in [
            "../../secret",
            "../../etc/passwd",
            "../../../../../../etc/passwd",
            "/etc/passwd",
            "runs/../../secret",
            "..",
            "",
        ] {
            let err = services.run_log(bad, LogName::Train).await.err();
            let err = err.unwrap_or_else(|| panic!("{bad:?} was accepted"));
            assert_eq!(err.code(), "bad_run_id", "{bad:?}: {err}");
            assert!(err.hint().is_some());
            assert_eq!(services.run_record(bad).unwrap_err().code(), "bad_run_id");
        }
        // Shaped like a run id but not in the history: refused too.
        let unknown = "20260101-000000-abcdef";
        let err = services.run_log(unknown, LogName::Install).await.err();
        assert_eq!(err.map(|e| e.code()), Some("run_not_found"));
        // Nothing was created or changed.
        assert_eq!(std::fs::read_dir(data.join("runs")).unwrap().count(), 1);
        assert_eq!(
            std::fs::read_to_string(secret.join("train.log")).unwrap(),
            "top secret\n"
        );

        // A run of the history reads the log this computer kept.
        let run_id = "20260101-000000-aaaaaa";
        record_run(&services, run_id);
        let kept = LogFile::new(&data, run_id, LogName::Train);
        kept.append(&[LogLine::parse("epoch 1 loss 0.5")]).unwrap();
        let log = services.run_log(run_id, LogName::Train).await.unwrap();
        assert_eq!(log.read(0, 10).unwrap()[0].text, "epoch 1 loss 0.5");
    }

    #[cfg(unix)]
    #[test]
    fn the_data_folder_is_its_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| {
            std::fs::symlink_metadata(p)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .permissions()
                .mode()
                & 0o777
        };
        let loose = |p: &Path, m: u32| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
        };
        let root = tempfile::tempdir().unwrap();

        // A new data folder.
        let fresh = root.path().join("fresh");
        let services = Services::open(&fresh).unwrap();
        record_run(&services, "r1"); // a write: the WAL is in use
        assert_eq!(mode(&fresh), 0o700);
        for f in [
            "history.db",
            "history.db-wal",
            "history.db-shm",
            "prices.db",
        ] {
            assert_eq!(mode(&fresh.join(f)), 0o600, "{f}");
        }
        drop(services);

        // One an older easyTDV left open to everyone, with every kind of file.
        let old = root.path().join("old");
        let services = Services::open(&old).unwrap();
        record_run(&services, "r1");
        drop(services);
        let files = [
            "history.db",
            "prices.db",
            "accounts.json",
            "logs/easytdv.log.2026-01-01",
            "runs/r1/train.log",
            "practice-cloud/sandbox.json",
            "practice-cloud/sandbox.log",
            "practice-cloud/data/s3-state/manifest.json",
        ];
        for f in files {
            let p = old.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            if !p.exists() {
                std::fs::write(&p, "{}").unwrap();
            }
            loose(&p, 0o644);
        }
        for d in [
            "",
            "logs",
            "runs",
            "runs/r1",
            "practice-cloud",
            "practice-cloud/data",
        ] {
            loose(&old.join(d), 0o755);
        }
        let services = Services::open(&old).unwrap();
        for f in files.iter().chain(&["history.db-wal", "history.db-shm"]) {
            assert_eq!(mode(&old.join(f)), 0o600, "{f}");
        }
        for d in [
            "",
            "logs",
            "runs",
            "runs/r1",
            "practice-cloud",
            "practice-cloud/data/s3-state",
        ] {
            assert_eq!(mode(&old.join(d)), 0o700, "{d}/");
        }
        // Still usable.
        assert_eq!(services.history().list().unwrap().len(), 1);
    }
}
