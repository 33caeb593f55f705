//! The instance scripts as the machine gets them. They are not sent inside
//! the SSM command (AWS documents no generous limit for its parameters: the
//! document's 64 KB content quota counts them, and install.sh alone grew
//! past 38 KB): the core uploads them under `<run prefix>/scripts/`, and the
//! command is one line of exports plus `templates/instance/fetch.sh`, which
//! fetches each file, checks it against the SHA-256 written in the command
//! and only then runs the script asked for.

use sha2::{Digest, Sha256};

use super::assets;
use super::error::PipelineError;
use super::storage::RunBucket;

/// The files the machine fetches, in the order fetch.sh checks them: the
/// helper first, since it fetches the others (no AWS CLI start for each).
pub const FILES: [(&str, &str); 4] = [
    ("easytdv_helper.py", assets::HELPER),
    ("common.sh", assets::COMMON_SCRIPT),
    ("install.sh", assets::INSTALL_SCRIPT),
    ("train.sh", assets::TRAIN_SCRIPT),
];

/// The most a command (all of its `commands` lines) may weigh. AWS states no
/// limit for SendCommand's parameters; the sandbox refuses more than this
/// (tests/sandbox/README.md says why), and our commands stay far below.
pub const MAX_COMMAND_BYTES: usize = 4096;

/// The exit code of fetch.sh when a script could not be fetched or is not
/// the one the app sent.
pub const REFUSED_EXIT: i32 = 80;

/// Which script a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Install,
    Train,
}

impl Script {
    fn file(self) -> &'static str {
        match self {
            Script::Install => "install.sh",
            Script::Train => "train.sh",
        }
    }
}

/// Where a file goes in the run's bucket.
pub fn key(prefix: &str, name: &str) -> String {
    format!("{}/scripts/{name}", prefix.trim_end_matches('/'))
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A file of the run's own sent with the scripts (the script's arguments):
/// uploaded beside them, fetched and checked by fetch.sh like them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFile {
    pub name: &'static str,
    pub body: Vec<u8>,
}

/// The command's script part: fetch.sh with each file's SHA-256 (the
/// scripts, then `extra`) and the script to run.
pub fn command(script: Script, extra: &[RunFile]) -> String {
    let sums: Vec<String> = FILES
        .iter()
        .map(|(name, text)| format!("{} {name}", sha256_hex(text.as_bytes())))
        .chain(
            extra
                .iter()
                .map(|f| format!("{} {}", sha256_hex(&f.body), f.name)),
        )
        .collect();
    assets::FETCH_SCRIPT
        .replace("__SUMS__", &sums.join("\n"))
        .replace("__RUN__", script.file())
}

/// The command's lines: the exports, then the fetch. Refuses (a bug of ours)
/// a command over [`MAX_COMMAND_BYTES`].
pub fn command_lines(
    prelude: &str,
    script: Script,
    extra: &[RunFile],
) -> Result<Vec<String>, PipelineError> {
    let lines = vec![prelude.to_string(), command(script, extra)];
    let size: usize = lines.iter().map(|l| l.len() + 1).sum();
    if size > MAX_COMMAND_BYTES {
        return Err(PipelineError::State(format!(
            "the command for the machine is {size} bytes, more than the {MAX_COMMAND_BYTES} it may take"
        )));
    }
    Ok(lines)
}

/// The keys [`upload`] writes (recorded before it, so a crash never forgets one).
pub fn keys(prefix: &str, extra: &[RunFile]) -> Vec<String> {
    FILES
        .iter()
        .map(|(name, _)| key(prefix, name))
        .chain(extra.iter().map(|f| key(prefix, f.name)))
        .collect()
}

/// Uploads the files under the run's prefix, all at once. Again before each
/// command: an app updated between two steps sends new sums, and the
/// machine must find the files that match them.
pub async fn upload(
    bucket: &RunBucket<'_>,
    prefix: &str,
    extra: &[RunFile],
) -> Result<(), PipelineError> {
    let files: Vec<(String, Vec<u8>)> = FILES
        .iter()
        .map(|(name, text)| (key(prefix, name), text.as_bytes().to_vec()))
        .chain(extra.iter().map(|f| (key(prefix, f.name), f.body.clone())))
        .collect();
    futures_util::future::try_join_all(
        files
            .into_iter()
            .map(|(k, body)| async move { bucket.put(&k, body).await }),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_names_every_file_with_its_sha256_and_runs_one() {
        let text = command(Script::Install, &[]);
        assert!(!text.contains("__SUMS__") && !text.contains("__RUN__"));
        assert!(text.trim_end().ends_with("exec bash \"$lib/install.sh\""));
        let sums: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("done <<'EASYTDV_SUMS'"))
            .skip(1)
            .take_while(|l| *l != "EASYTDV_SUMS")
            .collect();
        let names: Vec<&str> = FILES.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            sums.iter().map(|l| &l[65..]).collect::<Vec<_>>(),
            names,
            "the helper first"
        );
        assert_eq!(
            sums[2],
            format!(
                "{} install.sh",
                sha256_hex(assets::INSTALL_SCRIPT.as_bytes())
            )
        );
        assert!(command(Script::Train, &[])
            .trim_end()
            .ends_with("exec bash \"$lib/train.sh\""));
        // No script text travels in the command.
        assert!(!text.contains("run_logged") && !text.contains("UV_PIN"));
    }

    #[test]
    fn a_command_stays_far_below_the_bound() {
        let prelude = super::super::remote::prelude(&[
            (
                "EASYTDV_BUCKET",
                "easytdv-123456789012-ap-southeast-2-0a1b2c3d",
            ),
            ("EASYTDV_PREFIX", "easytdv/runs/20261126-142700-a1b2c3"),
            ("EASYTDV_BUCKET_OWNER", "123456789012"),
            ("AWS_DEFAULT_REGION", "ap-southeast-2"),
            ("EASYTDV_IMAGE_ID", "ami-0123456789abcdef0"),
            ("EASYTDV_CACHE_KEY", &"a".repeat(64)),
            ("EASYTDV_CACHE_SHA256", &"b".repeat(64)),
            (
                "EASYTDV_CACHE_ARCHIVE",
                &format!("{}.tar.zst", "a".repeat(64)),
            ),
            ("EASYTDV_CACHE_SAVE", "1"),
            ("EASYTDV_CACHE_PREFIX", "easytdv/cache"),
            ("EASYTDV_IDLE_AFTER_FAILURE_MIN", "60"),
            ("EASYTDV_MANIFEST_SHA256", &"c".repeat(64)),
            (
                "EASYTDV_ENTRY",
                &"e".repeat(crate::project::summary::MAX_NAMED_PATH),
            ),
            (
                "EASYTDV_REQUIREMENTS",
                &"r".repeat(crate::project::summary::MAX_NAMED_PATH),
            ),
        ]);
        let lines = command_lines(&prelude, Script::Install, &[]).expect("within the bound");
        let size: usize = lines.iter().map(|l| l.len() + 1).sum();
        assert!(size < 3600, "{size} bytes");
        assert!(command_lines(&"x".repeat(MAX_COMMAND_BYTES), Script::Train, &[]).is_err());
    }

    #[test]
    fn a_run_file_is_named_by_its_sha256_never_by_its_content() {
        let secret = b"--token\0hunter2-do-not-show\0".to_vec();
        let file = RunFile {
            name: "easytdv-run-args.bin",
            body: secret.clone(),
        };
        let text = command(Script::Train, std::slice::from_ref(&file));
        assert!(text.contains(&format!(
            "{} easytdv-run-args.bin\nEASYTDV_SUMS",
            sha256_hex(&secret)
        )));
        assert!(!text.contains("hunter2") && !text.contains("--token"));
        assert_eq!(
            keys("p", &[file]).last().map(String::as_str),
            Some("p/scripts/easytdv-run-args.bin")
        );
    }

    #[test]
    fn the_scripts_live_under_the_run_prefix() {
        assert_eq!(
            keys("easytdv/runs/r", &[]),
            vec![
                "easytdv/runs/r/scripts/easytdv_helper.py",
                "easytdv/runs/r/scripts/common.sh",
                "easytdv/runs/r/scripts/install.sh",
                "easytdv/runs/r/scripts/train.sh",
            ]
        );
    }
}
