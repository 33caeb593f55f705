//! The run's secrets on their way to the machine: put in Parameter Store
//! (names recorded first, so a crash never forgets one) before the machine
//! starts, and again before a retried training (the keychain's current
//! values); the training command names them, never their values.

use super::Train;
use crate::pipeline::error::PipelineError;
use crate::secrets::parameters;

/// train.sh's exit code when the machine could not read the run's secrets.
pub const SECRETS_UNREADABLE_EXIT: i32 = 81;

impl Train {
    /// Puts the request's secrets in Parameter Store (nothing to do without
    /// any).
    pub(in crate::pipeline) async fn send_secrets(
        &mut self,
        notice: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), PipelineError> {
        if self.request.secrets.is_empty() {
            return Ok(());
        }
        if !self.secrets.matches(&self.request.secrets) {
            return Err(PipelineError::State(format!(
                "the values of the secrets {} were not read from the keychain",
                self.request.secrets.join(", ")
            )));
        }
        let run_id = self.resources.run_id.clone();
        let mut added = false;
        for name in &self.request.secrets {
            let parameter = parameters::parameter_name(&run_id, name);
            if !self.resources.secret_parameters.contains(&parameter) {
                self.resources.secret_parameters.push(parameter);
                added = true;
            }
        }
        if added {
            self.save()?;
        }
        notice(format!(
            "Handing {} to the machine through Parameter Store (encrypted; only this run's machine may read it)",
            self.request.secrets.join(", ")
        ));
        parameters::put(&self.ctx, &run_id, &self.secrets).await?;
        self.secrets_sent = true;
        Ok(())
    }

    /// A machine of the base reads only the secrets tagged with its
    /// `aws:userid` (templates/base.yaml): the run's are tagged for the
    /// current machine before its training command (a new machine's tag
    /// replaces the last one's).
    pub(in crate::pipeline) async fn secrets_for_machine(&self) -> Result<(), PipelineError> {
        match self.resources.machine_userid() {
            Some(userid) if !self.resources.secret_parameters.is_empty() => {
                parameters::tag_for_machine(&self.ctx, &self.resources.secret_parameters, userid)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// The training command's exports for the secrets (a SageMaker job's
    /// Environment): where they are and their names (train.sh, or the
    /// SageMaker launcher, reads the values on the machine).
    pub(in crate::pipeline) fn secret_exports(&self) -> Vec<(&'static str, String)> {
        if self.request.secrets.is_empty() {
            return Vec::new();
        }
        vec![
            (
                "EASYTDV_SECRETS_PATH",
                parameters::run_path(&self.resources.run_id),
            ),
            ("EASYTDV_SECRET_NAMES", self.request.secrets.join(",")),
        ]
    }
}

/// train.sh's refusal: the secrets could not be read on the machine.
pub(super) fn unreadable(exit_code: i32, stderr: &str) -> bool {
    exit_code == SECRETS_UNREADABLE_EXIT
        && stderr
            .lines()
            .any(|l| l.starts_with("easytdv: could not read the run's secrets"))
}
