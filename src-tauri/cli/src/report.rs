//! How the CLI tells an error, and its exit codes.

use std::process::ExitCode;

use easytdv_core::explain::Explain;
use easytdv_core::pipeline::PipelineError;
use easytdv_core::runs::RunError;

pub const EXIT_INPUT: u8 = 2;
pub const EXIT_TRAINING: u8 = 3;
pub const EXIT_PROVISIONING: u8 = 4;

/// Prints the error and what to do about it.
pub fn error(err: &dyn Explain) {
    eprintln!("error: {err}");
    if let Some(hint) = err.hint() {
        eprintln!("  what to do: {hint}");
    }
}

/// Prints the error and gives its exit code.
pub fn fail(err: &dyn Explain, code: u8) -> ExitCode {
    error(err);
    ExitCode::from(code)
}

pub fn exit_for(err: &PipelineError) -> ExitCode {
    ExitCode::from(if err.is_bad_input() {
        EXIT_INPUT
    } else if err.is_training_failure() {
        EXIT_TRAINING
    } else {
        EXIT_PROVISIONING
    })
}

pub fn exit_for_run(err: &RunError) -> ExitCode {
    match err {
        RunError::Pipeline(e) => exit_for(e),
        RunError::Busy(_) | RunError::Incomplete(_) => ExitCode::from(EXIT_INPUT),
        _ => ExitCode::from(EXIT_PROVISIONING),
    }
}
