//! The files a run uploads, embedded in the binary so an installed app needs
//! nothing beside it; the Lambda zip is built deterministically.

use std::io::Write;

use zip::write::SimpleFileOptions;

pub const STACK_TEMPLATE: &str = include_str!("../../../../templates/stack.yaml");
pub const LAUNCH_LAMBDA: &str = include_str!("../../../../templates/lambda/launch.py");
pub const BOOTSTRAP: &str = include_str!("../../../../templates/instance/bootstrap.sh");
pub const INSTALL_SCRIPT: &str = include_str!("../../../../templates/instance/install.sh");
pub const TRAIN_SCRIPT: &str = include_str!("../../../../templates/instance/train.sh");
pub const COMMON_SCRIPT: &str = include_str!("../../../../templates/instance/common.sh");
pub const HELPER: &str = include_str!("../../../../templates/instance/easytdv_helper.py");
/// The SageMaker entry point of a run whose train.py has arguments.
pub const SAGEMAKER_LAUNCHER: &str =
    include_str!("../../../../templates/sagemaker/easytdv_launch.py");
/// The launcher's data part: rebuilds a data folder from the job's channel.
pub const SAGEMAKER_DATA: &str = include_str!("../../../../templates/sagemaker/easytdv_data.py");
/// What runs a SageMaker run's notebook (papermill), beside the launcher.
pub const SAGEMAKER_NOTEBOOK: &str =
    include_str!("../../../../templates/sagemaker/easytdv_notebook.py");
/// What installs a SageMaker run's uv.lock, beside the launcher.
pub const SAGEMAKER_UV: &str = include_str!("../../../../templates/sagemaker/easytdv_uv.py");
/// What the launcher reads a SageMaker run's secrets with (beside it).
pub const SAGEMAKER_SECRETS: &str =
    include_str!("../../../../templates/sagemaker/easytdv_secrets.py");
/// The SSM command's script part (`__SUMS__`, `__RUN__` filled in by `scripts.rs`).
pub const FETCH_SCRIPT: &str = include_str!("../../../../templates/instance/fetch.sh");

/// The uv version install.sh pins (`UV_PIN="…"`): part of the cache key.
pub fn uv_pin() -> &'static str {
    INSTALL_SCRIPT
        .lines()
        .find_map(|l| l.strip_prefix("UV_PIN=\""))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or("unknown")
}

/// The Lambda's code: `launch.py` and `bootstrap.sh` at the zip root. Same
/// bytes every time (fixed timestamps and permissions), so uploads are
/// reproducible and comparable.
pub fn lambda_zip() -> std::io::Result<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, text) in [("launch.py", LAUNCH_LAMBDA), ("bootstrap.sh", BOOTSTRAP)] {
        zip.start_file(name, options)
            .map_err(std::io::Error::other)?;
        zip.write_all(text.as_bytes())?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_zip_is_deterministic_and_complete() {
        let a = lambda_zip().unwrap();
        assert_eq!(a, lambda_zip().unwrap());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(a)).unwrap();
        let names: Vec<_> = archive.file_names().map(str::to_string).collect();
        assert_eq!(names, vec!["launch.py", "bootstrap.sh"]);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("launch.py").unwrap(), &mut text)
            .unwrap();
        assert_eq!(text, LAUNCH_LAMBDA);
    }

    #[test]
    fn the_uv_pin_is_read_from_install_sh() {
        let pin = uv_pin();
        assert!(
            INSTALL_SCRIPT.contains(&format!("UV_PIN=\"{pin}\"\n")),
            "{pin}"
        );
        assert!(pin.split('.').all(|p| p.parse::<u32>().is_ok()), "{pin}");
    }
}
