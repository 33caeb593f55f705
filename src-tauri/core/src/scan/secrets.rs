//! Leftover secrets: a run's parameters in Parameter Store
//! (`/easytdv/runs/<run-id>/secrets/<NAME>`) that no run of this history
//! owns, one row per run (names only: a value is never read).

use std::collections::{BTreeMap, HashSet};

use super::leftovers::{Leftover, LeftoverKind};
use crate::aws::AwsContext;
use crate::history::{Cleanup, RunRecord};
use crate::pipeline::PipelineError;
use crate::secrets::parameters;

/// The runs' secrets of the context's region whose run this history does
/// not own (or owns as deleted: an older clean-up that left them).
pub async fn secret_leftovers(
    ctx: &AwsContext,
    history: &[RunRecord],
) -> Result<Vec<Leftover>, PipelineError> {
    let owned: HashSet<&str> = history
        .iter()
        .filter(|r| r.cleanup != Cleanup::Deleted)
        .map(|r| r.run_id.as_str())
        .collect();
    let mut runs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in parameters::list(ctx, parameters::ROOT).await? {
        if let Some((run, secret)) = parameters::run_of(&name) {
            if !owned.contains(run) {
                runs.entry(run.to_string())
                    .or_default()
                    .push(secret.to_string());
            }
        }
    }
    Ok(runs
        .into_iter()
        .map(|(run, names)| Leftover {
            kind: LeftoverKind::Secrets,
            region: ctx.region().to_string(),
            id: parameters::run_path(&run),
            usd_per_hour: Some(0.0),
            detail: format!(
                "{} secret{} of run {run} in Parameter Store ({})",
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            run_id: Some(run),
            bucket: None,
        })
        .collect())
}
