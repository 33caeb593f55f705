//! One file per area; each command parses, calls the core, maps the error.
pub mod accounts;
pub mod app;
pub mod runs;
pub mod wizard;
