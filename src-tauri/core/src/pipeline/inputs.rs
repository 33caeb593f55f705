//! Checks the user's inputs before anything is created in AWS. Each error
//! names the field and says how to fix it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::{Engine, TrainRequest};
use super::notebook::{self, NotebookError};
use crate::aws::is_region_code;

pub const MAX_SCRIPT_BYTES: u64 = 10 * 1024 * 1024;
pub const MAX_REQUIREMENTS_BYTES: u64 = 1024 * 1024;
pub const MIN_DISK_GB: u32 = 8;
pub const MAX_DISK_GB: u32 = 16_384;
/// SSM runs a command for at most 48 hours (`executionTimeout` ≤ 172800 s):
/// the machine's safety stop is at most that.
pub const MAX_RUNTIME_HOURS: u32 = 48;
/// Machines of one SageMaker training job (each needs the account's quota).
pub const MAX_TRAINING_MACHINES: u32 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Script,
    Requirements,
}

impl FileKind {
    fn field(self) -> &'static str {
        match self {
            FileKind::Script => "training script",
            FileKind::Requirements => "requirements file",
        }
    }
}

pub use error::InputError;

/// A checked input file: its bytes and, for requirements, the package names.
#[derive(Debug, Clone, Serialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckedFile {
    pub path: PathBuf,
    pub name: String,
    pub size_bytes: u32,
    pub packages: Vec<String>,
}

/// Reads and checks one input file; returns its contents too.
pub fn read_input(kind: FileKind, path: &Path) -> Result<(CheckedFile, Vec<u8>), InputError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => InputError::Missing {
            kind,
            path: path.into(),
        },
        _ => InputError::Unreadable {
            kind,
            path: path.into(),
        },
    })?;
    if !meta.is_file() {
        return Err(InputError::NotAFile {
            kind,
            path: path.into(),
        });
    }
    let is_notebook = kind == FileKind::Script && notebook::is_notebook(path);
    let max = match kind {
        FileKind::Script if is_notebook => notebook::MAX_NOTEBOOK_BYTES,
        FileKind::Script => MAX_SCRIPT_BYTES,
        FileKind::Requirements => MAX_REQUIREMENTS_BYTES,
    };
    if meta.len() > max {
        return Err(InputError::TooLarge {
            kind,
            size: meta.len(),
            max,
        });
    }
    if kind == FileKind::Script
        && !is_notebook
        && path.extension().and_then(|e| e.to_str()) != Some("py")
    {
        return Err(InputError::NotPython(path.into()));
    }
    let bytes = std::fs::read(path).map_err(|_| InputError::Unreadable {
        kind,
        path: path.into(),
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| InputError::NotText {
        kind,
        path: path.into(),
    })?;
    if text.contains('\0') {
        return Err(InputError::NotText {
            kind,
            path: path.into(),
        });
    }
    // An empty requirements file means "no extra packages".
    if kind == FileKind::Script && text.trim().is_empty() {
        return Err(InputError::Empty {
            kind,
            path: path.into(),
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if is_notebook {
        notebook::entry_name(path)?;
        notebook::check(&bytes, &name)?;
    }
    let packages = match kind {
        FileKind::Script => Vec::new(),
        FileKind::Requirements if crate::project::requirements::is_lock(path) => {
            crate::project::requirements::lock_packages(text)
        }
        FileKind::Requirements => parse_requirements(text)?,
    };
    let size_bytes = u32::try_from(meta.len()).unwrap_or(u32::MAX);
    Ok((
        CheckedFile {
            path: path.into(),
            name,
            size_bytes,
            packages,
        },
        bytes,
    ))
}

/// The package names of a requirements file (pip's format; options such as
/// `--index-url` and `-r other.txt` are kept for pip but list no package).
pub fn parse_requirements(text: &str) -> Result<Vec<String>, InputError> {
    let mut packages = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        if line.contains("://") || line.starts_with("git+") {
            packages.push(line.to_string());
            continue;
        }
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        let rest = line[name.len()..].trim_start();
        let rest_ok = rest.is_empty()
            || rest.starts_with(['=', '<', '>', '!', '~', '[', ';', '@', ',', '('])
            || rest.starts_with("==");
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) || !rest_ok {
            return Err(InputError::BadRequirement {
                line: i + 1,
                text: raw.trim().chars().take(80).collect(),
            });
        }
        packages.push(line.to_string());
    }
    Ok(packages)
}

/// S3 bucket naming rules (general purpose buckets).
pub fn check_bucket(name: &str) -> Result<(), InputError> {
    let bad = |reason| {
        Err(InputError::BadBucket {
            name: name.to_string(),
            reason,
        })
    };
    if name.len() < 3 || name.len() > 63 {
        return bad("it must be 3 to 63 characters long");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
    {
        return bad("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let first_last_ok =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_last_ok(name.chars().next()) || !first_last_ok(name.chars().last()) {
        return bad("it must start and end with a letter or a digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad("dots cannot be next to another dot or a hyphen");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return bad("it must not look like an IP address");
    }
    if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
    {
        return bad("this prefix or suffix is reserved by AWS");
    }
    Ok(())
}

pub fn check_instance_type(t: &str) -> Result<(), InputError> {
    let ok = match t.split_once('.') {
        Some((family, size)) => {
            !family.is_empty()
                && !size.is_empty()
                && family.starts_with(|c: char| c.is_ascii_lowercase())
                && family
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && size
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(InputError::BadInstanceType(t.to_string()))
    }
}

/// A SageMaker training type: `ml.` and an instance type (`ml.g5.xlarge`).
pub fn check_training_type(t: &str) -> Result<(), InputError> {
    match t.strip_prefix("ml.") {
        Some(rest) if check_instance_type(rest).is_ok() => Ok(()),
        _ => Err(InputError::BadTrainingType(t.to_string())),
    }
}

pub fn check_ami(ami: &str) -> Result<(), InputError> {
    let hex = ami.strip_prefix("ami-").unwrap_or("");
    if (hex.len() == 8 || hex.len() == 17)
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        Ok(())
    } else {
        Err(InputError::BadAmi(ami.to_string()))
    }
}

/// SageMaker runs only where AWS publishes its PyTorch training container.
pub fn check_engine_region(engine: &Engine, region: &str) -> Result<(), InputError> {
    match engine {
        Engine::SageMaker { .. } if !super::sagemaker::offered_in(region) => {
            Err(InputError::NoSageMakerInRegion(region.to_string()))
        }
        _ => Ok(()),
    }
}

/// The inputs once checked: the request, the two files' bytes and the
/// project's files.
#[derive(Debug, Clone)]
pub struct CheckedInputs {
    pub request: TrainRequest,
    pub script: Vec<u8>,
    /// What the machine installs: for a notebook, the user's requirements
    /// and its executor (`notebook::with_executor`).
    pub requirements: Vec<u8>,
    /// The entry point's file name: `train.py`, or the notebook's own.
    pub entry: String,
    /// A notebook's executor pins its requirements do not name (installed
    /// beside the project's requirements file); `None` otherwise.
    pub executor: Option<Vec<u8>>,
    pub project: crate::project::ProjectInputs,
}

/// Checks every field of a request; reads both files and selects the
/// project's files (the script's folder unless another is given).
pub fn check_request(request: &TrainRequest) -> Result<CheckedInputs, super::PipelineError> {
    let (_, script) = read_input(FileKind::Script, &request.script_path)?;
    let (reqs, requirements) = read_input(FileKind::Requirements, &request.requirements_path)?;
    let lock = crate::project::requirements::is_lock(&request.requirements_path);
    // A notebook's arguments are papermill's parameters (-p NAME VALUE),
    // checked against its parameters cell and written as papermill's flags.
    let mut executor = None;
    let (entry, notebook_args, requirements) = if notebook::is_notebook(&request.script_path) {
        if let Engine::SageMaker { instance_count, .. } = request.engine {
            if instance_count > 1 {
                return Err(InputError::from(NotebookError::OneMachineOnly(instance_count)).into());
            }
        }
        let entry = notebook::entry_name(&request.script_path).map_err(InputError::from)?;
        let nb = notebook::check(&script, &entry).map_err(InputError::from)?;
        let args =
            notebook::check_parameters(&request.args, &nb, &entry).map_err(InputError::from)?;
        if lock && !notebook::executor_lines(&reqs.packages).is_empty() {
            return Err(InputError::from(NotebookError::LockWithoutExecutor).into());
        }
        let extra = notebook::executor_lines(&reqs.packages);
        executor = (!extra.is_empty()).then_some(extra);
        let requirements = notebook::with_executor(&requirements, &reqs.packages);
        (entry, Some(args), requirements)
    } else {
        ("train.py".to_string(), None, requirements)
    };
    check_fields(request)?;
    if let Some(data) = &request.data {
        crate::data_source::check(data, request.engine)?;
    }
    let root = crate::project::project_root(&request.script_path, request.project_dir.as_deref());
    let project = crate::project::check(&root, &request.script_path, &request.requirements_path)?;
    let mut request = request.clone();
    if let Some(args) = notebook_args {
        request.args = args;
    }
    Ok(CheckedInputs {
        request,
        script,
        requirements,
        entry,
        executor,
        project,
    })
}

/// Every field but the files.
fn check_fields(request: &TrainRequest) -> Result<(), InputError> {
    check_bucket(&request.bucket)?;
    if !is_region_code(&request.region) || crate::regions::region(&request.region).is_none() {
        return Err(InputError::BadRegion(request.region.clone()));
    }
    check_engine_region(&request.engine, &request.region)?;
    crate::warm::check_request(request)?;
    super::spot::check_request(request)?;
    match request.engine {
        Engine::Ec2 => check_instance_type(&request.instance_type)?,
        Engine::SageMaker { instance_count, .. } => {
            check_training_type(&request.instance_type)?;
            if !(1..=MAX_TRAINING_MACHINES).contains(&instance_count) {
                return Err(InputError::BadInstanceCount(instance_count));
            }
            if request.ami.is_some() {
                return Err(InputError::ImageNotUsed);
            }
        }
    }
    if !(MIN_DISK_GB..=MAX_DISK_GB).contains(&request.disk_gb) {
        return Err(InputError::BadDiskSize(request.disk_gb));
    }
    if let Some(ami) = &request.ami {
        check_ami(ami)?;
    }
    if !(1..=MAX_RUNTIME_HOURS).contains(&request.max_runtime_hours) {
        return Err(InputError::BadMaxRuntime(request.max_runtime_hours));
    }
    super::run_args::check_arguments(&request.args, &request.args_text)?;
    super::run_args::check_env(&request.env, &request.engine)?;
    crate::secrets::check_request_names(&request.secrets)?;
    Ok(())
}

mod error;
#[cfg(test)]
mod tests;
