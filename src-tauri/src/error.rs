//! The one error type commands return: `{ code, message, hint }`. Every core
//! error converts into it with `?` (`impl<E: Explain> From<E> for ErrorReport`).

pub use easytdv_core::explain::ErrorReport as AppError;
