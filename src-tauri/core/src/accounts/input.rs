//! Checking what the user typed: names, access keys, regions, endpoints.
//! Messages never repeat a secret, not even in part.

use super::error::AccountError;
use crate::secret::Sensitive;

/// Longest account name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

const KEY_ID_LEN: usize = 20;

/// Splits a pasted `AKIA…,secret` pair (comma, tab, semicolon or spaces
/// between them, as copied from the console or a CSV line). `None` when the
/// text is not such a pair.
pub fn split_pasted_pair(text: &str) -> Option<(String, Sensitive)> {
    let text = text.trim();
    let cut = text.find(|c: char| c == ',' || c == ';' || c.is_whitespace())?;
    let key = text[..cut].trim();
    let rest = text[cut..].trim_start_matches(|c: char| c == ',' || c == ';' || c.is_whitespace());
    let secret = rest.trim();
    let key_upper = key.to_ascii_uppercase();
    if !(key_upper.starts_with("AKIA") || key_upper.starts_with("ASIA")) || secret.is_empty() {
        return None;
    }
    // A secret has no separators inside; anything else is not a pair.
    if secret.contains(|c: char| c == ',' || c == ';' || c.is_whitespace()) {
        return None;
    }
    Some((key.to_string(), Sensitive::new(secret)))
}

/// The key id and secret to store: trimmed, a pasted pair recognised, both
/// validated.
pub fn normalize_keys(
    access_key_id: &str,
    secret: &Sensitive,
) -> Result<(String, Sensitive), AccountError> {
    let (key, secret) = match split_pasted_pair(access_key_id) {
        Some(pair) if secret.expose().trim().is_empty() => pair,
        _ => (
            access_key_id.trim().to_string(),
            Sensitive::new(secret.expose().trim()),
        ),
    };
    validate_key_id(&key)?;
    validate_secret(&secret)?;
    Ok((key, secret))
}

/// An access key ID is `AKIA` (long-term) or `ASIA` (temporary) followed by
/// 16 upper-case letters or digits.
pub fn validate_key_id(key: &str) -> Result<(), AccountError> {
    let invalid = |reason: &str| AccountError::KeyIdInvalid {
        reason: reason.to_string(),
    };
    if key.is_empty() {
        return Err(AccountError::KeyIdEmpty);
    }
    let starts_ok = key.starts_with("AKIA") || key.starts_with("ASIA");
    if !starts_ok && key.len() == 40 {
        return Err(invalid(
            "this looks like the secret access key; put it in the secret field and the key ID (AKIA…) here",
        ));
    }
    if !starts_ok {
        let upper = key.to_ascii_uppercase();
        if upper.starts_with("AKIA") || upper.starts_with("ASIA") {
            return Err(invalid("it must be in capital letters"));
        }
        return Err(invalid("it must start with AKIA or ASIA"));
    }
    if key.chars().count() != KEY_ID_LEN {
        return Err(invalid(&format!(
            "it must be {KEY_ID_LEN} characters long, this one has {}",
            key.chars().count()
        )));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(invalid("it may only hold capital letters and digits"));
    }
    Ok(())
}

/// A secret access key is not empty, has no spaces and is not a key ID.
pub fn validate_secret(secret: &Sensitive) -> Result<(), AccountError> {
    let s = secret.expose();
    if s.is_empty() {
        return Err(AccountError::SecretEmpty);
    }
    if s.chars().any(char::is_whitespace) {
        return Err(AccountError::SecretInvalid {
            reason: "it contains spaces".into(),
        });
    }
    if validate_key_id(s).is_ok() {
        return Err(AccountError::SecretInvalid {
            reason: "this is an access key ID (AKIA…), not the secret that goes with it".into(),
        });
    }
    Ok(())
}

/// `AKIAIOSFODNN7EXAMPLE` → `AKIA…MPLE`. Short input is fully hidden.
pub fn mask_key_id(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "…".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// A trimmed, non-empty name of at most 64 characters, not used by another
/// account (case-insensitive). `others` are the names of the other accounts.
pub fn validate_name<'a>(
    name: &str,
    others: impl IntoIterator<Item = &'a str>,
) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AccountError::NameEmpty);
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AccountError::NameTooLong {
            max: MAX_NAME_CHARS,
        });
    }
    if others
        .into_iter()
        .any(|o| o.trim().to_lowercase() == name.to_lowercase())
    {
        return Err(AccountError::NameTaken(name.to_string()));
    }
    Ok(name.to_string())
}

/// A trimmed region code.
pub fn validate_region(region: &str) -> Result<String, AccountError> {
    let region = region.trim();
    if !crate::aws::is_region_code(region) {
        return Err(AccountError::RegionInvalid(region.to_string()));
    }
    Ok(region.to_string())
}

/// A trimmed http(s) URL without a trailing slash.
/// A sandbox address: `http://` on this computer (the sandbox runs code as
/// the user; one elsewhere would receive their scripts).
pub fn validate_endpoint(endpoint: &str) -> Result<String, AccountError> {
    let url = endpoint.trim().trim_end_matches('/');
    match crate::aws::sandbox::loopback_authority(url) {
        Ok(_) => Ok(url.to_string()),
        Err(e @ crate::aws::AwsError::NotLoopback(_)) => Err(AccountError::Sandbox(e)),
        Err(_) => Err(AccountError::EndpointInvalid(url.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Explain;

    const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[test]
    fn pasted_pair_is_recognised() {
        for text in [
            format!("{KEY},{SECRET}"),
            format!("  {KEY} , {SECRET}\n"),
            format!("{KEY}\t{SECRET}"),
            format!("{KEY};{SECRET}"),
            format!("{KEY} {SECRET}"),
        ] {
            let (k, s) = split_pasted_pair(&text).expect("pair");
            assert_eq!(k, KEY);
            assert_eq!(s.expose(), SECRET);
        }
    }

    #[test]
    fn not_a_pasted_pair() {
        assert!(split_pasted_pair(KEY).is_none());
        assert!(split_pasted_pair(&format!("{KEY},")).is_none());
        assert!(split_pasted_pair(&format!("hello,{SECRET}")).is_none());
        assert!(split_pasted_pair(&format!("{KEY},{SECRET},extra")).is_none());
        assert!(split_pasted_pair("").is_none());
    }

    #[test]
    fn normalize_trims_and_splits() {
        let (k, s) = normalize_keys(&format!(" {KEY},{SECRET} "), &Sensitive::new("")).unwrap();
        assert_eq!((k.as_str(), s.expose()), (KEY, SECRET));
        let (k, s) = normalize_keys(
            &format!("  {KEY}\n"),
            &Sensitive::new(format!(" {SECRET}\t")),
        )
        .unwrap();
        assert_eq!((k.as_str(), s.expose()), (KEY, SECRET));
    }

    #[test]
    fn key_id_shapes() {
        assert!(validate_key_id(KEY).is_ok());
        assert!(validate_key_id("ASIAIOSFODNN7EXAMPLE").is_ok());
        let code = |k: &str| validate_key_id(k).map_err(|e| e.code()).err();
        assert_eq!(code(""), Some("access_key_id_empty"));
        assert_eq!(code("AKIA123"), Some("access_key_id_invalid"));
        assert_eq!(code("akiaiosfodnn7example"), Some("access_key_id_invalid"));
        assert_eq!(code("AKIAIOSFODNN7EXAMPL-"), Some("access_key_id_invalid"));
        assert_eq!(code("XKIAIOSFODNN7EXAMPLE"), Some("access_key_id_invalid"));
        assert_eq!(code("AKIAIOSFODNN7EXAMPLEX"), Some("access_key_id_invalid"));
    }

    #[test]
    fn key_id_messages_are_clear_and_never_echo_a_secret() {
        let err = validate_key_id(SECRET).unwrap_err();
        let text = format!("{err} {err:?} {}", err.hint().unwrap_or_default());
        assert!(text.contains("secret"), "{text}");
        assert!(!text.contains("wJalr") && !text.contains("EKEY"), "{text}");
        assert!(validate_key_id("akiaiosfodnn7example")
            .unwrap_err()
            .to_string()
            .contains("capital"));
        assert!(validate_key_id("AKIA123")
            .unwrap_err()
            .to_string()
            .contains("20 characters"));
    }

    #[test]
    fn secret_checks() {
        assert!(validate_secret(&Sensitive::new(SECRET)).is_ok());
        let code = |s: &str| {
            validate_secret(&Sensitive::new(s))
                .map_err(|e| e.code())
                .err()
        };
        assert_eq!(code(""), Some("secret_key_empty"));
        assert_eq!(code("abc def"), Some("secret_key_invalid"));
        assert_eq!(code(KEY), Some("secret_key_invalid"));
        let err = normalize_keys(KEY, &Sensitive::new("   ")).unwrap_err();
        assert_eq!(err.code(), "secret_key_empty");
    }

    #[test]
    fn masking() {
        assert_eq!(mask_key_id(KEY), "AKIA…MPLE");
        assert_eq!(mask_key_id("AKIA1234"), "…");
        assert_eq!(mask_key_id(""), "…");
    }

    #[test]
    fn names() {
        assert_eq!(validate_name("  Work  ", ["Home"]).unwrap(), "Work");
        assert_eq!(
            validate_name("  ", []).unwrap_err().code(),
            "account_name_empty"
        );
        assert_eq!(
            validate_name(&"é".repeat(64), []).unwrap().chars().count(),
            64
        );
        assert_eq!(
            validate_name(&"x".repeat(65), []).unwrap_err().code(),
            "account_name_too_long"
        );
        assert_eq!(
            validate_name("work", ["Work"]).unwrap_err().code(),
            "account_name_taken"
        );
    }

    #[test]
    fn regions_and_endpoints() {
        assert_eq!(validate_region(" eu-west-3 ").unwrap(), "eu-west-3");
        assert_eq!(
            validate_region("Paris").unwrap_err().code(),
            "region_invalid"
        );
        assert_eq!(
            validate_endpoint("http://127.0.0.1:5000/").unwrap(),
            "http://127.0.0.1:5000"
        );
        // Attack: a "sandbox" elsewhere would receive the user's scripts.
        for remote in [
            "http://sandbox.local:4566",
            "http://10.0.0.2:4566",
            "http://127.0.0.1.nip.io:80",
        ] {
            assert_eq!(
                validate_endpoint(remote).unwrap_err().code(),
                "sandbox_not_loopback",
                "{remote}"
            );
        }
        for bad in [
            "127.0.0.1:5000",
            "http://",
            "ftp://x",
            "",
            "https://127.0.0.1:4566",
        ] {
            assert_eq!(
                validate_endpoint(bad).unwrap_err().code(),
                "sandbox_endpoint_invalid",
                "{bad}"
            );
        }
    }
}
