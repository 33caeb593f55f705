//! The run's cloud part: on EC2, easyTDV's shared resources in the region
//! (the base: roles, security group, launcher) and the run's machine,
//! launched and waited for until its management agent is online; the run's
//! own stack for a SageMaker run.

use aws_sdk_cloudformation::types::Parameter;

use super::Train;
use crate::pipeline::base::{self, Base, BaseRun, Wanted};
use crate::pipeline::error::PipelineError;
use crate::pipeline::model::*;
use crate::pipeline::words::stack_words;
use crate::pipeline::{assets, instance, machine, region_ready, stack};
use crate::prices::machine_hours;

impl Train {
    /// The seed's "create the stack" for an EC2 run: makes sure easyTDV's
    /// shared resources in the region (the base) are ready; returns the base
    /// stack's id. A run creates no stack, role or function of its own.
    pub async fn start_create_stack(
        &mut self,
        prepared: &PreparedEnv,
    ) -> Result<String, PipelineError> {
        Ok(self.ensure_base(prepared).await?.stack_id)
    }

    pub(in crate::pipeline) async fn start_stack(
        &mut self,
        params: Vec<Parameter>,
    ) -> Result<String, PipelineError> {
        let name = stack::stack_name(&self.resources.run_id);
        self.resources.stack_name = Some(name.clone());
        self.save()?;
        let id = stack::start_create(
            &self.ctx,
            &name,
            &self.resources.run_id,
            assets::STACK_TEMPLATE,
            params,
        )
        .await?;
        self.resources.stack_id = Some(id.clone());
        self.save()?;
        Ok(id)
    }

    /// [`Train::start_create_stack`], with the base stack's status.
    pub async fn create_stack(
        &mut self,
        prepared: &PreparedEnv,
    ) -> Result<StackInfo, PipelineError> {
        let base = self.ensure_base(prepared).await?;
        let stack_status = crate::pipeline::stack_status(&self.ctx, base::STACK_NAME)
            .await?
            .unwrap_or_default();
        Ok(StackInfo {
            stack_id: base.stack_id,
            stack_status,
        })
    }

    /// Creates the run's own stack (a SageMaker run's execution role) and
    /// waits for it. On failure the reason is the failing resource's, and
    /// the stack is deleted.
    pub(in crate::pipeline) async fn create_stack_with(
        &mut self,
        params: Vec<Parameter>,
        message: &str,
    ) -> Result<StackInfo, PipelineError> {
        let timer = self.timer(Step::Stack, message);
        let notice = |s: &str| timer.update(s.to_string());
        let result = async {
            let id = match self.start_stack(params).await {
                Ok(id) => id,
                // CreateStack itself refused (e.g. a parameter out of its
                // range): make sure nothing of the stack stays, and say why.
                Err(PipelineError::Aws { message, .. }) => {
                    let name = stack::stack_name(&self.resources.run_id);
                    stack::delete(&self.ctx, &name, &notice).await?;
                    return Err(PipelineError::StackFailed { reason: message });
                }
                Err(e) => return Err(e),
            };
            let on_status = |s: &str| {
                if s.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                    timer.update(stack_words(s))
                } else {
                    timer.update(s.to_string())
                }
            };
            let status = stack::wait_created(&self.ctx, &id, &on_status).await?;
            Ok(StackInfo {
                stack_id: id,
                stack_status: status,
            })
        }
        .await;
        if matches!(result, Err(ref e) if !e.is_transient()) {
            // The failed stack was deleted: forget it.
            self.resources.stack_id = None;
            self.resources.stack_name = None;
            self.save()?;
        }
        timer.finish(result, |_| "Cloud resources are ready".to_string())
    }

    /// Invokes the launch function; returns the instance id at once.
    pub async fn start_launch_instance(&mut self) -> Result<String, PipelineError> {
        Ok(self.launch_machine(&log_notice()).await?.instance_id)
    }

    /// Makes sure easyTDV's shared resources (the base: the machines' role
    /// and profile, their security group, the launcher) are ready in the
    /// run's region: created on first use, updated when this build's differ.
    /// A run creates no IAM resource of its own.
    pub async fn ensure_base(&mut self, prepared: &PreparedEnv) -> Result<Base, PipelineError> {
        let timer = self.timer(
            Step::Stack,
            "Checking easyTDV's shared resources in this region",
        );
        let notice = |s: &str| timer.update(s.to_string());
        let wanted = Wanted {
            vpc_id: prepared.vpc_id.clone(),
            ebs_kms_key_arn: prepared.ebs_kms_key_arn.clone(),
        };
        // Prepare found it ready moments ago (`base::start`): not asked again.
        let result = match self.base.clone() {
            Some(ready) => Ok(ready),
            None => base::ensure(&self.ctx, &self.bucket()?, &wanted, &notice).await,
        };
        if let Ok(b) = &result {
            self.base = Some(b.clone());
        }
        timer.finish(result, |_| "Cloud resources are ready".to_string())
    }

    /// The base, as ensured by this run, or read again (a run resumed later).
    pub(in crate::pipeline) async fn base_now(&mut self) -> Result<Base, PipelineError> {
        if let Some(b) = &self.base {
            return Ok(b.clone());
        }
        let owner = self.bucket()?.owner().to_string();
        let b = region_ready::ensure_base(&self.ctx, &owner, &self.resources.bucket, &log_notice())
            .await?;
        self.base = Some(b.clone());
        Ok(b)
    }

    async fn launch_machine(
        &mut self,
        notice: &crate::pipeline::poll::Notice<'_>,
    ) -> Result<instance::Launched, PipelineError> {
        let base = self.base_now().await?;
        // A relaunch replaces every machine of the run (a launcher that was
        // still running when the run was stopped may have started one the
        // history does not name): never two at once.
        let mut old = instance::find_run_instances(&self.ctx, &self.resources.run_id).await?;
        let had_machine = self.resources.instance_id.is_some();
        if let Some(id) = self.resources.instance_id.take() {
            if !old.contains(&id) {
                old.push(id);
            }
        }
        // A machine handed on to be kept warm is no longer this run's.
        if let Some(warm) = &self.resources.kept_warm {
            old.retain(|id| *id != warm.instance_id);
        }
        if !old.is_empty() {
            instance::terminate(&self.ctx, &old, notice).await?;
        }
        // A stop asked for earlier is over (the new machine's folder is new:
        // no earlier log is in it).
        let stop = vec![crate::pipeline::delete::stop_key(&self.resources)];
        self.bucket()?.delete_keys(&stop).await?;
        if self.subnets.is_empty() {
            let vpc = machine::default_vpc(&self.ctx).await?;
            self.subnets =
                machine::launch_subnets(&self.ctx, &self.request.instance_type, &vpc).await?;
        }
        if had_machine {
            self.count_earlier_machine()?;
        }
        self.refuse_when_used_up()?;
        self.resources.launches += 1;
        self.resources.launched_at = Some(super::now_secs() as f64);
        self.resources.ended_at = None;
        // The commands sent so far were the old machine's: none runs on this one.
        self.resources.install_command_id = None;
        self.resources.training_command_id = None;
        self.save()?;
        let run = BaseRun {
            run_id: self.resources.run_id.clone(),
            ami_id: self.resources.image_id.clone().unwrap_or_default(),
            instance_type: self.request.instance_type.clone(),
            disk_size_gb: self.request.disk_gb,
            max_runtime_hours: (self.safety_hours() * 100.0).round() / 100.0,
            bucket: self.resources.bucket.clone(),
            run_prefix: self.resources.prefix.clone(),
            spot: self.request.spot,
        };
        let launched = base::launch(
            &self.ctx,
            &base,
            &run,
            self.resources.launches,
            &self.subnets,
        )
        .await?;
        self.resources.instance_id = Some(launched.instance_id.clone());
        self.resources.zone = launched.zone.clone();
        self.resources.market = launched.market.clone();
        self.resources.spot_refused = launched.spot_refused.clone();
        if self.request.spot && launched.market.as_deref() != Some("spot") {
            // On demand after all (no spot machine this time): its own price.
            if let Some(prices) = &self.prices {
                let rate = prices
                    .machine_rate(&self.ctx, &self.request.instance_type, self.request.disk_gb)
                    .await;
                if rate.is_some() {
                    self.resources.usd_per_hour = rate;
                }
            }
        }
        if launched.market.as_deref() == Some("spot") {
            // Billed at the spot price of its zone (the safety stop, worked
            // out with the on-demand price, comes no later).
            if let (Some(prices), Some(zone)) = (&self.prices, &launched.zone) {
                let rate = prices
                    .spot_rate(
                        &self.ctx,
                        &self.request.instance_type,
                        zone,
                        self.request.disk_gb,
                    )
                    .await;
                if rate.is_some() {
                    self.resources.usd_per_hour = rate;
                }
            }
        }
        let folder = base.machine_folder(&launched.instance_id, &self.resources.run_id);
        if self.resources.machine_folders.last() != Some(&folder) {
            self.resources.machine_folders.push(folder);
        }
        self.save()?;
        Ok(launched)
    }

    /// The machine's end when it is gone (AWS took it back, or it
    /// stopped itself): its cost stops at EC2's own time of the change, or
    /// now, once and for all.
    pub(in crate::pipeline) async fn machine_gone(
        &mut self,
        instance_id: &str,
    ) -> Result<Option<PipelineError>, PipelineError> {
        let gone = instance::gone(&self.ctx, instance_id).await?;
        if gone.is_some()
            && self.resources.ended_at.is_none()
            && self.resources.launched_at.is_some()
            && self.resources.instance_id.as_deref() == Some(instance_id)
        {
            let now = super::now_secs() as f64;
            let at = instance::changed_at(&self.ctx, instance_id)
                .await
                .filter(|t| *t <= now)
                .unwrap_or(now);
            self.resources.ended_at = Some(at);
            self.save()?;
        }
        Ok(gone)
    }

    /// Before a relaunch: the machine the run had (ended, or just
    /// terminated) keeps its hours and cost in the run's, and the new one's
    /// safety stop is what is left of the run's.
    pub(in crate::pipeline) fn count_earlier_machine(&mut self) -> Result<(), PipelineError> {
        let Some(start) = self.resources.launched_at else {
            return Ok(());
        };
        let (hours, _) = machine_hours(&self.resources, start, super::now_secs() as f64);
        self.resources.earlier_hours += hours;
        self.resources.earlier_usd += hours * self.resources.usd_per_hour.unwrap_or(0.0);
        self.resources.launched_at = None;
        self.resources.ended_at = None;
        self.save()
    }

    /// A machine (new, or taken warm) needs at least 3 minutes of the
    /// run's safety stop left after its earlier machines.
    pub(in crate::pipeline) fn refuse_when_used_up(&self) -> Result<(), PipelineError> {
        if self.safety_hours() < crate::prices::MIN_SAFETY_HOURS {
            return Err(PipelineError::SafetyStopUsedUp {
                used_hours: self.resources.earlier_hours,
                stop_hours: self.safety_hours() + self.resources.earlier_hours,
            });
        }
        Ok(())
    }

    /// Launches the machine and waits until it runs and its SSM agent is
    /// online. A machine whose agent never comes online is terminated at once.
    pub async fn launch_instance(&mut self) -> Result<String, PipelineError> {
        let timer = self.timer(Step::Instance, "Launching the training machine");
        let notice = |s: &str| timer.update(s.to_string());
        let result = async {
            let launched = self.launch_machine(&notice).await?;
            let id = launched.instance_id.clone();
            let mut starting = format!("Machine {id} is starting");
            if let Some(zone) = &launched.zone {
                starting.push_str(&format!(" in {zone}"));
            }
            starting.push_str(&super::super::spot::market_words(
                self.request.spot,
                &self.resources,
            ));
            if !launched.tried.is_empty() {
                let tried: Vec<String> = launched
                    .tried
                    .iter()
                    .map(|(z, c)| format!("{z} ({})", capacity_words(c)))
                    .collect();
                starting.push_str(&format!("; tried first: {}", tried.join(", ")));
            }
            timer.update(starting);
            instance::wait_running(&self.ctx, &id, &notice).await?;
            timer.update(format!(
                "Machine {id} is running; waiting for its management agent"
            ));
            if let Err(e) = instance::wait_agent_online(&self.ctx, &id, &notice).await {
                if !e.is_transient() {
                    // Nothing can run on it: it must not bill until the safety stop.
                    timer.update(format!("Terminating {id}: it never became reachable"));
                    instance::terminate(&self.ctx, std::slice::from_ref(&id), &notice).await?;
                }
                return Err(e);
            }
            Ok(id)
        }
        .await;
        timer.finish(result, |id| format!("Machine {id} is ready"))
    }
}

/// What a running step shows besides its name.
fn capacity_words(code: &str) -> &'static str {
    match code {
        "Unsupported" => "does not offer it",
        "InsufficientInstanceCapacity" => "none free",
        _ => "refused",
    }
}

fn log_notice() -> impl Fn(&str) + Send + Sync {
    |m: &str| tracing::info!(message = m, "launch")
}
