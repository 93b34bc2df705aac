//! The request sync: attachments, then requests, then statuses.
//!
//! 1. **Attachments first.** Every file the pending requests cite, once per
//!    content hash: skipped if the insurer has it complete, resumed from
//!    what it received otherwise, sent in
//!    [`ATTACHMENT_CHUNK_BYTES`] chunks. A request is never sent before its
//!    files, so the insurer never holds a request it cannot show.
//! 2. **Requests**, started oldest submission first
//!    ([`Outbox::pending_uploads`]), a few side by side
//!    ([`UPLOAD_CONCURRENCY`]): `PUT` under (id, revision), then
//!    [`Outbox::mark_sent`] for exactly that revision (a member's edit meanwhile makes it
//!    [`Update::Stale`]: the newer revision
//!    stays queued), then the receipt's status. A refusal of one request
//!    is reported and the others go on.
//! 3. **Statuses** after a cursor kept in the vault, applied with
//!    [`Outbox::apply_status`]; the cursor is written only after the page
//!    is applied (each write flushed), so a sync stopped midway pulls the
//!    page again rather than skip it (applying a status twice is a
//!    duplicate, harmless).
//!
//! Nothing here moves the phone's state before the insurer answered and
//! the vault write returned; see the module docs of [`crate::sync`].

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use parking_lot::Mutex;

use super::SyncPolicy;
use super::cancel::CancelToken;
use super::progress::{SyncPhase, SyncProgress, SyncProgressReport};
use super::report::{FailedUpload, RequestSyncReport, UploadProblem};
use super::retry::Retrier;
use crate::api::{ApiClient, ApiError};
use crate::error::Error;
use crate::model::{ATTACHMENT_CHUNK_BYTES, AttachmentUploadState, UploadRequestBody};
use crate::requests::{
    ContentHash, MemberRequest, Outbox, OutboxError, RequestId, StatusChange, Update,
};
use crate::rng::{Rng, SystemRng};
use crate::vault::Vault;

/// Vault tree of sync bookkeeping (shared with the transaction cursor).
const SYNC_TREE: &str = "sync";

/// The last status-change sequence applied on this phone.
const CHANGES_CURSOR_KEY: &[u8] = b"request-changes-after";

/// Answers that move no byte forward, in a row, before an upload is
/// declared stuck (a server bug; retrying would loop forever).
const MAX_STALLS: u32 = 3;

/// Requests uploaded side by side. One at a time, a request costs a round
/// trip, the insurer's durable flush and the phone's two flushed writes in
/// a row (about 1.5 ms on loopback, so 1,000 queued requests took 1.5–1.9 s
/// against a 2 s target); a few in flight overlap those waits, and the
/// insurer's group commit shares its flushes between them. Kept small: a
/// phone's line gains nothing from more, and each costs a connection.
const UPLOAD_CONCURRENCY: usize = 8;

/// Where the sync gets a valid access token before each call. Asked every
/// time, so a long sync (a slow line, a 20 MiB scan) outliving the 15-minute
/// access token refreshes it in passing.
pub trait AccessTokens: Send + Sync {
    /// A valid access token (refreshed if about to expire).
    fn access_token(&self) -> impl Future<Output = Result<String, Error>> + Send;
}

/// One run of the request sync. Build it, set what differs from the
/// defaults, and [`RequestSync::run`] it.
pub struct RequestSync<'a, A: AccessTokens> {
    api: &'a ApiClient,
    outbox: Arc<Outbox>,
    vault: Arc<Vault>,
    tokens: &'a A,
    policy: SyncPolicy,
    rng: Arc<dyn Rng>,
    cancel: CancelToken,
    progress: Option<Arc<dyn SyncProgress>>,
    /// The run's progress so far. Behind a lock because the requests in
    /// flight report their own acknowledgement (before the outbox records
    /// it, as documented on [`SyncProgress`]); never held across an await.
    state: Mutex<SyncProgressReport>,
}

impl<A: AccessTokens> std::fmt::Debug for RequestSync<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSync")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What became of one file in this sync.
#[derive(Debug, Clone)]
enum FileOutcome {
    /// The insurer has it whole.
    Complete,
    /// It cannot be uploaded (refused, or not on this phone); the requests
    /// citing it are not sent.
    Refused(String),
}

/// The mutable side of a run.
struct Run {
    retrier: Retrier,
    report: RequestSyncReport,
    files: HashMap<ContentHash, FileOutcome>,
}

/// What became of one request's upload (one `PUT` and its retries).
enum Put {
    /// Acknowledged by the insurer and recorded in the outbox.
    Sent,
    /// The insurer's review of an earlier revision had begun: recorded as
    /// sent (see ADR 0007), not counted as uploaded.
    TreatedAsSent,
    /// The insurer lacks these cited files (their hashes).
    Missing(Vec<String>),
    /// Refused, for this request alone.
    Refused(UploadProblem),
}

/// A request upload in flight: the request, whether its missing files were
/// already sent again once, and the outcome.
type InFlight<'f> =
    Pin<Box<dyn Future<Output = (MemberRequest, bool, Result<Put, Error>)> + Send + 'f>>;

/// The next upload in `in_flight` to finish, or `None` if there is none.
/// A small hand-rolled "unordered set": each poll polls every upload (at
/// most [`UPLOAD_CONCURRENCY`]), each of which registered the waker.
async fn next_done(
    in_flight: &mut Vec<InFlight<'_>>,
) -> Option<(MemberRequest, bool, Result<Put, Error>)> {
    std::future::poll_fn(|cx| {
        if in_flight.is_empty() {
            return Poll::Ready(None);
        }
        for index in 0..in_flight.len() {
            if let Poll::Ready(done) = in_flight[index].as_mut().poll(cx) {
                drop(in_flight.swap_remove(index));
                return Poll::Ready(Some(done));
            }
        }
        Poll::Pending
    })
    .await
}

impl<'a, A: AccessTokens> RequestSync<'a, A> {
    /// A sync of `outbox` (kept in `vault`) through `api`, with tokens from
    /// `tokens`, the default policy, the system random source, no cancel
    /// handle and no progress callback.
    pub fn new(api: &'a ApiClient, outbox: Arc<Outbox>, vault: Arc<Vault>, tokens: &'a A) -> Self {
        Self {
            api,
            outbox,
            vault,
            tokens,
            policy: SyncPolicy::default(),
            rng: Arc::new(SystemRng::new()),
            cancel: CancelToken::new(),
            progress: None,
            state: Mutex::new(SyncProgressReport {
                phase: SyncPhase::Attachments,
                bytes_done: 0,
                bytes_total: 0,
                requests_done: 0,
                requests_total: 0,
                statuses_applied: 0,
            }),
        }
    }

    /// Replaces the retry policy.
    pub fn policy(mut self, policy: SyncPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Replaces the random source of the backoff jitter (seeded in tests).
    pub fn rng(mut self, rng: Arc<dyn Rng>) -> Self {
        self.rng = rng;
        self
    }

    /// Stops the run when `cancel` is cancelled.
    pub fn cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Reports progress to `progress`.
    pub fn progress(mut self, progress: Option<Arc<dyn SyncProgress>>) -> Self {
        self.progress = progress;
        self
    }

    /// Runs the three phases. Errors: [`Error::SyncCancelled`],
    /// [`Error::SyncOffline`] (transient failures exhausted the budget),
    /// a session error, a vault error, or a refusal that concerns the whole
    /// sync rather than one request (401, TLS, a malformed answer). In every
    /// case what was confirmed is recorded and everything else stays queued.
    pub async fn run(self) -> Result<RequestSyncReport, Error> {
        let retrier = Retrier::new(self.policy, Arc::clone(&self.rng), self.cancel.clone());
        let mut run = Run {
            retrier,
            report: RequestSyncReport::default(),
            files: HashMap::new(),
        };
        self.upload_attachments(&mut run).await?;
        self.upload_requests(&mut run).await?;
        self.pull_statuses(&mut run).await?;
        tracing::info!(
            requests = run.report.requests_uploaded,
            attachment_bytes = run.report.attachment_bytes_uploaded,
            statuses = run.report.status_changes_applied,
            failed = run.report.failed.len(),
            "request sync done"
        );
        Ok(run.report)
    }

    /// Phase 1: every file the pending requests cite, once per hash.
    async fn upload_attachments(&self, run: &mut Run) -> Result<(), Error> {
        let pending = self.pending().await?;
        let mut files: Vec<(ContentHash, u64)> = Vec::new();
        for request in &pending {
            for (_, attachment) in request.form.attachments() {
                if !files.iter().any(|(hash, _)| *hash == attachment.sha256) {
                    files.push((attachment.sha256.clone(), attachment.size));
                }
            }
        }
        let bytes_total = files.iter().map(|(_, size)| size).sum();
        self.report(|p| p.bytes_total = bytes_total);
        for (hash, size) in files {
            self.ensure_file(run, &hash, size).await?;
        }
        Ok(())
    }

    /// Phase 2: each pending request, oldest submission first, up to
    /// [`UPLOAD_CONCURRENCY`] at a time. Read again after phase 1, so a
    /// request submitted meanwhile goes too (its files are uploaded in
    /// passing).
    ///
    /// Side by side is safe because every request has its own id: each
    /// upload is idempotent at the insurer and records exactly the revision
    /// it sent (`mark_sent` is stale if the member edited meanwhile), so
    /// the order in which they finish does not matter. They start in
    /// submission order; files are checked here, one at a time, before the
    /// request that cites them starts.
    async fn upload_requests(&self, run: &mut Run) -> Result<(), Error> {
        let pending = self.pending().await?;
        let total = u32::try_from(pending.len()).unwrap_or(u32::MAX);
        self.report(|p| {
            p.phase = SyncPhase::Requests;
            p.requests_total = total;
        });
        let mut queue: VecDeque<(MemberRequest, bool)> = pending
            .into_iter()
            .map(|request| (request, false))
            .collect();
        let mut in_flight: Vec<InFlight<'_>> = Vec::new();
        // The first error that concerns the whole sync: nothing new starts
        // after it, and the uploads in flight finish (or fail) first, so
        // what the insurer acknowledged is recorded.
        let mut stopped: Option<Error> = None;
        loop {
            while stopped.is_none() && in_flight.len() < UPLOAD_CONCURRENCY {
                let Some((listed, retried_missing)) = queue.pop_front() else {
                    break;
                };
                match self.prepare(run, &listed).await {
                    Ok(Some(request)) => {
                        let retrier = run.retrier.share();
                        in_flight.push(Box::pin(async move {
                            let outcome = self.put_request(retrier, &request).await;
                            (request, retried_missing, outcome)
                        }));
                    }
                    Ok(None) => {}
                    Err(error) => stopped = Some(error),
                }
            }
            let Some((request, retried_missing, outcome)) = next_done(&mut in_flight).await else {
                break;
            };
            match outcome {
                Ok(Put::Sent) => {
                    run.report.requests_uploaded = run.report.requests_uploaded.saturating_add(1);
                }
                Ok(Put::TreatedAsSent) => {}
                Ok(Put::Missing(hashes)) if !retried_missing && stopped.is_none() => {
                    // The insurer lost or never finished a file (or a
                    // status said complete too early): upload the cited
                    // ones it names, once, and send the request again.
                    // Hashes the form does not cite are not ours to upload.
                    match self.resend_missing(run, &request, &hashes).await {
                        Ok(None) => queue.push_front((request, true)),
                        Ok(Some(problem)) => self.refused(run, &request, problem),
                        Err(error) => stopped = Some(error),
                    }
                }
                Ok(Put::Missing(hashes)) => {
                    self.refused(run, &request, UploadProblem::MissingAttachments { hashes });
                }
                Ok(Put::Refused(problem)) => self.refused(run, &request, problem),
                Err(error) => {
                    if stopped.is_none() {
                        stopped = Some(error);
                    }
                }
            }
        }
        match stopped {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Reads the request again just before it is sent (one the member
    /// recalled since the list was read is not sent now, one edited and
    /// resubmitted goes at its newest revision) and makes sure the insurer
    /// has the files it cites. `None` if it is not to be sent now.
    async fn prepare(
        &self,
        run: &mut Run,
        listed: &MemberRequest,
    ) -> Result<Option<MemberRequest>, Error> {
        run.retrier.cancel().check()?;
        let outbox = Arc::clone(&self.outbox);
        let id = listed.id.clone();
        let current = blocking(move || Ok(outbox.get(&id)?)).await?;
        let Some(request) = current.filter(|request| request.state.is_pending_upload()) else {
            self.report(|p| p.requests_done = p.requests_done.saturating_add(1));
            return Ok(None);
        };
        let cited: Vec<(ContentHash, u64)> = request
            .form
            .attachments()
            .into_iter()
            .map(|(_, attachment)| (attachment.sha256.clone(), attachment.size))
            .collect();
        for (hash, size) in &cited {
            if let FileOutcome::Refused(code) = self.ensure_file(run, hash, *size).await? {
                let problem = UploadProblem::AttachmentRefused {
                    sha256: hash.clone(),
                    code,
                };
                self.refused(run, &request, problem);
                return Ok(None);
            }
        }
        Ok(Some(request))
    }

    /// Uploads the cited files among `hashes` again, from what the insurer
    /// holds; `Some(problem)` if one of them is refused.
    async fn resend_missing(
        &self,
        run: &mut Run,
        request: &MemberRequest,
        hashes: &[String],
    ) -> Result<Option<UploadProblem>, Error> {
        for (_, attachment) in request.form.attachments() {
            let hash = &attachment.sha256;
            if hashes.iter().any(|named| named == hash.as_str()) {
                run.files.remove(hash);
                if let FileOutcome::Refused(code) =
                    self.ensure_file(run, hash, attachment.size).await?
                {
                    return Ok(Some(UploadProblem::AttachmentRefused {
                        sha256: hash.clone(),
                        code,
                    }));
                }
            }
        }
        Ok(None)
    }

    /// Reports a request the insurer refused; it stays queued and the
    /// others go on.
    fn refused(&self, run: &mut Run, request: &MemberRequest, problem: UploadProblem) {
        tracing::warn!(
            id = request.id.as_str(),
            revision = request.revision,
            problem = problem.code(),
            "the insurer refused a request; it stays queued"
        );
        run.report.failed.push(FailedUpload {
            id: request.id.clone(),
            revision: request.revision,
            problem,
        });
        self.report(|p| p.requests_done = p.requests_done.saturating_add(1));
    }

    /// One `PUT` of a request (with retries) and, once acknowledged, the
    /// outbox's record of it.
    async fn put_request(
        &self,
        mut retrier: Retrier,
        request: &MemberRequest,
    ) -> Result<Put, Error> {
        let body = UploadRequestBody {
            revision: request.revision,
            form: request.form.clone(),
        };
        let outcome = retrier
            .call("upload_request", || async {
                let access = self.tokens.access_token().await?;
                Ok(self.api.upload_request(&access, &request.id, &body).await?)
            })
            .await;
        let error = match outcome {
            Ok(receipt) => {
                if receipt.id != request.id.as_str() || receipt.revision > request.revision {
                    // Not an answer to what was sent: record nothing.
                    return Err(ApiError::MalformedResponse {
                        what: "request receipt does not match the upload".into(),
                    }
                    .into());
                }
                // Reported before the outbox records it: the insurer has
                // it now, whatever the member does next.
                self.report(|p| p.requests_done = p.requests_done.saturating_add(1));
                let change = StatusChange {
                    revision: receipt.revision,
                    status: receipt.status,
                };
                self.record_sent(&request.id, request.revision, Some(change))
                    .await?;
                return Ok(Put::Sent);
            }
            Err(Error::Api(error)) => error,
            Err(error) => return Err(error),
        };
        match error {
            ApiError::Unprocessable { code, fields } if code == "missing_attachments" => {
                Ok(Put::Missing(fields))
            }
            ApiError::Conflict { code } if code == "not_editable" => {
                // The review of an earlier revision began before this one
                // arrived: the insurer keeps that one, and its statuses come
                // through the changes. Treated as sent so it is not
                // uploaded again and again.
                tracing::info!(
                    id = request.id.as_str(),
                    revision = request.revision,
                    "review already begun at the insurer; treated as sent"
                );
                self.report(|p| p.requests_done = p.requests_done.saturating_add(1));
                self.record_sent(&request.id, request.revision, None)
                    .await?;
                Ok(Put::TreatedAsSent)
            }
            ApiError::Conflict { code } if code == "id_taken" => {
                Ok(Put::Refused(UploadProblem::IdTaken))
            }
            error => per_request_problem(error).map(Put::Refused),
        }
    }

    /// `mark_sent` for exactly the uploaded revision, then the receipt's
    /// status. Both flushed before this returns.
    async fn record_sent(
        &self,
        id: &RequestId,
        revision: u64,
        change: Option<StatusChange>,
    ) -> Result<(), Error> {
        let outbox = Arc::clone(&self.outbox);
        let id = id.clone();
        blocking(move || {
            if outbox.mark_sent(&id, revision)? == Update::Stale {
                // The member recalled or edited it during the upload: the
                // newer revision stays queued for the next sync.
                tracing::info!(
                    id = id.as_str(),
                    revision,
                    "uploaded revision is no longer the latest; the newer one stays queued"
                );
            }
            if let Some(change) = change {
                match outbox.apply_status(&id, &change) {
                    Ok(_) => {}
                    // A status the table refuses, or a revision this phone
                    // never made, is the insurer's or a bug; the changes
                    // feed repeats the truth later. Not worth failing the
                    // sync over.
                    Err(
                        error @ (OutboxError::Transition(_) | OutboxError::UnknownRevision { .. }),
                    ) => {
                        tracing::warn!(id = id.as_str(), %error, "receipt status not applied");
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            Ok(())
        })
        .await
    }

    /// Phase 3: status changes after the stored cursor, page by page.
    async fn pull_statuses(&self, run: &mut Run) -> Result<(), Error> {
        self.report(|p| p.phase = SyncPhase::Statuses);
        let vault = Arc::clone(&self.vault);
        let mut after: u64 = blocking(move || {
            Ok(vault
                .get::<u64>(SYNC_TREE, CHANGES_CURSOR_KEY)?
                .unwrap_or(0))
        })
        .await?;
        loop {
            let limit = self.policy.changes_page.clamp(1, 500);
            let page = run
                .retrier
                .call("request_changes", || async {
                    let access = self.tokens.access_token().await?;
                    Ok(self.api.request_changes(&access, after, limit).await?)
                })
                .await?;
            let outbox = Arc::clone(&self.outbox);
            let vault = Arc::clone(&self.vault);
            let next_after = page.next_after;
            let changes = page.changes;
            run.report.status_changes_pulled = run
                .report
                .status_changes_pulled
                .saturating_add(changes.len());
            // Not raced against the cancel token: once started, the page
            // is applied and the cursor stored together (a kill between
            // them only means the page is applied again, harmlessly).
            let applied = blocking(move || {
                let mut applied = 0usize;
                for entry in &changes {
                    if apply_change(&outbox, entry)? {
                        applied += 1;
                    }
                }
                // After the page is applied and flushed, never before.
                vault.put(SYNC_TREE, CHANGES_CURSOR_KEY, &next_after)?;
                Ok(applied)
            })
            .await?;
            run.report.status_changes_applied =
                run.report.status_changes_applied.saturating_add(applied);
            let applied = u32::try_from(applied).unwrap_or(u32::MAX);
            self.report(|p| p.statuses_applied = p.statuses_applied.saturating_add(applied));
            if !page.more {
                return Ok(());
            }
            if next_after <= after {
                // "More" without moving forward would loop for ever.
                return Err(ApiError::MalformedResponse {
                    what: "request changes cursor did not advance".into(),
                }
                .into());
            }
            after = next_after;
            run.retrier.cancel().check()?;
        }
    }

    /// Makes sure the insurer has the file whole, once per sync and hash.
    async fn ensure_file(
        &self,
        run: &mut Run,
        hash: &ContentHash,
        size: u64,
    ) -> Result<FileOutcome, Error> {
        if let Some(outcome) = run.files.get(hash) {
            return Ok(outcome.clone());
        }
        let outcome = self.upload_file(run, hash, size).await?;
        if let FileOutcome::Refused(code) = &outcome {
            tracing::warn!(code = code.as_str(), "an attachment could not be uploaded");
        }
        run.files.insert(hash.clone(), outcome.clone());
        Ok(outcome)
    }

    /// Uploads what the insurer lacks of one file, resuming where it is.
    async fn upload_file(
        &self,
        run: &mut Run,
        hash: &ContentHash,
        size: u64,
    ) -> Result<FileOutcome, Error> {
        let done_before = self.state.lock().bytes_done;
        let state = self.file_state(run, hash).await?;
        if state.as_ref().is_some_and(|state| state.complete) {
            self.report(|p| p.bytes_done = done_before.saturating_add(size));
            return Ok(FileOutcome::Complete);
        }
        // Decrypted only when something is to be sent: a file the insurer
        // already has costs one GET, not a decryption of megabytes.
        let outbox = Arc::clone(&self.outbox);
        let key = hash.clone();
        let Some(bytes) = blocking(move || Ok(outbox.attachment_bytes(&key)?)).await? else {
            return Ok(FileOutcome::Refused("not_stored".into()));
        };
        if u64::try_from(bytes.len()).ok() != Some(size) {
            // The form's size disagrees with the stored bytes: the insurer
            // would refuse the request anyway.
            return Ok(FileOutcome::Refused("size_mismatch".into()));
        }
        let mut received = state.map_or(0, |state| state.received).min(size);
        let mut hash_retried = false;
        let mut stalls = 0u32;
        loop {
            self.report(|p| p.bytes_done = done_before.saturating_add(received));
            let start = usize::try_from(received)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = start
                .saturating_add(ATTACHMENT_CHUNK_BYTES)
                .min(bytes.len());
            let chunk = &bytes[start..end];
            let outcome = run
                .retrier
                .call("upload_attachment_chunk", || async {
                    let access = self.tokens.access_token().await?;
                    Ok(self
                        .api
                        .upload_attachment_chunk(&access, hash, received, size, chunk)
                        .await?)
                })
                .await;
            let next = match outcome {
                Ok(state) => Some(state),
                Err(Error::Api(ApiError::Conflict { code })) if code == "offset_mismatch" => {
                    // Another try of ours got further (or the insurer lost
                    // a partial): ask where it is and go on from there.
                    match self.file_state(run, hash).await? {
                        Some(state) => Some(state),
                        None => {
                            received = 0;
                            None
                        }
                    }
                }
                Err(Error::Api(ApiError::Unprocessable { code, .. }))
                    if code == "hash_mismatch" && !hash_retried =>
                {
                    // The insurer discarded the partial; the bytes here are
                    // checked against their hash, so send them all once more
                    // (a partial from an interrupted older build, say).
                    hash_retried = true;
                    received = 0;
                    None
                }
                Err(Error::Api(error)) => return file_refusal(error).map(FileOutcome::Refused),
                Err(error) => return Err(error),
            };
            if let Some(state) = next {
                if state.complete {
                    run.report.attachment_bytes_uploaded = run
                        .report
                        .attachment_bytes_uploaded
                        .saturating_add(size.saturating_sub(received));
                    self.report(|p| p.bytes_done = done_before.saturating_add(size));
                    return Ok(FileOutcome::Complete);
                }
                if state.received > received && state.received <= size {
                    run.report.attachment_bytes_uploaded = run
                        .report
                        .attachment_bytes_uploaded
                        .saturating_add(state.received - received);
                    stalls = 0;
                } else {
                    stalls += 1;
                }
                received = state.received.min(size);
            } else {
                stalls += 1;
            }
            if stalls > MAX_STALLS {
                return Err(ApiError::MalformedResponse {
                    what: "attachment upload makes no progress".into(),
                }
                .into());
            }
        }
    }

    /// `GET` the insurer's state of a file (with retries).
    async fn file_state(
        &self,
        run: &mut Run,
        hash: &ContentHash,
    ) -> Result<Option<AttachmentUploadState>, Error> {
        run.retrier
            .call("attachment_state", || async {
                let access = self.tokens.access_token().await?;
                Ok(self.api.attachment_state(&access, hash).await?)
            })
            .await
    }

    /// The requests waiting for upload, in upload order. Unreadable records
    /// are logged by the outbox and left alone.
    async fn pending(&self) -> Result<Vec<MemberRequest>, Error> {
        let outbox = Arc::clone(&self.outbox);
        let listing = blocking(move || Ok(outbox.pending_uploads()?)).await?;
        if !listing.unreadable.is_empty() {
            tracing::warn!(
                count = listing.unreadable.len(),
                "some outbox records cannot be read and are not uploaded"
            );
        }
        Ok(listing.requests)
    }

    /// Applies `change` to the progress and tells the caller, outside the
    /// lock (the callback may take its time or call back into the core).
    fn report(&self, change: impl FnOnce(&mut SyncProgressReport)) {
        let snapshot = {
            let mut state = self.state.lock();
            change(&mut state);
            *state
        };
        if let Some(progress) = &self.progress {
            progress.on_progress(snapshot);
        }
    }
}

/// Applies one pulled status; `Ok(true)` if it changed a request. What
/// cannot apply (not this phone's request, a stale or contradicting
/// status, a malformed id) is skipped: the cursor must move past it, or
/// the sync would stall on it for ever. Only a vault failure stops.
fn apply_change(outbox: &Outbox, entry: &crate::model::RequestStatusEntry) -> Result<bool, Error> {
    let Ok(id) = RequestId::parse(&entry.id) else {
        tracing::warn!("a status change names a malformed request id; skipped");
        return Ok(false);
    };
    let change = StatusChange {
        revision: entry.revision,
        status: entry.status.clone(),
    };
    match outbox.apply_status(&id, &change) {
        Ok(update) => Ok(update == Update::Applied),
        // Filed from another phone, or before this app was reinstalled.
        Err(OutboxError::NotFound) => Ok(false),
        Err(error @ (OutboxError::Transition(_) | OutboxError::UnknownRevision { .. })) => {
            tracing::warn!(id = id.as_str(), %error, "a status change was not applied");
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}

/// A refusal that concerns one request (or one file): reported, and the
/// others go on. Anything else (401, 403, TLS, a malformed answer...)
/// concerns the whole sync and stops it.
fn per_request_problem(error: ApiError) -> Result<UploadProblem, Error> {
    match error {
        ApiError::Unprocessable { code, fields } if code == "invalid_field" => {
            Ok(UploadProblem::InvalidFields { fields })
        }
        ApiError::InvalidFields { fields } => Ok(UploadProblem::InvalidFields { fields }),
        ApiError::Unprocessable { code, .. } => Ok(UploadProblem::Refused { status: 422, code }),
        ApiError::Conflict { code } => Ok(UploadProblem::Refused { status: 409, code }),
        ApiError::Rejected { status, code } => Ok(UploadProblem::Refused { status, code }),
        error => Err(error.into()),
    }
}

/// A refusal of one file (413 `too_large`, 409 `size_mismatch`, 422
/// `hash_mismatch` again...): the server's code; the requests citing it are
/// reported and the others go on. Anything else stops the sync, as in
/// [`per_request_problem`].
fn file_refusal(error: ApiError) -> Result<String, Error> {
    match error {
        ApiError::Unprocessable { code, .. }
        | ApiError::Conflict { code }
        | ApiError::Rejected { code, .. } => Ok(code),
        ApiError::InvalidFields { .. } => Ok("invalid_field".into()),
        error => Err(error.into()),
    }
}

/// Runs vault work off the async threads (sled and AES-GCM block).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Error::Internal(format!("sync task: {error}")))?
}
