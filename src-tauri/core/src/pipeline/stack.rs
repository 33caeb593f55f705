//! The run's CloudFormation stack: create, watch, explain a failure, delete.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudformation::types::{Capability, Parameter, ResourceStatus, StackStatus, Tag};

use super::error::{aws_error, PipelineError};
use super::poll::{poll_until, poll_until_capped, Notice};
use crate::aws::AwsContext;

pub const APP_TAG: &str = "easytdv:app";
pub const RUN_TAG: &str = "easytdv:run-id";
const CREATE_LIMIT: Duration = Duration::from_secs(20 * 60);
const DELETE_LIMIT: Duration = Duration::from_secs(20 * 60);

pub fn stack_name(run_id: &str) -> String {
    format!("easytdv-{run_id}")
}

pub fn parameter(key: &str, value: impl Into<String>) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

/// Starts `CreateStack` of a run's stack; returns the stack id.
pub async fn start_create(
    ctx: &AwsContext,
    name: &str,
    run_id: &str,
    template_body: &str,
    parameters: Vec<Parameter>,
) -> Result<String, PipelineError> {
    start_create_tagged(ctx, name, Some(run_id), template_body, parameters).await
}

/// Starts `CreateStack`, tagged as easyTDV's (and the run's, if any).
pub(super) async fn start_create_tagged(
    ctx: &AwsContext,
    name: &str,
    run_id: Option<&str>,
    template_body: &str,
    parameters: Vec<Parameter>,
) -> Result<String, PipelineError> {
    let run_tag = run_id.map(|r| Tag::builder().key(RUN_TAG).value(r).build());
    let out = ctx
        .cloudformation()
        .create_stack()
        .stack_name(name)
        // The template travels in the request (it is far below the 51,200
        // bytes TemplateBody takes): nothing anyone could swap in a bucket.
        .template_body(template_body)
        .set_parameters(Some(parameters))
        .capabilities(Capability::CapabilityNamedIam)
        .set_tags(Some(
            run_tag
                .into_iter()
                .chain([Tag::builder().key(APP_TAG).value("easytdv").build()])
                .collect(),
        ))
        .send()
        .await
        .map_err(|e| aws_error("create the CloudFormation stack", e))?;
    Ok(out.stack_id().unwrap_or(name).to_string())
}

/// The stack's status, or `None` if it does not exist (or is fully deleted).
pub async fn status(
    ctx: &AwsContext,
    name_or_id: &str,
) -> Result<Option<StackStatus>, PipelineError> {
    match ctx
        .cloudformation()
        .describe_stacks()
        .stack_name(name_or_id)
        .send()
        .await
    {
        Ok(out) => Ok(out.stacks().first().and_then(|s| s.stack_status().cloned())),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(aws_error("read the stack's status", e)),
    }
    .map(|s| s.filter(|s| *s != StackStatus::DeleteComplete))
}

/// The message of an AWS service error, if it has one.
pub(super) fn message_of<E, R>(e: &aws_sdk_cloudformation::error::SdkError<E, R>) -> Option<&str>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|s| s.message())
}

/// CloudFormation's answer for a stack that does not exist.
pub(super) fn is_missing<E, R>(e: &aws_sdk_cloudformation::error::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    message_of(e).is_some_and(|m| m.contains("does not exist"))
}

/// The stack's outputs, by key.
pub async fn outputs(
    ctx: &AwsContext,
    name_or_id: &str,
) -> Result<HashMap<String, String>, PipelineError> {
    let out = ctx
        .cloudformation()
        .describe_stacks()
        .stack_name(name_or_id)
        .send()
        .await
        .map_err(|e| aws_error("read the stack's outputs", e))?;
    Ok(out
        .stacks()
        .first()
        .map(|s| {
            s.outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                .collect()
        })
        .unwrap_or_default())
}

/// At most this long between two looks at a stack being created or
/// changed (a `DescribeStacks`): the original library's own interval.
pub(super) const STACK_LOOK_GAP: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits for CREATE_COMPLETE. On failure, reads the failing resource's
/// reason, deletes the stack, and returns `StackFailed`.
pub async fn wait_created(
    ctx: &AwsContext,
    stack_id: &str,
    on_status: &Notice<'_>,
) -> Result<String, PipelineError> {
    let last = std::sync::Mutex::new(String::new());
    let final_status = poll_until_capped(
        "the cloud resources to be created",
        CREATE_LIMIT,
        STACK_LOOK_GAP,
        on_status,
        || async {
            let s = status(ctx, stack_id).await?;
            let text = s
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "DELETE_COMPLETE".into());
            if let Ok(mut l) = last.lock() {
                if *l != text {
                    on_status(&text);
                    *l = text.clone();
                }
            }
            Ok(match s {
                Some(StackStatus::CreateInProgress) | Some(StackStatus::RollbackInProgress) => None,
                other => Some(other),
            })
        },
    )
    .await?;
    match final_status {
        Some(StackStatus::CreateComplete) => Ok("CREATE_COMPLETE".to_string()),
        other => {
            let reason = failure_reason(ctx, stack_id).await.unwrap_or_else(|| {
                format!(
                    "the stack ended in {}",
                    other
                        .map(|s| s.as_str().to_string())
                        .unwrap_or("DELETE_COMPLETE".into())
                )
            });
            delete(ctx, stack_id, on_status).await?;
            Err(PipelineError::StackFailed { reason })
        }
    }
}

/// The first resource failure of a stack, in plain words.
pub async fn failure_reason(ctx: &AwsContext, stack_id: &str) -> Option<String> {
    let out = ctx
        .cloudformation()
        .describe_stack_events()
        .stack_name(stack_id)
        .send()
        .await
        .ok()?;
    // Events come newest first: the oldest failure is the cause.
    out.stack_events()
        .iter()
        .rev()
        .find(|e| {
            matches!(e.resource_status(), Some(ResourceStatus::CreateFailed))
                && e.resource_status_reason()
                    .is_some_and(|r| !r.contains("Resource creation cancelled"))
        })
        .map(|e| {
            format!(
                "{} ({}): {}",
                e.logical_resource_id().unwrap_or("resource"),
                e.resource_type().unwrap_or("?"),
                e.resource_status_reason().unwrap_or("no reason given")
            )
        })
}

/// Deletes the stack and waits until it is gone. Safe if already gone.
pub async fn delete(
    ctx: &AwsContext,
    name_or_id: &str,
    notice: &Notice<'_>,
) -> Result<bool, PipelineError> {
    if status(ctx, name_or_id).await?.is_none() {
        return Ok(false);
    }
    ctx.cloudformation()
        .delete_stack()
        .stack_name(name_or_id)
        .send()
        .await
        .map_err(|e| aws_error("delete the CloudFormation stack", e))?;
    let end = poll_until(
        "the cloud resources to be deleted",
        DELETE_LIMIT,
        notice,
        || async {
            Ok(match status(ctx, name_or_id).await? {
                None => Some(None),
                Some(StackStatus::DeleteInProgress) => None,
                Some(other) => Some(Some(other)),
            })
        },
    )
    .await?;
    match end {
        None => Ok(true),
        Some(s) => {
            let reason = ctx
                .cloudformation()
                .describe_stack_events()
                .stack_name(name_or_id)
                .send()
                .await
                .ok()
                .and_then(|o| {
                    o.stack_events()
                        .iter()
                        .find(|e| e.resource_status() == Some(&ResourceStatus::DeleteFailed))
                        .and_then(|e| e.resource_status_reason().map(str::to_string))
                })
                .unwrap_or_default();
            Err(PipelineError::StackFailed {
                reason: format!("deleting the stack ended in {}: {reason}", s.as_str()),
            })
        }
    }
}
