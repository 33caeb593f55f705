//! The launcher Lambda's invocation: the run's next machine asked for, and
//! what the launcher answered (the machine, the zones tried, or why it could
//! not launch, in plain words).

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::error::{aws_error, PipelineError};
use super::machine::LaunchSubnet;
use crate::aws::AwsContext;

/// What the launcher answered: the machine and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launched {
    pub instance_id: String,
    pub zone: Option<String>,
    /// Zones tried before, and why they could not take the machine.
    pub tried: Vec<(String, String)>,
    /// The launch had already been made (a repeated invocation).
    pub reused: bool,
    /// `spot` or `on-demand`.
    pub market: Option<String>,
    /// A spot launch that fell back to on demand: AWS's code for why.
    pub spot_refused: Option<String>,
}

/// Invokes the base's launch function for `run`'s `launch`-th machine; it
/// tries `subnets` in order, moving on when a zone has no capacity. Returns
/// the same machine if this launch was already made.
pub(super) async fn invoke_launcher(
    ctx: &AwsContext,
    function: &str,
    launch: u32,
    subnets: &[LaunchSubnet],
    instance_type: &str,
    run: serde_json::Value,
) -> Result<Launched, PipelineError> {
    let event = serde_json::json!({
        "launch": launch,
        "run": run,
        "subnets": subnets
            .iter()
            .map(|s| serde_json::json!({"subnet_id": s.subnet_id, "zone": s.zone}))
            .collect::<Vec<_>>(),
    });
    let out = ctx
        .lambda_for_launch()
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::RequestResponse)
        .payload(Blob::new(event.to_string().into_bytes()))
        .send()
        .await
        .map_err(|e| aws_error("start the launch function", e))?;
    let payload: serde_json::Value = match out.payload() {
        Some(p) => serde_json::from_slice(p.as_ref()).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the launch function answered something that is not JSON");
            serde_json::Value::Null
        }),
        None => serde_json::Value::Null,
    };
    if out.function_error().is_some() {
        let message = payload
            .get("errorMessage")
            .and_then(|m| m.as_str())
            .unwrap_or("the function raised an error without a message")
            .to_string();
        return Err(launch_error(ctx, instance_type, &message));
    }
    let instance_id = payload
        .get("instance_id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| PipelineError::LaunchFailed {
            message: format!("unexpected answer: {payload}"),
        })?;
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    Ok(Launched {
        instance_id,
        zone: text(&payload, "zone"),
        tried: payload
            .get("tried")
            .and_then(|t| t.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|t| Some((text(t, "zone")?, text(t, "code").unwrap_or_default())))
                    .collect()
            })
            .unwrap_or_default(),
        reused: payload
            .get("reused")
            .and_then(|r| r.as_bool())
            .unwrap_or(false),
        market: text(&payload, "market"),
        spot_refused: text(&payload, "spot_refused"),
    })
}

/// The AWS error code in the launcher's message
/// (`easytdv launcher: RunInstances failed (Code: message) [zones tried: …]`).
pub fn launcher_code(message: &str) -> Option<&str> {
    let inner = message.split("RunInstances failed (").nth(1)?;
    let code = inner.split(':').next()?.trim();
    (!code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'))
        .then_some(code)
}

/// A launcher failure in plain words: a quota, no capacity in any zone, or
/// anything else with the launcher's own message.
fn launch_error(ctx: &AwsContext, instance_type: &str, message: &str) -> PipelineError {
    let kind = launcher_code(message).map(|c| crate::aws::failure::kind_of_code(c, message));
    match kind {
        Some(crate::aws::failure::FailureKind::QuotaExceeded) => {
            let (code, family) =
                super::quotas::vcpu_quota(instance_type).unwrap_or(("L-1216C47A", "Standard"));
            PipelineError::QuotaTooLow {
                family: family.to_string(),
                instance_type: instance_type.to_string(),
                quota: super::quotas::limit_in_message(message).unwrap_or(0),
                needed: 0,
                link: super::quotas::quota_link(ctx.region(), code),
            }
        }
        Some(crate::aws::failure::FailureKind::NoCapacity) => PipelineError::NoCapacity {
            instance_type: instance_type.to_string(),
            region: ctx.region().to_string(),
            tried: message
                .split("[zones tried: ")
                .nth(1)
                .map(|t| t.trim_end_matches(']').to_string())
                .unwrap_or_else(|| "every zone that offers it".into()),
        },
        _ => PipelineError::LaunchFailed {
            message: message.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_in_a_launcher_message() {
        assert_eq!(
            launcher_code("easytdv launcher: RunInstances failed (VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit of 0 allows)"),
            Some("VcpuLimitExceeded")
        );
        assert_eq!(
            launcher_code("easytdv launcher: RunInstances failed (InsufficientInstanceCapacity: We currently do not have sufficient g5.xlarge capacity) [zones tried: eu-west-3a: InsufficientInstanceCapacity; eu-west-3b: Unsupported]"),
            Some("InsufficientInstanceCapacity")
        );
        assert_eq!(
            launcher_code("easytdv launcher: AMI ami-1 was not found"),
            None
        );
    }
}
