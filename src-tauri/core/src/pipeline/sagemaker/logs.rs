//! A training job's log in CloudWatch Logs (`/aws/sagemaker/TrainingJobs`,
//! one stream per machine, `<job>/algo-N-<time>`; a spot restart opens new
//! streams): only new events are read, stream by stream.

use std::collections::BTreeMap;

use crate::aws::AwsContext;
use crate::logs::{LogLine, Stream};
use crate::pipeline::error::{aws_error, PipelineError};

pub const LOG_GROUP: &str = "/aws/sagemaker/TrainingJobs";

/// The machine a stream belongs to: `algo-2` of `<job>/algo-2-1764662400`.
pub fn host_of(stream: &str) -> &str {
    let host = stream.rsplit_once('/').map(|(_, h)| h).unwrap_or(stream);
    // `algo-N`, then `-<epoch>`: keep what is before the second hyphen.
    match host.match_indices('-').nth(1) {
        Some((at, _)) => &host[..at],
        None => host,
    }
}

/// Lines a machine printed, with the machine's name.
#[derive(Debug, Clone, PartialEq)]
pub struct HostLines {
    /// `algo-1` is the first machine (rank 0).
    pub host: String,
    pub lines: Vec<LogLine>,
}

/// How far each stream of one job has been read.
#[derive(Debug, Default)]
pub struct JobLogs {
    job: String,
    /// Stream name → the token after the last events read.
    tokens: BTreeMap<String, Option<String>>,
}

impl JobLogs {
    pub fn new(job: &str) -> Self {
        Self {
            job: job.to_string(),
            tokens: BTreeMap::new(),
        }
    }

    /// The events written since the last call, per machine (first machine first).
    pub async fn poll(&mut self, ctx: &AwsContext) -> Result<Vec<HostLines>, PipelineError> {
        let logs = ctx.logs();
        let listed = logs
            .describe_log_streams()
            .log_group_name(LOG_GROUP)
            .log_stream_name_prefix(format!("{}/", self.job))
            .send()
            .await;
        let listed = match listed {
            Ok(out) => out,
            // No machine has logged yet: the group may not exist.
            Err(e)
                if crate::pipeline::error::error_code(&e) == Some("ResourceNotFoundException") =>
            {
                return Ok(Vec::new())
            }
            Err(e) => return Err(aws_error("list the training job's logs", e)),
        };
        for s in listed.log_streams() {
            if let Some(name) = s.log_stream_name() {
                self.tokens.entry(name.to_string()).or_insert(None);
            }
        }
        let mut out: Vec<HostLines> = Vec::new();
        let streams: Vec<String> = self.tokens.keys().cloned().collect();
        for stream in streams {
            let mut token = self.tokens.get(&stream).cloned().flatten();
            let mut lines = Vec::new();
            loop {
                let page = logs
                    .get_log_events()
                    .log_group_name(LOG_GROUP)
                    .log_stream_name(&stream)
                    .start_from_head(true)
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| aws_error("read the training job's log", e))?;
                let events = page.events();
                lines.extend(events.iter().map(|e| LogLine {
                    at_ms: e.timestamp().unwrap_or(0) as f64,
                    stream: Stream::Out,
                    text: e.message().unwrap_or("").trim_end_matches('\n').to_string(),
                }));
                let next = page.next_forward_token().map(str::to_string);
                // The same token again: nothing more for now.
                let more = !events.is_empty() && next != token;
                token = next;
                if !more {
                    break;
                }
            }
            self.tokens.insert(stream.clone(), token);
            if lines.is_empty() {
                continue;
            }
            let host = host_of(&stream).to_string();
            match out.iter_mut().find(|h| h.host == host) {
                Some(h) => h.lines.extend(lines),
                None => out.push(HostLines { host, lines }),
            }
        }
        out.sort_by_key(|h| host_number(&h.host));
        Ok(out)
    }
}

/// 1 for `algo-1`, ... (unknown names last).
pub fn host_number(host: &str) -> u32 {
    host.strip_prefix("algo-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_name_their_machine() {
        assert_eq!(host_of("easytdv-r/algo-1-1764662400"), "algo-1");
        assert_eq!(host_of("easytdv-r/algo-12-1764662400"), "algo-12");
        assert_eq!(host_of("easytdv-r/algo-2"), "algo-2");
        assert_eq!(host_number("algo-2"), 2);
        assert_eq!(host_number("other"), u32::MAX);
    }
}
