//! `easytdv secrets set|list|delete`: train.py's secrets, per saved account,
//! in the OS keychain. A value is read from standard input only (never an
//! argument: arguments show in `ps` and in the shell's history) and never
//! printed.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use easytdv_core::explain::Explain;
use easytdv_core::secret::Sensitive;
use easytdv_core::secrets::{SecretError, MAX_VALUE_CHARS};

use crate::access::saved_account_view;
use crate::args::SecretsCommand;
use crate::commands::open_services;
use crate::report::{self, EXIT_INPUT, EXIT_PROVISIONING};

/// Bad input exits 2; a keychain that cannot be used, 4.
pub fn exit_code(err: &SecretError) -> u8 {
    if err.code().starts_with("keychain_") {
        EXIT_PROVISIONING
    } else {
        EXIT_INPUT
    }
}

pub fn run(command: SecretsCommand) -> Result<(), ExitCode> {
    let services = open_services()?;
    let fail = |e: SecretError| report::fail(&e, exit_code(&e));
    match command {
        SecretsCommand::List { account, json } => {
            let account = saved_account_view(&account, &services)?;
            let names = services.accounts.secret_names(&account.id).map_err(fail)?;
            if json {
                println!("{}", serde_json::json!(names));
            } else if names.is_empty() {
                eprintln!("no secrets for the account \"{}\" yet: add one with `easytdv secrets set --account \"{}\" NAME < file`", account.name, account.name);
            } else {
                for name in names {
                    println!("{name}");
                }
            }
            Ok(())
        }
        SecretsCommand::Set { account, name } => {
            let account = saved_account_view(&account, &services)?;
            let value = read_value(&name)?;
            let names = services
                .accounts
                .set_secret(&account.id, &name, &value)
                .map_err(fail)?;
            println!(
                "saved the secret {} for the account \"{}\" in the OS keychain ({} secret{}); a run gets it with --secret {}",
                name.trim(),
                account.name,
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                name.trim()
            );
            Ok(())
        }
        SecretsCommand::Delete { account, name } => {
            let account = saved_account_view(&account, &services)?;
            services
                .accounts
                .delete_secret(&account.id, &name)
                .map_err(fail)?;
            println!(
                "deleted the secret {} of the account \"{}\" from the OS keychain",
                name.trim(),
                account.name
            );
            Ok(())
        }
    }
}

/// The value from standard input, without its final line break. A terminal
/// would show it as it is typed: refused, with what to do instead.
fn read_value(name: &str) -> Result<Sensitive, ExitCode> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("error: the value of {name} is read from standard input, and a terminal would show it as you type");
        eprintln!("  what to do: pipe it in, e.g. `easytdv secrets set --account NAME {name} < token.txt`, or `read -rs V && printf %s \"$V\" | easytdv secrets set --account NAME {name}`");
        return Err(ExitCode::from(EXIT_INPUT));
    }
    let mut bytes = Vec::new();
    // A little more than the most Parameter Store keeps (4 bytes a character
    // at most): a file piped in by mistake is not read whole.
    let limit = (MAX_VALUE_CHARS * 4 + 2) as u64;
    if let Err(e) = stdin.by_ref().take(limit).read_to_end(&mut bytes) {
        eprintln!("error: could not read the value from standard input: {e}");
        return Err(ExitCode::from(EXIT_INPUT));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        eprintln!("error: the value of {name} is not UTF-8 text");
        eprintln!("  what to do: pipe in the token or key itself (text), not a binary file");
        return Err(ExitCode::from(EXIT_INPUT));
    };
    Ok(Sensitive::new(text.trim_end_matches(['\n', '\r'])))
}
