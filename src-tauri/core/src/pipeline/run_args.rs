//! The script's arguments and plain environment variables: how the
//! "Arguments for train.py" text is split (like a shell would, with the
//! `shell-words` crate: quotes and backslashes, no expansion of `$`, `~` or
//! backticks), what is checked before a run, and the small file that carries
//! them to the machine.
//!
//! They never travel in an SSM command or a hyperparameter: the core writes
//! [`ARGS_FILE`] under the run's prefix (EC2: fetched and checked by SHA-256
//! with the instance scripts, read by train.sh into a bash array; SageMaker:
//! inside `sourcedir.tar.gz`, read by [`LAUNCHER`]). On SageMaker the
//! variables go in the job's `Environment` instead (AWS's limits below).

use serde::{Deserialize, Serialize};

use super::model::Engine;
use crate::explain::Explain;

/// The file that carries the arguments (and, on EC2, the variables).
pub const ARGS_FILE: &str = "easytdv-run-args.bin";
/// The SageMaker entry point that runs train.py with the file's arguments.
pub const LAUNCHER: &str = "easytdv_launch.py";
/// The first record of [`ARGS_FILE`]: its format and version.
pub const FORMAT: &str = "easytdv-run-args 1";

/// The most bytes the arguments may weigh together (Linux takes 128 KiB for
/// one argument and ~2 MiB for all of argv and the environment).
pub const MAX_ARGS_BYTES: usize = 64 * 1024;
/// The most variables a run may set (SageMaker's `Environment` takes 100
/// entries, some of them easyTDV's own).
pub const MAX_VARS: usize = 50;
/// The longest name or value of a SageMaker job's variable (its API model:
/// `TrainingEnvironmentKey` / `TrainingEnvironmentValue`, max 512).
pub const SAGEMAKER_MAX_LEN: usize = 512;
/// The longest value of a variable on an EC2 machine.
pub const MAX_VALUE_BYTES: usize = 32 * 1024;

/// One plain environment variable for the script (`KEY=value`).
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

impl EnvVar {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }

    /// `KEY=value` (the CLI's `--env`): split at the first `=`.
    pub fn parse(text: &str) -> Result<Self, ArgsError> {
        match text.split_once('=') {
            Some((name, value)) => Ok(Self::new(name, value)),
            None => Err(ArgsError::NotKeyValue(text.chars().take(80).collect())),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgsError {
    #[error("the arguments cannot be split: {0}")]
    Unsplittable(String),
    #[error("the arguments are not what their text says (\"{0}\")")]
    TextMismatch(String),
    #[error("argument {0} contains a NUL character, which no program can receive")]
    NulInArgument(usize),
    #[error("the arguments are {size} bytes long, more than the {max} a run may pass")]
    ArgumentsTooLong { size: usize, max: usize },
    #[error("\"{0}\" is not a variable: write it as NAME=value")]
    NotKeyValue(String),
    #[error("\"{name}\" is not a valid environment variable name")]
    BadName { name: String },
    #[error("the variable {name} cannot be set: {why}")]
    Reserved { name: String, why: &'static str },
    #[error("the variable {0} is given twice")]
    Duplicate(String),
    #[error("the value of {name} {why}")]
    BadValue { name: String, why: String },
    #[error("{count} variables is more than the {max} a run may set")]
    TooMany { count: usize, max: usize },
}

impl Explain for ArgsError {
    fn code(&self) -> &'static str {
        match self {
            ArgsError::Unsplittable(_) => "arguments_unclosed_quote",
            ArgsError::TextMismatch(_) => "arguments_text_mismatch",
            ArgsError::NulInArgument(_) => "argument_nul",
            ArgsError::ArgumentsTooLong { .. } => "arguments_too_long",
            ArgsError::NotKeyValue(_) => "env_not_key_value",
            ArgsError::BadName { .. } => "env_bad_name",
            ArgsError::Reserved { .. } => "env_reserved",
            ArgsError::Duplicate(_) => "env_duplicate",
            ArgsError::BadValue { .. } => "env_bad_value",
            ArgsError::TooMany { .. } => "env_too_many",
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            ArgsError::Unsplittable(_) => "Close the quote, or put a backslash before a quote that is part of an argument (e.g. --name \"my run\" or --name it\\'s).".into(),
            ArgsError::TextMismatch(_) => "Type the arguments again.".into(),
            ArgsError::NulInArgument(_) => "Remove the NUL character from the argument.".into(),
            ArgsError::ArgumentsTooLong { .. } => "Put long inputs in a file next to train.py and pass its name instead.".into(),
            ArgsError::NotKeyValue(_) => "Write each variable as NAME=value, e.g. --env EPOCHS=3 (an empty value: NAME=).".into(),
            ArgsError::BadName { .. } => "Use letters, digits and underscores, not starting with a digit (e.g. WANDB_PROJECT).".into(),
            ArgsError::Reserved { .. } => "Choose another name; train.py reads easyTDV's value of this variable as it is.".into(),
            ArgsError::Duplicate(_) => "Keep one value for each variable.".into(),
            ArgsError::BadValue { .. } => "Shorten the value, or put it in a file next to train.py and pass the file's name.".into(),
            ArgsError::TooMany { .. } => "Put the settings in a file next to train.py instead.".into(),
        })
    }
}

/// Splits the "Arguments for train.py" text as a POSIX shell would
/// (quotes, backslashes, `#` comments), with nothing expanded.
pub fn split(text: &str) -> Result<Vec<String>, ArgsError> {
    shell_words::split(text).map_err(|e| ArgsError::Unsplittable(e.to_string()))
}

/// The arguments as one text that [`split`] gives back exactly (quoted where
/// needed): how the CLI's arguments are shown.
pub fn join(args: &[String]) -> String {
    shell_words::join(args)
}

/// Checks the arguments; `text` (as typed, may be empty) must split into them.
pub fn check_arguments(args: &[String], text: &str) -> Result<(), ArgsError> {
    if !text.trim().is_empty() && split(text)? != args {
        return Err(ArgsError::TextMismatch(text.chars().take(80).collect()));
    }
    if let Some(i) = args.iter().position(|a| a.contains('\0')) {
        return Err(ArgsError::NulInArgument(i + 1));
    }
    let size: usize = args.iter().map(|a| a.len() + 1).sum();
    if size > MAX_ARGS_BYTES {
        return Err(ArgsError::ArgumentsTooLong {
            size,
            max: MAX_ARGS_BYTES,
        });
    }
    Ok(())
}

/// Names easyTDV (or SageMaker's container) sets on the machine, with why.
const RESERVED: [(&str, &str); 10] = [
    (
        "OUTPUT_DIR",
        "easyTDV sets it to the folder whose files come back as the run's outputs",
    ),
    (
        "DATA_DIR",
        "easyTDV sets it to the folder of the run's data",
    ),
    (
        "PATH",
        "the machine's own PATH finds its programs and the run's Python environment",
    ),
    ("HOME", "easyTDV sets it to a folder on the machine's disk"),
    (
        "TMPDIR",
        "easyTDV sets it to a folder on the machine's disk",
    ),
    ("PYTHONHOME", "it would hide the run's Python environment"),
    (
        "VIRTUAL_ENV",
        "easyTDV sets it to the run's Python environment",
    ),
    (
        "TRAINING_JOB_NAME",
        "SageMaker sets it to the training job's name",
    ),
    (
        "TRAINING_JOB_ARN",
        "SageMaker sets it to the training job's ARN",
    ),
    (
        "CURRENT_HOST",
        "SageMaker sets it to the machine's name in the job",
    ),
];
const RESERVED_PREFIXES: [(&str, &str); 4] = [
    ("EASYTDV_", "names starting with EASYTDV_ are easyTDV's own"),
    ("AWS_", "the machine's AWS access and region come from the run's role, and an AWS_ variable would replace them"),
    ("SM_", "SageMaker's container sets the SM_ variables"),
    ("SAGEMAKER_", "SageMaker's container sets the SAGEMAKER_ variables"),
];
/// torchrun's variables: set on a SageMaker job that trains on several GPUs or machines.
const TORCHRUN: [&str; 8] = [
    "MASTER_ADDR",
    "MASTER_PORT",
    "WORLD_SIZE",
    "RANK",
    "LOCAL_RANK",
    "LOCAL_WORLD_SIZE",
    "GROUP_RANK",
    "NODE_RANK",
];

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether easyTDV, the machine, SageMaker or torchrun sets this name itself
/// on some run (a secret, whatever its run's engine, may not replace it).
pub(crate) fn set_by_the_run(name: &str) -> bool {
    let any = Engine::SageMaker {
        instance_count: 2,
        spot: false,
    };
    reserved(name, &any).is_some()
}

/// Why a (valid) name cannot be set, if it cannot.
fn reserved(name: &str, engine: &Engine) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    if let Some((_, why)) = RESERVED.iter().find(|(n, _)| *n == upper) {
        return Some(why);
    }
    if let Some((_, why)) = RESERVED_PREFIXES.iter().find(|(p, _)| upper.starts_with(p)) {
        return Some(why);
    }
    if engine.is_sagemaker() && TORCHRUN.contains(&upper.as_str()) {
        return Some("torchrun sets it on a SageMaker job that trains on several GPUs or machines");
    }
    None
}

/// Checks the variables: names, what easyTDV keeps for itself, duplicates,
/// sizes (SageMaker's `Environment` limits on a SageMaker run).
pub fn check_env(vars: &[EnvVar], engine: &Engine) -> Result<(), ArgsError> {
    if vars.len() > MAX_VARS {
        return Err(ArgsError::TooMany {
            count: vars.len(),
            max: MAX_VARS,
        });
    }
    let mut seen = std::collections::HashSet::new();
    for v in vars {
        if !valid_name(&v.name) || (engine.is_sagemaker() && v.name.len() > SAGEMAKER_MAX_LEN) {
            return Err(ArgsError::BadName {
                name: v.name.chars().take(80).collect(),
            });
        }
        if let Some(why) = reserved(&v.name, engine) {
            return Err(ArgsError::Reserved {
                name: v.name.clone(),
                why,
            });
        }
        if !seen.insert(v.name.as_str()) {
            return Err(ArgsError::Duplicate(v.name.clone()));
        }
        let bad = |why: String| ArgsError::BadValue {
            name: v.name.clone(),
            why,
        };
        if v.value.contains('\0') {
            return Err(bad(
                "contains a NUL character, which no variable can hold".into()
            ));
        }
        if engine.is_sagemaker() && v.value.chars().count() > SAGEMAKER_MAX_LEN {
            return Err(bad(format!(
                "is longer than the {SAGEMAKER_MAX_LEN} characters SageMaker takes for a variable"
            )));
        }
        if v.value.len() > MAX_VALUE_BYTES {
            return Err(bad(format!(
                "is longer than {} KiB",
                MAX_VALUE_BYTES / 1024
            )));
        }
    }
    Ok(())
}

/// The wizard's two fields, split and checked: what train.py will get.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ScriptInputs {
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
}

/// The variables field: one `NAME=value` a line (blank lines and `#`
/// comment lines skipped; spaces around the name dropped, the value kept
/// as typed).
pub fn parse_env_lines(text: &str) -> Result<Vec<EnvVar>, ArgsError> {
    text.lines()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let v = EnvVar::parse(l)?;
            Ok(EnvVar::new(v.name.trim(), v.value))
        })
        .collect()
}

/// Splits and checks the wizard's arguments and variables fields.
pub fn check_inputs(
    args_text: &str,
    env_text: &str,
    engine: &Engine,
) -> Result<ScriptInputs, ArgsError> {
    let args = split(args_text)?;
    check_arguments(&args, args_text)?;
    let env = parse_env_lines(env_text)?;
    check_env(&env, engine)?;
    Ok(ScriptInputs { args, env })
}

/// [`ARGS_FILE`]'s bytes: NUL-terminated records, read by train.sh with
/// `mapfile -d ''` and by the launcher with `split(b"\0")`:
/// the format, a random nonce (the file's SHA-256 travels in the SSM
/// command: it must not let anyone confirm a guess of the arguments), the
/// number of arguments and each argument, the number of variables and each
/// `NAME=value`.
pub fn args_file(args: &[String], env: &[EnvVar]) -> Vec<u8> {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let mut records: Vec<String> = vec![FORMAT.into(), nonce, args.len().to_string()];
    records.extend(args.iter().cloned());
    records.push(env.len().to_string());
    records.extend(env.iter().map(|v| format!("{}={}", v.name, v.value)));
    let mut out = Vec::new();
    for r in records {
        out.extend_from_slice(r.as_bytes());
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests;
