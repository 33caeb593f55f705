//! The project transfer: which files of the project folder are sent
//! (`select`), the run's manifest of them (`manifest`), their upload to the
//! bucket as content-addressed blobs, sent once and then only when changed
//! (`upload`), and what the person sees before (`summary`). The machine
//! materialises the manifest with the helper's `materialise`
//! (templates/instance/easytdv_helper.py), every blob checked by its
//! SHA-256; SageMaker gets the same files as its `sourcedir.tar.gz`.
//!
//! The EC2 and SageMaker engines and the CLI all go through here.

mod error;
pub mod hash_cache;
pub mod manifest;
mod multipart;
pub mod requirements;
pub mod select;
pub mod summary;
pub mod upload;
pub mod words;

pub use error::ProjectError;
pub use hash_cache::HashCache;
pub use manifest::{Manifest, ManifestFile};
pub use select::{project_root, SelectedFile, Selection};
pub use summary::{check, check_entry, warning, ProjectFile, ProjectInputs, ProjectSummary};
pub use upload::{blob_key, SendReport, BLOB_PREFIX};

/// The manifest's name under the run's prefix.
pub const MANIFEST_NAME: &str = "project.json";
