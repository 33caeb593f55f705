//! A run on SageMaker Training: the same train.py and requirements.txt in
//! AWS's PyTorch container, on one or several machines that SageMaker
//! starts, wires together (torchrun) and stops when the script ends.
//!
//! Steps: prepare (quota, price, `sourcedir.tar.gz`), stack (the job's
//! execution role), training (the job, its secondary statuses, its logs from
//! CloudWatch), outputs (in the run's `outputs/`, like EC2 runs). The
//! machine and requirements steps are SageMaker's own (shown as skipped).

mod data;
mod image;
mod job;
mod logs;
mod quota;
mod role_wait;
mod sourcedir;
mod steps;

pub use data::{
    CHANNEL as DATA_CHANNEL, CHANNEL_DIR as DATA_CHANNEL_DIR,
    MANIFEST_NAME as DATA_CHANNEL_MANIFEST,
};
pub use image::{image_account, offered_in, training_image};
pub use job::as_machine_state as job_as_machine_state;
pub(crate) use job::describe as describe_job;
pub(crate) use job::stop as stop_job;
pub use job::{CHECKPOINT_DIR, OUTPUT_DIR};
pub use logs::LOG_GROUP;
pub use quota::quota_name;
