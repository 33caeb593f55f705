//! `Train`: one training run, step by step (the original `easyTDV.Train`).

use std::sync::Arc;
use std::time::Duration;

use super::delete::delete_resources;
use super::error::PipelineError;
use super::inputs::{check_request, InputError};
use super::model::*;
use super::progress::{ProgressSink, RunStateSink, SinkRef, StepTimer};
use super::words::{human_duration, last_line, last_lines, stack_words};
use super::{assets, instance, machine, new_run_id, remote, stack, storage};
use crate::aws::AwsContext;

const INSTALL_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// One training run: the checked inputs, where progress and state go, and
/// the resources created so far.
pub struct Train {
    ctx: AwsContext,
    request: TrainRequest,
    script: Vec<u8>,
    requirements: Vec<u8>,
    resources: RunResources,
    progress: Arc<dyn ProgressSink>,
    state: Arc<dyn RunStateSink>,
}

impl Train {
    /// Checks every input (nothing is created if one is wrong) and opens a
    /// new run.
    pub fn new(
        ctx: AwsContext,
        request: TrainRequest,
        progress: Arc<dyn ProgressSink>,
        state: Arc<dyn RunStateSink>,
    ) -> Result<Self, PipelineError> {
        let run_id = new_run_id();
        let resources = RunResources {
            prefix: format!("easytdv/runs/{run_id}"),
            run_id,
            region: request.region.clone(),
            bucket: request.bucket.clone(),
            ..Default::default()
        };
        Self::resume(ctx, request, resources, progress, state)
    }

    /// Continues a run whose resources are known (retry from a step); the
    /// files are read and checked again, so a fixed script is picked up.
    pub fn resume(
        ctx: AwsContext,
        request: TrainRequest,
        resources: RunResources,
        progress: Arc<dyn ProgressSink>,
        state: Arc<dyn RunStateSink>,
    ) -> Result<Self, PipelineError> {
        let checked = check_request(&request)?;
        if ctx.region() != request.region {
            return Err(InputError::BadRegion(format!(
                "{} (the account is set up for {})",
                request.region,
                ctx.region()
            ))
            .into());
        }
        let train = Self {
            ctx,
            request: checked.request,
            script: checked.script,
            requirements: checked.requirements,
            resources,
            progress,
            state,
        };
        train.save()?;
        Ok(train)
    }

    pub fn run_id(&self) -> &str {
        &self.resources.run_id
    }

    pub fn resources(&self) -> &RunResources {
        &self.resources
    }

    pub fn request(&self) -> &TrainRequest {
        &self.request
    }

    fn save(&self) -> Result<(), PipelineError> {
        self.state.record(&self.resources)
    }

    /// Starts timing one step; the timer shares the progress sink, so the
    /// step may change `self` meanwhile.
    fn timer(&self, step: Step, message: &str) -> StepTimer<'static> {
        StepTimer::start(
            SinkRef::Shared(self.progress.clone()),
            &self.resources.run_id,
            step,
            message,
        )
    }

    fn key(&self, name: &str) -> String {
        format!("{}/{}", self.resources.prefix, name)
    }

    /// Resolves the machine and image, ensures the bucket, uploads the
    /// script, requirements, template and Lambda code.
    pub async fn prepare_env(&mut self) -> Result<PreparedEnv, PipelineError> {
        let timer = self.timer(Step::Prepare, "Checking the machine type and image");
        let result = self.prepare_inner(&timer).await;
        let place = format!("s3://{}/{}/", self.resources.bucket, self.resources.prefix);
        timer.finish(result, |_| format!("Uploaded 4 files to {place}"))
    }

    async fn prepare_inner(
        &mut self,
        timer: &StepTimer<'static>,
    ) -> Result<PreparedEnv, PipelineError> {
        let ctx = &self.ctx;
        let info = machine::describe_type(ctx, &self.request.instance_type).await?;
        let ami = machine::resolve_ami(ctx, &info, self.request.ami.as_deref()).await?;
        if i64::from(self.request.disk_gb) < i64::from(ami.min_disk_gb) {
            return Err(PipelineError::DiskTooSmallForImage {
                needed: ami.min_disk_gb,
                asked: self.request.disk_gb,
            });
        }
        let vpc_id = machine::default_vpc(ctx).await?;
        timer.update(format!("Using image {} ({})", ami.name, ami.id));
        if storage::ensure_bucket(ctx, &self.resources.bucket).await? {
            timer.update(format!(
                "Created the private, encrypted bucket {}",
                self.resources.bucket
            ));
        }
        let files = [
            ("train.py", self.script.clone()),
            ("requirements.txt", self.requirements.clone()),
            ("stack.yaml", assets::STACK_TEMPLATE.as_bytes().to_vec()),
            (
                "launch.zip",
                assets::lambda_zip().map_err(|e| PipelineError::State(e.to_string()))?,
            ),
        ];
        for (name, body) in files {
            let key = self.key(name);
            if !self.resources.uploaded_keys.contains(&key) {
                self.resources.uploaded_keys.push(key.clone());
                self.save()?;
            }
            timer.update(format!("Uploading {name}"));
            storage::put(&self.ctx, &self.resources.bucket, &key, body).await?;
        }
        Ok(PreparedEnv {
            s3_lambda_key: self.key("launch.zip"),
            s3_train_script_key: self.key("train.py"),
            s3_requirements_key: self.key("requirements.txt"),
            s3_template_key: self.key("stack.yaml"),
            template_url: storage::template_url(
                &self.resources.bucket,
                self.ctx.region(),
                &self.key("stack.yaml"),
            ),
            ami_id: ami.id,
            vpc_id,
        })
    }

    /// Starts creating the run's stack; returns its id at once.
    pub async fn start_create_stack(
        &mut self,
        prepared: &PreparedEnv,
    ) -> Result<String, PipelineError> {
        let name = stack::stack_name(&self.resources.run_id);
        self.resources.stack_name = Some(name.clone());
        self.save()?;
        let r = &self.request;
        let params = vec![
            stack::parameter("RunId", &self.resources.run_id),
            stack::parameter("Bucket", &self.resources.bucket),
            stack::parameter("RunPrefix", &self.resources.prefix),
            stack::parameter("LambdaCodeKey", &prepared.s3_lambda_key),
            stack::parameter("InstanceType", &r.instance_type),
            stack::parameter("DiskSizeGb", r.disk_gb.to_string()),
            stack::parameter("AmiId", &prepared.ami_id),
            stack::parameter("VpcId", &prepared.vpc_id),
            stack::parameter("MaxRuntimeHours", r.max_runtime_hours.to_string()),
        ];
        let id = stack::start_create(
            &self.ctx,
            &name,
            &self.resources.run_id,
            &prepared.template_url,
            params,
        )
        .await?;
        self.resources.stack_id = Some(id.clone());
        self.save()?;
        Ok(id)
    }

    /// Creates the stack and waits for it. On failure the reason is the
    /// failing resource's, and the stack is deleted.
    pub async fn create_stack(
        &mut self,
        prepared: &PreparedEnv,
    ) -> Result<StackInfo, PipelineError> {
        let timer = self.timer(
            Step::Stack,
            "Creating the IAM roles, security group and launch function",
        );
        let result = async {
            let id = match self.start_create_stack(prepared).await {
                Ok(id) => id,
                // CreateStack itself refused (e.g. a name already taken): make
                // sure nothing of the stack stays, and say why in plain words.
                Err(PipelineError::Aws { message, .. }) => {
                    let name = stack::stack_name(&self.resources.run_id);
                    stack::delete(&self.ctx, &name).await?;
                    return Err(PipelineError::StackFailed { reason: message });
                }
                Err(e) => return Err(e),
            };
            let on_status = |s: &str| timer.update(stack_words(s));
            let status = stack::wait_created(&self.ctx, &id, &on_status).await?;
            Ok(StackInfo {
                stack_id: id,
                stack_status: status,
            })
        }
        .await;
        if result.is_err() {
            // The failed stack was deleted: forget it.
            self.resources.stack_id = None;
            self.resources.stack_name = None;
            self.save()?;
        }
        timer.finish(result, |_| "Cloud resources are ready".to_string())
    }

    /// Invokes the launch function; returns the instance id at once.
    pub async fn start_launch_instance(&mut self) -> Result<String, PipelineError> {
        let stack_ref =
            self.resources
                .stack_id
                .clone()
                .ok_or_else(|| PipelineError::StackFailed {
                    reason: "the run has no stack yet: create it first".into(),
                })?;
        let outputs = stack::outputs(&self.ctx, &stack_ref).await?;
        let function = outputs.get("LaunchFunctionName").cloned().ok_or_else(|| {
            PipelineError::StackFailed {
                reason: "the stack has no LaunchFunctionName output".into(),
            }
        })?;
        // A relaunch (retry) replaces the previous machine: never two at once.
        if let Some(old) = self.resources.instance_id.clone() {
            instance::terminate(&self.ctx, &[old]).await?;
            self.resources.instance_id = None;
        }
        self.resources.launches += 1;
        self.save()?;
        let id = instance::invoke_launcher(&self.ctx, &function, self.resources.launches).await?;
        self.resources.instance_id = Some(id.clone());
        self.save()?;
        Ok(id)
    }

    /// Launches the machine and waits until it runs and its SSM agent is online.
    pub async fn launch_instance(&mut self) -> Result<String, PipelineError> {
        let timer = self.timer(Step::Instance, "Launching the training machine");
        let result = async {
            let id = self.start_launch_instance().await?;
            timer.update(format!("Machine {id} is starting"));
            instance::wait_running(&self.ctx, &id).await?;
            timer.update(format!(
                "Machine {id} is running; waiting for its management agent"
            ));
            instance::wait_agent_online(&self.ctx, &id).await?;
            Ok(id)
        }
        .await;
        timer.finish(result, |id| format!("Machine {id} is ready"))
    }

    fn prelude(&self) -> String {
        remote::prelude(
            &self.resources.bucket,
            &self.resources.prefix,
            self.ctx.region(),
        )
    }

    /// Starts `pip install -r requirements.txt` in a fresh venv; returns the command id.
    pub async fn start_install_requirements(
        &mut self,
        instance_id: &str,
    ) -> Result<String, PipelineError> {
        // Upload again: a retry picks up a fixed requirements.txt.
        storage::put(
            &self.ctx,
            &self.resources.bucket,
            &self.key("requirements.txt"),
            self.requirements.clone(),
        )
        .await?;
        let id = remote::send(
            &self.ctx,
            instance_id,
            &self.prelude(),
            assets::INSTALL_SCRIPT,
            &format!("easyTDV {}: install requirements", self.resources.run_id),
            INSTALL_TIMEOUT,
        )
        .await?;
        self.resources.install_command_id = Some(id.clone());
        self.save()?;
        Ok(id)
    }

    /// Installs the requirements and waits; on failure returns pip's error tail.
    pub async fn install_requirements(
        &mut self,
        instance_id: &str,
    ) -> Result<CommandOutcome, PipelineError> {
        let timer = self.timer(
            Step::Requirements,
            "Creating a Python environment and installing requirements",
        );
        let result = async {
            let cmd = self.start_install_requirements(instance_id).await?;
            let tick = |d: Duration| timer.update(format!("pip is working ({} s)", d.as_secs()));
            let outcome = remote::wait(
                &self.ctx,
                instance_id,
                &cmd,
                INSTALL_TIMEOUT + Duration::from_secs(120),
                &tick,
            )
            .await?;
            if !outcome.succeeded() {
                return Err(PipelineError::InstallFailed {
                    status: outcome.status.clone(),
                    exit_code: outcome.exit_code,
                    tail: remote::tail(&outcome, 30),
                });
            }
            Ok(outcome)
        }
        .await;
        timer.finish(result, |_| "Requirements installed".to_string())
    }

    fn training_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.request.max_runtime_hours) * 3600)
    }

    /// Starts `train.py`; returns the command id.
    pub async fn start_run_training(&mut self, instance_id: &str) -> Result<String, PipelineError> {
        // Upload again: a retry picks up a fixed train.py.
        storage::put(
            &self.ctx,
            &self.resources.bucket,
            &self.key("train.py"),
            self.script.clone(),
        )
        .await?;
        let id = remote::send(
            &self.ctx,
            instance_id,
            &self.prelude(),
            assets::TRAIN_SCRIPT,
            &format!("easyTDV {}: run train.py", self.resources.run_id),
            self.training_timeout(),
        )
        .await?;
        self.resources.training_command_id = Some(id.clone());
        self.save()?;
        Ok(id)
    }

    /// Runs the training and waits; on failure returns the traceback tail.
    /// Then lists the outputs (step "outputs").
    pub async fn run_training(
        &mut self,
        instance_id: &str,
    ) -> Result<(CommandOutcome, Vec<String>), PipelineError> {
        let timer = self.timer(Step::Training, "Running train.py");
        let result = async {
            let cmd = self.start_run_training(instance_id).await?;
            let started = std::time::Instant::now();
            let limit = self.training_timeout() + Duration::from_secs(300);
            let wait = remote::wait(&self.ctx, instance_id, &cmd, limit, &|_| {});
            tokio::pin!(wait);
            // While it runs, show the latest line the script printed (the
            // instance uploads its log every few seconds).
            let log = format!("{}_logs/train-stdout.log", self.resources.outputs_prefix());
            let mut every = tokio::time::interval(Duration::from_secs(5));
            every.tick().await;
            let outcome = loop {
                tokio::select! {
                    done = &mut wait => break done?,
                    _ = every.tick() => {
                        let latest = storage::tail_text(&self.ctx, &self.resources.bucket, &log, 2000)
                            .await
                            .map(|t| last_line(&t))
                            .filter(|l| l != "done");
                        let ran = human_duration(started.elapsed());
                        timer.update(match latest {
                            Some(line) => format!("train.py is running ({ran}): {line}"),
                            None => format!("train.py is running ({ran})"),
                        });
                    }
                }
            };
            if !outcome.succeeded() {
                // SSM keeps the start of the output; the full log in S3 has the end.
                let log = format!("{}_logs/train-stderr.log", self.resources.outputs_prefix());
                let tail =
                    match storage::tail_text(&self.ctx, &self.resources.bucket, &log, 8000).await {
                        Some(text) if !text.trim().is_empty() => last_lines(&text, 40),
                        _ => remote::tail(&outcome, 40),
                    };
                return Err(PipelineError::TrainingFailed {
                    status: outcome.status.clone(),
                    exit_code: outcome.exit_code,
                    tail,
                });
            }
            Ok(outcome)
        }
        .await;
        let outcome = timer.finish(result, |o| {
            format!("train.py finished: {}", last_line(&o.stdout_tail))
        })?;
        let timer = self.timer(Step::Outputs, "Listing the outputs");
        let keys = storage::list_keys(
            &self.ctx,
            &self.resources.bucket,
            &self.resources.outputs_prefix(),
        )
        .await;
        let keys = timer.finish(keys, |k| {
            format!("{} output files in {}", k.len(), self.outputs_uri())
        })?;
        Ok((outcome, keys))
    }

    pub fn outputs_uri(&self) -> String {
        format!(
            "s3://{}/{}",
            self.resources.bucket,
            self.resources.outputs_prefix()
        )
    }

    /// The whole run, from `from` on (`Step::Prepare` for a new run).
    pub async fn run_from(&mut self, from: Step) -> Result<RunReport, PipelineError> {
        let order = |s: Step| Step::RUN.iter().position(|x| *x == s).unwrap_or(0);
        let start = order(from);
        if start <= order(Step::Stack) {
            if self.resources.stack_name.is_some() || self.resources.instance_id.is_some() {
                // Start the cloud part over cleanly.
                delete_resources(&self.ctx, &self.resources, self.progress.as_ref()).await?;
                self.resources.stack_id = None;
                self.resources.stack_name = None;
                self.resources.instance_id = None;
                self.save()?;
            }
            let prepared = self.prepare_env().await?;
            self.create_stack(&prepared).await?;
        }
        let instance_id = match (&self.resources.instance_id, start <= order(Step::Instance)) {
            (Some(id), false) => id.clone(),
            _ => self.launch_instance().await?,
        };
        if start <= order(Step::Requirements) {
            self.install_requirements(&instance_id).await?;
        }
        let (training, output_keys) = self.run_training(&instance_id).await?;
        Ok(RunReport {
            run_id: self.resources.run_id.clone(),
            instance_id,
            training,
            output_keys,
            outputs_uri: self.outputs_uri(),
        })
    }

    /// Deletes everything this run created (outputs are kept).
    pub async fn delete_resources(&self) -> Result<DeleteReport, PipelineError> {
        delete_resources(&self.ctx, &self.resources, self.progress.as_ref()).await
    }
}
