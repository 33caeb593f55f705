//! How an error is told to a person: a stable code, the message (Display) and
//! what to do about it. Each module's error enum implements `Explain`; the app
//! turns it into the serializable `{ code, message, hint }` the UI shows.

pub trait Explain: std::error::Error {
    /// A stable, machine-readable code such as `"bucket_other_region"`.
    fn code(&self) -> &'static str;
    /// What the user can do about it, in plain words.
    fn hint(&self) -> Option<String> {
        None
    }
}

/// Wire form of an error, for IPC and the CLI's `--json` output.
#[derive(Debug, Clone, serde::Serialize, specta::Type, PartialEq, Eq)]
pub struct ErrorReport {
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

impl ErrorReport {
    pub fn from_error<E: Explain + ?Sized>(err: &E) -> Self {
        Self {
            code: err.code().to_string(),
            message: err.to_string(),
            hint: err.hint(),
        }
    }
}

/// Commands and the CLI use `?` on any core error: it becomes the wire form.
impl<E: Explain> From<E> for ErrorReport {
    fn from(err: E) -> Self {
        Self::from_error(&err)
    }
}
