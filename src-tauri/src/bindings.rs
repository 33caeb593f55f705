//! The list of commands exposed to the webview, and the TypeScript bindings
//! generated from them (ui/src/bindings.ts, checked fresh by a test).

use crate::commands::{
    accounts, app, costs, data, practice, results, runs, script_inputs, secrets, setup_aws, sweeps,
    warm, wizard,
};

pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new().commands(tauri_specta::collect_commands![
        app::app_info,
        accounts::list_accounts,
        accounts::detect_profiles,
        accounts::add_keys_account,
        accounts::import_csv_account,
        accounts::add_profile_account,
        accounts::replace_account_keys,
        setup_aws::policy_documents,
        setup_aws::plan_aws_setup,
        setup_aws::set_up_aws,
        accounts::default_sandbox_endpoint,
        accounts::add_sandbox_account,
        practice::start_practice_cloud,
        practice::example_files,
        accounts::check_account,
        accounts::rename_account,
        accounts::set_account_region,
        accounts::set_default_account,
        accounts::delete_account,
        secrets::list_secrets,
        secrets::set_secret,
        secrets::delete_secret,
        wizard::pick_script,
        wizard::pick_requirements,
        wizard::check_file,
        wizard::pick_project,
        wizard::project_summary,
        data::pick_data_folder,
        data::check_data_location,
        data::review_data,
        wizard::list_regions,
        wizard::list_account_regions,
        wizard::list_instance_types,
        wizard::list_training_types,
        wizard::resolve_ami,
        wizard::list_buckets,
        wizard::suggest_bucket_name,
        wizard::prepare_region,
        wizard::check_bucket_name,
        script_inputs::check_script_inputs,
        script_inputs::reuse_run,
        runs::start_run,
        runs::retry_run,
        runs::delete_run,
        runs::list_runs,
        runs::get_run,
        runs::watch_run,
        runs::run_live_status,
        sweeps::plan_sweep,
        sweeps::start_sweep,
        sweeps::sweep_view,
        sweeps::list_sweeps,
        sweeps::set_sweep_metric,
        sweeps::stop_sweep,
        sweeps::delete_sweep,
        sweeps::retry_sweep,
        results::download_outputs,
        results::open_folder,
        results::open_output_file,
        results::read_log,
        results::search_log,
        results::save_log,
        results::run_metrics,
        costs::price_quote,
        costs::training_quote,
        costs::spot_prices,
        costs::refresh_runs,
        costs::month_costs,
        costs::find_leftovers,
        costs::delete_leftover,
        costs::find_bases,
        costs::remove_bases,
        costs::list_environments,
        costs::delete_environment,
        costs::list_stored_files,
        costs::delete_stored_files,
        warm::warm_machines,
        warm::stop_warm_machine,
    ])
}

/// Renders the TypeScript bindings as they are committed.
pub fn render_bindings() -> Result<String, Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("easytdv-bindings-{}.ts", std::process::id()));
    specta_builder().export(bindings_config(), &path)?;
    let text = std::fs::read_to_string(&path)?;
    if let Err(e) = std::fs::remove_file(&path) {
        tracing::warn!(path = %path.display(), error = %e, "could not remove a temporary bindings file");
    }
    Ok(text)
}

fn bindings_config() -> specta_typescript::Typescript {
    specta_typescript::Typescript::default()
        .header("// Generated from the Rust commands by tauri-specta. Do not edit: run\n// `./dev bindings` to refresh.\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_fresh() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/bindings.ts");
        let fresh = render_bindings().expect("render bindings");
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).expect("write bindings");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "ui/src/bindings.ts is stale: run `./dev bindings` and commit it"
        );
    }
}
