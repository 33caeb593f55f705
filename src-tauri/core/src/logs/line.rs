//! One line of a run's log, as the instance writes it:
//! `<unix epoch milliseconds> <o|e> <text>` (o = stdout, e = stderr).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Out,
    Err,
}

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    /// Unix time in milliseconds when the machine saw the line.
    pub at_ms: f64,
    pub stream: Stream,
    pub text: String,
}

impl LogLine {
    /// Parses one line of the instance's log; a line in no known form is
    /// kept as stdout text without a time.
    pub fn parse(raw: &str) -> LogLine {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let mut parts = raw.splitn(3, ' ');
        let (Some(ms), Some(tag)) = (parts.next(), parts.next()) else {
            return Self::bare(raw);
        };
        let stream = match tag {
            "o" => Stream::Out,
            "e" => Stream::Err,
            _ => return Self::bare(raw),
        };
        match ms.parse::<u64>() {
            Ok(ms) => LogLine {
                at_ms: ms as f64,
                stream,
                text: parts.next().unwrap_or("").to_string(),
            },
            Err(_) => Self::bare(raw),
        }
    }

    fn bare(raw: &str) -> LogLine {
        LogLine {
            at_ms: 0.0,
            stream: Stream::Out,
            text: raw.to_string(),
        }
    }

    /// The line as the log file stores it.
    pub fn to_raw(&self) -> String {
        let tag = match self.stream {
            Stream::Out => 'o',
            Stream::Err => 'e',
        };
        format!("{} {tag} {}", self.at_ms as u64, self.text)
    }
}

/// Which log of a run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, specta::Type, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum LogName {
    /// The installer's output ("Install your packages").
    Install,
    /// What train.py printed.
    Train,
}

impl LogName {
    pub const ALL: [LogName; 2] = [LogName::Install, LogName::Train];

    pub fn as_str(self) -> &'static str {
        match self {
            LogName::Install => "install",
            LogName::Train => "train",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let l = LogLine::parse("1764662400123 e Traceback (most recent call last):");
        assert_eq!(l.stream, Stream::Err);
        assert_eq!(l.at_ms, 1764662400123.0);
        assert_eq!(l.text, "Traceback (most recent call last):");
        assert_eq!(LogLine::parse(&l.to_raw()), l);
        assert_eq!(LogLine::parse("1 o ").text, "");
        let bare = LogLine::parse("no time here");
        assert_eq!((bare.at_ms, bare.text.as_str()), (0.0, "no time here"));
    }
}
