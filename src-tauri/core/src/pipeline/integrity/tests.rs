//! The integrity rules over known answers and files with one byte changed.

use super::*;
use aws_smithy_types::base64::encode;

fn digest(a: Algorithm, data: &[u8]) -> Vec<u8> {
    let mut h = a.hasher();
    h.update(data);
    h.finish()
}

fn file(data: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f");
    std::fs::write(&p, data).unwrap();
    (dir, p)
}

fn described(checksum: Option<(Algorithm, String)>, kind: Option<&str>, etag: &str) -> Described {
    Described {
        size: 0,
        etag: etag.into(),
        checksum,
        checksum_type: kind.map(str::to_string),
        etag_not_md5: false,
    }
}

#[test]
fn known_answers() {
    // Check values of the CRC catalogue for "123456789".
    assert_eq!(
        digest(Algorithm::Crc64Nvme, b"123456789"),
        0xAE8B_1486_0A79_9888u64.to_be_bytes()
    );
    assert_eq!(
        digest(Algorithm::Crc32, b"123456789"),
        0xCBF4_3926u32.to_be_bytes()
    );
    assert_eq!(
        digest(Algorithm::Crc32c, b"123456789"),
        0xE306_9283u32.to_be_bytes()
    );
    assert_eq!(
        hex("5d41402abc4b2a76b9719d911017c592").unwrap(),
        digest(Algorithm::Md5, b"hello")
    );
}

#[test]
fn the_best_rule_is_chosen() {
    let crc = encode(0xCBF4_3926u32.to_be_bytes());
    let whole = described(
        Some((Algorithm::Crc32, crc.clone())),
        Some("FULL_OBJECT"),
        "x-3",
    );
    assert!(matches!(
        whole.rule(),
        Rule::Whole {
            algorithm: Algorithm::Crc32,
            ..
        }
    ));
    let parts = described(
        Some((Algorithm::Crc32, format!("{crc}-3"))),
        Some("COMPOSITE"),
        "x",
    );
    assert!(matches!(
        parts.rule(),
        Rule::Parts {
            algorithm: Algorithm::Crc32,
            parts: 3,
            ..
        }
    ));
    // A malformed checksum (moto's 4-byte "CRC64NVME") falls back to the ETag.
    let bad = described(
        Some((Algorithm::Crc64Nvme, crc)),
        None,
        "5d41402abc4b2a76b9719d911017c592",
    );
    assert!(matches!(
        bad.rule(),
        Rule::Whole {
            algorithm: Algorithm::Md5,
            ..
        }
    ));
    let mp = described(None, None, "5d41402abc4b2a76b9719d911017c592-2");
    assert!(matches!(
        mp.rule(),
        Rule::Parts {
            algorithm: Algorithm::Md5,
            parts: 2,
            ..
        }
    ));
    let mut kms = described(None, None, "5d41402abc4b2a76b9719d911017c592");
    kms.etag_not_md5 = true;
    assert_eq!(kms.rule(), Rule::SizeOnly);
    assert_eq!(described(None, None, "").rule(), Rule::SizeOnly);
}

#[test]
fn whole_and_part_digests_are_checked_over_every_byte() {
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 253) as u8).collect();
    let (_d, p) = file(&data);
    let size = data.len() as u64;
    for a in [
        Algorithm::Crc64Nvme,
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Sha1,
        Algorithm::Sha256,
        Algorithm::Md5,
    ] {
        let whole = Rule::Whole {
            algorithm: a,
            digest: digest(a, &data),
        };
        assert_eq!(
            check_file(&p, size, &whole, None).unwrap(),
            Verdict::Same,
            "{a:?}"
        );
        // Parts of 4,000 bytes: 4,000 + 4,000 + 2,000.
        let mut cat = Vec::new();
        for chunk in data.chunks(4_000) {
            cat.extend(digest(a, chunk));
        }
        let parts = Rule::Parts {
            algorithm: a,
            digest: digest(a, &cat),
            parts: 3,
        };
        assert_eq!(
            check_file(&p, size, &parts, Some(4_000)).unwrap(),
            Verdict::Same,
            "{a:?}"
        );
        assert!(matches!(
            check_file(&p, size, &parts, Some(5_000)).unwrap(),
            Verdict::Different(_)
        ));
    }
    // One byte changed anywhere is found.
    let mut bad = data.clone();
    bad[7_777] ^= 1;
    let (_d2, q) = file(&bad);
    let rule = Rule::Whole {
        algorithm: Algorithm::Crc64Nvme,
        digest: digest(Algorithm::Crc64Nvme, &data),
    };
    assert!(matches!(
        check_file(&q, size, &rule, None).unwrap(),
        Verdict::Different(_)
    ));
    assert!(matches!(
        check_file(&q, size + 1, &Rule::SizeOnly, None).unwrap(),
        Verdict::Different(_)
    ));
    assert_eq!(
        check_file(&q, size, &Rule::SizeOnly, None).unwrap(),
        Verdict::SameSize
    );
}
