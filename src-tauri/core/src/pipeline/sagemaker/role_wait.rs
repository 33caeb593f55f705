//! A role CloudFormation has just created can be refused by
//! CreateTrainingJob for a while: AWS answers `ValidationException: Could
//! not assume role <arn>. Please ensure that the role exists and allows
//! principal 'sagemaker.amazonaws.com' to assume the role.` until IAM has
//! made the new role visible to SageMaker (usually seconds, sometimes a
//! minute or two). The call is repeated with a growing pause for up to
//! [`ROLE_WAIT`], as the EC2 launcher does for its instance profile; the
//! run's step tells the wait; a refusal that outlasts it is reported as such.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::pipeline::error::PipelineError;
use crate::pipeline::poll::Notice;

/// How long a new role may stay unusable before the run gives up.
pub const ROLE_WAIT: Duration = Duration::from_secs(120);

/// Pauses between attempts: `first`, doubled each time up to `max`; no
/// attempt after `budget`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub budget: Duration,
}

/// Attempts at about 0, 2, 6, 14, 29, 44 … 119 s.
pub const BACKOFF: Backoff = Backoff {
    first: Duration::from_secs(2),
    max: Duration::from_secs(15),
    budget: ROLE_WAIT,
};

/// AWS's refusal of a role it cannot assume (yet).
pub fn is_role_refusal(err: &PipelineError) -> bool {
    matches!(
        err,
        PipelineError::Aws { code, message, .. }
            if code == "ValidationException" && message.starts_with("Could not assume role")
    )
}

/// Calls `op` again while AWS cannot assume `role`, telling each pause
/// through `notice`; `RoleNotUsable` once `backoff.budget` would be passed.
/// Any other answer (success or error) is returned at once.
pub async fn while_role_refused<T, F, Fut>(
    role: &str,
    backoff: Backoff,
    notice: &Notice<'_>,
    mut op: F,
) -> Result<T, PipelineError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, PipelineError>>,
{
    let start = Instant::now();
    let mut pause = backoff.first;
    loop {
        let err = match op().await {
            Err(e) if is_role_refusal(&e) => e,
            other => return other,
        };
        let waited = start.elapsed();
        if waited + pause > backoff.budget {
            let message = match err {
                PipelineError::Aws { message, .. } => message,
                other => other.to_string(),
            };
            return Err(PipelineError::RoleNotUsable {
                role: role.to_string(),
                seconds: waited.as_secs(),
                message,
            });
        }
        tracing::info!(
            role,
            waited_secs = waited.as_secs(),
            "SageMaker cannot assume the new role yet"
        );
        notice(&format!(
            "Waiting for the new execution role: SageMaker cannot use it yet (IAM takes up to a minute or two to make a new role usable); trying again in {} s",
            pause.as_secs().max(1)
        ));
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(backoff.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Explain;
    use std::sync::Mutex;

    const ROLE: &str = "arn:aws:iam::123456789012:role/easytdv-20261201-120000-abcdef-sagemaker";

    fn refusal() -> PipelineError {
        PipelineError::Aws {
            op: "create the SageMaker training job",
            code: "ValidationException".into(),
            message: format!("Could not assume role {ROLE}. Please ensure that the role exists and allows principal 'sagemaker.amazonaws.com' to assume the role."),
        }
    }

    const QUICK: Backoff = Backoff {
        first: Duration::from_millis(5),
        max: Duration::from_millis(20),
        budget: Duration::from_millis(200),
    };

    #[tokio::test]
    async fn a_refused_new_role_is_tried_again_and_the_step_says_so() {
        let notes = Mutex::new(Vec::new());
        let note = |m: &str| notes.lock().unwrap().push(m.to_string());
        let mut calls = 0;
        let got = while_role_refused(ROLE, QUICK, &note, || {
            calls += 1;
            let answer = if calls <= 2 {
                Err(refusal())
            } else {
                Ok(calls)
            };
            async move { answer }
        })
        .await
        .expect("created on the third try");
        assert_eq!(got, 3);
        let notes = notes.into_inner().unwrap();
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("Waiting for the new execution role"));
    }

    #[tokio::test]
    async fn a_role_refused_for_too_long_gives_a_clear_error() {
        let mut calls = 0;
        let err = while_role_refused(ROLE, QUICK, &|_| {}, || {
            calls += 1;
            async { Err::<(), _>(refusal()) }
        })
        .await
        .expect_err("never usable");
        let PipelineError::RoleNotUsable { role, message, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(role, ROLE);
        assert!(message.starts_with("Could not assume role"), "{message}");
        assert_eq!(err.code(), "role_not_usable");
        assert!(err.hint().unwrap_or_default().contains("Run training"));
        // 5, 10, 20, 20 … ms within 200 ms: bounded, more than one try.
        assert!((3..=15).contains(&calls), "{calls} calls");
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let mut calls = 0;
        let err = while_role_refused(ROLE, QUICK, &|_| {}, || {
            calls += 1;
            async {
                Err::<(), _>(PipelineError::Aws {
                    op: "create the SageMaker training job",
                    code: "ValidationException".into(),
                    message: "1 validation error detected".into(),
                })
            }
        })
        .await
        .expect_err("refused");
        assert!(matches!(err, PipelineError::Aws { .. }));
        assert_eq!(calls, 1);
        assert!(!is_role_refusal(&PipelineError::Aws {
            op: "x",
            code: "AccessDenied".into(),
            message: "Could not assume role".into(),
        }));
    }
}
