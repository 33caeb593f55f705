//! Reads a growing, chunked log from S3 incrementally: only new bytes are
//! fetched (a ranged GET from where the last read stopped; the next chunk
//! once a chunk is full), never the whole log again.
//!
//! Layout (templates/README.md): `<prefix>/outputs/_logs/<name>/NNNNNN.log`,
//! every chunk exactly [`CHUNK_BYTES`] except the last, growing one.

use super::line::{LogLine, LogName};
use crate::pipeline::storage::RunBucket;
use crate::pipeline::PipelineError;

/// The instance's chunk size (EASYTDV_LOG_CHUNK_BYTES' default).
pub const CHUNK_BYTES: u64 = 1024 * 1024;

/// Where one log of a run is, and how far it has been read.
#[derive(Debug, Clone)]
pub struct LogFollower {
    base: String,
    chunk: u32,
    offset: u64,
    /// Bytes of a line not finished yet.
    partial: Vec<u8>,
    /// Bytes read in all.
    pub read_bytes: u64,
}

impl LogFollower {
    /// `outputs_prefix` is the run's `…/outputs/`.
    pub fn new(outputs_prefix: &str, name: LogName) -> Self {
        Self {
            base: format!("{outputs_prefix}_logs/{}/", name.as_str()),
            chunk: 0,
            offset: 0,
            partial: Vec::new(),
            read_bytes: 0,
        }
    }

    fn key(&self) -> String {
        format!("{}{:06}.log", self.base, self.chunk)
    }

    /// The complete lines written since the last call.
    pub async fn poll(&mut self, bucket: &RunBucket<'_>) -> Result<Vec<LogLine>, PipelineError> {
        let mut fresh = Vec::new();
        loop {
            let Some(bytes) = bucket.read_from(&self.key(), self.offset).await? else {
                break;
            };
            let n = bytes.len() as u64;
            self.offset += n;
            self.read_bytes += n;
            fresh.extend_from_slice(&bytes);
            if self.offset >= CHUNK_BYTES {
                self.chunk += 1;
                self.offset = 0;
                continue;
            }
            break;
        }
        Ok(self.split(&fresh))
    }

    fn split(&mut self, fresh: &[u8]) -> Vec<LogLine> {
        self.partial.extend_from_slice(fresh);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        String::from_utf8_lossy(&complete)
            .lines()
            .map(LogLine::parse)
            .collect()
    }

    /// The unfinished last line, once the writer is done (end of a step).
    pub fn flush(&mut self) -> Option<LogLine> {
        if self.partial.is_empty() {
            return None;
        }
        let rest = std::mem::take(&mut self.partial);
        Some(LogLine::parse(String::from_utf8_lossy(&rest).trim_end()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_reads_are_joined() {
        let mut f = LogFollower::new("easytdv/runs/r/outputs/", LogName::Train);
        assert_eq!(f.key(), "easytdv/runs/r/outputs/_logs/train/000000.log");
        assert!(f.split(b"1 o hel").is_empty());
        let lines = f.split(b"lo\n2 e wor");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].text, "hello");
        let lines = f.split("ld é\n3 o x\n".as_bytes());
        assert_eq!(
            lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            vec!["world é", "x"]
        );
        assert!(f.flush().is_none());
        f.split(b"4 o tail without newline");
        assert_eq!(f.flush().unwrap().text, "tail without newline");
    }
}
