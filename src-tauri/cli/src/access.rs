//! How the CLI reaches AWS: a saved app account, an AWS CLI profile, the
//! local sandbox, or the SDK's default chain; every choice is checked
//! before any AWS call.

use std::process::ExitCode;

use easytdv_core::accounts::AccountView;
use easytdv_core::aws::{AwsContext, CredentialSource};
use easytdv_core::secrets::RunSecrets;
use easytdv_core::services::Services;

use crate::args::Access;
use crate::report::{self, EXIT_INPUT};

/// The credential source the flags name.
pub fn source(access: &Access, services: &Services) -> Result<CredentialSource, ExitCode> {
    if let Some(name) = &access.account {
        return saved_account(name, services);
    }
    Ok(match (&access.profile, &access.sandbox) {
        (Some(name), _) => {
            let known = services.accounts.profiles();
            if !known.iter().any(|p| &p.name == name) {
                let names: Vec<&str> = known.iter().map(|p| p.name.as_str()).collect();
                eprintln!("error: there is no AWS profile named \"{name}\"");
                eprintln!(
                    "  what to do: use one of: {} (from ~/.aws/config and ~/.aws/credentials), or create it with `aws configure --profile {name}`",
                    if names.is_empty() { "(none found)".to_string() } else { names.join(", ") }
                );
                return Err(ExitCode::from(EXIT_INPUT));
            }
            CredentialSource::Profile { name: name.clone() }
        }
        (None, Some(url)) => CredentialSource::Sandbox {
            endpoint: url.clone(),
        },
        (None, None) => CredentialSource::DefaultChain,
    })
}

/// An account saved by the app, by name or id: how to reach AWS with it.
fn saved_account(name: &str, services: &Services) -> Result<CredentialSource, ExitCode> {
    let found = saved_account_view(name, services)?;
    services
        .accounts
        .credential_source(&found.id)
        .map(|(source, _)| source)
        .map_err(|e| report::fail(&e, EXIT_INPUT))
}

/// An account saved by the app, by name or id.
pub fn saved_account_view(name: &str, services: &Services) -> Result<AccountView, ExitCode> {
    let list = services
        .accounts
        .list()
        .map_err(|e| report::fail(&e, EXIT_INPUT))?;
    if let Some(found) = list.iter().find(|a| a.name == name || a.id == name) {
        return Ok(found.clone());
    }
    {
        let names: Vec<&str> = list.iter().map(|a| a.name.as_str()).collect();
        eprintln!("error: no saved account named \"{name}\"");
        eprintln!(
            "  what to do: use one of: {}",
            if names.is_empty() {
                "(none: add one in the app)".to_string()
            } else {
                names.join(", ")
            }
        );
        Err(ExitCode::from(EXIT_INPUT))
    }
}

/// The values of the secrets a run names, from the saved account's keychain
/// (`--secret` needs `--account`); a name it does not have is bad input.
pub fn run_secrets(
    access: &Access,
    names: &[String],
    services: &Services,
) -> Result<RunSecrets, ExitCode> {
    if names.is_empty() {
        return Ok(RunSecrets::none());
    }
    let Some(account) = &access.account else {
        eprintln!("error: --secret needs --account: secrets are kept per saved account, in the OS keychain");
        eprintln!("  what to do: add --account NAME (see `easytdv secrets list --account NAME`); a profile or the sandbox flag names no saved account");
        return Err(ExitCode::from(EXIT_INPUT));
    };
    let account = saved_account_view(account, services)?;
    services
        .accounts
        .run_secrets(&account.id, names)
        .map_err(|e| report::fail(&e, crate::secrets::exit_code(&e)))
}

/// An AWS context in `region`; a region that does not exist is bad input.
pub async fn context(source: &CredentialSource, region: &str) -> Result<AwsContext, ExitCode> {
    AwsContext::new(source, region)
        .await
        .map_err(|e| report::fail(&e, EXIT_INPUT))
}
