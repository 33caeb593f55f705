pub mod accounts;
pub mod app;
pub mod costs;
mod dialogs;
pub mod practice;
pub mod results;
pub mod runs;
pub mod setup_aws;
pub mod wizard;
