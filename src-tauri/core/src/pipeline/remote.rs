//! Runs the instance scripts over SSM (`AWS-RunShellScript`) and waits for
//! their outcome. A command is a few lines (`scripts.rs`): the scripts
//! themselves come from the run's prefix, checked against their SHA-256.

use std::time::{Duration, Instant};

use aws_sdk_ssm::types::CommandInvocationStatus;

use super::error::{aws_error, error_code, PipelineError};
use super::model::CommandOutcome;
use super::poll::{gap, poll_until, Notice, GRACE};
use crate::aws::AwsContext;

/// The environment the instance scripts read, as shell `export` lines.
/// Values are single-quoted so nothing in them is interpreted.
pub fn prelude(vars: &[(&str, &str)]) -> String {
    let q = |v: &str| format!("'{}'", v.replace('\'', r"'\''"));
    let parts: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={}", q(v))).collect();
    format!("export {}", parts.join(" "))
}

/// The longest `executionTimeout` AWS-RunShellScript accepts (48 h).
pub const MAX_EXECUTION_TIMEOUT: Duration = Duration::from_secs(172_800);

/// Sends the command's lines (`scripts::command_lines`) to the instance;
/// returns the command id.
/// A lost connection is ridden out for up to [`GRACE`]: before sending again,
/// the machine's commands are searched for this one (its comment carries a
/// token of its own), since the first try may have reached AWS.
pub async fn send(
    ctx: &AwsContext,
    instance_id: &str,
    commands: &[String],
    comment: &str,
    timeout: Duration,
) -> Result<String, PipelineError> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let comment = format!("{comment} #{}", &token[..8]);
    let started = Instant::now();
    loop {
        match send_once(ctx, instance_id, commands, &comment, timeout).await {
            Ok(id) => return Ok(id),
            Err(e) if e.is_transient() && started.elapsed() < GRACE => {
                tracing::warn!(instance_id, error = %e, "sending a command again after a transient error");
                match sent_before(ctx, instance_id, &comment).await {
                    Ok(Some(id)) => return Ok(id),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "could not look for the command sent before")
                    }
                }
                tokio::time::sleep(gap(started.elapsed())).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The id of a command with this exact comment on the instance, if AWS has one.
async fn sent_before(
    ctx: &AwsContext,
    instance_id: &str,
    comment: &str,
) -> Result<Option<String>, PipelineError> {
    let out = ctx
        .ssm()
        .list_commands()
        .instance_id(instance_id)
        .send()
        .await
        .map_err(|e| aws_error("look for a command sent to the machine", e))?;
    Ok(out
        .commands()
        .iter()
        .find(|c| c.comment() == Some(comment))
        .and_then(|c| c.command_id())
        .map(str::to_string))
}

async fn send_once(
    ctx: &AwsContext,
    instance_id: &str,
    commands: &[String],
    comment: &str,
    timeout: Duration,
) -> Result<String, PipelineError> {
    let out = ctx
        .ssm()
        .send_command()
        .instance_ids(instance_id)
        .document_name("AWS-RunShellScript")
        .comment(comment)
        .parameters("commands", commands.to_vec())
        .parameters(
            "executionTimeout",
            vec![timeout
                .clamp(Duration::from_secs(1), MAX_EXECUTION_TIMEOUT)
                .as_secs()
                .to_string()],
        )
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
        machine_seconds: out.execution_elapsed_time().and_then(duration_seconds),
    }))
}

/// Seconds in an ISO 8601 duration as SSM writes them: `PT0.531S`, `PT1M2.5S`, `PT1H`.
fn duration_seconds(text: &str) -> Option<f64> {
    let mut rest = text.strip_prefix("PT")?;
    let mut total = 0.0;
    while !rest.is_empty() {
        let end = rest.find(|c: char| c.is_ascii_alphabetic())?;
        let value: f64 = rest[..end].parse().ok()?;
        total += value
            * match &rest[end..=end] {
                "H" => 3600.0,
                "M" => 60.0,
                "S" => 1.0,
                _ => return None,
            };
        rest = &rest[end + 1..];
    }
    Some(total)
}

/// Waits for the command's end (a lost connection is ridden out, see
/// `poll`).
pub async fn wait(
    ctx: &AwsContext,
    instance_id: &str,
    command_id: &str,
    limit: Duration,
    notice: &Notice<'_>,
) -> Result<CommandOutcome, PipelineError> {
    poll_until("the command on the machine", limit, notice, || {
        outcome(ctx, instance_id, command_id)
    })
    .await
}

/// The last `max_lines` lines of the output SSM kept, errors first. SSM keeps
/// only the *first* 24,000 / 8,000 characters: when the live log has lines,
/// they tell the end better (`Train::failure_tail`).
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
            prelude(&[
                ("EASYTDV_BUCKET", "b"),
                ("EASYTDV_PREFIX", "easytdv/runs/x")
            ]),
            "export EASYTDV_BUCKET='b' EASYTDV_PREFIX='easytdv/runs/x'"
        );
        assert!(prelude(&[("A", "a'b")]).contains(r"'a'\''b'"));
    }

    #[test]
    fn ssm_durations() {
        assert_eq!(duration_seconds("PT0.531S"), Some(0.531));
        assert_eq!(duration_seconds("PT1M2.5S"), Some(62.5));
        assert_eq!(duration_seconds("PT2H"), Some(7200.0));
        assert_eq!(duration_seconds(""), None);
        assert_eq!(duration_seconds("PT1X"), None);
        assert_eq!(duration_seconds("PTS"), None);
    }

    #[test]
    fn tail_prefers_stderr() {
        let o = CommandOutcome {
            command_id: "c".into(),
            status: "Failed".into(),
            exit_code: 1,
            stdout_tail: "out".into(),
            stderr_tail: "a\nb\nc\n".into(),
            machine_seconds: None,
        };
        assert_eq!(tail(&o, 2), "b\nc");
        let o2 = CommandOutcome {
            stderr_tail: " ".into(),
            ..o
        };
        assert_eq!(tail(&o2, 5), "out");
    }
}
