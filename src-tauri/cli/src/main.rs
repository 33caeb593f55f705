//! `easytdv`: the headless command line over the same core as the app.
//!
//! Exit codes: 0 success, 2 bad input or usage, 3 the training (or its
//! requirements) failed, 4 the cloud set-up failed (or the keychain could
//! not be used).

mod access;
mod account;
mod args;
mod bench;
mod commands;
mod logging;
mod report;
mod secrets;
mod setup;
mod shared;
mod stored;
mod sweep;
mod timeline;
mod train_args;
mod warm;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use report::EXIT_PROVISIONING;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(EXIT_PROVISIONING);
        }
    };
    // Boxed: the commands' futures live on the heap, not on the main thread's
    // stack (1 MiB on Windows; a debug build's futures are large).
    let code = runtime.block_on(Box::pin(async {
        match cli.command {
            Command::Train(args) => commands::train(args).await,
            Command::Sweep(args) => sweep::sweep(args).await,
            Command::List { json } => account::list(json),
            Command::Cost { json } => account::cost(json),
            Command::Leftovers {
                delete,
                json,
                region,
                access,
            } => account::leftovers(&region, delete, json, &access).await,
            Command::Warm { stop, json, access } => {
                warm::warm(stop.as_deref(), json, &access).await
            }
            Command::Shared {
                prepare: true,
                bucket,
                json,
                region,
                access,
                ..
            } => shared::prepare(&region, bucket.as_deref(), json, &access).await,
            Command::Shared {
                remove,
                json,
                region,
                access,
                ..
            } => shared::shared(&region, remove, json, &access).await,
            Command::Environments {
                bucket,
                region,
                delete,
                json,
                access,
            } => account::environments(&bucket, &region, delete.as_deref(), json, &access).await,
            Command::Stored {
                bucket,
                region,
                delete_files,
                json,
                access,
            } => stored::stored(&bucket, &region, delete_files, json, &access).await,
            Command::Status {
                run_id,
                json,
                access,
            } => commands::status(&run_id, json, &access).await,
            Command::Delete { run_id, access } => commands::delete(&run_id, &access).await,
            Command::Outputs { run_id, to, access } => {
                commands::outputs(&run_id, to, &access).await
            }
            Command::Logs {
                run_id,
                follow,
                install,
                access,
            } => commands::logs(&run_id, install, follow, &access).await,
            Command::SetupAws {
                admin_profile,
                region,
                name,
                user,
                plan,
            } => setup::setup_aws(&admin_profile, &region, &name, &user, plan).await,
            Command::Secrets(command) => secrets::run(command),
            Command::Bench { runs, train } => bench::run(runs, train).await,
        }
    }));
    match code {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
