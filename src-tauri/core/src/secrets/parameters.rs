//! A run's secrets in AWS Systems Manager Parameter Store: one `SecureString`
//! per secret at `/easytdv/runs/<run-id>/secrets/<NAME>`, encrypted with the
//! account's AWS-managed key (`aws/ssm`: no key to create or pay for). The
//! value travels only in PutParameter's request body, over TLS; CloudTrail
//! does not log a SecureString's value, and the SDK's Debug redacts it.
//! The run's instance role may read exactly its own run's path (the stack's
//! `ReadRunSecrets`); the user policy may put and delete `/easytdv/runs/*`.

use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType};

use super::RunSecrets;
use crate::aws::AwsContext;
use crate::pipeline::{aws_error, PipelineError};

/// Where every run's parameters live.
pub const ROOT: &str = "/easytdv/runs";

/// At most this many names per DeleteParameters (and GetParameters) call.
const NAMES_PER_CALL: usize = 10;

/// `/easytdv/runs/<run-id>/secrets`
pub fn run_path(run_id: &str) -> String {
    format!("{ROOT}/{run_id}/secrets")
}

/// `/easytdv/runs/<run-id>/secrets/<NAME>`
pub fn parameter_name(run_id: &str, name: &str) -> String {
    format!("{}/{name}", run_path(run_id))
}

/// The run and secret of a parameter name (`None`: not a run's secret).
pub fn run_of(parameter: &str) -> Option<(&str, &str)> {
    let rest = parameter.strip_prefix(ROOT)?.strip_prefix('/')?;
    let (run, name) = rest.split_once("/secrets/")?;
    (!run.is_empty() && !run.contains('/') && !name.is_empty() && !name.contains('/'))
        .then_some((run, name))
}

/// The tag by which a machine of the base reads a run's secrets
/// (`templates/base.yaml`, `ReadOwnSecrets`): its `aws:userid`.
pub const MACHINE_TAG: &str = "easytdv-machine";

/// Lets only the machine `userid` read these parameters: tags each with it
/// (a new machine's tag replaces the last one's value).
pub async fn tag_for_machine(
    ctx: &AwsContext,
    names: &[String],
    userid: &str,
) -> Result<(), PipelineError> {
    let tag = aws_sdk_ssm::types::Tag::builder()
        .key(MACHINE_TAG)
        .value(userid)
        .build()
        .map_err(|e| PipelineError::State(format!("tag a secret: {e}")))?;
    for name in names {
        let sent = ctx
            .ssm()
            .add_tags_to_resource()
            .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .tags(tag.clone())
            .send()
            .await;
        match sent {
            Ok(_) => {}
            // Gone since it was put: the machine will say it cannot read it.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_invalid_resource_id()) => {}
            Err(e) => return Err(aws_error("let the machine read the run's secrets", e)),
        }
    }
    Ok(())
}

/// Puts each secret (replacing an earlier value: a retry sends the
/// keychain's current one). One at a time: Parameter Store throttles bursts
/// of PutParameter, and a run has a handful.
pub async fn put(
    ctx: &AwsContext,
    run_id: &str,
    secrets: &RunSecrets,
) -> Result<(), PipelineError> {
    for s in secrets.iter() {
        let name = parameter_name(run_id, &s.name);
        ctx.ssm()
            .put_parameter()
            .name(&name)
            .description(format!(
                "easyTDV run {run_id}: {} for train.py (deleted with the run)",
                s.name
            ))
            .value(s.value.expose())
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| {
                scrubbed(
                    aws_error("store the run's secrets in Parameter Store", e),
                    secrets,
                )
            })?;
    }
    Ok(())
}

/// An error with any value replaced by `***` (AWS validation messages may
/// quote what they were sent).
fn scrubbed(err: PipelineError, secrets: &RunSecrets) -> PipelineError {
    match err {
        PipelineError::Denied { op, message } => PipelineError::Denied {
            op,
            message: secrets.scrub(&message),
        },
        PipelineError::BadCredentials { op, message } => PipelineError::BadCredentials {
            op,
            message: secrets.scrub(&message),
        },
        PipelineError::Busy { op, message } => PipelineError::Busy {
            op,
            message: secrets.scrub(&message),
        },
        PipelineError::Aws { op, code, message } => PipelineError::Aws {
            op,
            code,
            message: secrets.scrub(&message),
        },
        other => other,
    }
}

/// The parameters under `path` (names only: DescribeParameters never
/// returns values).
pub async fn list(ctx: &AwsContext, path: &str) -> Result<Vec<String>, PipelineError> {
    let filter = ParameterStringFilter::builder()
        .key("Path")
        .option("Recursive")
        .values(path)
        .build()
        .map_err(|e| PipelineError::State(format!("a Parameter Store filter: {e}")))?;
    let mut pages = ctx
        .ssm()
        .describe_parameters()
        .parameter_filters(filter)
        .max_results(50)
        .into_paginator()
        .send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("list the runs' secrets in Parameter Store", e))?;
        names.extend(
            page.parameters()
                .iter()
                .filter_map(|p| p.name().map(str::to_string)),
        );
    }
    names.sort();
    Ok(names)
}

/// A run's parameters still in Parameter Store.
pub async fn list_run(ctx: &AwsContext, run_id: &str) -> Result<Vec<String>, PipelineError> {
    list(ctx, &run_path(run_id)).await
}

/// Deletes the parameters (ten per call, as AWS takes), then checks none
/// of the run's is left. Names already gone are not an error.
pub async fn delete(ctx: &AwsContext, run_id: &str, names: &[String]) -> Result<(), PipelineError> {
    for chunk in names.chunks(NAMES_PER_CALL) {
        ctx.ssm()
            .delete_parameters()
            .set_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("delete the run's secrets from Parameter Store", e))?;
    }
    let left = list_run(ctx, run_id).await?;
    if left.is_empty() {
        return Ok(());
    }
    // One the history did not name (a crash between the put and the record
    // cannot happen; an older app's, or a second put): delete it too.
    for chunk in left.chunks(NAMES_PER_CALL) {
        ctx.ssm()
            .delete_parameters()
            .set_names(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error("delete the run's secrets from Parameter Store", e))?;
    }
    let left = list_run(ctx, run_id).await?;
    if left.is_empty() {
        Ok(())
    } else {
        Err(PipelineError::State(format!(
            "the run's secrets {} are still in Parameter Store: delete them in the AWS console (Systems Manager → Parameter Store)",
            left.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_under_the_run() {
        let name = parameter_name("20261206-101500-a1b2c3", "HF_TOKEN");
        assert_eq!(
            name,
            "/easytdv/runs/20261206-101500-a1b2c3/secrets/HF_TOKEN"
        );
        assert_eq!(run_of(&name), Some(("20261206-101500-a1b2c3", "HF_TOKEN")));
        for other in [
            "/easytdv/runs/r/secrets/",
            "/easytdv/runs//secrets/X",
            "/easytdv/runs/r/other/X",
            "/easytdv/runs/a/b/secrets/X",
            "/easytdv/runs/r/secrets/X/Y",
            "/other/runs/r/secrets/X",
        ] {
            assert_eq!(run_of(other), None, "{other}");
        }
    }
}
