//! One file per area; each command parses, calls the core, maps the error.
pub mod app;
