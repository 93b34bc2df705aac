//! The phone-side sync of requests: the outbox's queued requests and their
//! files go up, the insurer's decisions come down.
//!
//! One job per file:
//! - `engine`: the request sync itself ([`RequestSync`]): attachments
//!   first (content-addressed, resumable, in
//!   [`crate::model::ATTACHMENT_CHUNK_BYTES`] chunks), then each pending
//!   request under its id and revision, then the status changes after a
//!   cursor kept in the vault;
//! - `retry`: every HTTP call retried on transient failures, with a budget;
//! - `backoff`: exponential backoff with full jitter ([`Backoff`]);
//! - `cancel`: the explicit cancel handle ([`CancelToken`]);
//! - `progress`: the progress callback ([`SyncProgress`]);
//! - `report`: what a sync did ([`RequestSyncReport`]).
//!
//! **Safe to stop at any await point**, the process killed included: the
//! phone's state only moves after the insurer answered and the vault's
//! flushed write returned, and every upload is idempotent at the insurer
//! (content addresses for files, (id, revision) for requests), so the next
//! sync replays at most what was in flight. Decisions:
//! `docs/adr/0007-request-sync.md`.

mod backoff;
mod cancel;
mod engine;
mod progress;
mod report;
mod retry;

pub use backoff::Backoff;
pub use cancel::{CancelToken, Cancelled, SyncCancel};
pub use engine::{AccessTokens, RequestSync};
pub use progress::{SyncPhase, SyncProgress, SyncProgressReport};
pub use report::{FailedUpload, RequestSyncReport, UploadProblem};
pub(crate) use retry::Retrier;

/// How a sync behaves on a bad line. The defaults suit a phone; tests
/// shorten the waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPolicy {
    /// The waits between retries.
    pub backoff: Backoff,
    /// Transient failures in a row after which the sync gives up with
    /// [`crate::Error::SyncOffline`] (any success resets the count).
    pub max_attempts: u32,
    /// Status changes asked for per page (the insurer allows 1 to 500).
    pub changes_page: u32,
}

impl Default for SyncPolicy {
    fn default() -> Self {
        Self {
            backoff: Backoff::default(),
            // Six tries: about 8 s of waiting on average (15.5 s at most)
            // with the default waits (see `Backoff`), after which the
            // platform scheduler's own backoff takes over.
            max_attempts: 6,
            changes_page: 100,
        }
    }
}
