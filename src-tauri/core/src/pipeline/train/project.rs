//! The run's project: sent at preparation (only the files the bucket does
//! not have yet), sent again before a step when a file changed meanwhile (a
//! retry picks up fixed code), and named to the machine by the manifest's
//! SHA-256.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::Train;
use crate::pipeline::error::PipelineError;
use crate::project::{self, manifest, upload, SendReport, MANIFEST_NAME};

/// What was last sent: the files as they were, and the report.
#[derive(Debug, Clone)]
pub(in crate::pipeline) struct Sent {
    fingerprint: Vec<(String, u64, Option<std::time::SystemTime>)>,
    pub report: SendReport,
}

/// A notebook's executor pins (papermill, ipykernel) the project's
/// requirements do not name, under the run's prefix.
pub(in crate::pipeline) const EXECUTOR_FILE: &str = "notebook-executor.txt";

/// How often (in percent of the bytes) the upload's progress is told.
const TELL_EVERY_PERCENT: u64 = 5;

impl Train {
    /// The manifest's key under the run's prefix.
    pub(in crate::pipeline) fn manifest_key(&self) -> String {
        self.key(MANIFEST_NAME)
    }

    /// Sends the project unless it was sent as it is now; returns what was
    /// sent. The files are selected again first (a file fixed since is sent).
    pub(in crate::pipeline) async fn send_project(
        &mut self,
        notice: &(dyn Fn(String) + Send + Sync),
    ) -> Result<SendReport, PipelineError> {
        let request = self.request.clone();
        let inputs = tokio::task::spawn_blocking(move || {
            let root = project::project_root(&request.script_path, request.project_dir.as_deref());
            project::check(&root, &request.script_path, &request.requirements_path)
        })
        .await
        .map_err(|e| PipelineError::State(format!("the project could not be read: {e}")))??;
        let fingerprint = inputs.selection.fingerprint();
        if let Some(sent) = &self.project_sent {
            if sent.fingerprint == fingerprint {
                return Ok(sent.report.clone());
            }
        }
        self.project = inputs;
        let total = self.project.selection.total_bytes();
        notice(format!(
            "Checking the project's {} ({})",
            project::words::files(self.project.selection.files.len()),
            project::words::bytes(total)
        ));
        let selection = self.project.selection.clone();
        let built = tokio::task::spawn_blocking(move || {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            manifest::build_cached(
                &selection,
                threads,
                &|_| {},
                &crate::project::HashCache::of_this_computer(),
            )
        })
        .await
        .map_err(|e| PipelineError::State(format!("the project could not be read: {e}")))??;

        let key = self.manifest_key();
        if !self.resources.uploaded_keys.contains(&key) {
            self.resources.uploaded_keys.push(key.clone());
            self.save()?;
        }
        let told = Arc::new(AtomicU64::new(u64::MAX));
        let progress = |sent: u64, of: u64| {
            if of == 0 {
                return;
            }
            let percent = sent * 100 / of;
            let step = percent / TELL_EVERY_PERCENT;
            if told.swap(step, Ordering::Relaxed) != step {
                notice(format!(
                    "Sending the project: {} of {} ({percent} %)",
                    project::words::bytes(sent),
                    project::words::bytes(of)
                ));
            }
        };
        let resume = crate::paths::data_dir().join("uploads");
        let report = upload::send(
            &self.bucket()?,
            &self.project.selection,
            &built,
            &key,
            &self.resend,
            Some(&resume),
            &progress,
        )
        .await?;
        self.resend.clear();
        notice(format!("Project: {}", report.line()));
        self.project_sent = Some(Sent {
            fingerprint,
            report: report.clone(),
        });
        Ok(report)
    }

    /// Why a command on the machine failed. When the machine refused files
    /// of the project, the next send (a retry) uploads them again over what
    /// the bucket holds (a refusal never deletes: another run may use them).
    pub(in crate::pipeline) fn command_failure(
        &mut self,
        outcome: &crate::pipeline::model::CommandOutcome,
        step: crate::pipeline::model::Step,
    ) -> PipelineError {
        if let Some((err, blobs)) = super::send::project_refused(outcome) {
            self.resend.extend(blobs);
            // Whatever was sent must be sent again.
            self.project_sent = None;
            return err;
        }
        if step == crate::pipeline::model::Step::Training {
            self.training_failure(outcome)
        } else {
            self.install_failure(outcome)
        }
    }

    /// What the machine's scripts need to materialise the project.
    /// The entry point's path in the project (`EASYTDV_ENTRY`; without a
    /// project sent, its name beside the scripts), and for a notebook whose
    /// requirements are the project's own, the executor's pins beside them.
    pub(in crate::pipeline) fn project_exports(&self) -> Vec<(&'static str, String)> {
        let mut vars = Vec::new();
        let Some(sent) = &self.project_sent else {
            vars.push(("EASYTDV_ENTRY", self.entry.clone()));
            return vars;
        };
        vars.push((
            "EASYTDV_MANIFEST_SHA256",
            sent.report.manifest_sha256.clone(),
        ));
        vars.push(("EASYTDV_ENTRY", self.project.selection.entry.clone()));
        if let Some(rel) = &self.project.requirements {
            vars.push(("EASYTDV_REQUIREMENTS", rel.clone()));
            if self.executor.is_some() {
                vars.push(("EASYTDV_EXTRA_REQUIREMENTS", EXECUTOR_FILE.to_string()));
            }
        }
        vars
    }
}
