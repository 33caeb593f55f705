//! easyTDV's shared resources in the account (the base: one stack per
//! region, `templates/base.yaml`), found region by region and removed
//! ("Remove easyTDV from this account"). A region where an easyTDV machine
//! still runs keeps its base: the machine's role and profile are in it.

use futures_util::{stream, StreamExt};
use serde::{Deserialize, Serialize};

use super::leftovers::{account_regions, ScanFailure, REGIONS_AT_ONCE};
use super::region_view;
use crate::aws::AwsContext;
use crate::pipeline::{base, PipelineError};

/// The base of one region.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BaseSite {
    pub region: String,
    /// CloudFormation's status of the stack (`CREATE_COMPLETE`, …).
    pub status: String,
    /// easyTDV machines running there (they use it): the base stays.
    pub machines_running: u32,
}

/// Where the account has a base, and the regions that could not be looked at.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BaseScan {
    pub sites: Vec<BaseSite>,
    pub failures: Vec<ScanFailure>,
}

/// What a removal did, region by region.
#[derive(Debug, Clone, Default, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BaseRemoval {
    /// Regions whose base was deleted (checked gone).
    pub removed: Vec<String>,
    /// Regions whose base was kept, and why.
    pub kept: Vec<BaseSite>,
    /// Regions that could not be looked at or whose base could not be deleted.
    pub failures: Vec<ScanFailure>,
}

async fn site(ctx: &AwsContext) -> Result<Option<BaseSite>, PipelineError> {
    let view = region_view(ctx).await?;
    let Some(status) = view.stacks.get(base::STACK_NAME) else {
        return Ok(None);
    };
    let machines_running = view
        .machines
        .values()
        .flatten()
        .filter(|(_, state, _)| !matches!(state.as_str(), "terminated" | "shutting-down"))
        .count();
    Ok(Some(BaseSite {
        region: ctx.region().to_string(),
        status: status.clone(),
        machines_running: u32::try_from(machines_running).unwrap_or(u32::MAX),
    }))
}

/// Runs `each` on every region enabled for the account (and the context's
/// own), [`REGIONS_AT_ONCE`] at a time; a region that fails is a row.
async fn per_region<T, F, Fut>(
    ctx: &AwsContext,
    each: F,
) -> Result<Vec<(String, Result<T, PipelineError>)>, PipelineError>
where
    F: Fn(AwsContext) -> Fut,
    Fut: std::future::Future<Output = Result<T, PipelineError>>,
{
    let regions = account_regions(ctx).await?;
    let each = &each;
    let mut out = stream::iter(regions)
        .map(|region| async move {
            let result = match AwsContext::new_like(ctx, &region).await {
                Ok(here) => each(here).await,
                Err(e) => Err(PipelineError::State(e.to_string())),
            };
            (region, result)
        })
        .buffer_unordered(REGIONS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Every region where the account has easyTDV's shared resources.
pub async fn bases(ctx: &AwsContext) -> Result<BaseScan, PipelineError> {
    let mut scan = BaseScan::default();
    for (region, found) in per_region(ctx, |here| async move { site(&here).await }).await? {
        match found {
            Ok(Some(site)) => scan.sites.push(site),
            Ok(None) => {}
            Err(e) => scan.failures.push(ScanFailure::new(&region, None, &e)),
        }
    }
    Ok(scan)
}

enum Outcome {
    Removed,
    Kept(BaseSite),
    Nothing,
}

/// Deletes the base of every region where no easyTDV machine runs, each
/// checked gone; the others are kept and said.
pub async fn remove_bases(
    ctx: &AwsContext,
    notice: &(dyn Fn(&str) + Send + Sync),
) -> Result<BaseRemoval, PipelineError> {
    let results = per_region(ctx, |here| async move {
        let Some(site) = site(&here).await? else {
            return Ok(Outcome::Nothing);
        };
        if site.machines_running > 0 {
            return Ok(Outcome::Kept(site));
        }
        notice(&format!(
            "Removing easyTDV's shared resources in {}",
            site.region
        ));
        base::remove(&here, &|_| {}).await?;
        Ok(Outcome::Removed)
    })
    .await?;
    let mut report = BaseRemoval::default();
    for (region, result) in results {
        match result {
            Ok(Outcome::Removed) => report.removed.push(region),
            Ok(Outcome::Kept(site)) => report.kept.push(site),
            Ok(Outcome::Nothing) => {}
            Err(e) => report.failures.push(ScanFailure::new(&region, None, &e)),
        }
    }
    Ok(report)
}
