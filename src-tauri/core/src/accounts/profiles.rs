//! Finding the AWS CLI profiles of this user: section names of
//! `~/.aws/config` and `~/.aws/credentials` (or the files named by
//! `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`), their `region` and
//! whether they sign in with SSO. Only names and those settings are kept;
//! no other value of either file is ever returned.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::model::ProfileInfo;

/// The profiles of this user, `default` first, then by name.
pub fn detect_profiles() -> Vec<ProfileInfo> {
    detect_profiles_in(config_path().as_deref(), credentials_path().as_deref())
}

/// The config file path (`AWS_CONFIG_FILE` or `~/.aws/config`).
pub fn config_path() -> Option<PathBuf> {
    file_from_env("AWS_CONFIG_FILE", "config")
}

/// The credentials file path (`AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`).
pub fn credentials_path() -> Option<PathBuf> {
    file_from_env("AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

fn file_from_env(var: &str, default_name: &str) -> Option<PathBuf> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(expand_home(value.trim())),
        _ => dirs::home_dir().map(|h| h.join(".aws").join(default_name)),
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

#[derive(Default)]
struct Found {
    region: Option<String>,
    is_sso: bool,
}

/// Profiles of the given files; a missing or unreadable file adds nothing.
pub fn detect_profiles_in(config: Option<&Path>, credentials: Option<&Path>) -> Vec<ProfileInfo> {
    let mut found: BTreeMap<String, Found> = BTreeMap::new();
    if let Some(path) = config {
        scan(path, true, &mut found);
    }
    if let Some(path) = credentials {
        scan(path, false, &mut found);
    }
    let mut list: Vec<ProfileInfo> = found
        .into_iter()
        .map(|(name, f)| ProfileInfo {
            name,
            region: f.region,
            is_sso: f.is_sso,
        })
        .collect();
    list.sort_by_key(|p| (p.name != "default", p.name.clone()));
    list
}

fn scan(path: &Path, is_config: bool, found: &mut BTreeMap<String, Found>) {
    let Ok(file) = std::fs::File::open(path) else {
        return;
    };
    let mut current: Option<String> = None;
    for line in std::io::BufReader::new(file).lines() {
        let Ok(line) = line else {
            return;
        };
        if line.starts_with(char::is_whitespace) {
            continue; // a nested setting (e.g. under `s3 =`)
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            current = profile_name(header.trim(), is_config);
            if let Some(name) = &current {
                found.entry(name.clone()).or_default();
            }
            continue;
        }
        let (Some(name), Some((key, value))) = (&current, line.split_once('=')) else {
            continue;
        };
        // Only these keys are looked at; their values are not secrets.
        let key = key.trim();
        let entry = found.entry(name.clone()).or_default();
        match key {
            "region" if entry.region.is_none() => {
                let value = value.trim();
                if crate::aws::is_region_code(value) {
                    entry.region = Some(value.to_string());
                }
            }
            "sso_start_url" | "sso_session" | "sso_account_id" | "sso_role_name" => {
                entry.is_sso = true
            }
            _ => {}
        }
    }
}

/// `[default]`, `[profile x]` in the config file; `[x]` in credentials.
fn profile_name(header: &str, is_config: bool) -> Option<String> {
    let name = match (is_config, header) {
        (false, name) | (true, name @ "default") => name,
        (true, _) => header.strip_prefix("profile ")?.trim(),
    };
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# comment
[default]
region = eu-west-3
output = json

[profile work]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Admin
region=us-east-1

[profile legacy-sso]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1

[services local]
s3 =
  endpoint_url = http://localhost

[profile nested]
s3 =
  region = not-this
";

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

[keys-only]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
region = ap-south-1
";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn finds_names_regions_and_sso() {
        let dir = tempfile::tempdir().unwrap();
        let config = write(dir.path(), "config", CONFIG);
        let creds = write(dir.path(), "credentials", CREDENTIALS);
        let found = detect_profiles_in(Some(&config), Some(&creds));
        let names: Vec<_> = found.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["default", "keys-only", "legacy-sso", "nested", "work"]
        );
        let get = |n: &str| found.iter().find(|p| p.name == n).unwrap().clone();
        assert_eq!(
            get("default"),
            ProfileInfo {
                name: "default".into(),
                region: Some("eu-west-3".into()),
                is_sso: false
            }
        );
        assert_eq!(
            get("work"),
            ProfileInfo {
                name: "work".into(),
                region: Some("us-east-1".into()),
                is_sso: true
            }
        );
        assert!(get("legacy-sso").is_sso);
        assert_eq!(get("legacy-sso").region, None);
        assert_eq!(get("keys-only").region.as_deref(), Some("ap-south-1"));
        assert_eq!(get("nested").region, None);
        let json = serde_json::to_string(&found).unwrap();
        assert!(!json.contains("wJalr") && !json.contains("AKIA"), "{json}");
    }

    #[test]
    fn missing_files_give_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(detect_profiles_in(Some(&dir.path().join("nope")), None).is_empty());
    }
}
