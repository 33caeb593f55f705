//! `easytdv`: the headless command line over the same core as the app.
fn main() -> std::process::ExitCode {
    easytdv_core::cli::main()
}
