//! An existing S3 location as a run's data: checked (it exists, it is in
//! the run's region, it belongs to this account, these keys may list it)
//! and listed before anything is created; each object then travels to the
//! machine as a presigned GET URL made with the person's keys.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::manifest::{DataFile, DataManifest, MAX_FILES};
use super::{DataError, S3Location};
use crate::aws::failure::{self, FailureKind};
use crate::aws::AwsContext;

/// The longest a presigned URL may live (SigV4: 7 days).
pub const MAX_URL_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// One object of the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
}

/// What a listing found.
#[derive(Debug, Clone)]
pub struct Listing {
    pub location: S3Location,
    pub objects: Vec<S3Object>,
}

impl Listing {
    pub fn total_bytes(&self) -> u64 {
        self.objects.iter().map(|o| o.size).sum()
    }
}

/// S3's name for a bucket's region: `null` is us-east-1, `EU` eu-west-1.
pub fn bucket_region(constraint: Option<&str>) -> String {
    match constraint.unwrap_or("") {
        "" => "us-east-1".to_string(),
        "EU" => "eu-west-1".to_string(),
        other => other.to_string(),
    }
}

pub(crate) fn sdk_error<E>(
    url: &str,
    bucket: &str,
    err: aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> DataError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    // HeadObject's refusal has no body: its status says it.
    let status = match &err {
        aws_sdk_s3::error::SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
        _ => None,
    };
    let found = failure::classify(&err);
    if status == Some(403) {
        return DataError::NotReadable {
            url: url.to_string(),
            message: found.code.unwrap_or_else(|| "403 Forbidden".into()),
        };
    }
    if found.code.as_deref() == Some("NoSuchBucket") {
        return DataError::NoBucket {
            bucket: bucket.to_string(),
        };
    }
    match found.kind {
        FailureKind::Denied => DataError::NotReadable {
            url: url.to_string(),
            message: found.message,
        },
        FailureKind::Unreachable => DataError::Unreachable {
            url: url.to_string(),
            message: found.message,
        },
        _ => DataError::Aws {
            url: url.to_string(),
            message: found.message,
        },
    }
}

/// Checks the location and lists its objects (folder markers left out):
/// the bucket must be this account's (`ExpectedBucketOwner`) and in `region`.
pub async fn list(
    ctx: &AwsContext,
    account_id: &str,
    region: &str,
    location: &S3Location,
) -> Result<Listing, DataError> {
    let url = location.url();
    let s3 = ctx.s3();
    let where_ = s3
        .get_bucket_location()
        .bucket(&location.bucket)
        .expected_bucket_owner(account_id)
        .send()
        .await
        .map_err(|e| sdk_error(&url, &location.bucket, e))?;
    let bucket_region = bucket_region(where_.location_constraint().map(|c| c.as_str()));
    if bucket_region != region {
        return Err(DataError::OtherRegion {
            bucket: location.bucket.clone(),
            bucket_region,
            region: region.to_string(),
        });
    }
    let mut objects = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&location.bucket)
        .prefix(&location.prefix)
        .expected_bucket_owner(account_id)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error(&url, &location.bucket, e))?;
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            let size = o.size().unwrap_or(0).max(0) as u64;
            if key.ends_with('/') && size == 0 {
                continue; // the console's "folder"
            }
            // Archived objects cannot be read until they are restored (a GET
            // answers InvalidObjectState): told now, not on a paid machine.
            if let Some(class) = o.storage_class() {
                if matches!(class.as_str(), "GLACIER" | "DEEP_ARCHIVE") {
                    return Err(DataError::Archived {
                        url,
                        key: key.to_string(),
                        class: class.as_str().to_string(),
                    });
                }
            }
            objects.push(S3Object {
                key: key.to_string(),
                size,
                etag: o.e_tag().map(|t| t.trim_matches('"').to_string()),
            });
            if objects.len() > MAX_FILES {
                return Err(DataError::TooManyFiles {
                    url,
                    max: MAX_FILES,
                });
            }
        }
    }
    if objects.is_empty() {
        return Err(DataError::EmptyPrefix { url });
    }
    // Listing is one permission, reading another (s3:GetObject): a URL these
    // keys sign is only as good as what they may read, so one object is read
    // now, before a machine waits on a refusal.
    s3.head_object()
        .bucket(&location.bucket)
        .key(&objects[0].key)
        .expected_bucket_owner(account_id)
        .send()
        .await
        .map_err(|e| sdk_error(&url, &location.bucket, e))?;
    Ok(Listing {
        location: location.clone(),
        objects,
    })
}

/// The path of an object under `$DATA_DIR`: its key after the prefix, when
/// that is a path the machine may write (else the object is left out).
pub fn data_path(prefix: &str, key: &str) -> Option<String> {
    let rel = key.strip_prefix(prefix)?;
    crate::project::manifest::safe_path(rel).then(|| rel.to_string())
}

/// Every folder the paths need (`a/b/c` needs `a` and `a/b`).
fn folders_of<'a>(paths: impl Iterator<Item = &'a String>) -> HashSet<&'a str> {
    let mut folders = HashSet::new();
    for p in paths {
        let mut end = 0;
        while let Some(i) = p[end..].find('/') {
            folders.insert(&p[..end + i]);
            end += i + 1;
        }
    }
    folders
}

/// An ETag that may be the object's MD5 (one part: 32 hex digits).
fn md5_like(etag: &Option<String>) -> Option<String> {
    etag.as_ref()
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|t| t.to_ascii_lowercase())
}

/// The data manifest of a listing: one presigned GET per object, valid for
/// `lifetime` (at most [`MAX_URL_LIFETIME`]). Keys that are not a safe path
/// under the prefix are counted in the second value and left out.
pub async fn manifest(
    ctx: &AwsContext,
    listing: &Listing,
    lifetime: Duration,
) -> Result<(DataManifest, usize), DataError> {
    let url = listing.location.url();
    let config = PresigningConfig::expires_in(lifetime.min(MAX_URL_LIFETIME)).map_err(|e| {
        DataError::Aws {
            url: url.clone(),
            message: e.to_string(),
        }
    })?;
    let s3 = ctx.s3();
    let mut files = Vec::with_capacity(listing.objects.len());
    let paths: Vec<Option<String>> = listing
        .objects
        .iter()
        .map(|o| data_path(&listing.location.prefix, &o.key))
        .collect();
    let folders = folders_of(paths.iter().flatten());
    let mut skipped = 0;
    for (o, path) in listing.objects.iter().zip(&paths) {
        // A key that is also another key's folder (`a` and `a/b`) cannot be
        // both a file and a folder on the machine: the folder wins.
        let Some(path) = path.clone().filter(|p| !folders.contains(p.as_str())) else {
            skipped += 1;
            continue;
        };
        let signed = s3
            .get_object()
            .bucket(&listing.location.bucket)
            .key(&o.key)
            .presigned(config.clone())
            .await
            .map_err(|e| DataError::Aws {
                url: url.clone(),
                message: e.to_string(),
            })?;
        files.push(DataFile {
            path,
            size: o.size,
            sha256: None,
            url: Some(signed.uri().to_string()),
            etag: md5_like(&o.etag),
            version: o.etag.clone(),
        });
    }
    if files.is_empty() {
        return Err(DataError::EmptyPrefix { url });
    }
    Ok((DataManifest::new(url, files), skipped))
}

#[cfg(test)]
mod tests {
    use super::folders_of;

    #[test]
    fn every_folder_a_path_needs_is_named() {
        let paths = [
            "a/b/c.csv".to_string(),
            "d.csv".to_string(),
            "a/e".to_string(),
        ];
        let mut got: Vec<&str> = folders_of(paths.iter()).into_iter().collect();
        got.sort_unstable();
        assert_eq!(got, ["a", "a/b"]);
    }
}
