//! The app's side of getting a region ready before its first run
//! ([`crate::pipeline::region_ready`]): the wizard starts it once an account
//! and a region are chosen. The bucket name it uses and the one the wizard
//! suggests are one, chosen once per account and region under a lock, so the
//! two never make two buckets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::pipeline::region_ready::{self, RegionReady};
use crate::pipeline::suggest_bucket_name;
use crate::services::{Services, ServicesError};

/// Per account and region: the bucket name chosen there (new, or found),
/// locked while it is chosen and made.
#[derive(Default)]
pub struct BucketLocks(Mutex<HashMap<(String, String), Arc<Chosen>>>);

type Chosen = tokio::sync::Mutex<Option<String>>;

impl BucketLocks {
    fn of(&self, account_id: &str, region: &str) -> Arc<Chosen> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((account_id.to_string(), region.to_string()))
            .or_default()
            .clone()
    }
}

impl Services {
    /// Makes the region ready for a run: the account's setup checked, its
    /// bucket, then easyTDV's shared resources (about two minutes when they
    /// are new, one look when they are there).
    pub async fn prepare_region(
        &self,
        account_id: &str,
        region: &str,
        notice: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<RegionReady, ServicesError> {
        let ctx = self.context(account_id, Some(region)).await?;
        let lock = self.bucket_locks.of(account_id, ctx.region());
        Ok(region_ready::prepare(&ctx, None, &lock, notice).await?)
    }

    /// The bucket the wizard suggests: the one chosen for the region
    /// earlier (a preparation's), else the account's easyTDV bucket there,
    /// else a new name (remembered, so a preparation makes that one).
    pub async fn suggest_bucket(
        &self,
        account_id: &str,
        region: &str,
    ) -> Result<String, ServicesError> {
        let ctx = self.context(account_id, Some(region)).await?;
        let lock = self.bucket_locks.of(account_id, ctx.region());
        let mut chosen = lock.lock().await;
        // A name chosen earlier is kept until its bucket exists (a
        // preparation makes it, or the run); then the bucket is found.
        let name = match chosen.clone() {
            Some(name) => name,
            None => suggest_bucket_name(&ctx).await?,
        };
        *chosen = Some(name.clone());
        Ok(name)
    }
}
