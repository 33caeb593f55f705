//! `sourcedir.tar.gz`, the code SageMaker's script mode unpacks on each
//! machine: the project's files (as the EC2 engine sends them, the
//! project's rules applied), `requirements.txt` at its root (the container
//! installs it), and when the script has arguments or is not at the
//! project's root, the launcher that runs it from the root with them and
//! their file. Written here (a ustar archive in a gzip member of stored
//! deflate blocks) so no compression crate is needed; the same files always
//! give the same bytes.

use crate::pipeline::error::PipelineError;
use crate::pipeline::train::Train;
use crate::pipeline::{assets, notebook, run_args};
use crate::project::ProjectError;

/// What reads the run's secrets for the launcher (beside it).
pub const SECRETS_READER: &str = "easytdv_secrets.py";
/// What executes a notebook for the launcher (beside it).
pub const NOTEBOOK_RUNNER: &str = "easytdv_notebook.py";
/// What installs the project's uv.lock for the launcher (beside it).
pub const LOCK_INSTALLER: &str = "easytdv_uv.py";

/// The most a SageMaker job's code may weigh: it is sent whole each run
/// (and built in memory).
pub const MAX_SOURCE_BYTES: u64 = 256 * 1024 * 1024;

impl Train {
    pub(super) async fn upload_source(&mut self) -> Result<(), PipelineError> {
        let key = self.key("sourcedir.tar.gz");
        if !self.resources.uploaded_keys.contains(&key) {
            self.resources.uploaded_keys.push(key.clone());
            self.save()?;
        }
        let files = self.source_files()?;
        let refs: Vec<(&str, &[u8], u32)> = files
            .iter()
            .map(|(n, b, m)| (n.as_str(), b.as_slice(), *m))
            .collect();
        let body = tar_gz_modes(&refs).map_err(|name| {
            PipelineError::Project(ProjectError::PathTooLong(name, MAX_TAR_PATH))
        })?;
        self.bucket()?.put(&key, body).await
    }

    /// The project's files (read now), `requirements.txt` at the root (the
    /// one the run installs), the launcher's files.
    fn source_files(&self) -> Result<Vec<(String, Vec<u8>, u32)>, PipelineError> {
        let selection = &self.project.selection;
        let total = selection.total_bytes() + self.requirements.len() as u64;
        if total > MAX_SOURCE_BYTES {
            return Err(ProjectError::TooLargeForSageMaker {
                total,
                max: MAX_SOURCE_BYTES,
                files: selection.files.len(),
            }
            .into());
        }
        let mut files = Vec::with_capacity(selection.files.len() + 3);
        for f in &selection.files {
            if f.rel == "requirements.txt" {
                continue;
            }
            let body = std::fs::read(&f.path).map_err(|source| ProjectError::Unreadable {
                path: f.path.clone(),
                source,
            })?;
            files.push((
                f.rel.clone(),
                body,
                if f.executable { 0o755 } else { 0o644 },
            ));
        }
        // The container installs requirements.txt; a uv.lock is the
        // launcher's to install (the lock itself is one of the project's files).
        let requirements = if self.installs_lock() {
            b"# easyTDV: this run installs the project's uv.lock (easytdv_uv.py)\n".to_vec()
        } else {
            self.requirements.clone()
        };
        files.push(("requirements.txt".into(), requirements, 0o644));
        for (name, body) in self.launcher_files()? {
            files.push((name.to_string(), body, 0o644));
        }
        Ok(files)
    }

    /// The script's path in the project (`train.py`, `src/train.py`).
    fn entry_in_project(&self) -> String {
        let entry = &self.project.selection.entry;
        if entry.is_empty() {
            "train.py".into()
        } else {
            entry.clone()
        }
    }

    /// Whether SageMaker runs the launcher: with arguments, a script that
    /// is not at the project's root (the launcher runs it from the root, so
    /// its imports and relative paths work as on EC2), or data (it rebuilds
    /// a data folder from the channel, see `data.rs`).
    fn needs_launcher(&self) -> bool {
        !self.request.args.is_empty()
            || self.entry_in_project().contains('/')
            || self.request.data.is_some()
            // The launcher reads the run's secrets before it becomes the script.
            || !self.request.secrets.is_empty()
            // A notebook runs through papermill (easytdv_notebook.py).
            || self.runs_notebook()
            // The launcher installs the project's uv.lock (easytdv_uv.py).
            || self.installs_lock()
    }

    /// Whether the run's requirements are the project's `uv.lock`.
    pub(super) fn installs_lock(&self) -> bool {
        crate::project::requirements::is_lock(&self.request.requirements_path)
    }

    /// Whether the entry point is a notebook.
    pub(super) fn runs_notebook(&self) -> bool {
        notebook::is_notebook(std::path::Path::new(&self.entry_in_project()))
    }

    /// The launcher, its data part and the arguments' file (the variables
    /// go in the job's Environment, with `EASYTDV_ENTRY`), and a data
    /// folder's files for the launcher.
    fn launcher_files(&self) -> Result<Vec<(&'static str, Vec<u8>)>, PipelineError> {
        if !self.needs_launcher() {
            return Ok(Vec::new());
        }
        let mut files = vec![
            (
                run_args::LAUNCHER,
                assets::SAGEMAKER_LAUNCHER.as_bytes().to_vec(),
            ),
            (
                super::data::HELPER,
                assets::SAGEMAKER_DATA.as_bytes().to_vec(),
            ),
            (
                run_args::ARGS_FILE,
                run_args::args_file(&self.request.args, &[]),
            ),
        ];
        if let Some(body) = self.data_folder_files()? {
            files.push((super::data::FOLDER_FILE, body));
        }
        if !self.request.secrets.is_empty() {
            files.push((
                SECRETS_READER,
                assets::SAGEMAKER_SECRETS.as_bytes().to_vec(),
            ));
        }
        if self.runs_notebook() {
            files.push((
                NOTEBOOK_RUNNER,
                assets::SAGEMAKER_NOTEBOOK.as_bytes().to_vec(),
            ));
        }
        if self.installs_lock() {
            files.push((LOCK_INSTALLER, assets::SAGEMAKER_UV.as_bytes().to_vec()));
        }
        Ok(files)
    }

    /// The entry point SageMaker runs (see [`Self::launcher_files`]).
    pub(super) fn program(&self) -> String {
        if self.needs_launcher() {
            run_args::LAUNCHER.into()
        } else {
            self.entry_in_project()
        }
    }

    /// What the launcher runs (`EASYTDV_ENTRY` in the job's Environment).
    pub(super) fn sagemaker_entry(&self) -> String {
        self.entry_in_project()
    }
}

/// The longest path a ustar header holds (155 bytes of prefix, `/`, 100 of name).
pub const MAX_TAR_PATH: usize = 256;

/// The archive of `files` (name, bytes), in that order, mode 0644.
#[cfg(test)]
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let with: Vec<(&str, &[u8], u32)> = files.iter().map(|(n, b)| (*n, *b, 0o644)).collect();
    // Names of at most 100 bytes always fit.
    tar_gz_modes(&with).unwrap_or_default()
}

/// The archive of `files` (name, bytes, mode); `Err(name)` for a path a
/// ustar header cannot hold.
pub fn tar_gz_modes(files: &[(&str, &[u8], u32)]) -> Result<Vec<u8>, String> {
    Ok(gzip_stored(&tar(files)?))
}

/// `path` as ustar's (prefix, name): the name at most 100 bytes, the prefix
/// (cut at a `/`) at most 155.
fn split_path(path: &str) -> Option<(&str, &str)> {
    if path.len() <= 100 {
        return Some(("", path));
    }
    let bytes = path.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i] == b'/' && i <= 155 && bytes.len() - i - 1 <= 100 && i > 0)
        .map(|i| (&path[..i], &path[i + 1..]))
        .next()
}

fn tar(files: &[(&str, &[u8], u32)]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (path, body, mode) in files {
        let (prefix, name) = split_path(path).ok_or_else(|| path.to_string())?;
        let mut header = [0u8; 512];
        header[..name.len()].copy_from_slice(name.as_bytes());
        header[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        octal(&mut header[100..108], u64::from(*mode));
        octal(&mut header[108..116], 0);
        octal(&mut header[116..124], 0);
        octal(&mut header[124..136], body.len() as u64);
        octal(&mut header[136..148], 0);
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        // The checksum is computed with its own field as spaces.
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
        let text = format!("{sum:06o}\0 ");
        header[148..156].copy_from_slice(text.as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    Ok(out)
}

/// `value` in octal, zero-padded, NUL-terminated, filling `field`.
fn octal(field: &mut [u8], value: u64) {
    let text = format!("{value:0width$o}\0", width = field.len() - 1);
    field.copy_from_slice(text.as_bytes());
}

fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        let len = block.len() as u16;
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xedb8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_path_goes_in_the_prefix_and_a_longer_one_is_refused() {
        let deep = format!("{}/{}", "d".repeat(120), "model.py");
        let gz = tar_gz_modes(&[(&deep, b"x", 0o755)]).unwrap();
        let tar = &gz[15..gz.len() - 8];
        assert_eq!(&tar[..8], b"model.py");
        assert_eq!(&tar[345..465], "d".repeat(120).as_bytes());
        assert_eq!(&tar[100..107], b"0000755");
        let too_long = format!("{}/x.py", "e".repeat(300));
        assert_eq!(tar_gz_modes(&[(&too_long, b"x", 0o644)]), Err(too_long));
    }

    #[test]
    fn crc_of_a_known_text() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn the_archive_holds_the_files_in_ustar_form() {
        let gz = tar_gz(&[("train.py", b"print(1)\n"), ("requirements.txt", b"")]);
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        // One stored block: the tar follows the block header as is.
        let tar = &gz[15..gz.len() - 8];
        assert_eq!(tar.len() % 512, 0);
        assert_eq!(&tar[..8], b"train.py");
        assert_eq!(&tar[257..262], b"ustar");
        assert_eq!(&tar[124..135], b"00000000011");
        assert_eq!(&tar[512..521], b"print(1)\n");
        assert_eq!(&tar[1024..1040], b"requirements.txt");
        assert_eq!(
            gz,
            tar_gz(&[("train.py", b"print(1)\n"), ("requirements.txt", b"")])
        );
    }
}
