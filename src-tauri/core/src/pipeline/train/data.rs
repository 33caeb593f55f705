//! The run's data (`request.data`): before the machine trains, the core
//! writes the data manifest (`<run>/data.json`) the machine downloads into
//! `$DATA_DIR`. A folder's files go up as blobs, like the project's (only
//! what the bucket lacks); an S3 location is listed with the person's keys
//! (its region and owner checked) and each object travels as a presigned
//! GET URL, so the machine's role gets no access to the person's buckets.
//! Sent at preparation and again before a retried or late training (a
//! folder changed since, URLs renewed).

use std::time::Duration;

use super::Train;
use crate::data_source::{self, folder, DataSource, MANIFEST_NAME};
use crate::pipeline::error::PipelineError;
use crate::project::{manifest, upload};

/// What was last sent of the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::pipeline) struct DataSent {
    pub manifest_sha256: String,
    /// The data folder's path inside the project, when it is there.
    pub link: Option<String>,
    /// A folder's files as hashed (path, SHA-256, size, mode): what a
    /// SageMaker job rebuilds from its input channel.
    pub folder: Option<manifest::Manifest>,
    /// When: the training's start sends again only what is older than
    /// [`FRESH_FOR`] (a retry, a run that waited; URLs renewed).
    pub at: std::time::Instant,
}

/// Sent at preparation, the data is not sent again when the training starts
/// within this time: listing a large bucket and hashing a large folder twice
/// in a few minutes would only delay the first epoch.
const FRESH_FOR: Duration = Duration::from_secs(30 * 60);

/// How long a presigned URL lives: the machine uses them in the minutes
/// after the training command starts (new ones are made for each try), and
/// a URL copied off the machine must not outlive that by much.
const URL_LIFETIME: Duration = Duration::from_secs(2 * 3600);

impl Train {
    /// Sends the run's data manifest (and a folder's new blobs); `None` when
    /// the run has no data.
    pub(in crate::pipeline) async fn send_data(
        &mut self,
        notice: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), PipelineError> {
        let Some(source) = self.request.data.clone() else {
            return Ok(());
        };
        let (manifest, link, _) = match &source {
            DataSource::Folder { path } => self.send_data_folder(path, notice).await?,
            DataSource::S3 { url } => (self.s3_manifest(url, notice).await?, None, None),
        };
        let key = self.key(MANIFEST_NAME);
        if !self.resources.uploaded_keys.contains(&key) {
            self.resources.uploaded_keys.push(key.clone());
            self.save()?;
        }
        self.bucket()?.put(&key, manifest.to_bytes()).await?;
        self.data_sent = Some(DataSent {
            manifest_sha256: manifest.sha256(),
            link,
            folder: None,
            at: std::time::Instant::now(),
        });
        Ok(())
    }

    /// Sends the data again unless it was sent moments ago (at preparation).
    pub(in crate::pipeline) async fn send_data_if_stale(
        &mut self,
        notice: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), PipelineError> {
        if self
            .data_sent
            .as_ref()
            .is_some_and(|d| d.at.elapsed() < FRESH_FOR)
        {
            return Ok(());
        }
        self.send_data(notice).await
    }

    /// A data folder's new blobs sent (only what the bucket lacks): its data
    /// manifest, its place in the project, and its files as hashed.
    pub(in crate::pipeline) async fn send_data_folder(
        &mut self,
        path: &std::path::Path,
        notice: &(dyn Fn(String) + Send + Sync),
    ) -> Result<
        (
            data_source::DataManifest,
            Option<String>,
            Option<manifest::Manifest>,
        ),
        PipelineError,
    > {
        let dir = path.to_path_buf();
        let selection = tokio::task::spawn_blocking(move || folder::select(&dir))
            .await
            .map_err(|e| {
                PipelineError::State(format!("the data folder could not be read: {e}"))
            })??;
        notice(format!(
            "Checking the data's {} ({})",
            crate::project::words::files(selection.files.len()),
            crate::project::words::bytes(selection.total_bytes())
        ));
        let hashed = selection.clone();
        let built = tokio::task::spawn_blocking(move || {
            let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
            manifest::build_cached(
                &hashed,
                threads,
                &|_| {},
                &crate::project::HashCache::of_this_computer(),
            )
        })
        .await
        .map_err(|e| PipelineError::State(format!("the data folder could not be read: {e}")))??;
        let resume = crate::paths::data_dir().join("uploads");
        // Told every 5 % of the bytes to send (a big dataset takes minutes).
        let told = std::sync::atomic::AtomicU64::new(u64::MAX);
        let progress = |sent: u64, of: u64| {
            if of == 0 {
                return;
            }
            let percent = sent * 100 / of;
            if told.swap(percent / 5, std::sync::atomic::Ordering::Relaxed) != percent / 5 {
                notice(format!(
                    "Sending the data: {} of {} ({percent} %)",
                    crate::project::words::bytes(sent),
                    crate::project::words::bytes(of)
                ));
            }
        };
        let report = upload::send_blobs(
            &self.bucket()?,
            &selection,
            &built,
            &Default::default(),
            Some(&resume),
            &progress,
        )
        .await?;
        notice(format!("Data: {}", report.line()));
        let label = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let root = crate::project::project_root(
            &self.request.script_path,
            self.request.project_dir.as_deref(),
        );
        let link = folder::inside_project(&root, path);
        Ok((folder::data_manifest(label, &built), link, Some(built)))
    }

    /// Records what a SageMaker run sent of its data folder (its launcher
    /// rebuilds the folder from `folder`).
    pub(in crate::pipeline) fn record_data_folder(
        &mut self,
        manifest: &data_source::DataManifest,
        link: Option<String>,
        folder: manifest::Manifest,
    ) {
        self.data_sent = Some(DataSent {
            manifest_sha256: manifest.sha256(),
            link,
            folder: Some(folder),
            at: std::time::Instant::now(),
        });
    }

    /// What was last sent of a data folder, for a SageMaker run's launcher.
    pub(in crate::pipeline) fn data_folder_sent(
        &self,
    ) -> Option<(&manifest::Manifest, Option<&str>)> {
        let sent = self.data_sent.as_ref()?;
        Some((sent.folder.as_ref()?, sent.link.as_deref()))
    }

    async fn s3_manifest(
        &mut self,
        url: &str,
        notice: &(dyn Fn(String) + Send + Sync),
    ) -> Result<data_source::DataManifest, PipelineError> {
        let location = data_source::parse_s3(url)?;
        let account = self.resources.account_id.clone().unwrap_or_default();
        let listing =
            data_source::s3::list(&self.ctx, &account, self.ctx.region(), &location).await?;
        let (manifest, skipped) =
            data_source::s3::manifest(&self.ctx, &listing, URL_LIFETIME).await?;
        notice(format!(
            "Data: {} ({}) in {}, read in place{}",
            crate::project::words::files(manifest.files.len()),
            crate::project::words::bytes(manifest.total_bytes()),
            location.url(),
            if skipped > 0 {
                format!(
                    "; {skipped} {} left out (a name that is not a path, or also a folder's name)",
                    if skipped == 1 { "object" } else { "objects" }
                )
            } else {
                String::new()
            }
        ));
        Ok(manifest)
    }

    /// The training command's exports for the data: its manifest's SHA-256
    /// and where it also goes in the project.
    pub(in crate::pipeline) fn data_exports(&self) -> Vec<(&'static str, String)> {
        let Some(sent) = &self.data_sent else {
            return Vec::new();
        };
        let mut vars = vec![("EASYTDV_DATA_SHA256", sent.manifest_sha256.clone())];
        if let Some(link) = &sent.link {
            vars.push(("EASYTDV_DATA_LINK", link.clone()));
        }
        vars
    }
}
