//! The outbox: every request the member made, kept in the vault from the
//! first save until logout, with its state and revision.
//!
//! **Acknowledged ⇒ on disk.** Every method that changes something returns
//! `Ok` only after the vault's write (which flushes) returned; a method
//! that fails has changed nothing the member was told about. Each record is
//! changed by compare-and-swap on its previous value, so the member's edits
//! and the sync engine's updates, from any thread or [`Outbox`] over the
//! same vault, never overwrite one another.
//!
//! **Nothing dropped silently.** Lists read the vault with
//! [`Vault::records`]: a record that fails to decrypt or decode is reported
//! in [`Listing::unreadable`], stays on disk untouched, and does not hide
//! the others. Decisions: `docs/adr/0005-outbox.md`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::attachment::{self, AttachmentRef, ContentHash, MediaType};
use super::error::OutboxError;
use super::id::RequestId;
use super::kinds::{RequestForm, RequestKind};
use super::state::{Event, RequestState, StatusChange, transition};
use super::validate::{FieldProblem, validate};
use crate::clock::Clock;
use crate::rng::Rng;
use crate::vault::{Vault, VaultError, Zeroizing};

/// Vault tree of the requests, keyed by id.
const REQUESTS_TREE: &str = "requests";

/// Vault tree of the outbox's own bookkeeping.
const META_TREE: &str = "requests_meta";

/// Key of the last sequence number handed out, in [`META_TREE`].
const SEQUENCE_KEY: &[u8] = b"sequence";

/// A request as the outbox keeps it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRequest {
    /// Made on the phone; the idempotency key of every upload.
    pub id: RequestId,
    /// Starts at 1; grows with every edit and every resubmission, so that an
    /// upload can tell whether what it sent is still the latest.
    pub revision: u64,
    /// The newest revision the backend acknowledged or reported on, if any.
    pub backend_revision: Option<u64>,
    /// Where it is in its life cycle.
    pub state: RequestState,
    /// What the member filled in.
    pub form: RequestForm,
    /// When it was first saved.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the member last submitted it, if ever.
    pub submitted_at: Option<DateTime<Utc>>,
    /// Creation order among this phone's requests (a counter, not the
    /// clock, which the member can turn back).
    pub sequence: u64,
    /// Upload order: taken from the same counter at each submission, so a
    /// resubmitted request waits behind those queued before it.
    pub queued_sequence: Option<u64>,
}

// Manual: the form and the reviewer's reasons are health data, and Debug
// output ends up in logs.
impl std::fmt::Debug for MemberRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberRequest")
            .field("id", &self.id)
            .field("kind", &self.form.kind())
            .field("revision", &self.revision)
            .field("backend_revision", &self.backend_revision)
            .field("state", &self.state)
            .field("sequence", &self.sequence)
            .field("queued_sequence", &self.queued_sequence)
            .finish_non_exhaustive()
    }
}

impl MemberRequest {
    /// Which kind of request it is.
    pub fn kind(&self) -> RequestKind {
        self.form.kind()
    }
}

/// Requests read from the vault, and the records that could not be read.
#[derive(Debug)]
pub struct Listing {
    /// The readable requests, in the order the call documents.
    pub requests: Vec<MemberRequest>,
    /// One error per record that failed to decrypt or decode. The records
    /// stay in the vault; the app tells the member that some requests
    /// cannot be shown (the errors carry no id or content).
    pub unreadable: Vec<VaultError>,
}

/// What an update from the sync engine did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The request changed, and the change is on disk.
    Applied,
    /// The request already reflected it (a repeated or late report).
    Duplicate,
    /// It concerns an older revision, or a request the member took back:
    /// ignored. A newer revision will be uploaded in its turn.
    Stale,
}

/// What a read-modify-write decided.
enum Step<T> {
    /// Leave the record as it is.
    Keep(T),
    /// Write this record in place of the current one.
    Write(Box<MemberRequest>, T),
}

/// The member's requests in the vault. `Send + Sync`; every method blocks on
/// disk I/O, so async callers run it on a blocking thread.
pub struct Outbox {
    vault: Arc<Vault>,
    rng: Arc<dyn Rng>,
    clock: Arc<dyn Clock>,
}

// The sync engine and the UI share one outbox across threads.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Outbox>();
};

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// An outbox over `vault`, making ids with `rng` and stamping times with
    /// `clock`.
    pub fn new(vault: Arc<Vault>, rng: Arc<dyn Rng>, clock: Arc<dyn Clock>) -> Self {
        Self { vault, rng, clock }
    }

    /// Saves a new draft (incomplete forms are fine) and returns it, with a
    /// fresh id and revision 1. On disk when this returns.
    pub fn save_draft(&self, form: RequestForm) -> Result<MemberRequest, OutboxError> {
        let now = self.clock.now();
        let sequence = self.next_sequence()?;
        loop {
            let request = MemberRequest {
                id: RequestId::generate(&*self.rng)?,
                revision: 1,
                backend_revision: None,
                state: RequestState::Draft,
                form: form.clone(),
                created_at: now,
                updated_at: now,
                submitted_at: None,
                sequence,
                queued_sequence: None,
            };
            // Only where nothing is: an id that happens to exist already is
            // never overwritten; draw another.
            if self.vault.compare_and_swap(
                REQUESTS_TREE,
                request.id.as_str().as_bytes(),
                None,
                Some(&request),
            )? {
                return Ok(request);
            }
        }
    }

    /// Replaces the form of a draft or returned request, and bumps its
    /// revision so that an upload of the previous revision still in flight
    /// cannot mark this one as sent. The kind cannot change
    /// ([`OutboxError::KindChanged`]); any other state is
    /// [`super::TransitionError::NotEditable`]. An identical form changes
    /// nothing.
    pub fn update_draft(
        &self,
        id: &RequestId,
        form: RequestForm,
    ) -> Result<MemberRequest, OutboxError> {
        let now = self.clock.now();
        let (request, ()) = self.modify(id, |current| {
            let state = transition(&current.state, &Event::Edit)?;
            if form.kind() != current.form.kind() {
                return Err(OutboxError::KindChanged);
            }
            if form == current.form {
                return Ok(Step::Keep(()));
            }
            let mut next = current.clone();
            next.state = state;
            next.form = form.clone();
            next.revision = next.revision.saturating_add(1);
            next.updated_at = now;
            Ok(Step::Write(Box::new(next), ()))
        })?;
        Ok(request)
    }

    /// Queues a draft (→ queued) or a returned request (→ resubmitted, as a
    /// new revision) for upload, after checking the form
    /// ([`OutboxError::Invalid`]: every problem, the request unchanged) and
    /// that every attachment it cites is stored on this phone. Submitting a
    /// request that is already waiting changes nothing.
    pub fn submit(&self, id: &RequestId) -> Result<MemberRequest, OutboxError> {
        let now = self.clock.now();
        let today = now.date_naive();
        let (request, ()) = self.modify(id, |current| {
            let state = transition(&current.state, &Event::Submit)?;
            if state == current.state {
                return Ok(Step::Keep(()));
            }
            self.check(&current.form, today)?;
            let mut next = current.clone();
            if matches!(current.state, RequestState::Returned { .. }) {
                // The backend holds the returned revision; the answer to
                // the return must be a new one even if nothing was edited,
                // or the backend would take it for a replay.
                next.revision = next.revision.saturating_add(1);
            }
            next.state = state;
            next.queued_sequence = Some(self.next_sequence()?);
            next.submitted_at = Some(now);
            next.updated_at = now;
            Ok(Step::Write(Box::new(next), ()))
        })?;
        Ok(request)
    }

    /// Takes a queued request back to a draft, or a resubmitted one back to
    /// returned, so the member can edit it. Once sent it cannot be
    /// recalled. If an upload of it is in flight, the backend may still get
    /// that revision: the next edit makes a new revision, which replaces it
    /// when submitted, and the old upload's [`Outbox::mark_sent`] is
    /// ignored.
    pub fn recall(&self, id: &RequestId) -> Result<MemberRequest, OutboxError> {
        let now = self.clock.now();
        let (request, ()) = self.modify(id, |current| {
            let mut next = current.clone();
            next.state = transition(&current.state, &Event::Recall)?;
            next.queued_sequence = None;
            next.updated_at = now;
            Ok(Step::Write(Box::new(next), ()))
        })?;
        Ok(request)
    }

    /// The requests waiting for upload (queued or resubmitted), oldest
    /// submission first, each at the revision to upload; and the records
    /// that could not be read (one of them may be waiting too).
    pub fn pending_uploads(&self) -> Result<Listing, OutboxError> {
        let mut listing = self.read_all()?;
        listing
            .requests
            .retain(|request| request.state.is_pending_upload());
        listing
            .requests
            .sort_by_key(|request| (request.queued_sequence, request.sequence));
        Ok(listing)
    }

    /// Records that the backend acknowledged the upload of `revision`.
    ///
    /// Takes effect only if `revision` is still the request's latest and it
    /// is still waiting ([`Update::Applied`]). An upload of an older
    /// revision, or of a request the member recalled meanwhile, is
    /// [`Update::Stale`] and changes nothing: the newer revision stays
    /// pending. A revision newer than any made here is
    /// [`OutboxError::UnknownRevision`].
    pub fn mark_sent(&self, id: &RequestId, revision: u64) -> Result<Update, OutboxError> {
        let now = self.clock.now();
        let (_, update) = self.modify(id, |current| {
            if revision > current.revision {
                return Err(OutboxError::UnknownRevision {
                    reported: revision,
                    latest: current.revision,
                });
            }
            if revision < current.revision {
                return Ok(Step::Keep(Update::Stale));
            }
            let Ok(state) = transition(&current.state, &Event::Uploaded) else {
                // Only a draft refuses: recalled before the acknowledgement.
                return Ok(Step::Keep(Update::Stale));
            };
            let backend_revision = current.backend_revision.max(Some(revision));
            if state == current.state && backend_revision == current.backend_revision {
                return Ok(Step::Keep(Update::Duplicate));
            }
            let mut next = current.clone();
            let update = if state == current.state {
                Update::Duplicate
            } else {
                Update::Applied
            };
            next.state = state;
            next.backend_revision = backend_revision;
            next.updated_at = now;
            Ok(Step::Write(Box::new(next), update))
        })?;
        Ok(update)
    }

    /// Applies a status pulled from the backend.
    ///
    /// A status about the latest revision goes through the transition table
    /// (statuses only move a request forward; a contradiction of a final
    /// decision is [`super::TransitionError::NotAllowed`]). A status about an
    /// older revision is [`Update::Stale`], except a decision: the backend
    /// has closed the request, so it is approved or rejected whatever was
    /// edited since.
    pub fn apply_status(
        &self,
        id: &RequestId,
        change: &StatusChange,
    ) -> Result<Update, OutboxError> {
        let now = self.clock.now();
        let (_, update) = self.modify(id, |current| {
            if change.revision > current.revision {
                return Err(OutboxError::UnknownRevision {
                    reported: change.revision,
                    latest: current.revision,
                });
            }
            if change.revision < current.revision && !change.status.is_decision() {
                return Ok(Step::Keep(Update::Stale));
            }
            let state = transition(&current.state, &Event::Server(change.status.clone()))?;
            let backend_revision = current.backend_revision.max(Some(change.revision));
            if state == current.state && backend_revision == current.backend_revision {
                return Ok(Step::Keep(Update::Duplicate));
            }
            let update = if state == current.state {
                Update::Duplicate
            } else {
                Update::Applied
            };
            let mut next = current.clone();
            next.state = state;
            next.backend_revision = backend_revision;
            next.updated_at = now;
            Ok(Step::Write(Box::new(next), update))
        })?;
        Ok(update)
    }

    /// Every request, in creation order, and the records that could not be
    /// read.
    pub fn list(&self) -> Result<Listing, OutboxError> {
        let mut listing = self.read_all()?;
        listing.requests.sort_by_key(|request| request.sequence);
        Ok(listing)
    }

    /// The request with this id, or `None`. A record that fails to decrypt
    /// is [`VaultError::Corrupt`] (and stays on disk).
    pub fn get(&self, id: &RequestId) -> Result<Option<MemberRequest>, OutboxError> {
        Ok(self.vault.get(REQUESTS_TREE, id.as_str().as_bytes())?)
    }

    /// Stores a file's bytes under their SHA-256 (once, however often it is
    /// attached) and returns the reference to put in a form. On disk when
    /// this returns.
    pub fn add_attachment(
        &self,
        bytes: &[u8],
        media_type: MediaType,
        file_name: &str,
    ) -> Result<AttachmentRef, OutboxError> {
        attachment::store(&self.vault, bytes, media_type, file_name)
    }

    /// The bytes stored under `hash`, checked against it, or `None`.
    pub fn attachment_bytes(
        &self,
        hash: &ContentHash,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, OutboxError> {
        attachment::load(&self.vault, hash)
    }

    /// The rules, then whether every cited attachment is stored here: a
    /// request queued with a missing file could never be uploaded whole.
    fn check(&self, form: &RequestForm, today: chrono::NaiveDate) -> Result<(), OutboxError> {
        let mut problems = validate(form, today).err().unwrap_or_default();
        for (field, attachment) in form.attachments() {
            if !attachment::is_stored(&self.vault, &attachment.sha256)? {
                problems.push(FieldProblem::AttachmentNotStored { field });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(OutboxError::Invalid(problems))
        }
    }

    /// Reads the request, lets `decide` choose, and writes its choice only
    /// if the record is still what was read; otherwise reads again. Returns
    /// the record as it now is on disk.
    fn modify<T>(
        &self,
        id: &RequestId,
        mut decide: impl FnMut(&MemberRequest) -> Result<Step<T>, OutboxError>,
    ) -> Result<(MemberRequest, T), OutboxError> {
        let key = id.as_str().as_bytes();
        loop {
            let current: MemberRequest = self
                .vault
                .get(REQUESTS_TREE, key)?
                .ok_or(OutboxError::NotFound)?;
            match decide(&current)? {
                Step::Keep(outcome) => return Ok((current, outcome)),
                Step::Write(next, outcome) => {
                    if self.vault.compare_and_swap(
                        REQUESTS_TREE,
                        key,
                        Some(&current),
                        Some(&*next),
                    )? {
                        return Ok((*next, outcome));
                    }
                    // Someone else changed it in between: decide again on
                    // what is there now.
                }
            }
        }
    }

    /// The next number of the outbox's counter, on disk when returned.
    fn next_sequence(&self) -> Result<u64, OutboxError> {
        loop {
            let last: Option<u64> = self.vault.get(META_TREE, SEQUENCE_KEY)?;
            // Saturating: one per save or submission never reaches 2^64.
            let next = last.unwrap_or(0).saturating_add(1);
            if self
                .vault
                .compare_and_swap(META_TREE, SEQUENCE_KEY, last.as_ref(), Some(&next))?
            {
                return Ok(next);
            }
        }
    }

    fn read_all(&self) -> Result<Listing, OutboxError> {
        let mut listing = Listing {
            requests: Vec::new(),
            unreadable: Vec::new(),
        };
        for record in self.vault.records::<MemberRequest>(REQUESTS_TREE)? {
            match record {
                Ok(request) => listing.requests.push(request),
                Err(error) => {
                    tracing::warn!(%error, "an outbox record could not be read; it is kept");
                    listing.unreadable.push(error);
                }
            }
        }
        Ok(listing)
    }
}
