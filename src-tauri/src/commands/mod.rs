pub mod accounts;
pub mod app;
mod dialogs;
pub mod results;
pub mod runs;
pub mod wizard;
