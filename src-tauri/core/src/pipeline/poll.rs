//! Adaptive polling: ask often at first (things are often quick), then back
//! off to a few seconds, and give up with a clear error after a deadline.

use std::future::Future;
use std::time::{Duration, Instant};

use super::error::PipelineError;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            first: Duration::from_millis(250),
            max: Duration::from_secs(5),
            factor: 1.6,
        }
    }
}

impl Backoff {
    /// The successive delays: 250 ms, 400 ms, 640 ms, … capped at `max`.
    pub fn delays(self) -> impl Iterator<Item = Duration> {
        let mut next = self.first;
        std::iter::from_fn(move || {
            let current = next;
            next = next.mul_f64(self.factor).min(self.max);
            Some(current)
        })
    }
}

/// Calls `check` until it returns `Some`, sleeping with back-off between
/// calls; `Err(Timeout)` once `limit` has passed.
pub async fn poll_until<T, F, Fut>(
    what: &str,
    limit: Duration,
    mut check: F,
) -> Result<T, PipelineError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, PipelineError>>,
{
    let start = Instant::now();
    for delay in Backoff::default().delays() {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if start.elapsed() + delay > limit {
            break;
        }
        tokio::time::sleep(delay).await;
    }
    Err(PipelineError::Timeout {
        what: what.to_string(),
        seconds: limit.as_secs(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap() {
        let d: Vec<u128> = Backoff::default()
            .delays()
            .take(12)
            .map(|d| d.as_millis())
            .collect();
        assert_eq!(d[0], 250);
        assert!(d.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*d.last().unwrap(), 5000);
    }

    #[tokio::test]
    async fn gives_up_with_timeout() {
        let mut calls = 0;
        let res: Result<(), _> = poll_until("nothing", Duration::from_secs(1), || {
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
    async fn returns_the_value() {
        let mut n = 0;
        let v = poll_until("n", Duration::from_secs(10), || {
            n += 1;
            let done = n == 3;
            async move { Ok(done.then_some(42)) }
        })
        .await
        .unwrap();
        assert_eq!(v, 42);
    }
}
