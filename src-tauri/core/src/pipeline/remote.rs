//! Runs the instance scripts over SSM (`AWS-RunShellScript`) and waits for
//! their outcome.

use std::time::{Duration, Instant};

use aws_sdk_ssm::types::CommandInvocationStatus;

use super::error::{aws_error, error_code, PipelineError};
use super::model::CommandOutcome;
use super::poll::Backoff;
use crate::aws::AwsContext;

/// The environment the instance scripts read, as shell `export` lines.
/// Values are single-quoted so nothing in them is interpreted.
pub fn prelude(bucket: &str, prefix: &str, region: &str) -> String {
    let q = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
    format!(
        "export EASYTDV_BUCKET={} EASYTDV_PREFIX={} AWS_DEFAULT_REGION={}",
        q(bucket),
        q(prefix),
        q(region)
    )
}

/// Sends `script` (after the prelude) to the instance; returns the command id.
pub async fn send(
    ctx: &AwsContext,
    instance_id: &str,
    prelude: &str,
    script: &str,
    comment: &str,
    timeout: Duration,
) -> Result<String, PipelineError> {
    let out = ctx
        .ssm()
        .send_command()
        .instance_ids(instance_id)
        .document_name("AWS-RunShellScript")
        .comment(comment)
        .parameters("commands", vec![prelude.to_string(), script.to_string()])
        .parameters("executionTimeout", vec![timeout.as_secs().to_string()])
        .send()
        .await
        .map_err(|e| aws_error("send a command to the machine", e))?;
    out.command()
        .and_then(|c| c.command_id())
        .map(str::to_string)
        .ok_or_else(|| PipelineError::State("SendCommand returned no command id".into()))
}

/// One look at a command: `None` while it is still pending or running.
pub async fn outcome(
    ctx: &AwsContext,
    instance_id: &str,
    command_id: &str,
) -> Result<Option<CommandOutcome>, PipelineError> {
    let out = match ctx
        .ssm()
        .get_command_invocation()
        .command_id(command_id)
        .instance_id(instance_id)
        .send()
        .await
    {
        Ok(out) => out,
        // Right after SendCommand the invocation may not be visible yet.
        Err(e) if error_code(&e) == Some("InvocationDoesNotExist") => return Ok(None),
        Err(e) => return Err(aws_error("read the command's result", e)),
    };
    let status = out
        .status()
        .cloned()
        .unwrap_or(CommandInvocationStatus::Pending);
    let running = matches!(
        status,
        CommandInvocationStatus::Pending
            | CommandInvocationStatus::InProgress
            | CommandInvocationStatus::Delayed
            | CommandInvocationStatus::Cancelling
    );
    if running {
        return Ok(None);
    }
    Ok(Some(CommandOutcome {
        command_id: command_id.to_string(),
        status: status.as_str().to_string(),
        exit_code: out.response_code(),
        stdout_tail: out
            .standard_output_content()
            .unwrap_or_default()
            .to_string(),
        stderr_tail: out.standard_error_content().unwrap_or_default().to_string(),
    }))
}

/// Waits for the command's end, calling `tick` with the elapsed time now
/// and then so the caller can report that it is still running.
pub async fn wait(
    ctx: &AwsContext,
    instance_id: &str,
    command_id: &str,
    limit: Duration,
    tick: &(dyn Fn(Duration) + Send + Sync),
) -> Result<CommandOutcome, PipelineError> {
    let start = Instant::now();
    let mut last_tick = Instant::now();
    for delay in Backoff::default().delays() {
        if let Some(done) = outcome(ctx, instance_id, command_id).await? {
            return Ok(done);
        }
        if start.elapsed() > limit {
            break;
        }
        if last_tick.elapsed() >= Duration::from_secs(5) {
            tick(start.elapsed());
            last_tick = Instant::now();
        }
        tokio::time::sleep(delay).await;
    }
    Err(PipelineError::Timeout {
        what: "the command on the machine".into(),
        seconds: limit.as_secs(),
    })
}

/// The last `max_lines` lines of the command's output, errors last.
pub fn tail(outcome: &CommandOutcome, max_lines: usize) -> String {
    let text = if outcome.stderr_tail.trim().is_empty() {
        &outcome.stdout_tail
    } else {
        &outcome.stderr_tail
    };
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prelude_quotes_values() {
        assert_eq!(
            prelude("b", "easytdv/runs/x", "eu-west-3"),
            "export EASYTDV_BUCKET='b' EASYTDV_PREFIX='easytdv/runs/x' AWS_DEFAULT_REGION='eu-west-3'"
        );
        assert!(prelude("a'b", "p", "r").contains(r"'a'\''b'"));
    }

    #[test]
    fn tail_prefers_stderr() {
        let o = CommandOutcome {
            command_id: "c".into(),
            status: "Failed".into(),
            exit_code: 1,
            stdout_tail: "out".into(),
            stderr_tail: "a\nb\nc\n".into(),
        };
        assert_eq!(tail(&o, 2), "b\nc");
        let o2 = CommandOutcome {
            stderr_tail: " ".into(),
            ..o
        };
        assert_eq!(tail(&o2, 5), "out");
    }
}
