//! The steps of a SageMaker run, as `Train` methods.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::job::{self, JobSpec, JobView};
use super::logs::{host_number, JobLogs};
use super::{image, quota};
use crate::logs::{LogLine, LogName, MetricParser};
use crate::pipeline::delete::delete_resources;
use crate::pipeline::error::PipelineError;
use crate::pipeline::inputs::InputError;
use crate::pipeline::model::*;
use crate::pipeline::progress::StepTimer;
use crate::pipeline::train::{now_secs, Train, Watch, LOG_EVERY};
use crate::pipeline::words::human_duration;
use crate::pipeline::{machine, stack, storage};
use crate::prices::{safety_stop, Service};

/// Lines of each machine kept to explain a failure.
const TAIL_LINES: usize = 40;

impl Train {
    /// The whole SageMaker run. From the stack step (or before) everything
    /// starts over; from a later step the stack is kept and a new job runs
    /// (a job cannot be restarted, so each attempt has its own name).
    pub(in crate::pipeline) async fn run_sagemaker(
        &mut self,
        from: Step,
    ) -> Result<RunReport, PipelineError> {
        let (machines, spot) = match self.request.engine {
            Engine::SageMaker {
                instance_count,
                spot,
            } => (instance_count.max(1), spot),
            Engine::Ec2 => (1, false),
        };
        let order = |s: Step| Step::RUN.iter().position(|x| *x == s).unwrap_or(0);
        let fresh = order(from) <= order(Step::Stack) || self.resources.stack_id.is_none();
        if fresh {
            if self.resources.stack_name.is_some() || self.resources.training_job_name.is_some() {
                delete_resources(&self.ctx, &self.resources, self.progress.as_ref()).await?;
                self.resources.stack_id = None;
                self.resources.stack_name = None;
                self.save()?;
            }
            self.prepare_job(machines, spot).await?;
            self.create_stack_with(
                self.sagemaker_stack_parameters()?,
                "Creating the training job's execution role",
            )
            .await?;
        } else {
            // A retry picks up a fixed train.py or requirements.txt (and
            // what changed in a data folder).
            self.send_job_data(&|m| tracing::info!(message = m, "data"))
                .await?;
            self.upload_source().await?;
        }
        self.skip(
            Step::Instance,
            "SageMaker starts the machines inside the training job",
        );
        self.skip(
            Step::Requirements,
            if self.installs_lock() {
                "Each machine installs exactly what uv.lock says before train.py starts"
            } else {
                "SageMaker's container installs requirements.txt on each machine"
            },
        );
        let view = self.run_job(machines, spot).await?;
        let timer = self.timer(Step::Outputs, "Listing the outputs");
        let keys = match self.bucket() {
            Ok(b) => b.list_keys(&self.resources.outputs_prefix()).await,
            Err(e) => Err(e),
        };
        let uri = self.outputs_uri();
        let keys = timer.finish(keys, |k| format!("{} output files in {uri}", k.len()))?;
        let name = self.resources.training_job_name.clone().unwrap_or_default();
        Ok(RunReport {
            run_id: self.resources.run_id.clone(),
            instance_id: name.clone(),
            training: CommandOutcome {
                command_id: name,
                status: view.status,
                exit_code: 0,
                stdout_tail: self.summary.latest_line.clone().unwrap_or_default(),
                stderr_tail: String::new(),
                machine_seconds: None,
            },
            output_keys: keys,
            outputs_uri: uri,
        })
    }

    fn skip(&self, step: Step, message: &str) {
        self.progress.emit(ProgressEvent {
            run_id: self.resources.run_id.clone(),
            step,
            state: StepState::Skipped,
            elapsed_ms: 0,
            message: message.to_string(),
            detail: None,
        });
    }

    /// Quota, price and safety stop, the bucket, `sourcedir.tar.gz`.
    async fn prepare_job(&mut self, machines: u32, spot: bool) -> Result<(), PipelineError> {
        let timer = self.timer(
            Step::Prepare,
            "Checking the SageMaker quota for this machine type",
        );
        let result = async {
            let ctx = self.ctx.clone();
            quota::check(&ctx, &self.request.instance_type, machines, spot).await?;
            self.price_job(&timer, machines, spot).await?;
            let account = match self.resources.account_id.clone() {
                Some(id) => id,
                None => storage::account_id(&ctx).await?,
            };
            crate::pipeline::require_account_setup(&ctx, &account).await?;
            self.resources.account_id = Some(account);
            self.save()?;
            if self.bucket()?.ensure().await? {
                timer.update(format!(
                    "Created the private, encrypted bucket {}",
                    self.resources.bucket
                ));
            }
            self.send_job_data(&|m| timer.update(m)).await?;
            timer.update("Uploading sourcedir.tar.gz (train.py and requirements.txt)");
            self.upload_source().await
        }
        .await;
        let place = format!("s3://{}/{}/", self.resources.bucket, self.resources.prefix);
        timer.finish(result, |_| format!("Uploaded sourcedir.tar.gz to {place}"))
    }

    /// GPUs of one machine: those of the EC2 type behind the `ml.*` one
    /// (0 when EC2 cannot tell: the job then runs one process per machine).
    async fn gpus_per_machine(&self) -> u32 {
        let ec2_type = self.request.instance_type.trim_start_matches("ml.");
        match machine::describe_type(&self.ctx, ec2_type).await {
            Ok(t) => u32::try_from(t.gpu_count).unwrap_or(0),
            Err(e) => {
                tracing::warn!(ec2_type, error = %e, "GPU count unknown: one process per machine");
                0
            }
        }
    }

    /// $/hour of one ml.* machine (SageMaker bills each machine by the
    /// second); a budget cap sets the job's maximum run time.
    async fn price_job(
        &mut self,
        timer: &StepTimer<'static>,
        machines: u32,
        spot: bool,
    ) -> Result<(), PipelineError> {
        let rate = match &self.prices {
            Some(p) => {
                p.hourly(&self.ctx, Service::SageMaker, &self.request.instance_type)
                    .await
            }
            None => None,
        };
        self.resources.usd_per_hour = rate;
        self.resources.machines = machines;
        let all = rate.map(|r| r * f64::from(machines));
        let cap = safety_stop(
            f64::from(self.request.max_runtime_hours),
            self.request.budget_usd,
            all,
        )?;
        if cap.budget_ignored {
            timer.update("The price of this machine type is unknown: the budget cap cannot be applied; the maximum run time is the safety stop");
        }
        self.resources.safety_stop_hours = Some(cap.hours);
        let stop = human_duration(Duration::from_secs_f64(cap.hours * 3600.0));
        timer.update(match all {
            Some(all) => format!(
                "About ${all:.2} per hour for {machines} machine(s){}; SageMaker stops the job after {stop} at most (${:.2} at most)",
                if spot { " on demand (spot costs less)" } else { "" },
                all * cap.hours
            ),
            None => "Price unknown (the price list could not be read)".to_string(),
        });
        self.save()
    }

    fn sagemaker_stack_parameters(
        &self,
    ) -> Result<Vec<aws_sdk_cloudformation::types::Parameter>, PipelineError> {
        let region = self.ctx.region();
        let image_account = image::image_account(region)
            .ok_or_else(|| InputError::NoSageMakerInRegion(region.to_string()))?;
        let (data_bucket, data_prefix) = self.data_grant()?;
        Ok(vec![
            stack::parameter("Engine", "sagemaker"),
            stack::parameter("RunId", &self.resources.run_id),
            stack::parameter("Bucket", &self.resources.bucket),
            stack::parameter("RunPrefix", &self.resources.prefix),
            stack::parameter("LambdaCodeKey", ""),
            stack::parameter("InstanceType", ""),
            stack::parameter("AmiId", ""),
            stack::parameter("VpcId", ""),
            stack::parameter("MaxRuntimeHours", format!("{:.2}", self.safety_hours())),
            stack::parameter("FrameworkImageAccount", image_account),
            stack::parameter("DataBucket", data_bucket),
            stack::parameter("DataPrefix", data_prefix),
        ])
    }

    /// Creates the job and follows it to its end: secondary statuses as
    /// progress, every machine's log, metrics from the first machine's.
    async fn run_job(&mut self, machines: u32, spot: bool) -> Result<JobView, PipelineError> {
        let timer = self.timer(Step::Training, "Creating the SageMaker training job");
        let result = self.run_job_inner(&timer, machines, spot).await;
        let latest = self.summary.latest_line.clone();
        timer.finish(result, |v| match latest {
            Some(line) => format!("The training job {}: {line}", v.status.to_lowercase()),
            None => format!("The training job {}", v.status.to_lowercase()),
        })
    }

    async fn run_job_inner(
        &mut self,
        timer: &StepTimer<'static>,
        machines: u32,
        spot: bool,
    ) -> Result<JobView, PipelineError> {
        let stack_ref =
            self.resources
                .stack_id
                .clone()
                .ok_or_else(|| PipelineError::StackFailed {
                    reason: "the run has no stack yet: create it first".into(),
                })?;
        let role_arn = stack::outputs(&self.ctx, &stack_ref)
            .await?
            .get("SageMakerRoleArn")
            .cloned()
            .ok_or_else(|| PipelineError::StackFailed {
                reason: "the stack has no SageMakerRoleArn output".into(),
            })?;
        self.resources.launches += 1;
        let name = format!(
            "{}-{}",
            job::job_name(&self.resources.run_id),
            self.resources.launches
        );
        self.resources.training_job_name = Some(name.clone());
        self.resources.launched_at = Some(now_secs() as f64);
        self.resources.ended_at = None;
        self.resources.billable_seconds = None;
        self.resources.training_seconds = None;
        self.save()?;
        // Put before the first job, and again by a retried run (which reads
        // the keychain's current values), as on EC2.
        if !self.secrets_sent {
            self.send_secrets(&|m| timer.update(m)).await?;
        }
        let runtime = (self.safety_hours() * 3600.0).ceil() as i32;
        let gpus_per_machine = self.gpus_per_machine().await;
        let spec = JobSpec {
            name: name.clone(),
            run_id: self.resources.run_id.clone(),
            region: self.ctx.region().to_string(),
            role_arn,
            ml_type: self.request.instance_type.clone(),
            machines,
            gpus_per_machine,
            spot,
            disk_gb: self.request.disk_gb,
            max_runtime_secs: runtime,
            bucket: self.resources.bucket.clone(),
            prefix: self.resources.prefix.clone(),
            program: self.program(),
            entry: self.sagemaker_entry(),
            env: self.request.env.clone(),
            data: self.job_data()?,
            secrets: self.secret_exports(),
            notebook: self.runs_notebook(),
            bucket_owner: self.resources.account_id.clone().unwrap_or_default(),
            lock: self.installs_lock(),
        };
        job::create(&self.ctx, &spec, &|s: &str| timer.update(s.to_string())).await?;
        timer.update(format!(
            "Training job {name} created: {machines} × {}{}",
            spec.ml_type,
            if spot { " (spot)" } else { "" }
        ));
        let limit = Duration::from_secs(spec.max_wait_secs().unwrap_or(runtime).max(60) as u64)
            + Duration::from_secs(3600);
        let view = self.follow_job(timer, &name, limit).await;
        // What it cost, even when it failed.
        if let Ok(Some(end)) = job::describe(&self.ctx, &name).await {
            self.resources.billable_seconds = end.billable_secs;
            self.resources.training_seconds = end.training_secs;
        }
        self.resources.ended_at = Some(now_secs() as f64);
        self.save()?;
        let view = view?;
        if view.status == "Completed" {
            return Ok(view);
        }
        let reason = view
            .failure
            .clone()
            .unwrap_or_else(|| format!("it ended {} ({})", view.status, view.secondary));
        let tail = self.summary.error_tail.join("\n");
        if secrets_unreadable(&tail) {
            // The launcher stopped before the script (exit 81), as on EC2.
            return Err(PipelineError::SecretsUnreadable { tail });
        }
        Err(PipelineError::TrainingJobFailed {
            job: name,
            reason: one_line(&reason),
            tail,
        })
    }

    /// Waits for the job while reading its logs every few seconds.
    async fn follow_job(
        &mut self,
        timer: &StepTimer<'static>,
        name: &str,
        limit: Duration,
    ) -> Result<JobView, PipelineError> {
        let run_id = self.resources.run_id.clone();
        self.progress.log_reset(&run_id, LogName::Train);
        let mut logs = JobLogs::new(name);
        let mut follow = Follow::default();
        let notice = |s: &str| timer.update(s.to_string());
        let ctx = self.ctx.clone();
        let wait = job::wait_ended(&ctx, name, limit, &notice);
        tokio::pin!(wait);
        let mut every = tokio::time::interval(LOG_EVERY);
        every.tick().await;
        let view = loop {
            tokio::select! {
                done = &mut wait => break done,
                _ = every.tick() => self.read_job_log(&mut logs, &mut follow).await,
            }
        };
        // SageMaker delivers the last lines a moment after the job ends.
        self.read_job_log(&mut logs, &mut follow).await;
        self.summary.error_tail = follow.failure_tail();
        view
    }

    async fn read_job_log(&mut self, logs: &mut JobLogs, follow: &mut Follow) {
        let found = match logs.poll(&self.ctx).await {
            Ok(found) => found,
            // The log is a view of the run, not the run: keep waiting.
            Err(e) => {
                tracing::warn!(run_id = self.resources.run_id, error = %e, "could not read the training job's log");
                return;
            }
        };
        let run_id = self.resources.run_id.clone();
        for host in found {
            follow.keep(&host.host, &host.lines);
            if host_number(&host.host) == 1 {
                // The first machine (rank 0): the script's lines give metrics,
                // summary and latest line; the container's own only show.
                let flags: Vec<bool> = host.lines.iter().map(|l| follow.is_platform(l)).collect();
                let mut start = 0;
                while start < host.lines.len() {
                    let platform = flags[start];
                    let end = flags[start..]
                        .iter()
                        .position(|f| *f != platform)
                        .map_or(host.lines.len(), |n| start + n);
                    let run = &host.lines[start..end];
                    if platform {
                        self.progress.log(&run_id, LogName::Train, run, 0);
                    } else {
                        self.take_lines(run, &mut follow.parser, &mut follow.watch, LogName::Train);
                    }
                    start = end;
                }
            } else {
                // The others, marked with their machine, in the same log.
                let marked: Vec<LogLine> = host
                    .lines
                    .iter()
                    .map(|l| LogLine {
                        text: format!("[{}] {}", host.host, l.text),
                        ..l.clone()
                    })
                    .collect();
                self.progress.log(&run_id, LogName::Train, &marked, 0);
            }
        }
    }
}

/// What following a job keeps between reads.
#[derive(Default)]
struct Follow {
    parser: MetricParser,
    watch: Watch,
    /// Machine → its last lines.
    tails: HashMap<String, VecDeque<String>>,
    /// The first machine's log has reached the script's own output (the
    /// container prints its environment and command first).
    script_started: bool,
    /// The next line is the command, the last platform line.
    pending: bool,
}

/// The line after which the script's own output comes.
const SCRIPT_STARTS: &str = "Invoking script with the following command:";

impl Follow {
    /// A line of the container (toolkit, environment dump, command), not
    /// of train.py: never read for metrics.
    fn is_platform(&mut self, line: &LogLine) -> bool {
        if line.text.contains(" sagemaker-training-toolkit ") {
            return true;
        }
        if !self.script_started {
            if line.text.trim() == SCRIPT_STARTS {
                self.pending = true;
            } else if self.pending {
                // The command itself, then the script's output.
                self.pending = false;
                self.script_started = true;
            }
            return true;
        }
        false
    }

    fn keep(&mut self, host: &str, lines: &[LogLine]) {
        let tail = self.tails.entry(host.to_string()).or_default();
        for l in lines {
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(l.text.clone());
        }
    }

    /// The end of the log that tells why: the machine whose log has a
    /// traceback (or an error report), else the first machine's.
    fn failure_tail(&self) -> Vec<String> {
        let mut hosts: Vec<&String> = self.tails.keys().collect();
        hosts.sort_by_key(|h| host_number(h));
        let telling = hosts
            .iter()
            .find(|h| {
                self.tails[**h]
                    .iter()
                    .any(|l| l.contains("Traceback") || l.contains("ErrorMessage"))
            })
            .or(hosts.first());
        let Some(host) = telling else {
            return Vec::new();
        };
        let tail = &self.tails[*host];
        let start = tail
            .iter()
            .position(|l| l.starts_with("Traceback"))
            .unwrap_or(0);
        tail.iter()
            .skip(start)
            .map(|l| format!("[{host}] {l}"))
            .collect()
    }
}

/// The launcher's refusal (`easytdv_secrets.py`): the run's secrets could
/// not be read, the script did not start.
fn secrets_unreadable(tail: &str) -> bool {
    tail.lines()
        .any(|l| l.contains("easytdv: could not read the run's secrets ("))
}

/// SageMaker's failure reason on one line, at most 600 characters.
fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(600)
        .collect()
}
