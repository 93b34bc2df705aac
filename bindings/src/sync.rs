//! The request sync over FFI: a progress listener the app implements, an
//! explicit cancel handle, and what a sync did.
//!
//! UniFFI does not cancel a Rust future when the Kotlin coroutine or Swift
//! task awaiting it is cancelled (and the work runs as a tokio task anyway),
//! so stopping a sync is explicit: the app makes a [`SyncCancelHandle`],
//! passes it to `Carnet.sync_requests` and calls `cancel()`; the sync ends
//! at its next await point with `CarnetError::SyncCancelled`, everything
//! the insurer confirmed kept (docs/adr/0007-request-sync.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use carnet_core::sync::{self as domain, CancelToken};

use crate::carnet::{Carnet, run};
use crate::error::{CarnetError, SyncProgressError};
use crate::tokens::SyncReport;

/// What the sync is doing, in the order it does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum SyncPhase {
    /// Uploading the files the pending requests cite.
    Attachments,
    /// Uploading the pending requests.
    Requests,
    /// Pulling the status changes of the member's requests.
    Statuses,
}

/// A snapshot of a sync's progress: counts only, no id, name or content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgressReport {
    /// The current phase.
    pub phase: SyncPhase,
    /// Attachment bytes the insurer holds so far, of `bytes_total` (files
    /// it already had count as done).
    pub bytes_done: u64,
    /// Attachment bytes of every file the pending requests cite.
    pub bytes_total: u64,
    /// Requests handled so far (acknowledged or refused).
    pub requests_done: u32,
    /// Requests waiting for upload when the phase began.
    pub requests_total: u32,
    /// Status changes applied so far.
    pub statuses_applied: u32,
}

impl From<domain::SyncProgressReport> for SyncProgressReport {
    fn from(report: domain::SyncProgressReport) -> Self {
        Self {
            phase: match report.phase {
                domain::SyncPhase::Attachments => SyncPhase::Attachments,
                domain::SyncPhase::Requests => SyncPhase::Requests,
                domain::SyncPhase::Statuses => SyncPhase::Statuses,
            },
            bytes_done: report.bytes_done,
            bytes_total: report.bytes_total,
            requests_done: report.requests_done,
            requests_total: report.requests_total,
            statuses_applied: report.statuses_applied,
        }
    }
}

/// Receives a sync's progress. Called from a Rust (tokio) thread, between
/// the sync's steps, never from the app's main thread: post to the UI
/// thread and return quickly. Whatever it throws is ignored (progress is
/// advisory; it never stops the sync).
#[uniffi::export(foreign)]
pub trait SyncProgressListener: Send + Sync {
    /// The sync moved on. Returns whether to keep reporting: `false` stops
    /// the callbacks for the rest of this sync (the screen went away); the
    /// sync itself goes on. (A value rather than a unit return also keeps
    /// the generated Swift within what scripts/swift-syntax.py parses.)
    fn on_progress(&self, progress: SyncProgressReport) -> Result<bool, SyncProgressError>;
}

/// The app's listener seen as the core's.
struct ProgressAdapter {
    listener: Arc<dyn SyncProgressListener>,
    /// Set once the listener asked for no more reports.
    done: AtomicBool,
}

impl ProgressAdapter {
    fn new(listener: Arc<dyn SyncProgressListener>) -> Self {
        Self {
            listener,
            done: AtomicBool::new(false),
        }
    }
}

impl domain::SyncProgress for ProgressAdapter {
    fn on_progress(&self, progress: domain::SyncProgressReport) {
        if self.done.load(Ordering::Relaxed) {
            return;
        }
        // A failing progress bar must not fail the sync; the app's reason
        // is dropped unread (it may quote the app's state).
        if let Ok(false) = self.listener.on_progress(progress.into()) {
            self.done.store(true, Ordering::Relaxed);
        }
    }
}

/// Stops a running sync. Make one per sync: once cancelled it stays
/// cancelled, and a sync given a cancelled handle stops at once.
#[derive(Debug, Default, uniffi::Object)]
pub struct SyncCancelHandle {
    token: CancelToken,
}

#[uniffi::export]
impl SyncCancelHandle {
    /// A handle that is not cancelled.
    #[uniffi::constructor]
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the sync to stop at its next await point (an HTTP call or a
    /// backoff wait is cut short). Returns at once; idempotent; callable
    /// from any thread.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether `cancel` was called.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// Why the insurer did not take one request in a sync. The request stays
/// queued on the phone: the member recalls, corrects and submits it again.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UploadProblem {
    /// The insurer refused these fields (JSON paths, never values).
    InvalidFields {
        /// The refused fields.
        fields: Vec<String>,
    },
    /// A cited file was refused (`code`: `too_large`, `size_mismatch`,
    /// `hash_mismatch`) or is not on this phone (`not_stored`).
    AttachmentRefused {
        /// The file's SHA-256 (as in `AttachmentRef.sha256`).
        sha256: String,
        /// The server's code, or `not_stored`.
        code: String,
    },
    /// The insurer still lacked files after they were uploaded.
    MissingAttachments {
        /// The SHA-256 of each.
        hashes: Vec<String>,
    },
    /// The id is taken at the insurer by another member's request (a bug).
    IdTaken,
    /// Another refusal, by HTTP status and the server's machine code.
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's code.
        code: String,
    },
}

/// One request the insurer did not take in a sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FailedUpload {
    /// The request's id.
    pub request_id: String,
    /// The revision refused.
    pub revision: u64,
    /// Why.
    pub problem: UploadProblem,
}

impl From<domain::FailedUpload> for FailedUpload {
    fn from(failed: domain::FailedUpload) -> Self {
        Self {
            request_id: failed.id.as_str().to_owned(),
            revision: failed.revision,
            problem: match failed.problem {
                domain::UploadProblem::InvalidFields { fields } => {
                    UploadProblem::InvalidFields { fields }
                }
                domain::UploadProblem::AttachmentRefused { sha256, code } => {
                    UploadProblem::AttachmentRefused {
                        sha256: sha256.as_str().to_owned(),
                        code,
                    }
                }
                domain::UploadProblem::MissingAttachments { hashes } => {
                    UploadProblem::MissingAttachments { hashes }
                }
                domain::UploadProblem::IdTaken => UploadProblem::IdTaken,
                domain::UploadProblem::Refused { status, code } => {
                    UploadProblem::Refused { status, code }
                }
            },
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Carnet {
    /// The full sync (queued requests and their files up, request statuses
    /// down, then token use and pharmacy transactions), with progress and
    /// an explicit cancel handle. `progress` is called from a Rust thread.
    /// Transient failures are retried with backoff; after several in a row
    /// the sync ends with `SyncOffline` (everything kept). `cancel` ends it
    /// with `SyncCancelled`. One sync at a time: a second call waits for
    /// the running one (cancellable while it waits).
    pub async fn sync_requests(
        self: Arc<Self>,
        progress: Option<Arc<dyn SyncProgressListener>>,
        cancel: Option<Arc<SyncCancelHandle>>,
    ) -> Result<SyncReport, CarnetError> {
        let inner = Arc::clone(&self.inner);
        let progress = progress.map(|listener| {
            Arc::new(ProgressAdapter::new(listener)) as Arc<dyn domain::SyncProgress>
        });
        let cancel = cancel.map(|handle| handle.token.clone());
        run(async move { inner.sync_with(progress, cancel).await })
            .await
            .map(SyncReport::from)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use carnet_core::sync::SyncProgress as _;

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<SyncProgressReport>>);

    impl SyncProgressListener for Recorder {
        fn on_progress(&self, progress: SyncProgressReport) -> Result<bool, SyncProgressError> {
            let mut seen = self.0.lock().unwrap();
            seen.push(progress);
            // Enough after two.
            Ok(seen.len() < 2)
        }
    }

    struct Throwing;

    impl SyncProgressListener for Throwing {
        fn on_progress(&self, _progress: SyncProgressReport) -> Result<bool, SyncProgressError> {
            // What UniFFI gives back when the app's listener throws.
            Err(uniffi::UnexpectedUniFFICallbackError::new("IllegalStateException").into())
        }
    }

    fn report() -> domain::SyncProgressReport {
        domain::SyncProgressReport {
            phase: domain::SyncPhase::Requests,
            bytes_done: 10,
            bytes_total: 20,
            requests_done: 1,
            requests_total: 3,
            statuses_applied: 0,
        }
    }

    #[test]
    fn progress_reaches_the_listener_until_it_declines_and_a_throwing_one_is_ignored() {
        let recorder = Arc::new(Recorder::default());
        let adapter = ProgressAdapter::new(recorder.clone());
        for _ in 0..3 {
            adapter.on_progress(report());
        }
        assert_eq!(
            recorder.0.lock().unwrap().len(),
            2,
            "no reports after false"
        );
        recorder.0.lock().unwrap().truncate(1);
        assert_eq!(
            *recorder.0.lock().unwrap(),
            [SyncProgressReport {
                phase: SyncPhase::Requests,
                bytes_done: 10,
                bytes_total: 20,
                requests_done: 1,
                requests_total: 3,
                statuses_applied: 0,
            }]
        );
        ProgressAdapter::new(Arc::new(Throwing)).on_progress(report());
    }

    #[test]
    fn the_cancel_handle_cancels_the_token_the_sync_holds() {
        let handle = SyncCancelHandle::new();
        let token = handle.token.clone();
        assert!(!handle.is_cancelled() && !token.is_cancelled());
        handle.cancel();
        handle.cancel();
        assert!(handle.is_cancelled() && token.is_cancelled());
    }
}
