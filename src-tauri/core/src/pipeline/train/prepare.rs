//! The Prepare step of an EC2 run: the machine, image, quota, network and
//! account read at once; the price and the safety stop; the bucket; the
//! run's files, project, data and secrets sent.

use std::time::Duration;

use super::{now_secs, project, Train};
use crate::pipeline::error::PipelineError;
use crate::pipeline::model::*;
use crate::pipeline::progress::StepTimer;
use crate::pipeline::words::human_duration;
use crate::pipeline::{assets, base, ebs_key, machine, quotas, remote, storage};
use crate::prices::safety_stop;

impl Train {
    /// Resolves the machine and image, checks the account may run it,
    /// ensures the bucket is ours, uploads the script, requirements and
    /// Lambda code.
    pub async fn prepare_env(&mut self) -> Result<PreparedEnv, PipelineError> {
        let timer = self.timer(Step::Prepare, "Checking the machine type and image");
        let result = self.prepare_inner(&timer).await;
        let place = format!("s3://{}/{}/", self.resources.bucket, self.resources.prefix);
        let sent = self.project_sent.as_ref().map(|s| s.report.line());
        timer.finish(result, |_| match sent {
            Some(line) => format!("Project: {line}; the run's files are in {place}"),
            None => format!("Uploaded 3 files to {place}"),
        })
    }

    async fn prepare_inner(
        &mut self,
        timer: &StepTimer<'static>,
    ) -> Result<PreparedEnv, PipelineError> {
        let ctx = &self.ctx.clone();
        let info = machine::describe_type(ctx, &self.request.instance_type).await?;
        // Independent reads, asked at once (each is a round trip to AWS);
        // their errors are then told in this order, as if asked one by one.
        let known_account = self.resources.account_id.clone();
        let (ami, quota, network, account, disk_key) = tokio::join!(
            machine::resolve_ami(ctx, &info, self.request.ami.as_deref()),
            quotas::check_vcpus(ctx, &info),
            async {
                let vpc_id = machine::default_vpc(ctx).await?;
                let subnets = machine::launch_subnets(ctx, &info.name, &vpc_id).await?;
                Ok::<_, PipelineError>((vpc_id, subnets))
            },
            async {
                match known_account {
                    Some(id) => Ok(id),
                    None => storage::account_id(ctx).await,
                }
            },
            ebs_key::default_key(ctx),
        );
        let ami = ami?;
        if i64::from(self.request.disk_gb) < i64::from(ami.min_disk_gb) {
            return Err(PipelineError::DiskTooSmallForImage {
                needed: ami.min_disk_gb,
                asked: self.request.disk_gb,
            });
        }
        quota?;
        let (vpc_id, subnets) = network?;
        let disk_key = disk_key?;
        self.subnets = subnets;
        self.price_and_cap(timer).await?;
        timer.update(format!("Using image {} ({})", ami.name, ami.id));
        match &disk_key {
            ebs_key::EbsDefaultKey::Customer(arn) => timer.update(format!(
                "Disks are encrypted with your account's own KMS key {arn}: the launcher may use it"
            )),
            ebs_key::EbsDefaultKey::Unread => timer.update(
                "Your account's default disk encryption key could not be read (ec2:GetEbsDefaultKmsKeyId): not checked",
            ),
            _ => {}
        }
        let account = account?;
        crate::pipeline::account::require_setup(ctx, &account).await?;
        self.resources.account_id = Some(account);
        self.resources.image_id = Some(ami.id.clone());
        // Known before the stack exists: its instance role may write this
        // one key of the environment cache and no other.
        self.resources.cache_key = Some(self.current_cache_key(&ami.id));
        self.save()?;
        if self.bucket()?.ensure().await? {
            timer.update(format!(
                "Created the private, encrypted bucket {}",
                self.resources.bucket
            ));
        }
        let mut files = vec![
            (self.entry.clone(), self.script.clone()),
            ("requirements.txt".to_string(), self.requirements.clone()),
            (
                "launch.zip".to_string(),
                assets::lambda_zip().map_err(|e| PipelineError::State(e.to_string()))?,
            ),
        ];
        if let Some(pins) = &self.executor {
            files.push((project::EXECUTOR_FILE.to_string(), pins.clone()));
        }
        // Every key is recorded before its upload (a crash never forgets a
        // file), then they go up at once.
        for (name, _) in &files {
            let key = self.key(name);
            if !self.resources.uploaded_keys.contains(&key) {
                self.resources.uploaded_keys.push(key);
            }
        }
        self.save()?;
        timer.update(format!(
            "Uploading {}, requirements.txt and the launcher",
            self.entry
        ));
        let bucket = self.bucket()?;
        let uploads = files.into_iter().map(|(name, body)| {
            let key = self.key(&name);
            let bucket = &bucket;
            async move { bucket.put(&key, body).await }
        });
        // The first EC2 run in a region starts creating the base now, so
        // its two minutes of IAM overlap the uploads; the Stack step waits
        // for it (one that failed is deleted and made again there, and a
        // second failure is told with its reason).
        let wanted = base::Wanted {
            vpc_id: vpc_id.clone(),
            ebs_kms_key_arn: disk_key.customer_arn().map(str::to_string),
        };
        let early_base = async {
            match base::start(ctx, &bucket, &wanted).await {
                Ok(base::Early::Ready(base)) => return Some(base),
                Ok(base::Early::Started) => timer
                    .update("Started creating easyTDV's shared resources in this region (once)"),
                Ok(base::Early::Other) => {}
                Err(e) => tracing::warn!(error = %e, "the shared resources were not started early"),
            }
            None
        };
        let (uploaded, ready) =
            tokio::join!(futures_util::future::try_join_all(uploads), early_base);
        uploaded?;
        // Found ready: the Stack step takes it as it is.
        self.base = ready;
        self.send_project(&|m| timer.update(m)).await?;
        self.send_data(&|m| timer.update(m)).await?;
        self.send_secrets(&|m| timer.update(m)).await?;
        Ok(PreparedEnv {
            s3_lambda_key: self.key("launch.zip"),
            s3_train_script_key: self.key(&self.entry),
            s3_requirements_key: self.key("requirements.txt"),
            ami_id: ami.id,
            vpc_id,
            ebs_kms_key_arn: disk_key.customer_arn().map(str::to_string),
        })
    }

    /// The machine's safety stop in hours: the maximum run time, or less
    /// when the budget cap asks for it, less what the run's earlier
    /// machines ran (a relaunch does not start the count again).
    pub(in crate::pipeline) fn safety_hours(&self) -> f64 {
        self.resources
            .safety_stop_hours
            .unwrap_or(f64::from(self.request.max_runtime_hours))
            - self.resources.earlier_hours
    }

    /// Prices the machine; with a budget cap, the safety stop comes when
    /// the cap is spent. An unknown price never blocks the launch.
    async fn price_and_cap(&mut self, timer: &StepTimer<'static>) -> Result<(), PipelineError> {
        let rate = match &self.prices {
            Some(prices) => {
                prices
                    .machine_rate(&self.ctx, &self.request.instance_type, self.request.disk_gb)
                    .await
            }
            None => None,
        };
        self.resources.usd_per_hour = rate;
        self.resources.machines = 1;
        let cap = safety_stop(
            f64::from(self.request.max_runtime_hours),
            self.request.budget_usd,
            rate,
        )?;
        if cap.budget_ignored {
            timer.update("The price of this machine is unknown: the budget cap cannot be applied; the maximum run time is the safety stop");
        }
        let hours = cap.hours;
        self.resources.safety_stop_hours = Some(hours);
        timer.update(match rate {
            Some(rate) => format!(
                "About ${rate:.2} per hour; it stops itself after {} at most (${:.2} at most)",
                human_duration(Duration::from_secs_f64(hours * 3600.0)),
                rate * hours
            ),
            None => "Price unknown (the price list could not be read)".to_string(),
        });
        self.save()
    }

    /// Time left before the machine's safety stop: every command must end
    /// before it (SSM takes at most 48 h anyway).
    pub(super) fn time_left(&self) -> Duration {
        let secs = (self.safety_hours() * 3600.0) as u64;
        let started = self
            .resources
            .launched_at
            .map(|t| t as u64)
            .unwrap_or_else(now_secs);
        let deadline = started + secs;
        Duration::from_secs(
            deadline
                .saturating_sub(now_secs())
                .saturating_sub(120)
                .max(60),
        )
        .min(remote::MAX_EXECUTION_TIMEOUT)
    }
}
