//! The app's side of getting a region ready before its first run
//! ([`crate::pipeline::region_ready`]): the wizard starts it once an account
//! and a region are chosen. The bucket name it uses and the one the wizard
//! suggests are one, chosen once per account and region under a lock, so the
//! two never make two buckets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::pipeline::region_ready::{self, RegionReady};
use crate::pipeline::suggest_bucket_name;
use crate::services::{Services, ServicesError};

/// Per account and region: the bucket name chosen there (new, or found),
/// locked while it is chosen and made; and how many preparations are
/// under way ("Remove easyTDV from this account" waits for them).
#[derive(Default)]
pub struct BucketLocks {
    chosen: Mutex<HashMap<(String, String), Arc<Chosen>>>,
    under_way: Arc<AtomicUsize>,
}

type Chosen = tokio::sync::Mutex<Option<String>>;

/// One preparation under way, until dropped.
struct UnderWay(Arc<AtomicUsize>);

impl Drop for UnderWay {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl BucketLocks {
    /// Whether a region is being made ready.
    pub fn preparing(&self) -> bool {
        self.under_way.load(Ordering::SeqCst) > 0
    }

    fn begin(&self) -> UnderWay {
        self.under_way.fetch_add(1, Ordering::SeqCst);
        UnderWay(self.under_way.clone())
    }

    fn of(&self, account_id: &str, region: &str) -> Arc<Chosen> {
        let mut map = self.chosen.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((account_id.to_string(), region.to_string()))
            .or_default()
            .clone()
    }
}

impl Services {
    /// Whether a region is being made ready (by the wizard).
    pub fn preparing_region(&self) -> bool {
        self.bucket_locks.preparing()
    }

    /// Makes the region ready for a run: the account's setup checked, its
    /// bucket, then easyTDV's shared resources (about two minutes when they
    /// are new, one look when they are there).
    pub async fn prepare_region(
        &self,
        account_id: &str,
        region: &str,
        notice: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<RegionReady, ServicesError> {
        let _under_way = self.bucket_locks.begin();
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
