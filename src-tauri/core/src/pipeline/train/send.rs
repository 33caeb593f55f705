//! What the core sends the machine: the scripts (uploaded under the run's
//! prefix, named by their SHA-256 in a few-line command), the exports they
//! read, and what the app vouches for in the environment cache.

use std::time::Duration;

use super::{Train, CACHE_PREFIX, IDLE_AFTER_FAILURE_MIN};
use crate::environments::{cache_key, CacheArchive};
use crate::pipeline::error::PipelineError;
use crate::pipeline::model::CommandOutcome;
use crate::pipeline::scripts::{self, Script};
use crate::pipeline::{assets, remote};

impl Train {
    /// The environment cache key of these requirements on the run's image.
    pub(in crate::pipeline) fn current_cache_key(&self, image_id: &str) -> String {
        cache_key(&self.requirements, image_id, assets::uv_pin())
    }

    /// The exports the scripts read. Install: the cache key of the
    /// requirements as they are now, the archive recorded for it (the only
    /// one the machine may restore), and whether the run's role may write it
    /// (the stack allows the key of the requirements the run started with).
    fn prelude(&self, script: Script) -> Result<String, PipelineError> {
        let image = self.resources.image_id.clone().unwrap_or_default();
        let owner = self.resources.account_id.clone().unwrap_or_default();
        let idle = IDLE_AFTER_FAILURE_MIN.to_string();
        let mut vars: Vec<(&str, String)> = vec![
            ("EASYTDV_BUCKET", self.resources.bucket.clone()),
            ("EASYTDV_PREFIX", self.resources.prefix.clone()),
            ("EASYTDV_BUCKET_OWNER", owner),
            ("AWS_DEFAULT_REGION", self.ctx.region().to_string()),
            ("EASYTDV_IDLE_AFTER_FAILURE_MIN", idle),
        ];
        if script == Script::Install {
            let key = self.current_cache_key(&image);
            let recorded = self.state.cache_archive(&self.resources.bucket, &key)?;
            let may_save = self.resources.cache_key.as_deref() == Some(key.as_str());
            vars.push(("EASYTDV_IMAGE_ID", image));
            vars.push(("EASYTDV_CACHE_PREFIX", CACHE_PREFIX.to_string()));
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

    /// Uploads the scripts (their keys recorded first) and sends the command
    /// that fetches, checks and runs `script`; returns the command id.
    pub(super) async fn send_script(
        &mut self,
        instance_id: &str,
        script: Script,
        comment: &str,
        timeout: Duration,
    ) -> Result<String, PipelineError> {
        let lines = scripts::command_lines(&self.prelude(script)?, script)?;
        let mut added = false;
        for key in scripts::keys(&self.resources.prefix) {
            if !self.resources.uploaded_keys.contains(&key) {
                self.resources.uploaded_keys.push(key);
                added = true;
            }
        }
        if added {
            self.save()?;
        }
        scripts::upload(&self.bucket()?, &self.resources.prefix).await?;
        remote::send(&self.ctx, instance_id, &lines, comment, timeout).await
    }

    /// A machine's `cache saved …` line: recorded when it is for the key
    /// this run may write (a line of train.py's own, or for another key, is
    /// not the machine's save and is ignored).
    pub(super) fn note_cache_saved(&self, text: &str) {
        let Some(archive) =
            CacheArchive::from_saved_line(text, &self.resources.bucket, &self.resources.run_id)
        else {
            return;
        };
        if self.resources.cache_key.as_deref() != Some(archive.key.as_str()) {
            tracing::warn!(
                run_id = self.resources.run_id,
                key = archive.key,
                "a cache save for a key this run may not write: not recorded"
            );
            return;
        }
        if let Err(e) = self.state.record_cache_archive(&archive) {
            tracing::warn!(run_id = self.resources.run_id, error = %e, "could not record the saved environment");
        }
    }
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
