//! The retry loop around each HTTP call of a sync.
//!
//! A transient failure ([`ApiError::is_transient`]: no network, timeout,
//! reset, truncated answer, 429, 500/502/503/504) is retried after a
//! [`Backoff`](super::Backoff) wait; anything else is returned at once for the caller to
//! judge. The budget counts failures *in a row* across the whole sync and
//! is reset by any success: a sync over a flaky line that keeps making
//! progress is not abandoned halfway through a 20 MiB upload, while a sync
//! with no network gives up after `max_attempts` tries with
//! [`Error::SyncOffline`], everything kept on disk. Every wait and every
//! call races the [`CancelToken`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::SyncPolicy;
use super::cancel::CancelToken;
use crate::api::ApiError;
use crate::error::Error;
use crate::rng::Rng;

/// Runs calls with retries; one per sync, so the budget spans the sync.
/// Calls made side by side (the engine uploads a few requests at once)
/// take a [`Retrier::share`] each: the count of failures in a row is
/// shared, so a dead line still ends the sync after `max_attempts`
/// failures whatever the number of calls in flight, and any success resets
/// it for all.
pub(crate) struct Retrier {
    policy: SyncPolicy,
    rng: Arc<dyn Rng>,
    cancel: CancelToken,
    failures_in_a_row: Arc<AtomicU32>,
}

impl Retrier {
    pub(crate) fn new(policy: SyncPolicy, rng: Arc<dyn Rng>, cancel: CancelToken) -> Self {
        Self {
            policy,
            rng,
            cancel,
            failures_in_a_row: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Another handle on the same budget and cancel token, for a call made
    /// beside this one's.
    pub(crate) fn share(&self) -> Self {
        Self {
            policy: self.policy,
            rng: Arc::clone(&self.rng),
            cancel: self.cancel.clone(),
            failures_in_a_row: Arc::clone(&self.failures_in_a_row),
        }
    }

    /// The sync's cancel token.
    pub(crate) fn cancel(&self) -> &CancelToken {
        &self.cancel
    }

    /// Runs `attempt` until it succeeds, fails for good, the budget of
    /// failures in a row is spent ([`Error::SyncOffline`]), or the sync is
    /// cancelled ([`Error::SyncCancelled`]). `what` names the call in logs
    /// (an endpoint, never an id or content).
    pub(crate) async fn call<T, F, Fut>(
        &mut self,
        what: &'static str,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        loop {
            let error = match self.cancel.run(attempt()).await? {
                Ok(value) => {
                    self.failures_in_a_row.store(0, Ordering::SeqCst);
                    return Ok(value);
                }
                Err(Error::Api(error)) if error.is_transient() => error,
                Err(error) => return Err(error),
            };
            // Counted with the calls made beside this one (saturating: a
            // wrap would start the budget again).
            let failures = self
                .failures_in_a_row
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    Some(n.saturating_add(1))
                })
                .unwrap_or(u32::MAX)
                .saturating_add(1);
            let retry_after = error.retry_after();
            // A server that asks for a longer pause than a sync waits in
            // one go is not retried early: the sync ends and the platform
            // scheduler comes back later.
            let too_long = retry_after.is_some_and(|wait| wait > self.policy.backoff.cap);
            if failures >= self.policy.max_attempts || too_long {
                tracing::info!(
                    what,
                    attempts = failures,
                    %error,
                    "giving up this sync; everything stays on disk"
                );
                return Err(offline(failures, error));
            }
            let delay = self
                .policy
                .backoff
                .delay(failures - 1, retry_after, &*self.rng)?;
            tracing::debug!(
                what,
                attempt = failures,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                %error,
                "transient failure; retrying"
            );
            self.cancel.sleep(delay).await?;
        }
    }
}

fn offline(attempts: u32, last: ApiError) -> Error {
    Error::SyncOffline {
        attempts,
        retry_after_seconds: last.retry_after().as_ref().map(Duration::as_secs),
        last,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    use super::*;
    use crate::api::TransportFailure;
    use crate::rng::SeededRng;
    use crate::sync::Backoff;

    fn policy(max_attempts: u32) -> SyncPolicy {
        SyncPolicy {
            backoff: Backoff {
                base: Duration::from_millis(2),
                cap: Duration::from_millis(20),
            },
            max_attempts,
            ..SyncPolicy::default()
        }
    }

    fn retrier(max_attempts: u32) -> Retrier {
        Retrier::new(
            policy(max_attempts),
            Arc::new(SeededRng::new([3; 32])),
            CancelToken::new(),
        )
    }

    fn offline_error() -> Error {
        Error::Api(ApiError::Transport {
            failure: TransportFailure::Connect,
        })
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let mut retrier = retrier(6);
        let calls = AtomicU32::new(0);
        let value = retrier
            .call("test", || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(offline_error())
                } else {
                    Ok(42)
                }
            })
            .await
            .unwrap();
        assert_eq!(value, 42);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn the_budget_counts_failures_in_a_row_then_gives_up_offline() {
        let mut retrier = retrier(4);
        let calls = AtomicU32::new(0);
        // Three failures, a success: the count starts again.
        let mut script = vec![false, false, false, true].into_iter();
        retrier
            .call("test", || {
                let ok = script.next().unwrap_or(false);
                async move { if ok { Ok(()) } else { Err(offline_error()) } }
            })
            .await
            .unwrap();
        let outcome: Result<(), Error> = retrier
            .call("test", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::Api(ApiError::Server { status: 503 }))
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        match outcome {
            Err(Error::SyncOffline {
                attempts: 4,
                retry_after_seconds: None,
                last: ApiError::Server { status: 503 },
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn shared_handles_count_failures_in_a_row_together() {
        let first = retrier(4);
        let mut second = first.share();
        let mut first = first;
        // Two failures on one handle, then the other's calls add to them.
        let mut script = vec![false, false, true].into_iter();
        first
            .call("test", || {
                let ok = script.next().unwrap_or(false);
                async move { if ok { Ok(()) } else { Err(offline_error()) } }
            })
            .await
            .unwrap();
        // The success reset the shared count: four more failures to go.
        let calls = AtomicU32::new(0);
        let mut third = second.share();
        let _ = third
            .call::<(), _, _>("test", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(offline_error())
            })
            .await;
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // Spent for every handle: the next failure anywhere gives up.
        let outcome: Result<(), Error> =
            second.call("test", || async { Err(offline_error()) }).await;
        assert!(
            matches!(outcome, Err(Error::SyncOffline { attempts: 5, .. })),
            "{outcome:?}"
        );
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let mut retrier = retrier(6);
        let calls = AtomicU32::new(0);
        let outcome: Result<(), Error> = retrier
            .call("test", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::Api(ApiError::Conflict {
                    code: "id_taken".into(),
                }))
            })
            .await;
        assert!(matches!(
            outcome,
            Err(Error::Api(ApiError::Conflict { .. }))
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let outcome: Result<(), Error> = retrier
            .call("test", || async {
                Err(Error::Api(ApiError::Transport {
                    failure: TransportFailure::Tls,
                }))
            })
            .await;
        assert!(matches!(
            outcome,
            Err(Error::Api(ApiError::Transport { .. }))
        ));
    }

    #[tokio::test]
    async fn retry_after_is_waited_and_a_longer_one_ends_the_sync() {
        let mut retrier = Retrier::new(
            SyncPolicy {
                backoff: Backoff {
                    base: Duration::from_millis(1),
                    cap: Duration::from_secs(2),
                },
                max_attempts: 6,
                ..SyncPolicy::default()
            },
            Arc::new(SeededRng::new([3; 32])),
            CancelToken::new(),
        );
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        retrier
            .call("test", || async {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(Error::Api(ApiError::RateLimited {
                        retry_after_seconds: Some(1),
                    }))
                } else {
                    Ok(())
                }
            })
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_secs(1));

        let started = Instant::now();
        let outcome: Result<(), Error> = retrier
            .call("test", || async {
                Err(Error::Api(ApiError::Unavailable {
                    status: 503,
                    retry_after_seconds: 3600,
                }))
            })
            .await;
        assert!(started.elapsed() < Duration::from_millis(500));
        assert!(matches!(
            outcome,
            Err(Error::SyncOffline {
                attempts: 1,
                retry_after_seconds: Some(3600),
                ..
            })
        ));
    }

    #[tokio::test]
    async fn cancel_interrupts_a_backoff_wait() {
        let cancel = CancelToken::new();
        let mut retrier = Retrier::new(
            SyncPolicy {
                backoff: Backoff {
                    base: Duration::from_secs(60),
                    cap: Duration::from_secs(60),
                },
                max_attempts: 6,
                ..SyncPolicy::default()
            },
            // Seeded so the first wait is long (not near zero).
            Arc::new(SeededRng::new([9; 32])),
            cancel.clone(),
        );
        let canceller = {
            let cancel = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                cancel.cancel();
            })
        };
        let started = Instant::now();
        let outcome: Result<(), Error> = retrier
            .call("test", || async {
                Err(Error::Api(ApiError::RateLimited {
                    retry_after_seconds: Some(30),
                }))
            })
            .await;
        canceller.await.unwrap();
        assert!(matches!(outcome, Err(Error::SyncCancelled)), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
