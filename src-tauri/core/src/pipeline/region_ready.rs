//! A region made ready before its first run (issue 22, target (a)): the run
//! bucket and easyTDV's shared resources (the base), which the first run in
//! a region would otherwise create and wait for (about two minutes, nearly
//! all of it IAM). The wizard starts it as soon as an account and a region
//! are chosen, so the user fills in the rest meanwhile; `easytdv shared
//! --prepare` does it from the command line. A run launched before it ends
//! waits for the same base (`base::ensure` sees it being created) instead
//! of creating a second one. Nothing made here costs anything while no run
//! uses it.

use serde::{Deserialize, Serialize};

use super::base::{self, Wanted};
use super::error::PipelineError;
use super::inputs::check_bucket;
use super::poll::Notice;
use super::storage::{self, RunBucket};
use super::{account, ebs_key, machine};
use crate::aws::AwsContext;

/// What a region has once it is ready.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegionReady {
    pub region: String,
    /// The bucket runs there use by default (the wizard suggests it).
    pub bucket: String,
    /// This call created the bucket.
    pub bucket_created: bool,
    /// The base's version (this build's).
    pub base_version: String,
}

/// The bucket a region's runs use by default: `given` (checked), else the
/// account's easyTDV bucket there, else a new one. Created (private,
/// TLS only) when missing. Returns (name, created).
pub async fn ensure_bucket(
    ctx: &AwsContext,
    account_id: &str,
    given: Option<&str>,
) -> Result<(String, bool), PipelineError> {
    let name = match given {
        Some(name) => {
            check_bucket(name)?;
            name.to_string()
        }
        None => storage::suggest_bucket_name(ctx).await?,
    };
    let created = RunBucket::new(ctx, &name, account_id).ensure().await?;
    Ok((name, created))
}

/// The account's setup checked, the bucket made, then the base created or
/// updated when this build's differs (`base::ensure`, safe to run beside
/// a run or another window doing the same).
/// `chosen` is the bucket name already chosen for this account and region
/// (the wizard's suggestion), locked while the bucket is chosen and made:
/// whoever else suggests one holds it too, so two never make two.
pub async fn prepare(
    ctx: &AwsContext,
    bucket: Option<&str>,
    chosen: &tokio::sync::Mutex<Option<String>>,
    notice: &Notice<'_>,
) -> Result<RegionReady, PipelineError> {
    let account_id = storage::account_id(ctx).await?;
    account::require_setup(ctx, &account_id).await?;
    let (name, created) = {
        let mut chosen = chosen.lock().await;
        let given = bucket.map(str::to_string).or_else(|| chosen.clone());
        let made = ensure_bucket(ctx, &account_id, given.as_deref()).await?;
        *chosen = Some(made.0.clone());
        made
    };
    if created {
        notice(&format!("Created the private, encrypted bucket {name}"));
    }
    ensure_base(ctx, &account_id, &name, notice)
        .await
        .map(|b| RegionReady {
            region: ctx.region().to_string(),
            bucket: name,
            bucket_created: created,
            base_version: b.version,
        })
}

/// The base, with its launcher's code put in `bucket`.
pub async fn ensure_base(
    ctx: &AwsContext,
    account_id: &str,
    bucket: &str,
    notice: &Notice<'_>,
) -> Result<base::Base, PipelineError> {
    let (vpc_id, disk_key) = tokio::join!(machine::default_vpc(ctx), ebs_key::default_key(ctx));
    let wanted = Wanted {
        vpc_id: vpc_id?,
        ebs_kms_key_arn: disk_key?.customer_arn().map(str::to_string),
    };
    base::ensure(
        ctx,
        &RunBucket::new(ctx, bucket, account_id),
        &wanted,
        notice,
    )
    .await
}
