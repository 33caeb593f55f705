//! Following a command on the machine: its log read every few seconds
//! (only new bytes), lines and metrics handed to the progress sink, the
//! step's progress line, until the command ends.

use std::time::{Duration, Instant};

use super::{Train, LOG_EVERY};
use crate::logs::{LogFollower, LogLine, LogName, MetricParser, Stream};
use crate::pipeline::error::PipelineError;
use crate::pipeline::model::*;
use crate::pipeline::progress::StepTimer;
use crate::pipeline::remote;
use crate::pipeline::words::human_duration;

/// How often a followed command's machine is asked whether it still runs.
const ALIVE_EVERY: Duration = Duration::from_secs(30);

impl Train {
    /// Waits for a command while reading its log every few seconds: new
    /// lines go to the progress sink (and metrics from the training's).
    pub(super) async fn follow(
        &mut self,
        timer: &StepTimer<'static>,
        instance_id: &str,
        command_id: &str,
        limit: Duration,
        name: LogName,
    ) -> Result<CommandOutcome, PipelineError> {
        let started = Instant::now();
        let run_id = self.resources.run_id.clone();
        let mut follower = LogFollower::new(&self.resources.machine_outputs_prefix(), name);
        self.progress.log_reset(&run_id, name);
        // The failure's lines are this command's (the log is read from its start).
        self.summary.error_tail.clear();
        let mut parser = MetricParser::default();
        let mut watch = Watch::default();
        let notice = |s: &str| timer.update(s.to_string());
        let ctx = self.ctx.clone();
        let wait = remote::wait(&ctx, instance_id, command_id, limit, &notice);
        tokio::pin!(wait);
        let mut every = tokio::time::interval(LOG_EVERY);
        every.tick().await;
        // A machine AWS ended (a spot machine taken back) may leave its
        // command "in progress" until its timeout: its state is asked too.
        let mut alive = tokio::time::interval(ALIVE_EVERY);
        alive.tick().await;
        let outcome = loop {
            tokio::select! {
                done = &mut wait => break done?,
                _ = every.tick() => {
                    self.read_log(&mut follower, &mut parser, &mut watch, name).await;
                    timer.update(watch.progress_line(name, started.elapsed(), &self.entry));
                }
                _ = alive.tick() => {
                    if let Ok(Some(gone)) = self.machine_gone(instance_id).await {
                        self.read_log(&mut follower, &mut parser, &mut watch, name).await;
                        return Err(gone);
                    }
                }
            }
        };
        self.read_log(&mut follower, &mut parser, &mut watch, name)
            .await;
        if let Some(last) = follower.flush() {
            self.take_lines(&[last], &mut parser, &mut watch, name);
        }
        self.summary.command_seconds.extend(outcome.machine_seconds);
        Ok(outcome)
    }

    async fn read_log(
        &mut self,
        follower: &mut LogFollower,
        parser: &mut MetricParser,
        watch: &mut Watch,
        name: LogName,
    ) {
        let lines = match self.bucket() {
            Ok(bucket) => follower.poll(&bucket).await,
            Err(e) => Err(e),
        };
        match lines {
            Ok(lines) => {
                self.take_lines(&lines, parser, watch, name);
                // A machine of the base saved the environment in its own
                // folder: into the cache now, not after the training, so a
                // run starting meanwhile (a sweep's next ones) finds it.
                // (Boxed: inlined, its state would grow every future that
                // follows a log, past the 1 MiB main-thread stack of Windows.)
                if self.saved_environment.is_some() {
                    Box::pin(self.keep_saved_environment()).await;
                }
            }
            // The log is a view of the run, not the run: keep waiting.
            Err(e) => {
                tracing::warn!(run_id = self.resources.run_id, error = %e, "could not read the log")
            }
        }
    }

    pub(in crate::pipeline) fn take_lines(
        &mut self,
        lines: &[LogLine],
        parser: &mut MetricParser,
        watch: &mut Watch,
        name: LogName,
    ) {
        if lines.is_empty() {
            return;
        }
        let run_id = self.resources.run_id.clone();
        self.progress.log(&run_id, name, lines, 0);
        let mut points = Vec::new();
        for line in lines {
            // An install's failure is told by the end of its stderr (the
            // installer's error, then the script's own last word).
            if name == LogName::Install && line.stream == Stream::Err {
                self.summary.push_error(&line.text);
            }
            if let Some(ours) = line.text.strip_prefix("easytdv: ") {
                self.summary.note(name, ours);
                self.note_cache_saved(ours);
                continue;
            }
            watch.latest = Some(line.text.chars().take(160).collect());
            if name == LogName::Train {
                if line.stream == Stream::Err {
                    self.summary.push_error(&line.text);
                }
                for p in parser.parse(line) {
                    self.curves.add(&p);
                    points.push(p);
                }
            }
        }
        if name == LogName::Train {
            if let Some(l) = &watch.latest {
                self.summary.latest_line = Some(l.clone());
            }
        }
        if !points.is_empty() {
            self.progress.metrics(&run_id, &points);
        }
    }
}

#[derive(Default)]
pub(in crate::pipeline) struct Watch {
    pub(in crate::pipeline) latest: Option<String>,
}

impl Watch {
    fn progress_line(&self, name: LogName, ran: Duration, entry: &str) -> String {
        let ran = human_duration(ran);
        let what = match name {
            LogName::Install => "Installing your packages".to_string(),
            LogName::Train => format!("{entry} is running"),
        };
        match &self.latest {
            Some(line) => format!("{what} ({ran}): {line}"),
            None => format!("{what} ({ran})"),
        }
    }
}
