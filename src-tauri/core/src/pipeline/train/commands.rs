//! The machine's two commands, sent over SSM and followed live: installing
//! the requirements and running the training (with what a failure says).

use std::time::Duration;

use super::{secrets, send, Train, INSTALL_TIMEOUT};
use crate::logs::LogName;
use crate::pipeline::error::PipelineError;
use crate::pipeline::model::*;
use crate::pipeline::remote;
use crate::pipeline::scripts::Script;
use crate::pipeline::words::last_line;

impl Train {
    /// Starts installing the requirements in a fresh environment; returns the command id.
    pub async fn start_install_requirements(
        &mut self,
        instance_id: &str,
    ) -> Result<String, PipelineError> {
        // Upload again: a retry picks up a fixed requirements.txt.
        let key = self.key("requirements.txt");
        self.bucket()?.put(&key, self.requirements.clone()).await?;
        self.send_project(&|m| tracing::info!(message = m, "project"))
            .await?;
        let comment = format!("easyTDV {}: install requirements", self.resources.run_id);
        let timeout = INSTALL_TIMEOUT.min(self.time_left());
        let id = self
            .send_script(instance_id, Script::Install, &comment, timeout)
            .await?;
        self.resources.install_command_id = Some(id.clone());
        self.save()?;
        Ok(id)
    }

    /// Installs the requirements and waits, showing the installer's output
    /// live; on failure returns its error tail.
    pub async fn install_requirements(
        &mut self,
        instance_id: &str,
    ) -> Result<CommandOutcome, PipelineError> {
        let timer = self.timer(
            Step::Requirements,
            "Creating a Python environment and installing your packages",
        );
        let result = async {
            let cmd = self.start_install_requirements(instance_id).await?;
            let outcome = self
                .follow(&timer, instance_id, &cmd, INSTALL_TIMEOUT, LogName::Install)
                .await;
            self.bring_outputs().await;
            let outcome = outcome?;
            if !outcome.succeeded() {
                if let Some(e) = self.machine_gone(instance_id).await? {
                    return Err(e);
                }
                return Err(self.command_failure(&outcome, Step::Requirements));
            }
            Ok(outcome)
        }
        .await;
        let env = self.summary.environment.clone();
        let python = self.summary.python.clone();
        timer.finish(result, |_| {
            let mut done = "Packages installed".to_string();
            if let Some(p) = python {
                done.push_str(&format!(" (Python {p})"));
            }
            if let Some(e) = env {
                done.push_str(&format!("; {e}"));
            }
            done
        })
    }

    /// Starts `train.py` (or the notebook); returns the command id.
    pub async fn start_run_training(&mut self, instance_id: &str) -> Result<String, PipelineError> {
        // Upload again: a retry picks up a fixed train.py (the project, and
        // the keychain's current secrets).
        let bucket = self.bucket()?;
        bucket
            .put(&self.key(&self.entry), self.script.clone())
            .await?;
        self.send_project(&|m| tracing::info!(message = m, "project"))
            .await?;
        self.send_data_if_stale(&|m| tracing::info!(message = m, "data"))
            .await?;
        if !self.secrets_sent {
            let run_id = self.resources.run_id.clone();
            self.send_secrets(&|m| tracing::info!(run_id, message = m, "secrets"))
                .await?;
        }
        self.secrets_for_machine().await?;
        let comment = format!("easyTDV {}: run {}", self.resources.run_id, self.entry);
        let timeout = self.time_left();
        let id = self
            .send_script(instance_id, Script::Train, &comment, timeout)
            .await?;
        self.resources.training_command_id = Some(id.clone());
        self.save()?;
        Ok(id)
    }

    /// Runs the training and waits, streaming its log and metrics; on
    /// failure returns the traceback tail. Then lists the outputs.
    pub async fn run_training(
        &mut self,
        instance_id: &str,
    ) -> Result<(CommandOutcome, Vec<String>), PipelineError> {
        let timer = self.timer(Step::Training, &format!("Running {}", self.entry));
        let result = async {
            let cmd = self.start_run_training(instance_id).await?;
            let limit = self.time_left() + Duration::from_secs(300);
            let outcome = self
                .follow(&timer, instance_id, &cmd, limit, LogName::Train)
                .await;
            // The environment was saved while the script ran.
            self.keep_saved_environment().await;
            self.bring_outputs().await;
            let outcome = outcome?;
            if !outcome.succeeded() {
                // AWS took the machine (a spot machine taken back): say so.
                if let Some(e) = self.machine_gone(instance_id).await? {
                    return Err(e);
                }
                return Err(self.command_failure(&outcome, Step::Training));
            }
            Ok(outcome)
        }
        .await;
        let latest = self.summary.latest_line.clone();
        let entry = self.entry.clone();
        let outcome = timer.finish(result, |o| {
            format!(
                "{entry} finished: {}",
                latest.unwrap_or_else(|| last_line(&o.stdout_tail))
            )
        })?;
        let timer = self.timer(Step::Outputs, "Listing the outputs");
        let keys = match self.bucket() {
            Ok(b) => b.list_keys(&self.resources.outputs_prefix()).await,
            Err(e) => Err(e),
        };
        let uri = self.outputs_uri();
        let keys = timer.finish(keys, |k| format!("{} output files in {uri}", k.len()))?;
        Ok((outcome, keys))
    }

    /// The end of the stderr the script wrote, from the live log (SSM keeps
    /// only the first 8,000 characters of stderr, and an installer's progress
    /// fills them; the log has it all); SSM's copy when the log has none.
    fn failure_tail(&self, outcome: &CommandOutcome, max_lines: usize) -> String {
        let lines = &self.summary.error_tail;
        if lines.is_empty() {
            remote::tail(outcome, max_lines)
        } else {
            lines[lines.len().saturating_sub(max_lines)..].join("\n")
        }
    }

    pub(super) fn install_failure(&self, o: &CommandOutcome) -> PipelineError {
        send::scripts_refused(o).unwrap_or_else(|| PipelineError::InstallFailed {
            status: o.status.clone(),
            exit_code: o.exit_code,
            tail: self.failure_tail(o, 30),
        })
    }

    /// With the traceback's last frame.
    pub(super) fn training_failure(&self, o: &CommandOutcome) -> PipelineError {
        if secrets::unreadable(o.exit_code, &o.stderr_tail) {
            return PipelineError::SecretsUnreadable {
                tail: remote::tail(o, 10),
            };
        }
        send::scripts_refused(o).unwrap_or_else(|| PipelineError::TrainingFailed {
            status: o.status.clone(),
            exit_code: o.exit_code,
            tail: self.failure_tail(o, 40),
        })
    }
}
