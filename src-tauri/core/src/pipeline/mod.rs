//! The training workflow of the original `easyTDV.Train`, operation by
//! operation. Each operation has a blocking form (waits, reports progress)
//! and a `start_*` form (starts the work and returns ids).
//!
//! | original                  | here                                           |
//! |---------------------------|------------------------------------------------|
//! | `prepare_env()`           | [`Train::prepare_env`]                          |
//! | `create_clf_stack(r, m)`  | [`Train::create_stack`] / [`Train::start_create_stack`] |
//! | `get_clf_stack_status(n)` | [`stack_status`]                               |
//! | `lunch_train_ec2(m)`      | [`Train::launch_instance`] / [`Train::start_launch_instance`] |
//! | `install_requerments(i,m)`| [`Train::install_requirements`] / [`Train::start_install_requirements`] |
//! | `lunch_train_script(i,m)` | [`Train::run_training`] / [`Train::start_run_training`] |
//! | `delete_resources(i)`     | [`delete_resources`]                           |

mod account;
mod assets;
pub mod base;
mod bucket_setup;
mod delete;
mod download;
mod ebs_key;
mod error;
mod inputs;
mod instance;
mod integrity;
mod launcher;
pub mod machine;
mod machine_folder;
mod model;
pub mod notebook;
mod outputs;
mod poll;
mod progress;
pub mod quotas;
pub mod region_ready;
mod remote;
pub mod run_args;
mod s3_copy;
pub mod sagemaker;
mod scripts;
mod spot;
mod stack;
mod status;
pub mod storage;
mod summary;
mod train;
mod warm;
mod words;

pub use account::require_setup as require_account_setup;
pub use assets::lambda_zip;
pub use delete::delete_resources;
pub(crate) use error::aws_error;
pub(crate) use error::error_code as error_code_of;
pub use error::PipelineError;
pub use inputs::{
    check_bucket, check_request, parse_requirements, read_input, CheckedFile, FileKind, InputError,
};
pub use model::*;
pub use outputs::{download_outputs, DownloadProgress, DownloadReport};
pub(crate) use poll::retry_transient;
pub use progress::{
    EventLog, EventSink, MemoryState, ProgressSink, RunEvent, RunStateSink, Tracked, LIVE_LINES,
};
pub use remote::outcome as command_outcome;
pub use run_args::{ArgsError, EnvVar};
pub use status::{cloud_status, instance_state, stack_status, CloudStatus};
pub use storage::{list_buckets_in_region, suggest_bucket_name};
pub use train::{Train, CACHE_PREFIX};

/// Terminates machines and waits until they are gone.
pub async fn terminate_machines(
    ctx: &crate::aws::AwsContext,
    ids: &[String],
) -> Result<Vec<String>, PipelineError> {
    instance::terminate(ctx, ids, &|m: &str| {
        tracing::info!(message = m, "terminate")
    })
    .await
}
pub use words::human_duration;

/// Exactly the shape [`new_run_id`] makes (`YYYYMMDD-HHMMSS-xxxxxx`): what
/// an id found in the cloud (a folder a machine may have named, a tag)
/// must be before the app derives a name from it (`easytdv-<id>` could
/// otherwise be the base's stack, a `*` an EC2 filter's wildcard).
pub fn is_generated_run_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 22
        && b[8] == b'-'
        && b[15] == b'-'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
        && b[16..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

/// A new run id: `YYYYMMDD-HHMMSS-xxxxxx` (UTC time, random hex): sortable,
/// readable, and short enough for IAM and Lambda names.
pub fn new_run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        &hex[..6]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_fit_the_template_pattern() {
        let id = new_run_id();
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert!(
            parts[0].len() == 8 && parts[1].len() == 6 && parts[2].len() == 6,
            "{id}"
        );
        assert!(parts[2]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(new_run_id(), new_run_id());
        assert!(is_generated_run_id(&id), "{id}");
    }

    #[test]
    fn only_the_generated_shape_is_a_run_id() {
        assert!(is_generated_run_id("20261206-101500-a1b2c3"));
        for bad in [
            "base",
            "*",
            "",
            "20261206-101500-A1B2C3",
            "20261206-101500-a1b2c",
            "20261206-101500-a1b2c3d",
            "2026120x-101500-a1b2c3",
            "20261206/101500-a1b2c3",
            "base/xyz-123456-123456",
            "20261206-10150*-a1b2c3",
        ] {
            assert!(!is_generated_run_id(bad), "{bad}");
        }
    }
}
