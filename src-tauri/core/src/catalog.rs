//! What AWS offers an account in a region (machine types), asked once per
//! account and region in a process: a few dozen AWS calls each time.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::aws::AwsContext;
use crate::pipeline::machine::{self, InstanceTypeInfo};
use crate::pipeline::PipelineError;

#[derive(Default)]
pub struct Catalog {
    types: Mutex<HashMap<(String, String), Vec<InstanceTypeInfo>>>,
}

impl Catalog {
    /// The machine types offered to `account_id` in the context's region.
    pub async fn instance_types(
        &self,
        account_id: &str,
        ctx: &AwsContext,
    ) -> Result<Vec<InstanceTypeInfo>, PipelineError> {
        let key = (account_id.to_string(), ctx.region().to_string());
        if let Some(found) = self.lock().get(&key) {
            return Ok(found.clone());
        }
        let types = machine::list_instance_types(ctx).await?;
        self.lock().insert(key, types.clone());
        Ok(types)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Vec<InstanceTypeInfo>>> {
        self.types.lock().unwrap_or_else(|p| p.into_inner())
    }
}
