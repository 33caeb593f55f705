//! The base stack changed: created or updated when this build's differs
//! (`ensure`), started early by a run's first step (`start`), removed
//! ("Remove easyTDV from this account").

use aws_sdk_cloudformation::types::{Capability, Parameter, ResourceStatus, StackStatus};

use super::{
    code, code_key, launcher_name, standing, version_of, Base, Standing, Wanted, STACK_NAME,
    TEMPLATE, UPDATE_LIMIT,
};
use crate::aws::AwsContext;
use crate::pipeline::error::{aws_error, PipelineError};
use crate::pipeline::poll::{poll_until_capped, Notice};
use crate::pipeline::stack;
use crate::pipeline::storage::RunBucket;
use crate::pipeline::words::stack_words;

/// The base as `wanted`, created or updated first when needed. The
/// launcher's code goes to `bucket` (Lambda keeps its own copy).
pub async fn ensure(
    ctx: &AwsContext,
    bucket: &RunBucket<'_>,
    wanted: &Wanted,
    notice: &Notice<'_>,
) -> Result<Base, PipelineError> {
    // Each turn changes the stack once; a base that still is not ready after
    // a few is not going to be.
    for _ in 0..4 {
        match standing(ctx, wanted).await? {
            Standing::Ready(base) => return Ok(base),
            Standing::Busy(status) => {
                notice(&if status == "CREATE_IN_PROGRESS" {
                    "Creating easyTDV's shared resources in this region (once)".to_string()
                } else {
                    format!(
                        "easyTDV's shared resources are busy ({}); waiting",
                        stack_words(&status)
                    )
                });
                wait_settled(ctx, notice).await?;
            }
            Standing::Broken(status) => {
                notice(&format!(
                    "Deleting easyTDV's shared resources left {}",
                    stack_words(&status)
                ));
                stack::delete(ctx, STACK_NAME, notice).await?;
            }
            Standing::Missing => {
                notice("Creating easyTDV's shared resources in this region (once)");
                let params = parameters(bucket, wanted).await?;
                let id = match stack::start_create_tagged(ctx, STACK_NAME, None, TEMPLATE, params)
                    .await
                {
                    Ok(id) => id,
                    // Another run (another window) created it meanwhile: use theirs.
                    Err(PipelineError::Aws { code, .. }) if code == "AlreadyExistsException" => {
                        continue
                    }
                    Err(e) => return Err(e),
                };
                stack::wait_created(ctx, &id, &|s| notice(&stack_words(s))).await?;
            }
            Standing::Outdated(_) => {
                notice("Updating easyTDV's shared resources in this region");
                let params = parameters(bucket, wanted).await?;
                update(ctx, params, notice).await?;
            }
        }
    }
    Err(PipelineError::StackFailed {
        reason: "easyTDV's shared resources did not become ready".into(),
    })
}

/// What a run's first step found of the base (`start`).
pub enum Early {
    /// Ready as this build wants it: the Stack step need not look again.
    Ready(Base),
    /// None was there: its creation is started.
    Started,
    /// Being changed, outdated or broken: the Stack step sees to it.
    Other,
}

/// Starts creating the base when the region has none, without waiting:
/// a run's first steps go on meanwhile, and `ensure` then waits for it.
pub async fn start(
    ctx: &AwsContext,
    bucket: &RunBucket<'_>,
    wanted: &Wanted,
) -> Result<Early, PipelineError> {
    match standing(ctx, wanted).await? {
        Standing::Ready(base) => return Ok(Early::Ready(base)),
        Standing::Missing => {}
        _ => return Ok(Early::Other),
    }
    let params = parameters(bucket, wanted).await?;
    match stack::start_create_tagged(ctx, STACK_NAME, None, TEMPLATE, params).await {
        Ok(_) => Ok(Early::Started),
        Err(PipelineError::Aws { code, .. }) if code == "AlreadyExistsException" => {
            Ok(Early::Other)
        }
        Err(e) => Err(e),
    }
}

/// Deletes the base ("Remove easyTDV from this account"); false if there was none.
pub async fn remove(ctx: &AwsContext, notice: &Notice<'_>) -> Result<bool, PipelineError> {
    stack::delete(ctx, STACK_NAME, notice).await
}

/// Uploads the launcher's code and returns the stack's parameters.
async fn parameters(
    bucket: &RunBucket<'_>,
    wanted: &Wanted,
) -> Result<Vec<Parameter>, PipelineError> {
    let zip = code()?;
    let key = code_key(&zip);
    let version = version_of(&zip);
    bucket.put(&key, zip).await?;
    let launcher = launcher_name(&version, &wanted.vpc_id, bucket.name(), &key);
    Ok(vec![
        stack::parameter("Version", version),
        stack::parameter("VpcId", &wanted.vpc_id),
        stack::parameter("LambdaCodeBucket", bucket.name()),
        stack::parameter("LambdaCodeKey", key),
        stack::parameter("LauncherName", launcher),
        stack::parameter(
            "EbsKmsKeyArn",
            wanted.ebs_kms_key_arn.clone().unwrap_or_default(),
        ),
    ])
}

async fn update(
    ctx: &AwsContext,
    params: Vec<Parameter>,
    notice: &Notice<'_>,
) -> Result<(), PipelineError> {
    let sent = ctx
        .cloudformation()
        .update_stack()
        .stack_name(STACK_NAME)
        .template_body(TEMPLATE)
        .set_parameters(Some(params))
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await;
    if let Err(e) = sent {
        // Nothing differs after all (e.g. another window updated it first).
        if stack::message_of(&e).is_some_and(|m| m.contains("No updates are to be performed")) {
            return Ok(());
        }
        // Another window (or the wizard's preparation) is updating it:
        // wait, then the caller looks again.
        if stack::message_of(&e).is_some_and(|m| m.contains("_IN_PROGRESS state")) {
            wait_settled(ctx, notice).await?;
            return Ok(());
        }
        return Err(aws_error("update easyTDV's shared resources", e));
    }
    match wait_settled(ctx, notice).await? {
        Some(StackStatus::UpdateComplete) => Ok(()),
        other => Err(PipelineError::StackFailed {
            reason: update_failure(ctx).await.unwrap_or_else(|| {
                format!(
                    "the update of easyTDV's shared resources ended in {}",
                    other
                        .map(|s| s.as_str().to_string())
                        .unwrap_or("DELETE_COMPLETE".into())
                )
            }),
        }),
    }
}

/// Waits until the base is not being changed; returns where it ended.
async fn wait_settled(
    ctx: &AwsContext,
    notice: &Notice<'_>,
) -> Result<Option<StackStatus>, PipelineError> {
    poll_until_capped(
        "easyTDV's shared resources",
        UPDATE_LIMIT,
        stack::STACK_LOOK_GAP,
        notice,
        || async {
            let s = stack::status(ctx, STACK_NAME).await?;
            Ok(match s {
                Some(s) if s.as_str().ends_with("_IN_PROGRESS") => None,
                other => Some(other),
            })
        },
    )
    .await
}

/// The first resource that failed the last update, in plain words.
async fn update_failure(ctx: &AwsContext) -> Option<String> {
    let out = ctx
        .cloudformation()
        .describe_stack_events()
        .stack_name(STACK_NAME)
        .send()
        .await
        .ok()?;
    out.stack_events()
        .iter()
        .take_while(|e| {
            !(e.logical_resource_id() == Some(STACK_NAME)
                && e.resource_status() == Some(&ResourceStatus::UpdateInProgress))
        })
        .filter(|e| e.resource_status() == Some(&ResourceStatus::UpdateFailed))
        .last()
        .map(|e| {
            format!(
                "{} ({}): {}",
                e.logical_resource_id().unwrap_or("resource"),
                e.resource_type().unwrap_or("?"),
                e.resource_status_reason().unwrap_or("no reason given")
            )
        })
}
