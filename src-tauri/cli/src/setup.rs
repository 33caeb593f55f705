//! `setup-aws`: the one-time account setup (`easytdv_core::bootstrap`) from
//! the command line. The plan is printed first; `--plan` stops there.

use std::process::ExitCode;

use easytdv_core::accounts::AdminCredentials;
use easytdv_core::bootstrap::StepAction;

use crate::commands::open_services;
use crate::report::{self, EXIT_INPUT, EXIT_PROVISIONING};

pub async fn setup_aws(
    admin_profile: &str,
    region: &str,
    name: &str,
    user: &str,
    plan_only: bool,
) -> Result<(), ExitCode> {
    let services = open_services()?;
    let admin = AdminCredentials::Profile {
        name: admin_profile.to_string(),
    };
    let plan = services
        .accounts
        .plan_aws_setup(&admin, region, user)
        .await
        .map_err(|e| report::fail(&e, EXIT_INPUT))?;
    println!(
        "AWS account {} (administrator: {})",
        plan.account_id, plan.admin_arn
    );
    for step in &plan.steps {
        let verb = match step.action {
            StepAction::Create => "create",
            StepAction::Update => "update",
            StepAction::Keep => "keep  ",
            StepAction::Review => "LOOK AT",
        };
        println!("  {verb} {}: {}", step.what, step.why);
    }
    if plan_only {
        return Ok(());
    }
    let setup = services
        .accounts
        .set_up_aws(&admin, name, region, user)
        .await
        .map_err(|e| report::fail(&e, EXIT_PROVISIONING))?;
    println!(
        "saved the account \"{}\" ({}, key {}): use it with --account \"{}\"",
        setup.account.name,
        setup.identity.arn,
        setup.account.masked_key_id.as_deref().unwrap_or("-"),
        setup.account.name
    );
    for m in &setup.missing_permissions {
        println!("  missing: {} ({})", m.action, m.purpose);
    }
    Ok(())
}
