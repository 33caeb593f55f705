//! Waiting for AWS: poll with bounded slack, ride out a lost connection,
//! and give up with a clear error after a deadline.
//!
//! The gap between two looks grows with the time already waited: 10 % of
//! it, at least 250 ms and at most 5 s. A step that ends right after a look
//! is noticed at the next one, so we notice at most ~10 % after its end
//! (or 250 ms for quick steps). One waiter makes at most 4 calls a second in
//! its first 2.5 s, then fewer, and 12 a minute once it waits more than 50
//! s: far below the APIs' request rates (EC2 Describe* and SSM
//! GetCommandInvocation allow tens of calls a second per account).
//!
//! A network error or throttling while waiting is not a failure: the work
//! goes on in AWS (the training keeps running on its machine). We keep
//! asking, with `notice` telling the user, for up to [`GRACE`].

use std::future::Future;
use std::time::{Duration, Instant};

use super::error::PipelineError;

pub const MIN_GAP: Duration = Duration::from_millis(250);
pub const MAX_GAP: Duration = Duration::from_secs(5);
/// The share of the time already waited that the next look may be late.
pub const SLACK: f64 = 0.10;
/// How long a lost connection (or throttling) is ridden out while waiting.
pub const GRACE: Duration = Duration::from_secs(30 * 60);

/// Where a wait says that it rides out trouble (a step's progress line).
pub type Notice<'a> = dyn Fn(&str) + Send + Sync + 'a;

/// For waits nobody watches.
#[cfg(test)]
pub fn quiet(_: &str) {}

/// The gap before the next look, after `waited`.
pub fn gap(waited: Duration) -> Duration {
    waited.mul_f64(SLACK).clamp(MIN_GAP, MAX_GAP)
}

/// Calls `op` again after transient errors (a lost connection) for up to
/// [`GRACE`]; only for calls that may be repeated safely (an upload of the
/// same bytes, a read).
pub async fn retry_transient<T, F, Fut>(what: &str, mut op: F) -> Result<T, PipelineError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, PipelineError>>,
{
    let started = Instant::now();
    loop {
        match op().await {
            Err(e) if e.is_transient() && started.elapsed() < GRACE => {
                tracing::warn!(what, error = %e, "trying again after a transient error");
                tokio::time::sleep(gap(started.elapsed())).await;
            }
            other => return other,
        }
    }
}

/// Calls `check` until it returns `Some`, sleeping [`gap`] between calls;
/// `Err(Timeout)` once `limit` has passed. Transient errors are retried for
/// up to [`GRACE`], each told through `notice`.
pub async fn poll_until<T, F, Fut>(
    what: &str,
    limit: Duration,
    notice: &Notice<'_>,
    check: F,
) -> Result<T, PipelineError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, PipelineError>>,
{
    poll_until_capped(what, limit, MAX_GAP, notice, check).await
}

/// [`poll_until`] with looks at most `max_gap` apart: for a wait of known
/// length someone watches (a stack's two minutes of IAM), where a look
/// every few seconds costs nothing and a late one costs the user.
pub async fn poll_until_capped<T, F, Fut>(
    what: &str,
    limit: Duration,
    max_gap: Duration,
    notice: &Notice<'_>,
    mut check: F,
) -> Result<T, PipelineError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, PipelineError>>,
{
    let start = Instant::now();
    let mut trouble: Option<Instant> = None;
    loop {
        match check().await {
            Ok(Some(value)) => {
                if trouble.is_some() {
                    notice("Connection back: carrying on");
                }
                return Ok(value);
            }
            Ok(None) => {
                if trouble.take().is_some() {
                    notice("Connection back: carrying on");
                }
            }
            Err(e) if e.is_transient() => {
                let since = *trouble.get_or_insert_with(Instant::now);
                if since.elapsed() > GRACE {
                    return Err(e);
                }
                tracing::warn!(what, error = %e, "riding out a transient error while waiting");
                notice(&format!(
                    "Connection lost ({e}) — retrying for up to {} min; the work goes on in AWS meanwhile",
                    GRACE.as_secs() / 60
                ));
            }
            Err(e) => return Err(e),
        }
        let waited = start.elapsed();
        let delay = gap(waited).min(max_gap);
        if waited + delay > limit {
            return Err(PipelineError::Timeout {
                what: what.to_string(),
                seconds: limit.as_secs(),
            });
        }
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn slack_is_bounded() {
        // A step ending just after a look at time t is seen at t + gap(t):
        // at most 10 % late (250 ms floor for quick steps), never > 5 s.
        let mut t = Duration::ZERO;
        let mut looks = 0;
        while t < Duration::from_secs(3600) {
            let g = gap(t);
            assert!(g >= MIN_GAP && g <= MAX_GAP, "{g:?}");
            if t >= Duration::from_millis(2500) {
                assert!(
                    g.as_secs_f64() <= t.as_secs_f64() * SLACK + 1e-9,
                    "at {t:?}: {g:?}"
                );
            }
            t += g;
            looks += 1;
        }
        // An hour of waiting costs about 12 looks a minute.
        assert!(looks < 800, "{looks} looks in an hour");
        assert_eq!(gap(Duration::from_secs(7)), Duration::from_millis(700));
    }

    #[tokio::test]
    async fn a_capped_wait_looks_at_most_that_far_apart() {
        let count = |max_gap: Option<Duration>| async move {
            let mut calls = 0;
            let check = || {
                calls += 1;
                async { Ok::<Option<()>, PipelineError>(None) }
            };
            let limit = Duration::from_millis(800);
            let _ = match max_gap {
                Some(g) => poll_until_capped("nothing", limit, g, &quiet, check).await,
                None => poll_until("nothing", limit, &quiet, check).await,
            };
            calls
        };
        // 250 ms apart at least otherwise; 40 ms apart when capped.
        let (plain, capped) = (
            count(None).await,
            count(Some(Duration::from_millis(40))).await,
        );
        assert!(plain <= 4, "{plain}");
        assert!(capped >= 10, "{capped}");
    }

    #[tokio::test]
    async fn gives_up_with_timeout() {
        let mut calls = 0;
        let res: Result<(), _> = poll_until("nothing", Duration::from_secs(1), &quiet, || {
            calls += 1;
            async { Ok(None) }
        })
        .await;
        assert!(matches!(
            res,
            Err(PipelineError::Timeout { seconds: 1, .. })
        ));
        assert!(calls >= 2);
    }

    #[tokio::test]
    async fn rides_out_a_lost_connection_and_says_so() {
        let notes = Mutex::new(Vec::new());
        let note = |m: &str| notes.lock().unwrap().push(m.to_string());
        let mut n = 0;
        let v = poll_until("n", Duration::from_secs(30), &note, || {
            n += 1;
            let answer = match n {
                1 | 2 => Err(PipelineError::Network { op: "look" }),
                3 => Ok(None),
                _ => Ok(Some(42)),
            };
            async move { answer }
        })
        .await
        .unwrap();
        assert_eq!(v, 42);
        let notes = notes.into_inner().unwrap();
        assert!(notes[0].starts_with("Connection lost"), "{notes:?}");
        assert_eq!(notes.last().unwrap(), "Connection back: carrying on");
    }

    #[tokio::test]
    async fn other_errors_end_the_wait() {
        let res: Result<(), _> = poll_until("n", Duration::from_secs(30), &quiet, || async {
            Err(PipelineError::State("boom".into()))
        })
        .await;
        assert!(matches!(res, Err(PipelineError::State(_))));
    }
}
