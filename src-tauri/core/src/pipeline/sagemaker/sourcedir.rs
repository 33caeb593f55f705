//! `sourcedir.tar.gz`, the code SageMaker's script mode unpacks on each
//! machine: `train.py` and `requirements.txt` (the container installs it),
//! and when train.py has arguments, the launcher that runs it with them and
//! their file. Written here (a ustar archive in a gzip member of stored
//! deflate blocks) so no compression crate is needed; the same files always
//! give the same bytes.

use crate::pipeline::error::PipelineError;
use crate::pipeline::train::Train;
use crate::pipeline::{assets, run_args};

impl Train {
    pub(super) async fn upload_source(&mut self) -> Result<(), PipelineError> {
        let key = self.key("sourcedir.tar.gz");
        if !self.resources.uploaded_keys.contains(&key) {
            self.resources.uploaded_keys.push(key.clone());
            self.save()?;
        }
        let mut files: Vec<(&str, Vec<u8>)> = vec![
            ("train.py", self.script.clone()),
            ("requirements.txt", self.requirements.clone()),
        ];
        files.extend(self.launcher_files());
        let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
        self.bucket()?.put(&key, tar_gz(&refs)).await
    }

    /// With arguments, the launcher and the arguments' file go in
    /// `sourcedir.tar.gz` (the variables go in the job's Environment).
    fn launcher_files(&self) -> Vec<(&'static str, Vec<u8>)> {
        if self.request.args.is_empty() {
            return Vec::new();
        }
        vec![
            (
                run_args::LAUNCHER,
                assets::SAGEMAKER_LAUNCHER.as_bytes().to_vec(),
            ),
            (
                run_args::ARGS_FILE,
                run_args::args_file(&self.request.args, &[]),
            ),
        ]
    }

    /// The entry point SageMaker runs (see [`Self::launcher_files`]).
    pub(super) fn program(&self) -> String {
        if self.request.args.is_empty() {
            "train.py".into()
        } else {
            run_args::LAUNCHER.into()
        }
    }
}

/// The archive of `files` (name, bytes), in that order.
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    gzip_stored(&tar(files))
}

fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, body) in files {
        let mut header = [0u8; 512];
        header[..name.len().min(100)].copy_from_slice(&name.as_bytes()[..name.len().min(100)]);
        octal(&mut header[100..108], 0o644);
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
    out
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
