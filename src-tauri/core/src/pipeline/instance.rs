//! The training machine: launched by the run's Lambda, watched through EC2
//! and SSM, terminated and verified gone at the end.

use std::time::Duration;

use aws_sdk_ec2::types::{Filter, InstanceStateName};
use aws_sdk_ssm::types::{InstanceInformationStringFilter, PingStatus};

use super::error::{aws_error, error_code, PipelineError};
pub(super) use super::launcher::invoke_launcher;
pub use super::launcher::Launched;
use super::poll::{poll_until, Notice};
use super::stack::RUN_TAG;
use crate::aws::AwsContext;

const RUNNING_LIMIT: Duration = Duration::from_secs(10 * 60);
const AGENT_LIMIT: Duration = Duration::from_secs(15 * 60);
const TERMINATE_LIMIT: Duration = Duration::from_secs(10 * 60);

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

/// The instance's `StateReason` (code, message), when EC2 gives one.
async fn state_reason(
    ctx: &AwsContext,
    instance_id: &str,
) -> Result<Option<(String, String)>, PipelineError> {
    let out = match ctx
        .ec2()
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if error_code(&e) == Some("InvalidInstanceID.NotFound") => return Ok(None),
        Err(e) => return Err(aws_error("read why the machine stopped", e)),
    };
    Ok(out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find_map(|i| i.state_reason())
        .and_then(|r| {
            let code = r.code().unwrap_or_default().trim();
            (!code.is_empty()).then(|| {
                (
                    code.to_string(),
                    r.message().unwrap_or_default().to_string(),
                )
            })
        }))
}

/// The error for a machine that ended before it could be used: AWS's
/// `StateReason` in plain words when it gives one.
async fn ended(
    ctx: &AwsContext,
    instance_id: &str,
    state: &InstanceStateName,
) -> Result<PipelineError, PipelineError> {
    Ok(match state_reason(ctx, instance_id).await? {
        Some((code, message)) => PipelineError::InstanceEnded {
            instance_id: instance_id.into(),
            state: state.as_str().into(),
            code,
            message,
            region: ctx.region().into(),
        },
        None => PipelineError::InstanceLost {
            instance_id: instance_id.into(),
            state: state.as_str().into(),
        },
    })
}

/// When EC2 says the machine last changed state, from its
/// `StateTransitionReason` ("User initiated (2026-12-07 03:00:00 GMT)");
/// `None` when EC2 gives no time.
pub(super) async fn changed_at(ctx: &AwsContext, instance_id: &str) -> Option<f64> {
    let out = ctx
        .ec2()
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .ok()?;
    let reason = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find_map(|i| i.state_transition_reason())?
        .to_string();
    transition_time(&reason)
}

/// The time in a `StateTransitionReason`, in Unix seconds.
fn transition_time(reason: &str) -> Option<f64> {
    let inner = reason.split_once('(')?.1.split_once(')')?.0.trim();
    let (stamp, zone) = inner.rsplit_once(' ')?;
    if !matches!(zone, "GMT" | "UTC") {
        return None;
    }
    let iso = format!("{}Z", stamp.replacen(' ', "T", 1));
    time::OffsetDateTime::parse(&iso, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp() as f64)
}

/// The machine's end, with AWS's reason, when it is ending or gone (a
/// command that failed because AWS took the machine away is that, not the
/// script's failure); `None` while it runs.
pub(super) async fn gone(
    ctx: &AwsContext,
    instance_id: &str,
) -> Result<Option<PipelineError>, PipelineError> {
    match state(ctx, instance_id).await? {
        Some(
            s @ (InstanceStateName::Terminated
            | InstanceStateName::ShuttingDown
            | InstanceStateName::Stopping
            | InstanceStateName::Stopped),
        ) => Ok(Some(ended(ctx, instance_id, &s).await?)),
        // (EC2 forgets a terminated machine after a while)
        None => Ok(Some(PipelineError::InstanceLost {
            instance_id: instance_id.into(),
            state: "gone".into(),
        })),
        _ => Ok(None),
    }
}

/// What a `StateReason` code means, in plain words (AWS's list in the EC2
/// API reference, `StateReason`).
pub fn reason_words(code: &str) -> &'static str {
    match code {
        "Client.InternalError" => "AWS could not start it, most often because its disk could not be encrypted with your account's default EBS key",
        "Server.InternalError" => "an internal AWS error ended it during launch",
        "Server.InsufficientInstanceCapacity" => "AWS had no capacity left for it",
        "Client.VolumeLimitExceeded" => "your account's EBS volume or storage limit was reached",
        "Client.InvalidSnapshot.NotFound" => "its image's disk snapshot was not found",
        "Client.UserInitiatedShutdown" => "it was stopped or terminated through the EC2 console or API",
        "Client.InstanceInitiatedShutdown" => "it shut itself down",
        "Server.SpotInstanceShutdown" | "Server.SpotInstanceTermination" => "AWS reclaimed the spot machine",
        _ => "AWS gave this reason",
    }
}

/// What to do about a `StateReason`.
pub fn reason_hint(code: &str, region: &str) -> String {
    match code {
        "Client.InternalError" => format!(
            "If your account's default EBS encryption key is a customer-managed KMS key (see `aws ec2 get-ebs-default-kms-key-id --region {region}`), check that the key is enabled and that its key policy lets this account's IAM policies use it (the default key policy's \"Enable IAM User Permissions\" statement) or names the easytdv-*-launcher roles; easyTDV grants the launcher the rest. Or go back to AWS's own key: `aws ec2 reset-ebs-default-kms-key-id --region {region}`. Then launch again."
        ),
        "Server.InsufficientInstanceCapacity" => {
            "Launch again in a few minutes, or pick another machine type or region.".into()
        }
        "Client.VolumeLimitExceeded" => "Delete EBS volumes you no longer use, or ask AWS for a higher EBS storage quota in Service Quotas, then launch again.".into(),
        "Client.InvalidSnapshot.NotFound" => "Leave the image on \"Automatic\" or pick another image, then launch again.".into(),
        "Server.SpotInstanceTermination" | "Server.SpotInstanceShutdown" => "AWS needed the spot capacity back. Retry from \"Start the machine\" to go on on a new machine (spot again, or on demand when there is none); the checkpoints train.py saved in EASYTDV_CHECKPOINT_DIR were uploaded when AWS gave notice and come back on the new machine, so load the latest there to pick up where it stopped. Untick spot to keep a machine AWS does not take back.".into(),
        _ => "Delete the run's resources and launch again.".into(),
    }
}

/// Waits until the instance is `running`; one that ends first is reported
/// with AWS's reason (e.g. a disk that could not be encrypted).
pub async fn wait_running(
    ctx: &AwsContext,
    instance_id: &str,
    notice: &Notice<'_>,
) -> Result<(), PipelineError> {
    poll_until("the machine to start", RUNNING_LIMIT, notice, || async {
        match state(ctx, instance_id).await? {
            Some(InstanceStateName::Running) => Ok(Some(())),
            Some(InstanceStateName::Pending) | None => Ok(None),
            Some(other) => Err(ended(ctx, instance_id, &other).await?),
        }
    })
    .await
}

/// Waits until the SSM agent on the instance reports Online.
pub async fn wait_agent_online(
    ctx: &AwsContext,
    instance_id: &str,
    notice: &Notice<'_>,
) -> Result<(), PipelineError> {
    let filter = InstanceInformationStringFilter::builder()
        .key("InstanceIds")
        .values(instance_id)
        .build()
        .map_err(|e| PipelineError::State(e.to_string()))?;
    poll_until(
        "the machine's management agent (SSM) to come online",
        AGENT_LIMIT,
        notice,
        || {
            let filter = filter.clone();
            async move {
                let online = agent_online_with(ctx, instance_id, filter).await?;
                if !online {
                    if let Some(
                        s @ (InstanceStateName::Terminated | InstanceStateName::ShuttingDown),
                    ) = state(ctx, instance_id).await?
                    {
                        return Err(ended(ctx, instance_id, &s).await?);
                    }
                }
                Ok(online.then_some(()))
            }
        },
    )
    .await
}

/// Whether the SSM agent on the instance reports Online now (one call).
pub async fn agent_online(ctx: &AwsContext, instance_id: &str) -> Result<bool, PipelineError> {
    let filter = InstanceInformationStringFilter::builder()
        .key("InstanceIds")
        .values(instance_id)
        .build()
        .map_err(|e| PipelineError::State(e.to_string()))?;
    agent_online_with(ctx, instance_id, filter).await
}

async fn agent_online_with(
    ctx: &AwsContext,
    instance_id: &str,
    filter: InstanceInformationStringFilter,
) -> Result<bool, PipelineError> {
    let out = ctx
        .ssm()
        .describe_instance_information()
        .filters(filter)
        .send()
        .await
        .map_err(|e| aws_error("check the machine's management agent", e))?;
    Ok(out.instance_information_list().iter().any(|i| {
        i.instance_id() == Some(instance_id) && i.ping_status() == Some(&PingStatus::Online)
    }))
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
pub async fn terminate(
    ctx: &AwsContext,
    ids: &[String],
    notice: &Notice<'_>,
) -> Result<Vec<String>, PipelineError> {
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
        poll_until(
            "the machine to be terminated",
            TERMINATE_LIMIT,
            notice,
            || async {
                Ok(matches!(
                    state(ctx, id).await?,
                    None | Some(InstanceStateName::Terminated)
                )
                .then_some(()))
            },
        )
        .await?;
    }
    Ok(live)
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_time_of_a_state_change_is_read_from_ec2s_words() {
        assert_eq!(
            transition_time("User initiated (2026-12-07 03:00:00 GMT)"),
            Some(1_796_612_400.0)
        );
        assert_eq!(
            transition_time("User initiated (2026-12-07 03:00:00 UTC)"),
            Some(1_796_612_400.0)
        );
        for none in [
            "",
            "Service initiated",
            "User initiated (soon)",
            "x (2026-12-07 03:00:00 CET)",
        ] {
            assert_eq!(transition_time(none), None, "{none}");
        }
    }

    use super::*;
    use crate::explain::Explain;

    #[test]
    fn a_machine_ended_at_launch_is_told_with_aws_reason_and_what_to_do() {
        // AWS's StateReason when EBS cannot use the default key for the launcher.
        let e = PipelineError::InstanceEnded {
            instance_id: "i-0abc".into(),
            state: "terminated".into(),
            code: "Client.InternalError".into(),
            message: "Client.InternalError: Client error on launch".into(),
            region: "eu-west-3".into(),
        };
        let text = e.to_string();
        assert!(
            text.contains("i-0abc")
                && text.contains("default EBS key")
                && text.contains(
                    "(Client.InternalError: Client.InternalError: Client error on launch)"
                ),
            "{text}"
        );
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("aws ec2 get-ebs-default-kms-key-id --region eu-west-3")
                && hint.contains("aws ec2 reset-ebs-default-kms-key-id --region eu-west-3"),
            "{hint}"
        );
        assert_eq!(e.code(), "instance_ended");
        assert!(!e.is_bad_input() && !e.is_transient());
        for code in [
            "Server.InsufficientInstanceCapacity",
            "Client.VolumeLimitExceeded",
            "Server.InternalError",
        ] {
            assert_ne!(reason_words(code), reason_words("Something.New"), "{code}");
        }
        assert!(reason_hint("Client.VolumeLimitExceeded", "eu-west-3").contains("EBS"));
    }
}
