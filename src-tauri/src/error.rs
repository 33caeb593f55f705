//! The one error type commands return: `{ code, message, hint }`.

pub use easytdv_core::explain::ErrorReport as AppError;
use easytdv_core::explain::Explain;

/// Converts any core error at the command boundary.
pub fn report<E: Explain>(err: E) -> AppError {
    AppError::from_error(&err)
}
