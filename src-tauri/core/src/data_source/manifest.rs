//! The data manifest the machine reads (`<run>/data.json`): each file's
//! path under `$DATA_DIR`, its size, and where it comes from: a blob of the
//! run's bucket (`sha256`, checked as it comes) or a presigned GET URL of
//! the person's S3 location (`url`: the size is checked, and the MD5 where S3
//! says the ETag is one).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The format the machine's helper reads.
pub const FORMAT: u32 = 1;
/// The most files a data source may hold (the manifest stays a few tens of MB).
pub const MAX_FILES: usize = 100_000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DataFile {
    pub path: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The object's ETag when it may be its MD5 (one part): the machine
    /// compares it unless S3 says the object is encrypted with KMS or SSE-C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The ETag S3 listed, whatever its form: the machine asks for that
    /// version only (If-Match), and a retry keeps its copy only while the
    /// version is the same (an object replaced by one of the same size is
    /// fetched again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DataManifest {
    pub format: u32,
    /// What the person chose (a folder's name or the S3 URL), for the log.
    pub source: String,
    pub files: Vec<DataFile>,
}

impl DataManifest {
    pub fn new(source: String, mut files: Vec<DataFile>) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Self {
            format: FORMAT,
            source,
            files,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain strings and numbers: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn sha256(&self) -> String {
        crate::project::manifest::hex(&Sha256::digest(self.to_bytes()))
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}
