//! A run and the machines kept warm (see [`crate::warm`]): an EC2 run takes
//! one that fits before it launches a machine, and hands its own on after a
//! success when its request asks for it.

use aws_sdk_ec2::types::InstanceStateName;

use super::base::Base;
use super::error::PipelineError;
use super::model::Step;
use super::{instance, Train};
use crate::warm::{now_secs, parse_until, KeptWarm, WarmKey, WarmMachine};

impl Train {
    /// `market`: the machine's (`spot`/`on-demand`), or what the run asks for.
    fn warm_key(&self, base: &Base, market: &str) -> Option<WarmKey> {
        Some(WarmKey {
            aws_account: self.resources.account_id.clone()?,
            region: self.resources.region.clone(),
            instance_type: self.request.instance_type.clone(),
            image_id: self.resources.image_id.clone()?,
            disk_gb: self.request.disk_gb,
            bucket: self.resources.bucket.clone(),
            machine_role_id: base.machine_role_id.clone(),
            project: crate::warm::project_key(&crate::project::project_root(
                &self.request.script_path,
                self.request.project_dir.as_deref(),
            )),
            market: market.to_string(),
        })
    }

    /// A machine kept warm by an earlier run that fits this one, taken for
    /// it and checked (running, its agent online), and whether its
    /// environment is this run's requirements already (then nothing is
    /// installed); `None`: launch one. A taken machine that cannot be used is
    /// terminated (it would bill until its own stop).
    pub(in crate::pipeline) async fn take_warm_machine(
        &mut self,
    ) -> Result<Option<(String, bool)>, PipelineError> {
        self.refuse_when_used_up()?;
        let base = self.base_now().await?;
        let wanted = if self.request.spot {
            "spot"
        } else {
            "on-demand"
        };
        let Some(key) = self.warm_key(&base, wanted) else {
            return Ok(None);
        };
        while let Some(m) = self.state.claim_warm(&key, now_secs())? {
            let id = m.instance_id.clone();
            let usable = matches!(
                instance::state(&self.ctx, &id).await,
                Ok(Some(InstanceStateName::Running))
            ) && matches!(instance::agent_online(&self.ctx, &id).await, Ok(true));
            if !usable {
                tracing::warn!(instance_id = id, "a warm machine could not be used");
                let quiet = |_: &str| {};
                if let Err(e) =
                    instance::terminate(&self.ctx, std::slice::from_ref(&id), &quiet).await
                {
                    tracing::warn!(instance_id = id, error = %e, "could not terminate it");
                }
                continue;
            }
            let timer = self.timer(
                Step::Instance,
                &format!("Using machine {id}, kept warm since run {}", m.run_id),
            );
            self.resources.instance_id = Some(id.clone());
            self.resources.zone = m.zone.clone();
            self.resources.market = Some(m.market.clone());
            if m.usd_per_hour.is_some() {
                // (a spot machine bills at its zone's spot price)
                self.resources.usd_per_hour = m.usd_per_hour;
            }
            self.resources.launched_at = Some(now_secs().floor());
            self.resources.ended_at = None;
            self.resources.warm_start = true;
            self.resources.install_command_id = None;
            self.resources.training_command_id = None;
            let folder = base.machine_folder(&id, &self.resources.run_id);
            if self.resources.machine_folders.last() != Some(&folder) {
                self.resources.machine_folders.push(folder);
            }
            let in_place = self.resources.image_id.clone().is_some_and(|image| {
                m.cache_key.as_deref() == Some(self.current_cache_key(&image).as_str())
            });
            let saved = self.save().map(|_| id.clone());
            return timer
                .finish(saved, |id| {
                    format!("Machine {id} is ready: kept warm, no new machine to wait for")
                })
                .map(|id| Some((id, in_place)));
        }
        Ok(None)
    }

    /// The run's requirements are what the machine kept warm has installed:
    /// the install step is done at once (train.sh moves the machine's stop to
    /// this run's maximum run time, as install.sh would have).
    pub(in crate::pipeline) fn environment_in_place(&mut self) {
        let timer = self.timer(Step::Requirements, "Checking the machine's environment");
        self.summary.environment =
            Some("already on this machine (kept warm since an earlier run)".into());
        let _ = timer.finish(Ok::<(), PipelineError>(()), |_| {
            "Already installed on this machine (kept warm): nothing to install".to_string()
        });
    }

    /// After a success: when the request asks for it and the machine said it
    /// stays on, the run hands it on to be kept warm. First the run's own
    /// clean-up (its secrets, its folder, its inputs; the machine left
    /// running), so the next run on it finds nothing of this one in AWS;
    /// then the machine is listed. Its cost stops here for this run. A
    /// machine that did not say so, or a clean-up or history write that
    /// fails, is not kept: the run's clean-up ends it.
    pub(in crate::pipeline) async fn hand_on_machine(
        &mut self,
        instance_id: &str,
    ) -> Result<(), PipelineError> {
        let Some(minutes) = self.request.keep_warm_minutes else {
            return Ok(());
        };
        let Some(said) = self
            .summary
            .kept_warm_until
            .as_deref()
            .and_then(parse_until)
        else {
            tracing::warn!(
                run_id = self.run_id(),
                "the machine did not say it stays warm: it ends with the run"
            );
            return Ok(());
        };
        let base = self.base_now().await?;
        let market = self
            .resources
            .market
            .clone()
            .unwrap_or_else(|| "on-demand".into());
        let Some(key) = self.warm_key(&base, &market) else {
            return Ok(());
        };
        let now = now_secs();
        // Never longer than asked (the line could be train.py's own).
        let until = said.min(now + f64::from(minutes) * 60.0 + 120.0);
        // The run lets go of it first: its clean-up must never end a
        // machine another run may already have taken.
        self.resources.kept_warm = Some(KeptWarm {
            instance_id: instance_id.to_string(),
            until,
        });
        self.resources.ended_at = Some(now);
        let let_go = match self.save() {
            Ok(()) => {
                super::delete::delete_resources(&self.ctx, &self.resources, self.progress.as_ref())
                    .await
                    .map(|report| self.handed_on = Some(report))
            }
            Err(e) => Err(e),
        };
        let machine = WarmMachine {
            instance_id: instance_id.to_string(),
            account_id: String::new(),
            aws_account: key.aws_account,
            region: key.region,
            instance_type: key.instance_type,
            image_id: key.image_id,
            disk_gb: key.disk_gb,
            bucket: key.bucket,
            machine_role_id: key.machine_role_id,
            project: key.project,
            market: key.market,
            cache_key: self
                .resources
                .image_id
                .clone()
                .map(|image| self.current_cache_key(&image)),
            zone: self.resources.zone.clone(),
            usd_per_hour: self.resources.usd_per_hour,
            since: now,
            until,
            run_id: self.resources.run_id.clone(),
        };
        if let Err(e) = let_go.and_then(|()| self.state.keep_warm(&machine)) {
            // Not kept: the run owns it again, and its clean-up ends it.
            tracing::warn!(run_id = self.run_id(), error = %e, "the machine could not be kept warm");
            self.resources.kept_warm = None;
            self.resources.ended_at = None;
            self.handed_on = None;
            self.save()?;
        }
        Ok(())
    }
}
