//! An explicit cancel handle for a running sync.
//!
//! UniFFI does not cancel Rust futures when the Kotlin coroutine or Swift
//! task that awaits them is cancelled (uniffi manual, futures.md), and the
//! bindings run the work as a tokio task anyway. So the app holds a
//! [`CancelToken`] and calls [`CancelToken::cancel`]; the sync stops at its
//! next await point with [`crate::Error::SyncCancelled`]. Every wait of the
//! engine (an HTTP call, a backoff sleep, waiting for another sync) races
//! the token, so even a sleeping backoff or a call to an unresponsive
//! server ends promptly. Whatever was already confirmed by the server and
//! written to the vault stays; the next sync goes on from there.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

/// The sync was cancelled through its [`CancelToken`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the sync was cancelled")]
pub struct Cancelled;

/// A handle that stops a running sync. Clones share the same state: cancel
/// through any clone, and every holder sees it. Once cancelled it stays
/// cancelled; give each sync a fresh token.
#[derive(Debug, Clone)]
pub struct CancelToken {
    // `watch` rather than `Notify`: the flag and the wake-up are one value,
    // so a cancel that happens between a check and the start of a wait is
    // never missed.
    state: Arc<watch::Sender<bool>>,
}

/// The name the app sees in the façade; the same type.
pub type SyncCancel = CancelToken;

impl Default for CancelToken {
    fn default() -> Self {
        Self::new()
    }
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        let (state, _) = watch::channel(false);
        Self {
            state: Arc::new(state),
        }
    }

    /// Asks the sync to stop at its next await point. Idempotent; returns
    /// at once (it does not wait for the sync to stop).
    pub fn cancel(&self) {
        self.state.send_replace(true);
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        *self.state.borrow()
    }

    /// `Err(Cancelled)` if cancelled: a check between two steps.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }

    /// Resolves once the token is cancelled.
    pub async fn cancelled(&self) {
        let mut receiver = self.state.subscribe();
        // `wait_for` looks at the current value first, so a cancel that
        // came before this call resolves at once. It fails only if the
        // sender is gone, which cannot happen while `self` holds it.
        if receiver.wait_for(|cancelled| *cancelled).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Runs `work` until it finishes or the token is cancelled, whichever
    /// comes first; on cancel, `work` is dropped at its current await point.
    pub async fn run<T>(&self, work: impl Future<Output = T>) -> Result<T, Cancelled> {
        self.check()?;
        tokio::select! {
            // Cancellation first: once cancelled, no more work starts even
            // if both are ready.
            biased;
            () = self.cancelled() => Err(Cancelled),
            value = work => Ok(value),
        }
    }

    /// Sleeps for `duration` unless cancelled first.
    pub async fn sleep(&self, duration: std::time::Duration) -> Result<(), Cancelled> {
        self.run(tokio::time::sleep(duration)).await
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[tokio::test]
    async fn a_fresh_token_lets_work_finish() {
        let token = CancelToken::new();
        assert!(!token.is_cancelled());
        assert_eq!(token.check(), Ok(()));
        assert_eq!(token.run(async { 7 }).await, Ok(7));
        assert_eq!(token.sleep(Duration::from_millis(1)).await, Ok(()));
    }

    #[tokio::test]
    async fn cancel_stops_a_long_sleep_promptly_through_any_clone() {
        let token = CancelToken::new();
        let clone = token.clone();
        let started = Instant::now();
        let sleeper = tokio::spawn(async move { clone.sleep(Duration::from_secs(60)).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        token.cancel();
        let outcome = tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(outcome, Err(Cancelled));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn cancel_drops_pending_work_at_its_await_point() {
        let token = CancelToken::new();
        let (reached, mut reached_rx) = tokio::sync::mpsc::channel(1);
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let work = {
            let finished = Arc::clone(&finished);
            async move {
                let _ = reached.send(()).await;
                std::future::pending::<()>().await;
                finished.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        };
        let runner = {
            let token = token.clone();
            tokio::spawn(async move { token.run(work).await })
        };
        reached_rx.recv().await.unwrap();
        token.cancel();
        let outcome = tokio::time::timeout(Duration::from_secs(5), runner)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(outcome, Err(Cancelled));
        assert!(!finished.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_cancelled_token_starts_no_work_and_stays_cancelled() {
        let token = CancelToken::new();
        token.cancel();
        token.cancel();
        assert!(token.is_cancelled());
        assert_eq!(token.check(), Err(Cancelled));
        let started = std::sync::atomic::AtomicBool::new(false);
        let outcome = token
            .run(async { started.store(true, std::sync::atomic::Ordering::SeqCst) })
            .await;
        assert_eq!(outcome, Err(Cancelled));
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
        // Resolves at once for a token cancelled before the wait began.
        tokio::time::timeout(Duration::from_secs(1), token.cancelled())
            .await
            .unwrap();
    }
}
