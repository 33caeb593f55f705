//! Notebooks (`.ipynb`) as the entry point. Checked here before anything is
//! created: valid JSON, nbformat 4, a list of cells, and the papermill
//! parameters asked for against the notebook's cell tagged `parameters`.
//! On the machine, papermill (pinned below, installed into the run's
//! environment with the requirements) executes it top to bottom and writes
//! the executed notebook, with its outputs and errors, to
//! `$OUTPUT_DIR/<name>.executed.ipynb` (templates/instance/train.sh; on
//! SageMaker templates/sagemaker/easytdv_notebook.py, which also puts it in
//! the run's `outputs/`).

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::explain::Explain;

/// The executor and its Jupyter kernel, added to the run's requirements for
/// a notebook run (unless the requirements name them already). Both support
/// Python 3.10 and newer, which install.sh guarantees.
pub const PAPERMILL: &str = "papermill==2.7.0";
pub const IPYKERNEL: &str = "ipykernel==7.4.0";

/// A notebook carries its outputs (plots, tables): more room than a script.
pub const MAX_NOTEBOOK_BYTES: u64 = 20 * 1024 * 1024;

/// The tag papermill looks for on the cell that holds the defaults.
const PARAMETERS_TAG: &str = "parameters";

#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum NotebookError {
    #[error("the notebook {name} is not valid JSON: {reason}")]
    NotJson { name: String, reason: String },
    #[error("the notebook {name} is not a Jupyter notebook: {reason}")]
    NotNotebook { name: String, reason: String },
    #[error("the notebook {name} is in the old notebook format {version}; easyTDV runs format 4")]
    OldFormat { name: String, version: String },
    #[error("the notebook's file name {0:?} has characters easyTDV cannot send (a control character, or a leading dot)")]
    BadName(String),
    #[error("notebook parameters: {0}")]
    BadParameters(String),
    #[error("the notebook {name} has no cell tagged \"parameters\", so the parameters {given} would be ignored")]
    NoParametersCell { name: String, given: String },
    #[error(
        "the notebook {name} has no parameter \"{parameter}\" (its parameters cell sets {known})"
    )]
    UnknownParameter {
        name: String,
        parameter: String,
        known: String,
    },
    #[error(
        "the project's uv.lock does not lock papermill and ipykernel, which execute the notebook"
    )]
    LockWithoutExecutor,
    #[error("a notebook runs on one machine: {0} SageMaker machines would each run it on its own")]
    OneMachineOnly(u32),
}

impl Explain for NotebookError {
    fn code(&self) -> &'static str {
        match self {
            NotebookError::NotJson { .. } => "notebook_not_json",
            NotebookError::NotNotebook { .. } => "notebook_not_notebook",
            NotebookError::OldFormat { .. } => "notebook_old_format",
            NotebookError::BadName(_) => "notebook_bad_name",
            NotebookError::BadParameters(_) => "notebook_bad_parameters",
            NotebookError::NoParametersCell { .. } => "notebook_no_parameters_cell",
            NotebookError::UnknownParameter { .. } => "notebook_unknown_parameter",
            NotebookError::LockWithoutExecutor => "notebook_lock_without_executor",
            NotebookError::OneMachineOnly(_) => "notebook_one_machine",
        }
    }

    fn hint(&self) -> Option<String> {
        Some(
            match self {
                NotebookError::NotJson { .. } | NotebookError::NotNotebook { .. } => {
                    "Open the notebook in Jupyter (or VS Code) and save it again, then choose it once more."
                }
                NotebookError::OldFormat { .. } => {
                    "Open it in a current Jupyter and save it: it is converted to format 4."
                }
                NotebookError::BadName(_) => "Rename the notebook, e.g. train.ipynb.",
                NotebookError::BadParameters(_) => {
                    "Give each parameter as -p NAME VALUE (e.g. -p epochs 3 -p lr 0.01), or -r NAME VALUE to keep the value as text."
                }
                NotebookError::NoParametersCell { .. } => {
                    "In Jupyter, add the tag \"parameters\" to the cell that sets the defaults (View > Cell Toolbar > Tags), save, and choose the notebook again."
                }
                NotebookError::UnknownParameter { .. } => {
                    "Use a name the parameters cell sets, or add it there with a default value."
                }
                NotebookError::OneMachineOnly(_) => {
                    "Choose 1 machine for a notebook (it may use all of that machine's GPUs), or export it as a script (jupyter nbconvert --to script) for distributed training."
                }
                NotebookError::LockWithoutExecutor => {
                    "Add them to the project (uv add papermill ipykernel), then choose the notebook again."
                }
            }
            .to_string(),
        )
    }
}

/// Whether a path names a notebook (`.ipynb`, in any case).
pub fn is_notebook(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("ipynb"))
}

/// What the checks learnt of a notebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notebook {
    /// The names the cell tagged `parameters` assigns; `None`: no such cell.
    pub parameters: Option<Vec<String>>,
}

/// Checks a notebook's bytes as papermill will read them: JSON, nbformat 4,
/// cells with a type and a source. `name` is the file's, for the messages.
pub fn check(bytes: &[u8], name: &str) -> Result<Notebook, NotebookError> {
    let not_nb = |reason: &str| NotebookError::NotNotebook {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| NotebookError::NotJson {
        name: name.to_string(),
        reason: e.to_string(),
    })?;
    let Some(doc) = doc.as_object() else {
        return Err(not_nb("it is JSON but not an object"));
    };
    match doc.get("nbformat") {
        Some(Value::Number(n)) if n.as_u64() == Some(4) => {}
        Some(Value::Number(n)) => {
            return Err(NotebookError::OldFormat {
                name: name.to_string(),
                version: n.to_string(),
            })
        }
        Some(_) => return Err(not_nb("\"nbformat\" is not a number")),
        None => return Err(not_nb("it has no \"nbformat\" field")),
    }
    let cells = match doc.get("cells") {
        Some(Value::Array(cells)) => cells,
        Some(_) => return Err(not_nb("\"cells\" is not a list")),
        None => return Err(not_nb("it has no \"cells\" list")),
    };
    let mut parameters = None;
    for (i, cell) in cells.iter().enumerate() {
        let at = |what: &str| not_nb(&format!("cell {} {what}", i + 1));
        let Some(cell) = cell.as_object() else {
            return Err(at("is not an object"));
        };
        let kind = match cell.get("cell_type") {
            Some(Value::String(k)) if matches!(k.as_str(), "code" | "markdown" | "raw") => k,
            Some(Value::String(k)) => return Err(at(&format!("has an unknown type \"{k}\""))),
            _ => return Err(at("has no \"cell_type\"")),
        };
        let source = source_text(cell.get("source")).ok_or_else(|| at("has no text \"source\""))?;
        if kind == "code" && parameters.is_none() && has_tag(cell.get("metadata"), PARAMETERS_TAG) {
            parameters = Some(assigned_names(&source));
        }
    }
    Ok(Notebook { parameters })
}

/// A cell's source: one string or a list of strings (nbformat allows both).
fn source_text(source: Option<&Value>) -> Option<String> {
    match source? {
        Value::String(s) => Some(s.clone()),
        Value::Array(parts) => parts.iter().map(|p| p.as_str()).collect(),
        _ => None,
    }
}

fn has_tag(metadata: Option<&Value>, tag: &str) -> bool {
    metadata
        .and_then(|m| m.get("tags"))
        .and_then(Value::as_array)
        .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag)))
}

/// The names a cell assigns at its top level (`epochs = 3`, `lr: float = 0.1`),
/// as papermill's Python translator infers a notebook's parameters.
fn assigned_names(source: &str) -> Vec<String> {
    static ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^([^\W\d]\w*)\s*(?::[^=]*)?=(?:[^=]|$)").expect("a valid pattern")
    });
    let mut names: Vec<String> = Vec::new();
    for line in source.lines() {
        if let Some(c) = ASSIGN.captures(line) {
            let name = c[1].to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Checks papermill parameters (`-p NAME VALUE`, `-r NAME VALUE` for a value
/// kept as text; the long forms too) against the notebook; returns them in
/// papermill's argument form, handed to it as they are. Any other option is
/// refused: the run decides the kernel, the folder and the output.
pub fn check_parameters(
    args: &[String],
    notebook: &Notebook,
    name: &str,
) -> Result<Vec<String>, NotebookError> {
    let bad = |s: String| Err(NotebookError::BadParameters(s));
    let mut out = Vec::new();
    let mut given = Vec::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let short = match flag.as_str() {
            "-p" | "--parameters" => "-p",
            "-r" | "--parameters_raw" => "-r",
            other if other.starts_with('-') => {
                return bad(format!(
                    "the option {other:?} is not accepted: only -p NAME VALUE and -r NAME VALUE"
                ))
            }
            other => {
                return bad(format!(
                    "{other:?} is not a parameter: write -p {other} VALUE"
                ))
            }
        };
        let (Some(param), Some(value)) = (rest.next(), rest.next()) else {
            return bad(format!(
                "{flag} needs a name and a value, e.g. {short} epochs 3"
            ));
        };
        if !is_identifier(param) {
            return bad(format!("{param:?} is not a Python variable name"));
        }
        if value.contains('\0') {
            return bad(format!("the value of {param} holds a NUL character"));
        }
        given.push(param.clone());
        out.extend([short.to_string(), param.clone(), value.clone()]);
    }
    if given.is_empty() {
        return Ok(out);
    }
    let Some(known) = &notebook.parameters else {
        return Err(NotebookError::NoParametersCell {
            name: name.to_string(),
            given: given.join(", "),
        });
    };
    if let Some(unknown) = given.iter().find(|g| !known.contains(g)) {
        return Err(NotebookError::UnknownParameter {
            name: name.to_string(),
            parameter: unknown.clone(),
            known: if known.is_empty() {
                "nothing".to_string()
            } else {
                known.join(", ")
            },
        });
    }
    Ok(out)
}

/// The notebook's name on the machine (its own file name, kept).
pub fn entry_name(path: &Path) -> Result<String, NotebookError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.is_empty() || name.starts_with('.') || name.chars().any(char::is_control) {
        return Err(NotebookError::BadName(name));
    }
    Ok(name)
}

/// Where papermill writes the executed notebook in the outputs:
/// `train.ipynb` → `train.executed.ipynb`.
pub fn executed_name(entry: &str) -> String {
    let stem = match entry.len().checked_sub(6) {
        Some(at) if entry.is_char_boundary(at) && entry[at..].eq_ignore_ascii_case(".ipynb") => {
            &entry[..at]
        }
        _ => entry,
    };
    format!("{stem}.executed.ipynb")
}

/// A run's executed notebook in the folder its outputs were downloaded to,
/// when the run's entry point is a notebook and the file is there.
pub fn executed_in(folder: &Path, script_path: &Path) -> Option<std::path::PathBuf> {
    if !is_notebook(script_path) {
        return None;
    }
    let path = folder.join(executed_name(&entry_name(script_path).ok()?));
    std::fs::symlink_metadata(&path)
        .is_ok_and(|m| m.is_file())
        .then_some(path)
}

/// The requirements a notebook run installs: the user's, then papermill and
/// its kernel (each only when the user's file does not name it already, so
/// a pin of theirs wins). The environment cache's key is computed from
/// these bytes: a notebook run's environment is a different one.
pub fn with_executor(requirements: &[u8], packages: &[String]) -> Vec<u8> {
    let extra = executor_lines(packages);
    let mut out = requirements.to_vec();
    if extra.is_empty() {
        return out;
    }
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.extend_from_slice(&extra);
    out
}

/// The executor's pins the user's requirements do not name (a requirements
/// file of its own, installed beside the project's; empty: none missing).
pub fn executor_lines(packages: &[String]) -> Vec<u8> {
    let named: Vec<String> = packages.iter().map(|p| normalised_name(p)).collect();
    let missing: Vec<&str> = [PAPERMILL, IPYKERNEL]
        .into_iter()
        .filter(|pin| !named.contains(&normalised_name(pin)))
        .collect();
    if missing.is_empty() {
        return Vec::new();
    }
    let mut out = b"# easyTDV: to execute the notebook\n".to_vec();
    for pin in missing {
        out.extend_from_slice(pin.as_bytes());
        out.push(b'\n');
    }
    out
}

/// A requirement's project name, normalised as PyPI compares them (PEP 503).
fn normalised_name(requirement: &str) -> String {
    let name: String = requirement
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let mut out = String::new();
    for c in name.to_ascii_lowercase().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
