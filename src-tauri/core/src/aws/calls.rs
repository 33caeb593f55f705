//! Counting a context's AWS calls and timing them (the benchmark's figures,
//! `EASYTDV_LOG=debug`'s per-call lines): an SDK interceptor.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Counts AWS API operations (not retries) made through a context, and the
/// time spent in them; the benchmark prints both.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    calls: Arc<AtomicU64>,
    /// "Service.Operation" → (calls, seconds inside them).
    per_operation: Arc<Mutex<BTreeMap<String, (u64, f64)>>>,
}

impl CallCounter {
    pub fn get(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Seconds spent inside calls, from each call's start to its end
    /// (concurrent calls each count).
    pub fn seconds(&self) -> f64 {
        self.per_operation().iter().map(|(_, _, s)| s).sum()
    }

    /// Per "Service.Operation": how many calls and the seconds spent in them.
    pub fn per_operation(&self) -> Vec<(String, u64, f64)> {
        let map = self
            .per_operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.iter().map(|(k, (n, s))| (k.clone(), *n, *s)).collect()
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "easytdv-call-counter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        cfg.interceptor_state()
            .store_put(CallStarted(std::time::Instant::now()));
        Ok(())
    }

    /// `EASYTDV_LOG=debug` shows each call (service, operation, duration,
    /// whether it failed): where a run's waiting goes. Names only, never a
    /// request's content.
    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let seconds = cfg
            .load::<CallStarted>()
            .map_or(0.0, |s| s.0.elapsed().as_secs_f64());
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("?", "?"), |m| (m.service(), m.name()));
        let failed = context.output_or_error().is_some_and(|r| r.is_err());
        {
            let mut map = self
                .per_operation
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let entry = map.entry(format!("{service}.{operation}")).or_default();
            entry.0 += 1;
            entry.1 += seconds;
        }
        let ms = seconds * 1000.0;
        tracing::debug!(service, operation, ms, failed, "AWS call");
        Ok(())
    }
}

/// When the current call started (in the call's own config bag).
#[derive(Debug, Clone)]
struct CallStarted(std::time::Instant);

impl Storable for CallStarted {
    type Storer = StoreReplace<Self>;
}
