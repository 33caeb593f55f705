//! What the core sends the machine: the scripts (uploaded under the run's
//! prefix, named by their SHA-256 in a few-line command), the exports they
//! read, and what the app vouches for in the environment cache.

use std::time::Duration;

use super::{Train, CACHE_PREFIX, IDLE_AFTER_FAILURE_MIN};
use crate::environments::{cache_key, CacheArchive};
use crate::pipeline::error::PipelineError;
use crate::pipeline::model::CommandOutcome;
use crate::pipeline::run_args;
use crate::pipeline::scripts::{self, RunFile, Script};
use crate::pipeline::{assets, base, remote};

impl Train {
    /// The environment cache key of these requirements on the run's image.
    pub(in crate::pipeline) fn current_cache_key(&self, image_id: &str) -> String {
        let text =
            crate::project::requirements::for_cache_key(&self.requirements, &self.project.included);
        cache_key(&text, image_id, assets::uv_pin())
    }

    /// The exports the scripts read. Install: the cache key of the
    /// requirements as they are now, the archive recorded for it (the only
    /// one the machine may restore), and whether the run's role may write it
    /// (the stack allows the key of the requirements the run started with).
    fn prelude(&self, script: Script, restore_checkpoints: bool) -> Result<String, PipelineError> {
        let image = self.resources.image_id.clone().unwrap_or_default();
        let owner = self.resources.account_id.clone().unwrap_or_default();
        let idle = IDLE_AFTER_FAILURE_MIN.to_string();
        let mut vars: Vec<(&str, String)> = vec![
            ("EASYTDV_BUCKET", self.resources.bucket.clone()),
            (
                "EASYTDV_PREFIX",
                self.resources.machine_prefix().to_string(),
            ),
            ("EASYTDV_BUCKET_OWNER", owner),
            ("AWS_DEFAULT_REGION", self.ctx.region().to_string()),
            ("EASYTDV_IDLE_AFTER_FAILURE_MIN", idle),
        ];
        if let Some(at) = self.resources.launched_at {
            // The run's own maximum run time (a machine kept warm since an
            // earlier run takes this one's), as seconds from now: the
            // machine adds them to its own clock, not to this computer's.
            let left = at + self.safety_hours() * 3600.0 - super::now_secs() as f64;
            vars.push((
                "EASYTDV_DEADLINE_IN",
                format!("{}", left.max(0.0).floor() as u64),
            ));
        }
        vars.extend(self.project_exports());
        if let (Script::Train, Some(m)) = (script, self.request.keep_warm_minutes) {
            vars.push(("EASYTDV_KEEP_WARM_MIN", m.to_string()));
        }
        if script == Script::Train && self.resources.market.as_deref() == Some("spot") {
            // It watches for AWS's notice, and saves the checkpoints then.
            vars.push(("EASYTDV_SPOT", "1".into()));
        }
        if restore_checkpoints {
            vars.push(("EASYTDV_CHECKPOINTS_RESTORE", "1".into()));
        }
        if script == Script::Train {
            vars.extend(self.secret_exports());
            vars.extend(self.data_exports());
        }
        if script == Script::Install {
            let key = self.current_cache_key(&image);
            let recorded = self.state.cache_archive(&self.resources.bucket, &key)?;
            let may_save = self.resources.cache_key.as_deref() == Some(key.as_str());
            vars.push(("EASYTDV_IMAGE_ID", image));
            vars.push(("EASYTDV_CACHE_PREFIX", CACHE_PREFIX.to_string()));
            if self.resources.machine_userid().is_some() {
                // A machine of the base writes only its own folder: the app
                // copies its save into the cache (keep_saved_environment).
                vars.push((
                    "EASYTDV_CACHE_SAVE_PREFIX",
                    format!("{}/environment", self.resources.machine_prefix()),
                ));
            }
            vars.push(("EASYTDV_CACHE_KEY", key));
            vars.push((
                "EASYTDV_CACHE_SAVE",
                if may_save { "1" } else { "0" }.into(),
            ));
            if let Some(a) = recorded {
                vars.push(("EASYTDV_CACHE_ARCHIVE", a.archive));
                vars.push(("EASYTDV_CACHE_SHA256", a.sha256));
            }
        }
        let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(remote::prelude(&refs))
    }

    /// The run's own files a script reads: train.sh, the script's arguments
    /// and variables (never in the command's text, which SSM keeps).
    fn run_files(&self, script: Script) -> Vec<RunFile> {
        match script {
            Script::Install => Vec::new(),
            Script::Train => vec![RunFile {
                name: run_args::ARGS_FILE,
                body: run_args::args_file(&self.request.args, &self.request.env),
            }],
        }
    }

    /// Uploads the scripts (their keys recorded first) and sends the command
    /// that fetches, checks and runs `script`; returns the command id.
    pub(super) async fn send_script(
        &mut self,
        instance_id: &str,
        script: Script,
        comment: &str,
        timeout: Duration,
    ) -> Result<String, PipelineError> {
        let extra = self.run_files(script);
        let folder = self.resources.machine_prefix().to_string();
        let mut restore = false;
        if folder != self.resources.prefix {
            // The machine reads the run's files only in its own folder.
            let bucket = self.bucket()?;
            base::send_inputs(&bucket, &self.resources.prefix, &folder).await?;
            if script == Script::Train {
                // Checkpoints an earlier machine of the run saved (AWS took
                // it back): train.py finds them in EASYTDV_CHECKPOINT_DIR.
                // (Its outputs first, if the app was closed when it ended.)
                for earlier in self
                    .resources
                    .machine_folders
                    .iter()
                    .filter(|f| **f != folder)
                {
                    base::bring_outputs(&bucket, earlier, &self.resources.prefix).await?;
                }
                restore =
                    base::send_checkpoints(&bucket, &self.resources.prefix, &folder).await? > 0;
            }
        }
        let lines = scripts::command_lines(&self.prelude(script, restore)?, script, &extra)?;
        let mut added = false;
        for key in scripts::keys(&folder, &extra) {
            if !self.resources.uploaded_keys.contains(&key) {
                self.resources.uploaded_keys.push(key);
                added = true;
            }
        }
        if added {
            self.save()?;
        }
        scripts::upload(&self.bucket()?, &folder, &extra).await?;
        remote::send(&self.ctx, instance_id, &lines, comment, timeout).await
    }

    /// A machine's `cache saved …` line: recorded when it is for the key
    /// this run may write (a line of train.py's own, or for another key, is
    /// not the machine's save and is ignored).
    pub(super) fn note_cache_saved(&mut self, text: &str) {
        let r = &self.resources;
        let Some(archive) = CacheArchive::from_saved_line(text, &r.bucket, &r.run_id) else {
            return;
        };
        if !may_record(&archive, r.cache_key.as_deref()) {
            tracing::warn!(
                run_id = self.resources.run_id,
                key = archive.key,
                "a cache save for a key this run may not write: not recorded"
            );
            return;
        }
        if self.resources.machine_userid().is_some() {
            // In the machine's own folder: copied into the cache, then recorded.
            self.saved_environment = Some(archive);
            return;
        }
        if let Err(e) = self.state.record_cache_archive(&archive) {
            tracing::warn!(run_id = self.resources.run_id, error = %e, "could not record the saved environment");
        }
    }

    /// A machine of the base writes its outputs and logs in its own folder:
    /// copied to the run's `outputs/` after each of its commands. A failure
    /// is said in the app's log; the clean-up tries again.
    pub(super) async fn bring_outputs(&self) {
        let folder = self.resources.machine_prefix();
        if folder == self.resources.prefix {
            return;
        }
        let result = match self.bucket() {
            Ok(b) => base::bring_outputs(&b, folder, &self.resources.prefix).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(run_id = self.resources.run_id, error = %e, "could not bring the machine's outputs");
        }
    }

    /// A machine of the base saved the environment in its own folder: the
    /// app copies it into the shared cache (each copy checked against its
    /// source), then records it for the next runs. A failure costs only the
    /// next run's install: said in the app's log, never the run's.
    pub(super) async fn keep_saved_environment(&mut self) {
        let Some(archive) = self.saved_environment.take() else {
            return;
        };
        let folder = format!("{}/environment", self.resources.machine_prefix());
        let copy = async {
            let bucket = self.bucket()?;
            for name in [archive.archive.clone(), format!("{}.json", archive.key)] {
                bucket
                    .copy(
                        &format!("{folder}/{name}"),
                        &format!("{CACHE_PREFIX}/{name}"),
                    )
                    .await?;
            }
            self.state.record_cache_archive(&archive)
        };
        if let Err(e) = copy.await {
            tracing::warn!(run_id = self.resources.run_id, error = %e, "could not keep the saved environment");
        }
    }
}

/// A save is recorded only for the key the run's role may write: a line for
/// another key (train.py printing one) is not the machine's save.
fn may_record(archive: &CacheArchive, own_key: Option<&str>) -> bool {
    own_key == Some(archive.key.as_str())
}

/// fetch.sh's refusal: the scripts could not be fetched or did not match.
pub(super) fn scripts_refused(outcome: &CommandOutcome) -> Option<PipelineError> {
    let said = outcome.stderr_tail.lines().any(|l| {
        l.starts_with("easytdv: could not download the script ")
            || (l.starts_with("easytdv: s3://") && l.contains(" is not the script easyTDV sent "))
    });
    (outcome.exit_code == scripts::REFUSED_EXIT && said).then(|| PipelineError::ScriptsRefused {
        tail: remote::tail(outcome, 10),
    })
}

/// The exit code of install.sh and train.sh when the project in the bucket
/// is not the one the app sent (templates/instance/common.sh).
pub const PROJECT_REFUSED_EXIT: i32 = 82;

/// The machine's refusal of the project: its manifest, or some files, were
/// not the ones sent. Returns the error and the blobs to forget (so the next
/// send uploads them again).
pub(super) fn project_refused(outcome: &CommandOutcome) -> Option<(PipelineError, Vec<String>)> {
    let said = outcome
        .stderr_tail
        .lines()
        .any(|l| l.starts_with("easytdv: the project in the bucket is not the one easyTDV sent"));
    if outcome.exit_code != PROJECT_REFUSED_EXIT || !said {
        return None;
    }
    let mut what = Vec::new();
    let mut blobs = Vec::new();
    for line in outcome.stderr_tail.lines() {
        if let Some(rest) = line.strip_prefix("easytdv: refused s3://") {
            let Some(at) = rest.find("/easytdv/blobs/") else {
                continue;
            };
            let sha: String = rest[at + 15..].chars().take(64).collect();
            if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                blobs.push(sha);
            }
            if let Some(path) = rest
                .split(" (for ")
                .nth(1)
                .and_then(|r| r.split(") is not").next())
            {
                what.push(path.to_string());
            }
        } else if line.contains("/project.json is not the manifest easyTDV sent") {
            what.push("the run's manifest (project.json)".to_string());
        }
    }
    if what.is_empty() {
        what.push("a file of the project".to_string());
    }
    Some((
        PipelineError::ProjectRefused {
            what: what.join(", "),
            tail: remote::tail(outcome, 10),
        },
        blobs,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(code: i32, stderr: &str) -> CommandOutcome {
        CommandOutcome {
            command_id: "c".into(),
            status: "Failed".into(),
            exit_code: code,
            stdout_tail: String::new(),
            stderr_tail: stderr.into(),
            machine_seconds: None,
        }
    }

    #[test]
    fn only_fetch_shs_own_refusal_is_a_refusal() {
        let tampered =
            "easytdv: s3://b/easytdv/runs/r/scripts/install.sh is not the script easyTDV sent \
                        (SHA-256 aa, expected bb): it was not run\n";
        match scripts_refused(&outcome(80, tampered)) {
            Some(PipelineError::ScriptsRefused { tail }) => {
                assert!(tail.contains("not the script"))
            }
            other => panic!("{other:?}"),
        }
        let missing = "easytdv: could not download the script s3://b/p/scripts/common.sh\n";
        assert!(scripts_refused(&outcome(80, missing)).is_some());
        // train.py exiting with 80, or the message with another code: not a refusal.
        assert!(scripts_refused(&outcome(80, "Traceback ...\nSystemExit: 80\n")).is_none());
        assert!(scripts_refused(&outcome(1, tampered)).is_none());
    }

    #[test]
    fn only_the_machines_own_refusal_of_the_project_is_one() {
        let sha = "ab".repeat(32);
        let stderr = format!(
            "easytdv: refused s3://b/easytdv/blobs/{sha} (for data/points.csv) is not the file easyTDV sent (SHA-256 {})\n\
             easytdv: the project was not used\n\
             easytdv: the project in the bucket is not the one easyTDV sent: it was not used\n",
            "cd".repeat(32)
        );
        match project_refused(&outcome(82, &stderr)) {
            Some((PipelineError::ProjectRefused { what, .. }, blobs)) => {
                assert_eq!(what, "data/points.csv");
                assert_eq!(blobs, vec![sha.clone()]);
            }
            other => panic!("{other:?}"),
        }
        // train.py exiting with 82 is its own failure.
        assert!(project_refused(&outcome(82, "Traceback\nSystemExit: 82\n")).is_none());
        assert!(project_refused(&outcome(1, &stderr)).is_none());
        let manifest = "easytdv: s3://b/easytdv/runs/r/project.json is not the manifest easyTDV sent (SHA-256 x, expected y): the project was not used\n\
                        easytdv: the project in the bucket is not the one easyTDV sent: it was not used\n";
        match project_refused(&outcome(82, manifest)) {
            Some((PipelineError::ProjectRefused { what, .. }, blobs)) => {
                assert!(what.contains("manifest") && blobs.is_empty(), "{what}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_save_is_recorded_only_for_the_runs_own_key() {
        let (own, other, sha) = ("ab".repeat(32), "cd".repeat(32), "ef".repeat(32));
        let line = |k: &str| format!("cache saved {k} 10 {sha} {k}.tar.zst");
        let a = CacheArchive::from_saved_line(&line(&own), "b", "r").unwrap();
        assert!(may_record(&a, Some(&own)));
        let b = CacheArchive::from_saved_line(&line(&other), "b", "r").unwrap();
        assert!(!may_record(&b, Some(&own)));
        assert!(!may_record(&a, None));
    }
}
