//! Reading the access-key file the AWS console offers for download.
//!
//! Two layouts exist: `<user>_accessKeys.csv` (`Access key ID,Secret access
//! key`) and the older `new_user_credentials.csv` (`User name,Password,Access
//! key ID,Secret access key,Console login link`). The very old root-user
//! `rootkey.csv` (`AWSAccessKeyId=…` lines) is read too.

use super::error::CsvError;
use crate::secret::Sensitive;

/// The access key ID and secret of the first key in the file.
pub fn parse_credentials_csv(bytes: &[u8]) -> Result<(String, Sensitive), CsvError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CsvError::NotUtf8)?;
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(CsvError::Empty);
    }
    if let Some(pair) = parse_rootkey_lines(text) {
        return Ok(pair);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = reader.records().filter(|r| match r {
        Ok(rec) => rec.iter().any(|f| !f.is_empty()),
        Err(_) => true,
    });
    let header = match rows.next() {
        Some(Ok(rec)) => rec,
        Some(Err(e)) => return Err(malformed(&e)),
        None => return Err(CsvError::Empty),
    };
    let column = |name: &str| header.iter().position(|h| normalize(h) == name);
    let has_password = column("password").is_some();
    let (Some(key_col), Some(secret_col)) = (column("accesskeyid"), column("secretaccesskey"))
    else {
        return Err(if has_password {
            CsvError::PasswordOnly
        } else {
            CsvError::WrongHeaders
        });
    };
    let row = match rows.next() {
        Some(Ok(rec)) => rec,
        Some(Err(e)) => return Err(malformed(&e)),
        None => return Err(CsvError::NoDataRow),
    };
    let key = row.get(key_col).unwrap_or("").to_string();
    let secret = row.get(secret_col).unwrap_or("");
    if key.is_empty() || secret.is_empty() {
        return Err(if has_password {
            CsvError::PasswordOnly
        } else {
            CsvError::NoDataRow
        });
    }
    Ok((key, Sensitive::new(secret)))
}

/// Header cell → comparable form: lower case, no spaces, underscores or dashes.
fn normalize(header: &str) -> String {
    header
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A csv error message never quotes the fields, only positions.
fn malformed(err: &csv::Error) -> CsvError {
    let at = err
        .position()
        .map(|p| format!(" at line {}", p.line()))
        .unwrap_or_default();
    CsvError::Malformed(format!("the CSV structure is broken{at}"))
}

/// `AWSAccessKeyId=AKIA…` / `AWSSecretKey=…` lines (rootkey.csv).
fn parse_rootkey_lines(text: &str) -> Option<(String, Sensitive)> {
    let mut key = None;
    let mut secret = None;
    for line in text.lines() {
        if let Some((name, value)) = line.split_once('=') {
            match normalize(name).as_str() {
                "awsaccesskeyid" => key = Some(value.trim().to_string()),
                "awssecretkey" => secret = Some(Sensitive::new(value.trim())),
                _ => {}
            }
        }
    }
    match (key, secret) {
        (Some(k), Some(s)) if !k.is_empty() && !s.is_empty() => Some((k, s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Explain;

    const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn ok(text: &[u8]) -> (String, String) {
        let (k, s) = parse_credentials_csv(text).expect("parses");
        (k, s.expose().to_string())
    }

    fn err(text: &[u8]) -> CsvError {
        parse_credentials_csv(text).expect_err("rejected")
    }

    #[test]
    fn access_keys_file() {
        let file = format!("Access key ID,Secret access key\n{KEY},{SECRET}\n");
        assert_eq!(ok(file.as_bytes()), (KEY.into(), SECRET.into()));
    }

    #[test]
    fn new_user_credentials_file() {
        let file = format!(
            "User name,Password,Access key ID,Secret access key,Console login link\nalice,,{KEY},{SECRET},https://123456789012.signin.aws.amazon.com/console\n"
        );
        assert_eq!(ok(file.as_bytes()), (KEY.into(), SECRET.into()));
    }

    #[test]
    fn bom_crlf_case_and_spaces() {
        let file = format!("\u{feff}ACCESS KEY ID , secret_access_key\r\n {KEY} , {SECRET} \r\n");
        assert_eq!(ok(file.as_bytes()), (KEY.into(), SECRET.into()));
        let file = format!("accesskeyid,SecretAccessKey\r\n\r\n{KEY},{SECRET}");
        assert_eq!(ok(file.as_bytes()), (KEY.into(), SECRET.into()));
    }

    #[test]
    fn extra_columns_and_rows_take_first_data_row() {
        let file = format!(
            "Secret access key,Status,Access key ID\n{SECRET},Active,{KEY}\nsecond/secret,Active,AKIAZZZZZZZZZZZZZZZZ\n"
        );
        assert_eq!(ok(file.as_bytes()), (KEY.into(), SECRET.into()));
    }

    #[test]
    fn quoted_fields() {
        let file = format!("\"Access key ID\",\"Secret access key\"\n\"{KEY}\",\"{SECRET}\"\n");
        assert_eq!(ok(file.as_bytes()), (KEY.into(), SECRET.into()));
    }

    #[test]
    fn rootkey_file() {
        let file = format!("AWSAccessKeyId={KEY}\r\nAWSSecretKey={SECRET}\r\n");
        assert_eq!(ok(file.as_bytes()), (KEY.into(), SECRET.into()));
    }

    #[test]
    fn empty_file() {
        assert_eq!(err(b""), CsvError::Empty);
        assert_eq!(err(b" \r\n\n"), CsvError::Empty);
        assert_eq!(err("\u{feff}".as_bytes()), CsvError::Empty);
    }

    #[test]
    fn wrong_headers() {
        assert_eq!(
            err(b"name,email\nalice,a@example.com\n"),
            CsvError::WrongHeaders
        );
        assert_eq!(
            err(b"Access key ID\nAKIAIOSFODNN7EXAMPLE\n"),
            CsvError::WrongHeaders
        );
    }

    #[test]
    fn password_only_file() {
        let file = b"User name,Password,Console sign-in URL\nalice,Pa55word!,https://123456789012.signin.aws.amazon.com/console\n";
        assert_eq!(err(file), CsvError::PasswordOnly);
        let file = b"User name,Password,Access key ID,Secret access key,Console login link\nalice,Pa55word!,,,https://x\n";
        assert_eq!(err(file), CsvError::PasswordOnly);
    }

    #[test]
    fn non_utf8_bytes() {
        // UTF-16 LE with BOM, as Excel may save it.
        let utf16: Vec<u8> = "\u{feff}Access key ID"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(err(&utf16), CsvError::NotUtf8);
        assert_eq!(err(&[0xff, 0xfe, 0x41, 0x00]), CsvError::NotUtf8);
    }

    #[test]
    fn header_without_data_row() {
        assert_eq!(
            err(b"Access key ID,Secret access key\n"),
            CsvError::NoDataRow
        );
        assert_eq!(
            err(b"Access key ID,Secret access key\r\n\r\n,\r\n"),
            CsvError::NoDataRow
        );
    }

    #[test]
    fn every_rejection_says_which_file_and_where() {
        for e in [
            CsvError::Empty,
            CsvError::NotUtf8,
            CsvError::PasswordOnly,
            CsvError::WrongHeaders,
            CsvError::NoDataRow,
        ] {
            let hint = e.hint().unwrap_or_default();
            assert!(hint.contains("IAM → Users"), "{hint}");
            assert!(hint.contains("Create access key"), "{hint}");
            assert!(hint.contains("Download .csv file"), "{hint}");
            assert!(e.code().starts_with("csv_"));
        }
        assert!(CsvError::PasswordOnly
            .hint()
            .unwrap_or_default()
            .contains("password"));
    }
}
