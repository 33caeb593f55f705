//! `Train`: one training run, step by step (the original `easyTDV.Train`).

use std::sync::Arc;
use std::time::Duration;

use super::delete::delete_resources;
use super::error::PipelineError;
use super::inputs::{check_request, InputError};
use super::machine::LaunchSubnet;
use super::model::*;
use super::progress::{ProgressSink, RunStateSink, SinkRef, StepTimer};
use super::storage::RunBucket;
use super::{new_run_id, remote};
use crate::aws::AwsContext;
use crate::logs::{Curves, LogName};
use crate::prices::Prices;
use crate::secrets::RunSecrets;

mod cloud;
mod commands;
mod data;
mod follow;
mod prepare;
mod project;
mod secrets;
mod send;
pub(in crate::pipeline) use follow::Watch;

/// Longest an install may take (it must also end before the safety stop).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(3 * 60 * 60);
/// How often a running step's log is read (only new bytes are fetched).
pub(in crate::pipeline) const LOG_EVERY: Duration = Duration::from_secs(2);
/// After a failure the machine shuts itself down after this long (minutes)
/// unless the user retries; it costs money meanwhile.
pub const IDLE_AFTER_FAILURE_MIN: u32 = 60;
/// Where environment caches live in the run's bucket.
pub const CACHE_PREFIX: &str = "easytdv/cache";

/// One training run: the checked inputs, where progress and state go, and
/// the resources created so far.
pub struct Train {
    pub(in crate::pipeline) ctx: AwsContext,
    pub(in crate::pipeline) request: TrainRequest,
    pub(in crate::pipeline) script: Vec<u8>,
    pub(in crate::pipeline) requirements: Vec<u8>,
    /// The entry point's name on the machine: `train.py` or the notebook's.
    pub(in crate::pipeline) entry: String,
    /// A notebook's executor pins beside the project's requirements.
    pub(in crate::pipeline) executor: Option<Vec<u8>>,
    pub(in crate::pipeline) resources: RunResources,
    pub(in crate::pipeline) progress: Arc<dyn ProgressSink>,
    pub(in crate::pipeline) state: Arc<dyn RunStateSink>,
    /// Where the machine may start (zones offering the type), tried in order.
    pub(in crate::pipeline) subnets: Vec<LaunchSubnet>,
    pub(in crate::pipeline) summary: RunSummary,
    pub(in crate::pipeline) curves: Curves,
    pub(in crate::pipeline) prices: Option<Arc<Prices>>,
    /// The values of the secrets the request names (read from the keychain
    /// by whoever opened the run); whether they were put in Parameter
    /// Store by this process yet.
    pub(in crate::pipeline) secrets: RunSecrets,
    pub(in crate::pipeline) secrets_sent: bool,
    /// The project's files, as last checked.
    pub(in crate::pipeline) project: crate::project::ProjectInputs,
    /// What was last sent of it (`None`: not yet in this session).
    pub(in crate::pipeline) project_sent: Option<project::Sent>,
    /// Blobs the machine refused: sent again, whatever the bucket holds.
    pub(in crate::pipeline) resend: std::collections::HashSet<String>,
    /// What was last sent of the run's data (`None`: none, or not yet).
    pub(in crate::pipeline) data_sent: Option<data::DataSent>,
    /// easyTDV's shared resources in the run's region, once ensured.
    pub(in crate::pipeline) base: Option<super::base::Base>,
    /// A saved environment the machine reported, copied into the shared
    /// cache once its command has ended.
    pub(in crate::pipeline) saved_environment: Option<crate::environments::CacheArchive>,
    /// The clean-up done when the machine was handed on to be kept warm:
    /// the run's own clean-up afterwards has nothing left to do.
    pub(in crate::pipeline) handed_on: Option<DeleteReport>,
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
            entry: checked.entry,
            executor: checked.executor,
            resources,
            progress,
            state,
            subnets: Vec::new(),
            summary: RunSummary::default(),
            curves: Curves::default(),
            prices: None,
            secrets: RunSecrets::none(),
            secrets_sent: false,
            project: checked.project,
            project_sent: None,
            resend: Default::default(),
            data_sent: None,
            base: None,
            saved_environment: None,
            handed_on: None,
        };
        train.save()?;
        Ok(train)
    }

    /// Prices the machine at preparation (cost shown and recorded; a budget
    /// cap becomes the machine's safety stop).
    pub fn with_prices(mut self, prices: Arc<Prices>) -> Self {
        self.prices = Some(prices);
        self
    }

    /// Gives the run the values of the secrets its request names (read from
    /// the account's keychain); they must be exactly those.
    pub fn with_secrets(mut self, secrets: RunSecrets) -> Result<Self, PipelineError> {
        if !secrets.matches(&self.request.secrets) {
            return Err(PipelineError::State(format!(
                "the run asks for the secrets [{}] but was given [{}]",
                self.request.secrets.join(", "),
                secrets.names().join(", ")
            )));
        }
        self.secrets = secrets;
        Ok(self)
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

    /// What the machine reported so far: phases, Python, environment, metrics.
    pub fn summary(&self) -> RunSummary {
        RunSummary {
            final_metrics: self.curves.finals(),
            ..self.summary.clone()
        }
    }

    pub(in crate::pipeline) fn save(&self) -> Result<(), PipelineError> {
        self.state.record(&self.resources)
    }

    /// Starts timing one step; the timer shares the progress sink, so the
    /// step may change `self` meanwhile.
    pub(in crate::pipeline) fn timer(&self, step: Step, message: &str) -> StepTimer<'static> {
        StepTimer::start(
            SinkRef::Shared(self.progress.clone()),
            &self.resources.run_id,
            step,
            message,
        )
    }

    pub(in crate::pipeline) fn key(&self, name: &str) -> String {
        format!("{}/{}", self.resources.prefix, name)
    }

    pub(in crate::pipeline) fn bucket(&self) -> Result<RunBucket<'_>, PipelineError> {
        let owner =
            self.resources.account_id.clone().ok_or_else(|| {
                PipelineError::State("the bucket's owner is not known yet".into())
            })?;
        Ok(RunBucket::new(&self.ctx, &self.resources.bucket, owner))
    }

    pub fn outputs_uri(&self) -> String {
        format!(
            "s3://{}/{}",
            self.resources.bucket,
            self.resources.outputs_prefix()
        )
    }

    /// A command sent earlier that is still running (the app was closed, or
    /// the connection was lost for longer than the grace): wait for it
    /// instead of starting the step again.
    async fn still_running(&self, command: &Option<String>) -> Option<String> {
        let (Some(cmd), Some(instance)) = (command, &self.resources.instance_id) else {
            return None;
        };
        match remote::outcome(&self.ctx, instance, cmd).await {
            Ok(None) => Some(cmd.clone()),
            _ => None,
        }
    }

    /// The whole run, from `from` on (`Step::Prepare` for a new run).
    pub async fn run_from(&mut self, from: Step) -> Result<RunReport, PipelineError> {
        if self.request.engine.is_sagemaker() {
            return self.run_sagemaker(from).await;
        }
        let order = |s: Step| Step::RUN.iter().position(|x| *x == s).unwrap_or(0);
        let mut start = order(from);
        if start > order(Step::Instance) {
            if let Some(id) = self.resources.instance_id.clone() {
                // The machine is gone (AWS took a spot machine back): the run
                // goes on on a new one, from its launch.
                match self.machine_gone(&id).await? {
                    Some(e) if super::spot::taken_back(&e) => {
                        tracing::info!(
                            run_id = self.run_id(),
                            instance_id = id,
                            "AWS took the machine back: resuming on a new one"
                        );
                        start = order(Step::Instance);
                    }
                    // Any other end (its safety stop, a budget cap): a new
                    // machine is the user's choice (Retry from "Start the machine").
                    Some(e) => return Err(e),
                    None => {}
                }
            }
        }
        if start <= order(Step::Stack) {
            if self.resources.stack_name.is_some() || self.resources.instance_id.is_some() {
                // Start the cloud part over cleanly.
                delete_resources(&self.ctx, &self.resources, self.progress.as_ref()).await?;
                if self.resources.instance_id.is_some() {
                    // Its time stays the run's.
                    self.count_earlier_machine()?;
                }
                self.resources.stack_id = None;
                self.resources.stack_name = None;
                self.resources.instance_id = None;
                self.save()?;
            }
            let prepared = self.prepare_env().await?;
            self.ensure_base(&prepared).await?;
        }
        let mut env_in_place = false;
        let instance_id = match (&self.resources.instance_id, start <= order(Step::Instance)) {
            (Some(id), false) => id.clone(),
            (None, _) => match self.take_warm_machine().await? {
                Some((id, in_place)) => {
                    env_in_place = in_place;
                    id
                }
                None => self.launch_instance().await?,
            },
            _ => self.launch_instance().await?,
        };
        if env_in_place {
            self.environment_in_place();
        } else if start <= order(Step::Requirements) {
            match self
                .still_running(&self.resources.install_command_id.clone())
                .await
            {
                Some(cmd) => {
                    self.reattach(&instance_id, &cmd, Step::Requirements)
                        .await?;
                }
                None => {
                    self.install_requirements(&instance_id).await?;
                }
            }
        }
        let (training, output_keys) = match self
            .still_running(&self.resources.training_command_id.clone())
            .await
        {
            Some(cmd) if start >= order(Step::Training) => {
                let outcome = self.reattach(&instance_id, &cmd, Step::Training).await?;
                self.bring_outputs().await;
                let keys = self
                    .bucket()?
                    .list_keys(&self.resources.outputs_prefix())
                    .await?;
                (outcome, keys)
            }
            _ => self.run_training(&instance_id).await?,
        };
        if let Err(e) = self.hand_on_machine(&instance_id).await {
            tracing::warn!(run_id = self.run_id(), error = %e, "the machine was not kept warm");
        }
        Ok(RunReport {
            run_id: self.resources.run_id.clone(),
            instance_id,
            training,
            output_keys,
            outputs_uri: self.outputs_uri(),
        })
    }

    /// Waits again for a command that kept running on the machine.
    async fn reattach(
        &mut self,
        instance_id: &str,
        command_id: &str,
        step: Step,
    ) -> Result<CommandOutcome, PipelineError> {
        let timer = self.timer(
            step,
            "Picking up where the run was: the machine kept working",
        );
        let name = if step == Step::Training {
            LogName::Train
        } else {
            LogName::Install
        };
        let result = self
            .follow(&timer, instance_id, command_id, self.time_left(), name)
            .await
            .and_then(|o| {
                if o.succeeded() {
                    Ok(o)
                } else if step == Step::Training {
                    Err(self.training_failure(&o))
                } else {
                    Err(self.install_failure(&o))
                }
            });
        timer.finish(result, |_| "Done".to_string())
    }

    /// Deletes everything this run created (outputs are kept).
    pub async fn delete_resources(&self) -> Result<DeleteReport, PipelineError> {
        match (&self.handed_on, &self.resources.kept_warm) {
            // Done at the hand-off, and the machine is not the run's any more.
            (Some(done), Some(_)) => Ok(done.clone()),
            _ => delete_resources(&self.ctx, &self.resources, self.progress.as_ref()).await,
        }
    }
}

pub(in crate::pipeline) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
