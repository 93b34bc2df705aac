//! Progress of a sync, for the app's progress bar.
//!
//! A callback rather than a stream: the shells implement one small trait
//! (UniFFI `#[uniffi::export(foreign)]` in the bindings) and get counts
//! only, never content.

/// What the sync is doing, in the order it does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncPhase {
    /// Uploading the files the pending requests cite.
    Attachments,
    /// Uploading the pending requests.
    Requests,
    /// Pulling the status changes of the member's requests.
    Statuses,
}

/// A snapshot of a sync's progress. Counts only: no id, name or content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncProgressReport {
    /// The current phase.
    pub phase: SyncPhase,
    /// Attachment bytes the insurer holds so far, of those this sync needs
    /// (files it already had count as done).
    pub bytes_done: u64,
    /// Attachment bytes of every file the pending requests cite.
    pub bytes_total: u64,
    /// Requests handled so far in this sync (acknowledged or refused).
    pub requests_done: u32,
    /// Requests that were waiting for upload when the phase began.
    pub requests_total: u32,
    /// Status changes applied so far.
    pub statuses_applied: u32,
}

/// Receives progress while a sync runs. Called on the sync's task, between
/// its steps: keep it quick (post to the UI thread and return). Requests
/// are reported done after the insurer answered and before the outbox
/// records it, so the app may see a request it is editing reported while
/// its old revision is being acknowledged; the outbox's revisions keep that
/// safe (ADR 0005).
pub trait SyncProgress: Send + Sync {
    /// The sync moved on.
    fn on_progress(&self, progress: SyncProgressReport);
}
