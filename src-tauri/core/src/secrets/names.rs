//! A secret's name is the environment variable train.py reads: checked
//! like a shell would (letters, digits, `_`, not starting with a digit), and
//! never one the machine or easyTDV sets itself.

use super::error::SecretError;

/// The longest name taken (a parameter name may have 2,048 characters; a
/// name this long is a mistake).
pub const MAX_NAME_CHARS: usize = 128;

/// Names the machine sets for train.py or its own scripts: a secret must not
/// replace them (a secret called PATH would change which python runs).
const RESERVED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "SHELL",
    "TMPDIR",
    "OUTPUT_DIR",
    "DATA_DIR",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "VIRTUAL_ENV",
];
const RESERVED_PREFIXES: &[&str] = &["EASYTDV_", "AWS_", "LD_", "SM_"];

/// Checks a secret's name; returns it trimmed.
pub fn validate_name(name: &str) -> Result<String, SecretError> {
    let name = name.trim();
    let bad = |why| Err(SecretError::BadName { why });
    let Some(first) = name.chars().next() else {
        return bad("it is empty");
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return bad("it is longer than 128 characters");
    }
    if first.is_ascii_digit() {
        return bad("it starts with a digit");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return bad("only letters A–Z, digits and _ are allowed");
    }
    let upper = name.to_ascii_uppercase();
    if RESERVED.contains(&upper.as_str()) || crate::pipeline::run_args::set_by_the_run(&upper) {
        return Err(SecretError::ReservedName {
            shown: name.to_string(),
        });
    }
    if let Some(prefix) = RESERVED_PREFIXES.iter().find(|p| upper.starts_with(*p)) {
        // Only the prefix: the rest could be anything typed.
        return Err(SecretError::ReservedName {
            shown: format!("{prefix}…"),
        });
    }
    Ok(name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Explain;

    #[test]
    fn environment_names_are_taken() {
        for ok in ["WANDB_API_KEY", "HF_TOKEN", "_x", "a1", " token "] {
            assert_eq!(validate_name(ok).unwrap(), ok.trim());
        }
    }

    #[test]
    fn other_names_are_refused_with_why() {
        for (bad, why) in [
            ("", "empty"),
            ("   ", "empty"),
            ("1TOKEN", "digit"),
            ("MY-TOKEN", "only letters"),
            ("MY TOKEN", "only letters"),
            ("TOKEN=abc", "only letters"),
            ("ÉTÉ", "only letters"),
            ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "only letters"),
            ("../x", "only letters"),
            (&"A".repeat(129), "128"),
        ] {
            let e = validate_name(bad).unwrap_err();
            assert_eq!(e.code(), "secret_bad_name", "{bad}");
            assert!(e.to_string().contains(why), "{bad}: {e}");
            // A value pasted as a name is not repeated back.
            if !bad.trim().is_empty() {
                assert!(!e.to_string().contains(bad.trim()), "{e}");
            }
            assert!(e.hint().unwrap().contains("WANDB_API_KEY"));
        }
    }

    #[test]
    fn names_the_machine_sets_are_refused() {
        for name in [
            "PATH",
            "path",
            "LD_PRELOAD",
            "PYTHONPATH",
            "AWS_ACCESS_KEY_ID",
            "EASYTDV_BUCKET",
            "OUTPUT_DIR",
            "SM_MODEL_DIR",
            // Set by SageMaker or torchrun on a job: a secret would break it.
            "RANK",
            "MASTER_ADDR",
            "SAGEMAKER_PROGRAM",
            "TRAINING_JOB_NAME",
            "CURRENT_HOST",
        ] {
            let e = validate_name(name).unwrap_err();
            assert_eq!(e.code(), "secret_reserved_name", "{name}");
            assert!(e.to_string().starts_with(&name[..2]), "{e}");
        }
    }
}
