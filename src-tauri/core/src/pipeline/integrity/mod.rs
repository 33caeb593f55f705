//! Is a file on disk the object S3 holds? Checked over the whole file, by
//! the best rule the object offers (S3 user guide, "Checking object
//! integrity"; API reference of `GetObject`/`HeadObject`):
//!
//! 1. **A full-object checksum** (`x-amz-checksum-crc64nvme`, `-crc32`,
//!    `-crc32c`, `-sha1`, `-sha256` without a `-N` suffix, type
//!    `FULL_OBJECT`), asked with `ChecksumMode=ENABLED`: every single-request
//!    upload has one, and a multipart upload made with CRC64NVME (S3's
//!    default since Dec 2024 when the uploader gives none), or CRC32/CRC32C
//!    of type `FULL_OBJECT`. Recomputed over the file.
//! 2. **A composite checksum** (`<base64>-<N>`, type `COMPOSITE`: multipart
//!    uploads with SHA-1/SHA-256, or CRC32/CRC32C by default): the checksum of
//!    the concatenated part checksums; the part size is read with
//!    `HeadObject?partNumber=1` and every part but the last is taken to have
//!    it (the AWS CLI, boto3 and the SDKs' transfer managers upload in equal
//!    parts).
//! 3. **The ETag**, only when the object is not encrypted with a KMS key
//!    (SSE-KMS, DSSE-KMS) or a customer key (SSE-C), whose ETags are not MD5
//!    digests: a single-part ETag is the MD5 of the object; a multipart one
//!    (`<hex>-<N>`) is the MD5 of the concatenated part MD5s, parts as in 2.
//! 4. Otherwise (an old KMS-encrypted object without a checksum) only the
//!    size can be checked, and the log says so.
//!
//! A checksum value that is not valid base64 of the algorithm's length is
//! not used (rule 3 or 4 applies).

use std::io::Read;
use std::path::Path;

use aws_smithy_checksums::ChecksumAlgorithm;
use md5::{Digest as _, Md5};

const CHUNK: usize = 1 << 20;

/// An additional checksum algorithm of S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Crc64Nvme,
    Crc32,
    Crc32c,
    Sha1,
    Sha256,
    /// The ETag rule.
    Md5,
}

impl Algorithm {
    fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Md5 => 16,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Md5 => "MD5 (ETag)",
        }
    }

    fn hasher(self) -> Hasher {
        let smithy = match self {
            Algorithm::Md5 => return Hasher::Md5(Md5::new()),
            Algorithm::Crc64Nvme => ChecksumAlgorithm::Crc64Nvme,
            Algorithm::Crc32 => ChecksumAlgorithm::Crc32,
            Algorithm::Crc32c => ChecksumAlgorithm::Crc32c,
            Algorithm::Sha1 => ChecksumAlgorithm::Sha1,
            Algorithm::Sha256 => ChecksumAlgorithm::Sha256,
        };
        Hasher::Smithy(smithy.into_impl())
    }
}

enum Hasher {
    Smithy(Box<dyn aws_smithy_checksums::http::HttpChecksum>),
    Md5(Md5),
}

impl Hasher {
    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Smithy(h) => h.update(bytes),
            Hasher::Md5(h) => h.update(bytes),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Smithy(h) => h.finalize().to_vec(),
            Hasher::Md5(h) => h.finalize().to_vec(),
        }
    }
}

/// What S3 says of an object (from `GetObject` or `HeadObject`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Described {
    pub size: u64,
    /// Without its quotes.
    pub etag: String,
    /// The one additional checksum S3 reports, as it reports it.
    pub checksum: Option<(Algorithm, String)>,
    /// `FULL_OBJECT` or `COMPOSITE`, when S3 says.
    pub checksum_type: Option<String>,
    /// Encrypted with a KMS or customer key: the ETag is not an MD5.
    pub etag_not_md5: bool,
}

/// The rule that applies to an object (see the module's text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    Whole {
        algorithm: Algorithm,
        digest: Vec<u8>,
    },
    Parts {
        algorithm: Algorithm,
        digest: Vec<u8>,
        parts: u64,
    },
    SizeOnly,
}

impl Rule {
    /// Rules 2 and 3 over parts need the size of the first part.
    pub fn needs_part_size(&self) -> bool {
        matches!(self, Rule::Parts { .. })
    }

    pub fn describe(&self) -> String {
        match self {
            Rule::Whole { algorithm, .. } => format!("{} of the whole file", algorithm.name()),
            Rule::Parts {
                algorithm, parts, ..
            } => format!("{} of {parts} parts", algorithm.name()),
            Rule::SizeOnly => "size only".into(),
        }
    }
}

fn decode(value: &str, algorithm: Algorithm) -> Option<Vec<u8>> {
    let bytes = aws_smithy_types::base64::decode(value).ok()?;
    (bytes.len() == algorithm.digest_len()).then_some(bytes)
}

fn hex(value: &str) -> Option<Vec<u8>> {
    if value.len() != 32 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..16)
        .map(|i| u8::from_str_radix(&value[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// `<value>-<N>` → (value, N).
fn split_parts(value: &str) -> Option<(&str, u64)> {
    let (v, n) = value.rsplit_once('-')?;
    let n: u64 = n.parse().ok()?;
    (n >= 1).then_some((v, n))
}

impl Described {
    /// The best rule this object offers.
    pub fn rule(&self) -> Rule {
        if let Some((algorithm, value)) = &self.checksum {
            let composite = self.checksum_type.as_deref() == Some("COMPOSITE");
            match split_parts(value) {
                Some((v, parts)) => {
                    if let Some(digest) = decode(v, *algorithm) {
                        return Rule::Parts {
                            algorithm: *algorithm,
                            digest,
                            parts,
                        };
                    }
                }
                None if !composite => {
                    if let Some(digest) = decode(value, *algorithm) {
                        return Rule::Whole {
                            algorithm: *algorithm,
                            digest,
                        };
                    }
                }
                None => {}
            }
            tracing::warn!(
                algorithm = algorithm.name(),
                value,
                "S3 reported a checksum that cannot be used"
            );
        }
        if !self.etag_not_md5 {
            if let Some(digest) = hex(&self.etag) {
                return Rule::Whole {
                    algorithm: Algorithm::Md5,
                    digest,
                };
            }
            if let Some((v, parts)) = split_parts(&self.etag) {
                if let Some(digest) = hex(v) {
                    return Rule::Parts {
                        algorithm: Algorithm::Md5,
                        digest,
                        parts,
                    };
                }
            }
        }
        Rule::SizeOnly
    }
}

/// The verdict on a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Same size and same digest.
    Same,
    /// Same size; nothing else could be checked.
    SameSize,
    Different(String),
}

/// Reads the whole file and checks it against `rule` (blocking: call it
/// from `spawn_blocking`). `part_size` is needed by [`Rule::Parts`].
pub fn check_file(
    path: &Path,
    size: u64,
    rule: &Rule,
    part_size: Option<u64>,
) -> std::io::Result<Verdict> {
    let len = std::fs::metadata(path)?.len();
    if len != size {
        return Ok(Verdict::Different(format!("{len} bytes instead of {size}")));
    }
    let mut file = std::fs::File::open(path)?;
    match rule {
        Rule::SizeOnly => Ok(Verdict::SameSize),
        Rule::Whole { algorithm, digest } => {
            let mut h = algorithm.hasher();
            let mut buf = vec![0; CHUNK];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            Ok(compare(&h.finish(), digest, algorithm.name()))
        }
        Rule::Parts {
            algorithm,
            digest,
            parts,
        } => {
            let Some(part) = part_size.filter(|p| *p > 0) else {
                return Ok(Verdict::Different("the part size is unknown".into()));
            };
            let counted = size.div_ceil(part).max(1);
            if counted != *parts {
                return Ok(Verdict::Different(format!(
                    "{parts} parts of {part} bytes cannot make {size} bytes"
                )));
            }
            let mut all = algorithm.hasher();
            let mut buf = vec![0; CHUNK];
            for i in 0..*parts {
                let mut in_part = if i + 1 == *parts {
                    size - part * (parts - 1)
                } else {
                    part
                };
                let mut h = algorithm.hasher();
                while in_part > 0 {
                    let want = usize::try_from(in_part.min(CHUNK as u64)).unwrap_or(CHUNK);
                    let n = file.read(&mut buf[..want])?;
                    if n == 0 {
                        return Ok(Verdict::Different("the file ended early".into()));
                    }
                    h.update(&buf[..n]);
                    in_part -= n as u64;
                }
                all.update(&h.finish());
            }
            Ok(compare(&all.finish(), digest, algorithm.name()))
        }
    }
}

fn compare(got: &[u8], want: &[u8], name: &str) -> Verdict {
    if got == want {
        Verdict::Same
    } else {
        Verdict::Different(format!("its {name} is not the object's"))
    }
}

#[cfg(test)]
mod tests;
