//! The core's integration tests, in one binary (each linking the whole AWS
//! SDK is slow on small machines). Most need the local sandbox
//! (`EASYTDV_SANDBOX_ENDPOINT`); `accounts_keychain` needs a Secret Service
//! in a D-Bus session (`./dev test` provides both).
#![allow(dead_code)]

mod accounts_sandbox;
mod arguments;
mod base;
mod base_removal;
mod bootstrap;
mod buckets;
mod catalog;
mod common;
mod costs;
mod data;
mod launch_preflight;
mod leftovers;
mod lost_connection;
mod machine_scripts;
mod notebooks;
mod outputs;
mod pipeline;
mod pipeline_failures;
mod practice;
mod project;
mod real_aws;
mod real_project;
mod region_ready;
mod sagemaker;
mod sagemaker_aws;
mod sagemaker_data;
mod sagemaker_project;
mod secrets;
mod spot;
mod stored;
mod sweep_bench;
mod sweeps;
mod warm;
mod window_seed;
