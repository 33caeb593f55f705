//! The training machine: launched by the run's Lambda, watched through EC2
//! and SSM, terminated and verified gone at the end.

use std::time::Duration;

use aws_sdk_ec2::types::{Filter, InstanceStateName};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_ssm::types::{InstanceInformationStringFilter, PingStatus};

use super::error::{aws_error, error_code, PipelineError};
use super::poll::poll_until;
use super::stack::RUN_TAG;
use crate::aws::AwsContext;

const RUNNING_LIMIT: Duration = Duration::from_secs(10 * 60);
const AGENT_LIMIT: Duration = Duration::from_secs(15 * 60);
const TERMINATE_LIMIT: Duration = Duration::from_secs(10 * 60);

/// Invokes the launch function for the run's `launch`-th machine and
/// returns its instance id (the same one if this launch was already made).
pub async fn invoke_launcher(
    ctx: &AwsContext,
    function: &str,
    launch: u32,
) -> Result<String, PipelineError> {
    let out = ctx
        .lambda()
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::RequestResponse)
        .payload(Blob::new(
            serde_json::json!({ "launch": launch })
                .to_string()
                .into_bytes(),
        ))
        .send()
        .await
        .map_err(|e| aws_error("start the launch function", e))?;
    let payload: serde_json::Value = out
        .payload()
        .map(|p| serde_json::from_slice(p.as_ref()).unwrap_or_default())
        .unwrap_or_default();
    if out.function_error().is_some() {
        let message = payload
            .get("errorMessage")
            .and_then(|m| m.as_str())
            .unwrap_or("the function raised an error without a message")
            .to_string();
        return Err(PipelineError::LaunchFailed { message });
    }
    payload
        .get("instance_id")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| PipelineError::LaunchFailed {
            message: format!("unexpected answer: {payload}"),
        })
}

/// The instance's state name, `None` if EC2 does not know it.
pub async fn state(
    ctx: &AwsContext,
    instance_id: &str,
) -> Result<Option<InstanceStateName>, PipelineError> {
    match ctx
        .ec2()
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find_map(|i| i.state().and_then(|s| s.name().cloned()))),
        Err(e) if error_code(&e) == Some("InvalidInstanceID.NotFound") => Ok(None),
        Err(e) => Err(aws_error("read the machine's state", e)),
    }
}

/// Waits until the instance is `running`.
pub async fn wait_running(ctx: &AwsContext, instance_id: &str) -> Result<(), PipelineError> {
    poll_until("the machine to start", RUNNING_LIMIT, || async {
        match state(ctx, instance_id).await? {
            Some(InstanceStateName::Running) => Ok(Some(())),
            Some(InstanceStateName::Pending) | None => Ok(None),
            Some(other) => Err(PipelineError::InstanceLost {
                instance_id: instance_id.into(),
                state: other.as_str().into(),
            }),
        }
    })
    .await
}

/// Waits until the SSM agent on the instance reports Online.
pub async fn wait_agent_online(ctx: &AwsContext, instance_id: &str) -> Result<(), PipelineError> {
    let filter = InstanceInformationStringFilter::builder()
        .key("InstanceIds")
        .values(instance_id)
        .build()
        .map_err(|e| PipelineError::State(e.to_string()))?;
    poll_until(
        "the machine's management agent (SSM) to come online",
        AGENT_LIMIT,
        || {
            let filter = filter.clone();
            async move {
                let out = ctx
                    .ssm()
                    .describe_instance_information()
                    .filters(filter)
                    .send()
                    .await
                    .map_err(|e| aws_error("check the machine's management agent", e))?;
                let online = out.instance_information_list().iter().any(|i| {
                    i.instance_id() == Some(instance_id)
                        && i.ping_status() == Some(&PingStatus::Online)
                });
                if !online {
                    if let Some(
                        s @ (InstanceStateName::Terminated | InstanceStateName::ShuttingDown),
                    ) = state(ctx, instance_id).await?
                    {
                        return Err(PipelineError::InstanceLost {
                            instance_id: instance_id.into(),
                            state: s.as_str().into(),
                        });
                    }
                }
                Ok(online.then_some(()))
            }
        },
    )
    .await
}

/// Instances tagged with the run id that are not terminated yet: finds a
/// machine even if its id was never recorded (a crash right after launch).
pub async fn find_run_instances(
    ctx: &AwsContext,
    run_id: &str,
) -> Result<Vec<String>, PipelineError> {
    let out = ctx
        .ec2()
        .describe_instances()
        .filters(
            Filter::builder()
                .name(format!("tag:{RUN_TAG}"))
                .values(run_id)
                .build(),
        )
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .values("pending")
                .values("running")
                .values("stopping")
                .values("stopped")
                .values("shutting-down")
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("look for the run's machines", e))?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect())
}

/// Terminates the instances and waits until each is `terminated`.
pub async fn terminate(ctx: &AwsContext, ids: &[String]) -> Result<Vec<String>, PipelineError> {
    let mut live = Vec::new();
    for id in ids {
        match state(ctx, id).await? {
            None | Some(InstanceStateName::Terminated) => {}
            Some(_) => live.push(id.clone()),
        }
    }
    if live.is_empty() {
        return Ok(live);
    }
    ctx.ec2()
        .terminate_instances()
        .set_instance_ids(Some(live.clone()))
        .send()
        .await
        .map_err(|e| aws_error("terminate the training machine", e))?;
    for id in &live {
        poll_until("the machine to be terminated", TERMINATE_LIMIT, || async {
            Ok(matches!(
                state(ctx, id).await?,
                None | Some(InstanceStateName::Terminated)
            )
            .then_some(()))
        })
        .await?;
    }
    Ok(live)
}
