//! The whole history against the cloud, for the app and the CLI: the
//! status of every run in a constant number of AWS calls per account and
//! region, what was left behind outside this history, and what this
//! month cost per account.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::environments::{self, CachedEnvironment};
use crate::history::{Cleanup, RunRecord};
use crate::pipeline::{PipelineError, ProgressSink};
use crate::scan::{self, LeftoverScan};
use crate::services::{Services, ServicesError};

/// One run's status in the cloud.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    pub run_id: String,
    /// `None`: no stack (never created, or deleted).
    pub stack_status: Option<String>,
    /// `None`: no machine known.
    pub instance_state: Option<String>,
}

/// The result of one refresh of the whole history.
#[derive(Debug, Clone, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct Refresh {
    pub statuses: Vec<RunStatus>,
    /// AWS calls made, whatever the number of runs: two per account and
    /// region (three where some run is a SageMaker training job).
    pub calls: u32,
    /// Accounts and regions that could not be asked, in plain words.
    pub failures: Vec<String>,
}

/// What one account's runs started this month cost.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MonthCost {
    pub account_id: String,
    /// `YYYY-MM` (UTC), the month the runs were started in.
    pub month: String,
    pub usd: f64,
    pub runs: u32,
    /// Some machine may still be running: the total still grows.
    pub growing: bool,
}

/// The current month, `YYYY-MM` (UTC).
pub fn this_month() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:04}-{:02}", now.year(), u8::from(now.month()))
}

/// Totals per account of the runs started in `month` (`YYYY-MM`).
pub fn month_costs(history: &[RunRecord], month: &str) -> Vec<MonthCost> {
    let mut by_account: BTreeMap<String, MonthCost> = BTreeMap::new();
    for r in history.iter().filter(|r| r.created_at.starts_with(month)) {
        let account = r.account_id.clone().unwrap_or_default();
        let total = by_account
            .entry(account.clone())
            .or_insert_with(|| MonthCost {
                account_id: account,
                month: month.to_string(),
                usd: 0.0,
                runs: 0,
                growing: false,
            });
        total.runs += 1;
        if let Some(c) = &r.cost {
            total.usd += c.usd;
            total.growing |= c.growing;
        }
    }
    by_account.into_values().collect()
}

impl Services {
    /// Asks AWS for the status of every run of the history that may still
    /// own something: per account and region one stack list and one
    /// machine list, however many runs there are.
    pub async fn refresh_statuses(&self) -> Result<Refresh, ServicesError> {
        let history = self.history().list()?;
        let mut groups: BTreeMap<(String, String), Vec<&RunRecord>> = BTreeMap::new();
        for r in history.iter().filter(|r| r.cleanup != Cleanup::Deleted) {
            let account = r.account_id.clone().unwrap_or_default();
            groups
                .entry((account, r.resources.region.clone()))
                .or_default()
                .push(r);
        }
        let mut out = Refresh {
            statuses: Vec::new(),
            calls: 0,
            failures: Vec::new(),
        };
        for ((account, region), runs) in groups {
            let view = match self.context(&account, Some(&region)).await {
                Ok(ctx) => {
                    let jobs = runs.iter().any(|r| r.resources.training_job_name.is_some());
                    let view = if jobs {
                        scan::region_view_with_jobs(&ctx).await
                    } else {
                        scan::region_view(&ctx).await
                    };
                    out.calls += u32::try_from(ctx.calls()).unwrap_or(u32::MAX);
                    view.map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            match view {
                Ok(view) => out.statuses.extend(runs.iter().map(|r| {
                    let s = view.status_of(&r.resources);
                    RunStatus {
                        run_id: r.run_id.clone(),
                        stack_status: s.stack_status,
                        instance_state: s.instance_state,
                    }
                })),
                Err(e) => {
                    tracing::warn!(account, region, error = %e, "run statuses not refreshed");
                    out.failures.push(format!(
                        "{} run(s) in {region} could not be checked: {e}",
                        runs.len()
                    ));
                }
            }
        }
        Ok(out)
    }

    /// easyTDV resources of the account that no run of this history owns,
    /// in every region enabled for it, and the parts that could not be
    /// looked at; remembered as what [`Services::delete_leftover`] may delete.
    pub async fn leftovers(&self, account_id: &str) -> Result<LeftoverScan, LeftoverError> {
        let ctx = self.context(account_id, None).await?;
        let history = self.history().list()?;
        let scan = scan::leftovers(&ctx, &history, Some(&self.prices)).await?;
        self.last_scans.remember(account_id, &scan.leftovers);
        Ok(scan)
    }

    /// Deletes one leftover of the account's last scan (named by its region
    /// and id) and checks it is gone; anything that scan did not find is
    /// refused.
    pub async fn delete_leftover(
        &self,
        account_id: &str,
        region: &str,
        id: &str,
        progress: &dyn ProgressSink,
    ) -> Result<(), LeftoverError> {
        let leftover = self
            .last_scans
            .find(account_id, region, id)
            .ok_or_else(|| LeftoverError::NotInLastScan {
                id: id.to_string(),
                region: region.to_string(),
            })?;
        let ctx = self.context(account_id, None).await?;
        let history = self.history().list()?;
        scan::delete_leftover(&ctx, &leftover, &history, progress).await?;
        self.last_scans.forget(account_id, region, id);
        Ok(())
    }

    /// Every region where the account has easyTDV's shared resources.
    pub async fn bases(&self, account_id: &str) -> Result<scan::BaseScan, LeftoverError> {
        let ctx = self.context(account_id, None).await?;
        Ok(scan::bases(&ctx).await?)
    }

    /// "Remove easyTDV from this account": deletes its shared resources in
    /// every region where no easyTDV machine runs (runs' own resources are
    /// deleted from their pages or the leftovers check).
    pub async fn remove_bases(
        &self,
        account_id: &str,
        notice: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<scan::BaseRemoval, LeftoverError> {
        // A run of this app between its base check and its launch has no
        // machine yet: it would launch through a launcher being deleted.
        // (Another computer's run is seen only by its machine.)
        if self.runs.active().any() {
            return Err(LeftoverError::RunUnderWay);
        }
        // A preparation would make them again (or fail half-way).
        if self.bucket_locks.preparing() {
            return Err(LeftoverError::RegionBeingPrepared);
        }
        let ctx = self.context(account_id, None).await?;
        Ok(scan::remove_bases(&ctx, notice).await?)
    }

    /// (bucket, region) of every bucket this account's runs used.
    pub(crate) fn run_buckets(
        &self,
        account_id: &str,
    ) -> Result<Vec<(String, String)>, ServicesError> {
        let mut buckets: Vec<(String, String)> = self
            .history()
            .list()?
            .into_iter()
            .filter(|r| {
                r.account_id.as_deref() == Some(account_id) && !r.resources.bucket.is_empty()
            })
            .map(|r| (r.resources.bucket, r.resources.region))
            .collect();
        buckets.sort();
        buckets.dedup();
        Ok(buckets)
    }

    /// The cached environments in the buckets this account's runs used.
    pub async fn environments(
        &self,
        account_id: &str,
    ) -> Result<Vec<CachedEnvironment>, LeftoverError> {
        let buckets = self.run_buckets(account_id)?;
        let mut found = Vec::new();
        for (bucket, region) in buckets {
            let ctx = self.context(account_id, Some(&region)).await?;
            match environments::list(&ctx, &bucket).await {
                Ok(list) => found.extend(list),
                // A bucket deleted since: nothing cached there any more.
                Err(e) => tracing::warn!(bucket, error = %e, "cached environments not listed"),
            }
        }
        found.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(found)
    }

    /// Deletes one cached environment, only in a bucket (and region) this
    /// account's runs used: the webview names it, the history vouches for it.
    pub async fn delete_environment(
        &self,
        account_id: &str,
        env: &CachedEnvironment,
    ) -> Result<(), LeftoverError> {
        if !self
            .run_buckets(account_id)?
            .contains(&(env.bucket.clone(), env.region.clone()))
        {
            return Err(LeftoverError::NotARunBucket {
                bucket: env.bucket.clone(),
                region: env.region.clone(),
            });
        }
        let ctx = self.context(account_id, Some(&env.region)).await?;
        Ok(environments::delete(&ctx, &env.bucket, &env.key).await?)
    }

    /// This month's totals per account.
    pub fn month_costs(&self) -> Result<Vec<MonthCost>, ServicesError> {
        Ok(month_costs(&self.history().list()?, &this_month()))
    }
}

/// Why the leftovers could not be listed or deleted.
#[derive(Debug, thiserror::Error)]
pub enum LeftoverError {
    #[error(transparent)]
    Services(#[from] ServicesError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("{id} in {region} is not among the forgotten resources the last check of this account found: easyTDV deletes only those")]
    NotInLastScan { id: String, region: String },
    #[error("no run of this account used the bucket {bucket} in {region}: easyTDV deletes saved environments only in its runs' buckets")]
    NotARunBucket { bucket: String, region: String },
    #[error("a run is under way in easyTDV: its shared resources stay while it starts or runs")]
    RunUnderWay,
    #[error("easyTDV is getting a region ready for a new run (the New run form is open): its shared resources stay while it does")]
    RegionBeingPrepared,
}

impl From<crate::history::HistoryError> for LeftoverError {
    fn from(e: crate::history::HistoryError) -> Self {
        LeftoverError::Services(e.into())
    }
}

impl crate::explain::Explain for LeftoverError {
    fn code(&self) -> &'static str {
        match self {
            LeftoverError::Services(e) => e.code(),
            LeftoverError::Pipeline(e) => e.code(),
            LeftoverError::NotInLastScan { .. } => "leftover_not_found",
            LeftoverError::NotARunBucket { .. } => "environment_not_found",
            LeftoverError::RunUnderWay => "run_under_way",
            LeftoverError::RegionBeingPrepared => "region_being_prepared",
        }
    }
    fn hint(&self) -> Option<String> {
        match self {
            LeftoverError::Services(e) => e.hint(),
            LeftoverError::Pipeline(e) => e.hint(),
            LeftoverError::NotInLastScan { .. } => {
                Some("Check for forgotten resources again, then delete from the new list.".into())
            }
            LeftoverError::NotARunBucket { .. } => {
                Some("Reload the list of saved environments, then delete from it.".into())
            }
            LeftoverError::RunUnderWay => Some(
                "Wait until the run has ended (or stop it on its page), then remove them again."
                    .into(),
            ),
            LeftoverError::RegionBeingPrepared => {
                Some("Wait a minute or two for it to finish, then remove them again.".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prices::RunCost;

    /// Attack: the webview names a bucket (of this account) no run used, to
    /// delete `easytdv/cache/<hex>*` there. Refused before any AWS call.
    #[tokio::test]
    async fn a_saved_environment_is_deleted_only_in_a_bucket_of_the_accounts_runs() {
        let dir = tempfile::tempdir().unwrap();
        let services = crate::services::Services::open(dir.path()).unwrap();
        let env = CachedEnvironment {
            bucket: "company-data".into(),
            region: "eu-west-3".into(),
            key: "a".repeat(64),
            requirements: String::new(),
            python: String::new(),
            arch: String::new(),
            image: String::new(),
            installer: String::new(),
            created: String::new(),
            size_bytes: 0.0,
            usd_per_month: 0.0,
        };
        let e = services.delete_environment("acct", &env).await.unwrap_err();
        assert_eq!(
            crate::explain::Explain::code(&e),
            "environment_not_found",
            "{e}"
        );
    }

    /// A run of this app between its base check and its launch has no
    /// machine the removal could see: refused before any AWS call.
    #[tokio::test]
    async fn the_shared_resources_are_not_removed_while_a_run_is_under_way() {
        let dir = tempfile::tempdir().unwrap();
        let services = crate::services::Services::open(dir.path()).unwrap();
        let guard = services
            .runs
            .active()
            .begin("20261206-101500-a1b2c3")
            .unwrap();
        let e = services.remove_bases("acct", &|_| {}).await.unwrap_err();
        assert_eq!(crate::explain::Explain::code(&e), "run_under_way", "{e}");
        drop(guard);
        // Then it goes on (and fails here only for want of that account).
        let e = services.remove_bases("acct", &|_| {}).await.unwrap_err();
        assert_ne!(crate::explain::Explain::code(&e), "run_under_way", "{e}");
    }

    fn run(id: &str, account: &str, created: &str, usd: Option<f64>, growing: bool) -> RunRecord {
        let mut r: RunRecord = serde_json::from_value(serde_json::json!({
            "runId": id, "createdAt": created, "accountId": account, "request": null,
            "resources": serde_json::to_value(crate::pipeline::RunResources {
                run_id: id.into(),
                region: "eu-west-3".into(),
                ..Default::default()
            }).unwrap(),
            "outcome": "succeeded", "lastStep": null, "message": null, "detail": null,
            "outputsUri": null, "cleanup": "deleted", "cleanupMessage": null,
            "summary": null, "cost": null
        }))
        .expect("a record");
        r.cost = usd.map(|usd| RunCost {
            usd,
            usd_per_hour: 0.1,
            hours: usd * 10.0,
            growing,
            spot_saved_usd: None,
        });
        r
    }

    #[test]
    fn month_totals_per_account_count_only_that_month() {
        let history = vec![
            run("a", "acc-1", "2026-12-01T10:00:00Z", Some(0.5), false),
            run("b", "acc-1", "2026-12-02T10:00:00Z", Some(0.25), true),
            run("c", "acc-1", "2026-11-30T23:59:59Z", Some(9.0), false),
            run("d", "acc-2", "2026-12-02T11:00:00Z", None, false),
        ];
        let got = month_costs(&history, "2026-12");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].account_id, "acc-1");
        assert!((got[0].usd - 0.75).abs() < 1e-9);
        assert_eq!(got[0].runs, 2);
        assert!(got[0].growing);
        assert_eq!(got[1].account_id, "acc-2");
        assert_eq!((got[1].usd, got[1].runs, got[1].growing), (0.0, 1, false));
    }
}
