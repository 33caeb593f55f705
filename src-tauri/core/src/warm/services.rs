//! The app's and the CLI's way to the machines kept warm: list them, stop one.

use super::{now_secs, WarmMachine};
use crate::aws::AwsContext;
use crate::services::{Services, ServicesError};

impl Services {
    /// The machines kept warm now, soonest stop first.
    pub fn warm_machines(&self) -> Result<Vec<WarmMachine>, ServicesError> {
        Ok(self.history().warm_machines(now_secs())?)
    }

    /// "Stop now": takes the machine from the warm ones (no run takes it
    /// meanwhile), terminates it with its account's credentials and waits
    /// until it is gone.
    pub async fn stop_warm(&self, instance_id: &str) -> Result<WarmMachine, ServicesError> {
        self.stop_warm_with(instance_id, |m| async move {
            self.context(&m.account_id, Some(&m.region)).await
        })
        .await
    }

    /// [`Services::stop_warm`] with credentials of the caller's choosing (the
    /// CLI's `--profile`, `--sandbox`). An id the history does not hold as
    /// warm is refused before any AWS call; a stop that fails puts the
    /// machine back in the list.
    pub async fn stop_warm_with<F>(
        &self,
        instance_id: &str,
        context: impl Fn(WarmMachine) -> F,
    ) -> Result<WarmMachine, ServicesError>
    where
        F: std::future::Future<Output = Result<AwsContext, ServicesError>>,
    {
        let not_warm = || ServicesError::NotWarm(instance_id.chars().take(40).collect());
        if !is_instance_id(instance_id) {
            return Err(not_warm());
        }
        let machine = self
            .history()
            .take_warm(instance_id)?
            .ok_or_else(not_warm)?;
        let result = async {
            let ctx = context(machine.clone()).await?;
            super::stop(&ctx, &machine).await?;
            Ok::<_, ServicesError>(())
        }
        .await;
        if let Err(e) = result {
            if let Err(h) = self.history().keep_warm(&machine) {
                tracing::error!(instance_id, error = %h, "could not put the warm machine back in the list");
            }
            return Err(e);
        }
        Ok(machine)
    }
}

impl Services {
    /// The backstop of a machine's own stop: a machine kept warm still
    /// running [`super::OVERDUE_AFTER_SECS`] after its stop (a reboot, or a
    /// script, cancelled it) is ended here; one found gone leaves the list.
    /// Makes AWS calls only for such rows. Returns the machines ended.
    pub async fn end_overdue_warm(&self) -> Vec<String> {
        self.end_overdue_warm_with(
            |m| async move { self.context(&m.account_id, Some(&m.region)).await },
        )
        .await
    }

    /// [`Services::end_overdue_warm`] with credentials of the caller's choosing.
    pub async fn end_overdue_warm_with<F>(&self, context: impl Fn(WarmMachine) -> F) -> Vec<String>
    where
        F: std::future::Future<Output = Result<AwsContext, ServicesError>>,
    {
        let now = now_secs();
        let overdue: Vec<WarmMachine> = match self.history().warm_machines(now) {
            Ok(list) => list
                .into_iter()
                .filter(|m| m.until + super::OVERDUE_AFTER_SECS < now)
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the machines kept warm");
                return Vec::new();
            }
        };
        let mut ended = Vec::new();
        for m in overdue {
            let id = m.instance_id.clone();
            match self.stop_warm_with(&id, &context).await {
                Ok(_) => ended.push(id),
                Err(e) => {
                    tracing::warn!(instance_id = id, error = %e, "an overdue warm machine could not be ended")
                }
            }
        }
        ended
    }
}

/// `i-` and 8 or 17 hexadecimal digits, as EC2 names instances.
pub fn is_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_ec2_instance_id_is_one() {
        assert!(is_instance_id("i-0123456789abcdef0"));
        assert!(is_instance_id("i-0123abcd"));
        for bad in [
            "",
            "i-",
            "i-*",
            "i-0123456789ABCDEF0",
            "../i-0123abcd",
            "i-0123abcd ",
            "sg-0123abcd",
        ] {
            assert!(!is_instance_id(bad), "{bad}");
        }
    }
}
