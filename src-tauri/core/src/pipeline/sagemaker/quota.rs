//! SageMaker training quotas ("ml.X for training job usage", "... for spot
//! training job usage", counted in machines per region): checked before
//! anything is created, since a fresh account often may run 0 GPU machines.
//! Looked up by name in Service Quotas (the codes differ per type).

use crate::aws::failure::FailureKind;
use crate::aws::AwsContext;
use crate::pipeline::error::{aws_error, PipelineError};

/// The quota's name in Service Quotas.
pub fn quota_name(ml_type: &str, spot: bool) -> String {
    let spot = if spot { "spot " } else { "" };
    format!("{ml_type} for {spot}training job usage")
}

/// Where to ask AWS for more of a SageMaker quota.
pub fn quota_link(region: &str, code: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/servicequotas/home/services/sagemaker/quotas/{code}"
    )
}

/// Refuses a job needing more machines than the account may run. A quota
/// that cannot be read (no permission) never blocks: CreateTrainingJob
/// would refuse with the same words.
pub async fn check(
    ctx: &AwsContext,
    ml_type: &str,
    machines: u32,
    spot: bool,
) -> Result<(), PipelineError> {
    let name = quota_name(ml_type, spot);
    let mut pages = ctx
        .service_quotas()
        .list_service_quotas()
        .service_code("sagemaker")
        .max_results(100)
        .into_paginator()
        .send();
    let mut found = None;
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                let failure = crate::aws::failure::classify(&e);
                if failure.kind.is_transient() || failure.kind == FailureKind::Unreachable {
                    return Err(aws_error("read your account's SageMaker quotas", e));
                }
                tracing::warn!(quota = name, error = %failure.message, "the SageMaker quota could not be read; not checked");
                return Ok(());
            }
        };
        found = page
            .quotas()
            .iter()
            .find(|q| q.quota_name() == Some(name.as_str()))
            .map(|q| (q.quota_code().unwrap_or_default().to_string(), q.value()));
        if found.is_some() {
            break;
        }
    }
    match found {
        Some((code, Some(value))) if value < f64::from(machines) => {
            Err(PipelineError::TrainingQuotaTooLow {
                instance_type: ml_type.to_string(),
                spot,
                quota: value.max(0.0) as u32,
                needed: machines,
                link: quota_link(ctx.region(), &code),
            })
        }
        Some(_) => Ok(()),
        None => {
            tracing::warn!(
                quota = name,
                "no such SageMaker quota in Service Quotas; not checked"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_links() {
        assert_eq!(
            quota_name("ml.g5.xlarge", false),
            "ml.g5.xlarge for training job usage"
        );
        assert_eq!(
            quota_name("ml.g5.xlarge", true),
            "ml.g5.xlarge for spot training job usage"
        );
        assert!(quota_link("eu-west-3", "L-B6D80D9C")
            .ends_with("/services/sagemaker/quotas/L-B6D80D9C"));
    }
}
