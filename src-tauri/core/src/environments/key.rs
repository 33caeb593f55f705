//! The environment cache's key and the archives the app vouches for.
//!
//! The key is computed here, before the run's stack exists, so that the
//! instance role can be allowed to write exactly `easytdv/cache/<key>.*` and
//! nothing else of the cache. When the machine has saved an archive it prints
//! `easytdv: cache saved <key> <bytes> <sha256> <archive>`; the app records
//! that digest (the history's `env_archives`) and the next run with the same
//! key hands it to the machine, which uses a restored environment only when
//! its bytes have that digest.

use sha2::{Digest, Sha256};

/// The version of the key's text: a new one starts new cache entries.
const KEY_FORMAT: &str = "easytdv-env-cache 2";

/// `requirements.txt` as the key sees it (pip's format): continuation lines
/// joined, comments (`#` at the start or after whitespace) and blank lines
/// dropped, runs of whitespace made one, surrounding whitespace trimmed. The
/// order is kept: uv gives earlier requirements priority. (The machine's
/// helper does the same for the cache's description: `easytdv_helper.py reqs`.)
pub fn normalised_requirements(requirements: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(requirements)
        .replace("\\\r\n", "")
        .replace("\\\n", "");
    text.lines()
        .map(|line| {
            let mut code = line;
            let mut prev_space = true;
            for (i, c) in line.char_indices() {
                if c == '#' && prev_space {
                    code = &line[..i];
                    break;
                }
                prev_space = c.is_whitespace();
            }
            code.split_whitespace().collect::<Vec<_>>().join(" ")
        })
        .filter(|line| !line.is_empty())
        .collect()
}

/// The cache key of these requirements on this machine image with this
/// installer (`uv_pin`: the uv version install.sh pins): 64 lowercase hex
/// digits. The image fixes the architecture and the Python the machine picks.
pub fn cache_key(requirements: &[u8], image_id: &str, uv_pin: &str) -> String {
    let lines = normalised_requirements(requirements);
    let text = format!(
        "{KEY_FORMAT}\nimage {image_id}\ninstaller uv {uv_pin}\nrequirements\n{}\n",
        lines.join("\n")
    );
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An archive the machine saved, as the app records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheArchive {
    pub bucket: String,
    pub key: String,
    /// `<key>.tar.zst` or `<key>.tar.gz`.
    pub archive: String,
    pub sha256: String,
    pub size: u64,
    /// The run that saved it.
    pub run_id: String,
}

impl CacheArchive {
    /// The machine's `cache saved <key> <bytes> <sha256> <archive>` (the text
    /// after `easytdv: `), for a run of `bucket`; `None` for any other line or
    /// a malformed one.
    pub fn from_saved_line(text: &str, bucket: &str, run_id: &str) -> Option<Self> {
        let mut words = text.split_whitespace();
        if (words.next(), words.next()) != (Some("cache"), Some("saved")) {
            return None;
        }
        let (key, size, sha, archive) =
            (words.next()?, words.next()?, words.next()?, words.next()?);
        let hex64 = |s: &str| {
            s.len() == 64
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let archive_ok = archive == format!("{key}.tar.zst") || archive == format!("{key}.tar.gz");
        if words.next().is_some() || !hex64(key) || !hex64(sha) || !archive_ok {
            return None;
        }
        Some(Self {
            bucket: bucket.to_string(),
            key: key.to_string(),
            archive: archive.to_string(),
            sha256: sha.to_string(),
            size: size.parse().ok()?,
            run_id: run_id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_are_normalised_like_the_machines_helper() {
        // The same file as tests/templates' test of `easytdv_helper.py reqs`.
        let text = b"# deps\nnumpy==2.1  # pinned\n\n  requests\\\n>=2\ntorch   >= 2.0\n";
        assert_eq!(
            normalised_requirements(text),
            vec!["numpy==2.1", "requests>=2", "torch >= 2.0"]
        );
        assert_eq!(
            normalised_requirements(b"pkg#egg=x\r\n#only a comment\r\n\t\r\n"),
            vec!["pkg#egg=x"]
        );
        assert!(normalised_requirements(b"").is_empty());
    }

    #[test]
    fn the_key_depends_on_requirements_image_and_installer_not_on_comments() {
        let key = |r: &[u8], image: &str, uv: &str| cache_key(r, image, uv);
        let base = key(b"numpy==2.1\nrequests>=2  # http\n", "ami-1", "0.13.9");
        assert_eq!(base.len(), 64);
        assert!(base
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(
            base,
            key(b"# deps\nnumpy==2.1\n\n  requests>=2\n", "ami-1", "0.13.9")
        );
        assert_eq!(
            base,
            key(b"numpy==2.1\nrequests\\\n>=2\n", "ami-1", "0.13.9")
        );
        // Order kept: uv gives earlier lines priority.
        assert_ne!(base, key(b"requests>=2\nnumpy==2.1\n", "ami-1", "0.13.9"));
        assert_ne!(base, key(b"numpy==2.1\nrequests>=2\n", "ami-2", "0.13.9"));
        assert_ne!(base, key(b"numpy==2.1\nrequests>=2\n", "ami-1", "0.14.0"));
        // A fixed vector: a change of the key's text is a deliberate one.
        assert_eq!(
            key(b"numpy==2.1\n", "ami-0123456789abcdef0", "0.13.9"),
            hex(&Sha256::digest(
                b"easytdv-env-cache 2\nimage ami-0123456789abcdef0\ninstaller uv 0.13.9\nrequirements\nnumpy==2.1\n"
            ))
        );
    }

    #[test]
    fn a_saved_line_is_read_only_when_whole() {
        let (k, s) = ("ab".repeat(32), "cd".repeat(32));
        let line = format!("cache saved {k} 1234 {s} {k}.tar.zst");
        let got = CacheArchive::from_saved_line(&line, "b", "r").expect("a record");
        assert_eq!(
            (got.size, got.sha256.as_str(), got.archive.as_str()),
            (1234, s.as_str(), &*format!("{k}.tar.zst"))
        );
        for bad in [
            format!("cache saved {k} 1234"),
            format!("cache saved {k} 1234 {s} other.tar.zst"),
            format!("cache saved {k} 12x4 {s} {k}.tar.zst"),
            format!("cache saved {k} 1234 {} {k}.tar.zst", "CD".repeat(32)),
            format!("cache saved {k} 1234 {s} {k}.tar.zst and more"),
            format!("cache hit {k} 2026-12-01T10:00:00Z"),
        ] {
            assert_eq!(CacheArchive::from_saved_line(&bad, "b", "r"), None, "{bad}");
        }
    }
}
