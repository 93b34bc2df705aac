//! Storage of the members' requests (issue 5): resumable attachment
//! uploads, request revisions under the phone-made id, the per-member feed
//! of status changes, and the reviewer's API key.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `request_attachments` | `member_id/sha256` | [`AttachmentRecord`] |
//! | `request_attachment_chunks` | `member_id/sha256/` + 8-byte big-endian offset | the chunk's bytes |
//! | `requests` | request id (32 hex digits) | [`RequestRecord`] |
//! | `request_changes` | `member_id/` + 8-byte big-endian sequence | [`RequestStatusEntry`] |
//! | `request_meta` | `change_sequence` | the last sequence given, 8 bytes big-endian |
//! | `admin_keys` | SHA-256 of an admin API key | `"reviewer"` |
//!
//! Everything is kept for ever: a request id is the idempotency key of
//! every upload of that request for its whole life, and a phone may stay
//! offline for weeks (ADR 0005), so no expiry could be safe. Attachments are
//! per member (never deduplicated across members), so one member cannot
//! learn whether another holds the same file.
//!
//! Every change that spans records runs in one sled transaction. sled 0.34
//! runs transactions one at a time (a global lock), which is also what makes
//! the change sequence follow commit order: a feed reader that saw sequence
//! N can never later find a change below N appear.

use std::path::Path;

use carnet_core::model::{AttachmentUploadState, RequestReceipt, RequestStatusEntry, b64};
use carnet_core::requests::{ContentHash, RequestForm, RequestId, ServerStatus, StateName};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::{IVec, Transactional};
use zeroize::Zeroizing;

use crate::error::InsurerError;
use crate::store::{self, StoreError};
use crate::tls::write_file;

/// Where the reviewer's admin API key is written, under the data directory.
pub(crate) const ADMIN_KEY_FILE: &str = "admin-key.txt";

/// Admin keys start with it, so that a key found in a log or a repository
/// says what it is.
const ADMIN_KEY_PREFIX: &str = "carnet_ad_";

/// What `admin_keys` maps a key's hash to.
const REVIEWER: &str = "reviewer";

/// The `request_meta` key of the change sequence.
const CHANGE_SEQUENCE: &[u8] = b"change_sequence";

/// How often a chunk is re-planned when another upload of the same file
/// changed it in between.
const CHUNK_RETRIES: usize = 8;

/// The trees of this module, opened with the database.
pub(crate) struct RequestTrees {
    pub attachments: sled::Tree,
    pub chunks: sled::Tree,
    pub requests: sled::Tree,
    pub changes: sled::Tree,
    pub meta: sled::Tree,
    pub admin_keys: sled::Tree,
}

impl RequestTrees {
    /// Opens (or creates) the trees in `db`.
    pub fn open(db: &sled::Db) -> Result<Self, sled::Error> {
        Ok(Self {
            attachments: db.open_tree("request_attachments")?,
            chunks: db.open_tree("request_attachment_chunks")?,
            requests: db.open_tree("requests")?,
            changes: db.open_tree("request_changes")?,
            meta: db.open_tree("request_meta")?,
            admin_keys: db.open_tree("admin_keys")?,
        })
    }
}

/// How much of one member's attachment is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AttachmentRecord {
    /// The total size declared by the first chunk.
    pub size: u64,
    /// Bytes held, contiguous from 0.
    pub received: u64,
    /// All bytes arrived and their SHA-256 matched.
    pub complete: bool,
    /// Unix seconds of the first chunk.
    pub started_at: i64,
}

/// A request as the backend holds it: its newest revision.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct RequestRecord {
    pub id: String,
    pub member_id: String,
    pub revision: u64,
    /// Uploads of any revision, replays included.
    pub uploads: u64,
    /// Unix seconds of the first upload.
    pub received_at: i64,
    /// The change sequence of the first upload: a stable order for the
    /// review queue when several arrive in the same second.
    pub first_sequence: u64,
    pub form: RequestForm,
    pub status: ServerStatus,
    /// Unix seconds of the last status change.
    pub updated_at: i64,
}

/// Never prints the form: it is health data.
impl std::fmt::Debug for RequestRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestRecord")
            .field("revision", &self.revision)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Why a request or attachment operation was refused: the client's doing,
/// answered with a 4xx (see `requests.rs`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// The size differs from the one declared by an earlier chunk.
    #[error("the attachment was started with another size")]
    SizeMismatch,
    /// The chunk does not continue what is held.
    #[error("the chunk does not start where the upload stands")]
    OffsetMismatch,
    /// The chunk runs past the declared size.
    #[error("the chunk goes past the declared size")]
    ChunkPastEnd,
    /// The whole file arrived but its SHA-256 is not the one named; the
    /// partial upload was discarded.
    #[error("the bytes do not match the hash")]
    HashMismatch,
    /// Another member uses this request id.
    #[error("the request id is taken")]
    IdTaken,
    /// A newer revision of a request whose review has begun.
    #[error("the request can no longer be changed")]
    NotEditable(StateName),
    /// Cited attachments that are not complete for this member (their hashes).
    #[error("attachments are missing")]
    MissingAttachments(Vec<String>),
    /// The form breaks a rule: the fields (wire names) and a message.
    #[error("the form is not valid")]
    Invalid(Vec<String>, String),
    /// No such request.
    #[error("no such request")]
    NotFound,
    /// The review action does not apply in the request's status.
    #[error("the action is not allowed now")]
    NotAllowed(StateName),
}

/// A refusal or a storage failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The client's doing.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The server's.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a transaction stopped: a refusal, a record that changed since the
/// plan was made (plan again), or a corrupt record.
#[derive(Debug)]
enum Abort {
    Refused(Refusal),
    Changed,
    Corrupt(serde_json::Error),
}

impl From<TransactionError<Abort>> for Failure {
    fn from(error: TransactionError<Abort>) -> Self {
        match error {
            TransactionError::Abort(Abort::Refused(refusal)) => Failure::Refused(refusal),
            TransactionError::Abort(Abort::Corrupt(error)) => StoreError::Corrupt(error).into(),
            TransactionError::Abort(Abort::Changed) => StoreError::Contended.into(),
            TransactionError::Storage(error) => StoreError::Sled(error).into(),
        }
    }
}

fn refuse<T>(refusal: Refusal) -> ConflictableTransactionResult<T, Abort> {
    Err(ConflictableTransactionError::Abort(Abort::Refused(refusal)))
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ConflictableTransactionError<Abort>> {
    serde_json::to_vec(value).map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e)))
}

fn from_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, ConflictableTransactionError<Abort>> {
    serde_json::from_slice(bytes)
        .map_err(|e| ConflictableTransactionError::Abort(Abort::Corrupt(e)))
}

// ---------------------------------------------------------------------------
// Attachments

/// The `request_attachments` key of a member's file.
fn attachment_key(member_id: &str, hash: &ContentHash) -> Vec<u8> {
    format!("{member_id}/{}", hash.as_str()).into_bytes()
}

/// The `request_attachment_chunks` key of the chunk at `offset`.
fn chunk_key(member_id: &str, hash: &ContentHash, offset: u64) -> Vec<u8> {
    let mut key = chunk_prefix(member_id, hash);
    key.extend_from_slice(&offset.to_be_bytes());
    key
}

fn chunk_prefix(member_id: &str, hash: &ContentHash) -> Vec<u8> {
    format!("{member_id}/{}/", hash.as_str()).into_bytes()
}

fn upload_state(hash: &ContentHash, record: &AttachmentRecord) -> AttachmentUploadState {
    AttachmentUploadState {
        sha256: hash.as_str().to_owned(),
        size: record.size,
        received: record.received,
        complete: record.complete,
    }
}

/// The member's attachment, if an upload of it was started (and not
/// discarded).
pub(crate) fn attachment_state(
    trees: &RequestTrees,
    member_id: &str,
    hash: &ContentHash,
) -> Result<Option<AttachmentUploadState>, StoreError> {
    Ok(
        store::get::<AttachmentRecord>(&trees.attachments, attachment_key(member_id, hash))?
            .map(|record| upload_state(hash, &record)),
    )
}

/// One chunk of an upload: what the client sent.
pub(crate) struct Chunk<'a> {
    pub member_id: &'a str,
    pub hash: &'a ContentHash,
    pub offset: u64,
    /// The total size the client declares.
    pub size: u64,
    pub bytes: &'a [u8],
    /// Unix seconds.
    pub now: i64,
}

/// What to do with a chunk, given what is held.
#[derive(Debug, PartialEq, Eq)]
enum ChunkPlan {
    /// Nothing to write; answer this (a replay, or a completed file).
    Answer(AttachmentRecord),
    /// Append it; the file is not whole yet.
    Append,
    /// Append it; it is the last one, so check the hash first.
    Complete,
}

/// The rules of a contiguous resumable upload (see `docs/api/openapi.yaml`).
fn plan_chunk(held: Option<&AttachmentRecord>, chunk: &Chunk<'_>) -> Result<ChunkPlan, Refusal> {
    let length = chunk.bytes.len() as u64;
    if let Some(held) = held {
        if held.size != chunk.size {
            return Err(Refusal::SizeMismatch);
        }
        // Whatever it carries: the phone lost the answer to its last chunk.
        if held.complete {
            return Ok(ChunkPlan::Answer(held.clone()));
        }
    }
    let end = chunk
        .offset
        .checked_add(length)
        .filter(|end| *end <= chunk.size)
        .ok_or(Refusal::ChunkPastEnd)?;
    let received = held.map_or(0, |held| held.received);
    if end <= received {
        // Wholly inside what is held: a replay after a lost answer.
        if let Some(held) = held {
            return Ok(ChunkPlan::Answer(held.clone()));
        }
    }
    if chunk.offset != received {
        return Err(Refusal::OffsetMismatch);
    }
    if end == chunk.size {
        Ok(ChunkPlan::Complete)
    } else {
        Ok(ChunkPlan::Append)
    }
}

/// Stores one chunk, durably once the caller flushed: the new state, or a
/// [`Refusal`]. When the last byte arrives the SHA-256 is checked; on a
/// mismatch the whole partial upload is discarded
/// ([`Refusal::HashMismatch`]).
pub(crate) fn put_chunk(
    trees: &RequestTrees,
    chunk: &Chunk<'_>,
) -> Result<AttachmentUploadState, Failure> {
    let key = attachment_key(chunk.member_id, chunk.hash);
    for _ in 0..CHUNK_RETRIES {
        let held = store::get_raw::<AttachmentRecord>(&trees.attachments, &key)?;
        let plan = plan_chunk(held.as_ref().map(|(record, _)| record), chunk)?;
        if let ChunkPlan::Answer(record) = &plan {
            return Ok(upload_state(chunk.hash, record));
        }
        let (mut record, raw) = match held {
            Some((record, raw)) => (record, Some(raw)),
            None => (
                AttachmentRecord {
                    size: chunk.size,
                    received: 0,
                    complete: false,
                    started_at: chunk.now,
                },
                None,
            ),
        };
        // `plan_chunk` checked that the chunk ends within the size.
        record.received = chunk.offset.saturating_add(chunk.bytes.len() as u64);
        // Hash outside the transaction (it blocks every writer while it
        // runs): chunks below `received` never change while the record
        // stays as read, and the transaction checks that it did.
        let verdict = if plan == ChunkPlan::Complete {
            Some(verify(trees, chunk)?)
        } else {
            None
        };
        record.complete = matches!(verdict, Some(Verdict::Match));
        let written = (&trees.attachments, &trees.chunks).transaction(|(records, chunks)| {
            if records.get(&key)? != raw {
                return Err(ConflictableTransactionError::Abort(Abort::Changed));
            }
            match &verdict {
                Some(Verdict::Mismatch { chunk_keys }) => {
                    records.remove(key.as_slice())?;
                    for stale in chunk_keys {
                        chunks.remove(stale.as_ref())?;
                    }
                    // Committed, then refused: an abort would keep the
                    // partial upload.
                    Ok(false)
                }
                _ => {
                    if !chunk.bytes.is_empty() {
                        chunks.insert(
                            chunk_key(chunk.member_id, chunk.hash, chunk.offset),
                            chunk.bytes,
                        )?;
                    }
                    records.insert(key.as_slice(), to_json(&record)?)?;
                    Ok(true)
                }
            }
        });
        match written {
            Ok(true) => return Ok(upload_state(chunk.hash, &record)),
            Ok(false) => return Err(Refusal::HashMismatch.into()),
            Err(TransactionError::Abort(Abort::Changed)) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::Contended.into())
}

enum Verdict {
    Match,
    /// Every stored chunk's key, to discard.
    Mismatch {
        chunk_keys: Vec<IVec>,
    },
}

/// Hashes the stored chunks and the last one.
fn verify(trees: &RequestTrees, chunk: &Chunk<'_>) -> Result<Verdict, StoreError> {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut chunk_keys = Vec::new();
    let mut next = 0u64;
    for entry in trees
        .chunks
        .scan_prefix(chunk_prefix(chunk.member_id, chunk.hash))
    {
        let (key, bytes) = entry?;
        chunk_keys.push(key);
        // Only what lies below this chunk counts; the record said how much.
        if next < chunk.offset {
            context.update(&bytes);
            next = next.saturating_add(bytes.len() as u64);
        }
    }
    if next != chunk.offset {
        // The chunks do not add up to what the record says: treat as a
        // mismatch, so the phone uploads the file again from the start.
        tracing::error!("an attachment's stored chunks do not match its record");
        return Ok(Verdict::Mismatch { chunk_keys });
    }
    context.update(chunk.bytes);
    if hex::encode(context.finish()) == chunk.hash.as_str() {
        Ok(Verdict::Match)
    } else {
        Ok(Verdict::Mismatch { chunk_keys })
    }
}

// ---------------------------------------------------------------------------
// Requests

/// One upload of a request revision, as received (already parsed).
pub(crate) struct Upload<'a> {
    pub member_id: &'a str,
    pub id: &'a RequestId,
    pub revision: u64,
    pub form: &'a RequestForm,
    /// The form's validation as of the backend's today: the invalid fields
    /// and a message. Applied only when the form is new content (a replay of
    /// a form that was valid when it first arrived is still a replay).
    pub problems: Option<(Vec<String>, String)>,
    /// Unix seconds.
    pub now: i64,
}

/// Records an upload (ADR 0005 rules) and returns the receipt.
pub(crate) fn upload_request(
    trees: &RequestTrees,
    upload: &Upload<'_>,
) -> Result<RequestReceipt, Failure> {
    let receipt = (
        &trees.requests,
        &trees.changes,
        &trees.meta,
        &trees.attachments,
    )
        .transaction(|(requests, changes, meta, attachments)| {
            let key = upload.id.as_str().as_bytes();
            let held: Option<RequestRecord> = match requests.get(key)? {
                Some(bytes) => Some(from_json(&bytes)?),
                None => None,
            };
            let receipt = |record: &RequestRecord, replay: bool| RequestReceipt {
                id: record.id.clone(),
                revision: record.revision,
                replay,
                status: record.status.clone(),
            };
            let mut record = match held {
                Some(record) if record.member_id != upload.member_id => {
                    return refuse(Refusal::IdTaken);
                }
                // The same revision again, or a late retry of an older one:
                // nothing changes but the count of uploads.
                Some(mut record) if upload.revision <= record.revision => {
                    record.uploads = record.uploads.saturating_add(1);
                    requests.insert(key, to_json(&record)?)?;
                    return Ok(receipt(&record, true));
                }
                Some(record) => match record.status {
                    // Review not begun: the new revision replaces the content.
                    // Returned: the member's answer, a resubmission.
                    ServerStatus::Received | ServerStatus::Returned { .. } => record,
                    ref status => return refuse(Refusal::NotEditable(status.to_state().name())),
                },
                None => RequestRecord {
                    id: upload.id.as_str().to_owned(),
                    member_id: upload.member_id.to_owned(),
                    revision: upload.revision,
                    uploads: 0,
                    received_at: upload.now,
                    first_sequence: 0,
                    form: upload.form.clone(),
                    status: ServerStatus::Received,
                    updated_at: upload.now,
                },
            };
            // New content: it must be valid and its files complete here.
            if let Some((fields, message)) = &upload.problems {
                return refuse(Refusal::Invalid(fields.clone(), message.clone()));
            }
            let mut missing = Vec::new();
            let mut wrong_size = Vec::new();
            for (field, attachment) in upload.form.attachments() {
                let held =
                    match attachments.get(attachment_key(upload.member_id, &attachment.sha256))? {
                        Some(bytes) => Some(from_json::<AttachmentRecord>(&bytes)?),
                        None => None,
                    };
                match held {
                    Some(held) if held.complete && held.size == attachment.size => {}
                    Some(held) if held.complete => wrong_size.push(field.wire_name()),
                    _ => {
                        let hash = attachment.sha256.as_str().to_owned();
                        if !missing.contains(&hash) {
                            missing.push(hash);
                        }
                    }
                }
            }
            if !missing.is_empty() {
                return refuse(Refusal::MissingAttachments(missing));
            }
            if !wrong_size.is_empty() {
                return refuse(Refusal::Invalid(
                    wrong_size,
                    "an attachment's size is not the size of the uploaded file".to_owned(),
                ));
            }
            let sequence = next_sequence(meta)?;
            if record.uploads == 0 {
                record.first_sequence = sequence;
            }
            record.revision = upload.revision;
            record.uploads = record.uploads.saturating_add(1);
            record.form = upload.form.clone();
            record.status = ServerStatus::Received;
            record.updated_at = upload.now;
            record_change(changes, &record, sequence, upload.now)?;
            requests.insert(key, to_json(&record)?)?;
            Ok(receipt(&record, false))
        })?;
    Ok(receipt)
}

/// The next change sequence (1, 2, ...), inside the transaction that uses it.
fn next_sequence(meta: &TransactionalTree) -> ConflictableTransactionResult<u64, Abort> {
    let last = match meta.get(CHANGE_SEQUENCE)? {
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| {
                tracing::error!("the change sequence is corrupt");
                ConflictableTransactionError::Abort(Abort::Changed)
            })?,
        None => 0,
    };
    let next = last.saturating_add(1);
    meta.insert(CHANGE_SEQUENCE, &next.to_be_bytes())?;
    Ok(next)
}

/// The `request_changes` key of a member's change.
fn change_key(member_id: &str, sequence: u64) -> Vec<u8> {
    let mut key = format!("{member_id}/").into_bytes();
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

fn record_change(
    changes: &TransactionalTree,
    record: &RequestRecord,
    sequence: u64,
    now: i64,
) -> ConflictableTransactionResult<(), Abort> {
    let entry = RequestStatusEntry {
        id: record.id.clone(),
        revision: record.revision,
        at: now,
        status: record.status.clone(),
    };
    changes.insert(change_key(&record.member_id, sequence), to_json(&entry)?)?;
    Ok(())
}

/// A page of a member's status changes: those after `after`, oldest first,
/// at most `limit`, the sequence of the last one, and whether more follow.
pub(crate) fn changes_after(
    trees: &RequestTrees,
    member_id: &str,
    after: u64,
    limit: usize,
) -> Result<(Vec<RequestStatusEntry>, u64, bool), StoreError> {
    let prefix = change_key(member_id, 0);
    let prefix = &prefix[..prefix.len() - 8];
    let mut changes = Vec::new();
    let mut last = after;
    let Some(start) = after.checked_add(1) else {
        return Ok((changes, last, false));
    };
    for entry in trees.changes.range(change_key(member_id, start)..) {
        let (key, bytes) = entry?;
        let Some(sequence) = key
            .strip_prefix(prefix)
            .and_then(|rest| <[u8; 8]>::try_from(rest).ok())
            .map(u64::from_be_bytes)
        else {
            break;
        };
        if changes.len() == limit {
            return Ok((changes, last, true));
        }
        changes.push(serde_json::from_slice(&bytes)?);
        last = sequence;
    }
    Ok((changes, last, false))
}

// ---------------------------------------------------------------------------
// Review

/// What the reviewer decides (reasons already checked and trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    UnderReview,
    Return(Vec<String>),
    Approve,
    Reject(Vec<String>),
}

/// Applies a review decision to the request's newest revision, recording a
/// status change for the member.
pub(crate) fn review(
    trees: &RequestTrees,
    id: &RequestId,
    decision: &Decision,
    now: i64,
) -> Result<RequestRecord, Failure> {
    let record = (&trees.requests, &trees.changes, &trees.meta).transaction(
        |(requests, changes, meta)| {
            let key = id.as_str().as_bytes();
            let Some(bytes) = requests.get(key)? else {
                return refuse(Refusal::NotFound);
            };
            let mut record: RequestRecord = from_json(&bytes)?;
            // received → anything; under review → a decision or a return;
            // returned changes only by the member's resubmission; decided
            // is final.
            let allowed = match (&record.status, decision) {
                (ServerStatus::Received, _) => true,
                (ServerStatus::UnderReview, Decision::UnderReview) => false,
                (ServerStatus::UnderReview, _) => true,
                _ => false,
            };
            if !allowed {
                return refuse(Refusal::NotAllowed(record.status.to_state().name()));
            }
            record.status = match decision {
                Decision::UnderReview => ServerStatus::UnderReview,
                Decision::Return(reasons) => ServerStatus::Returned {
                    reasons: reasons.clone(),
                },
                Decision::Approve => ServerStatus::Approved,
                Decision::Reject(reasons) => ServerStatus::Rejected {
                    reasons: reasons.clone(),
                },
            };
            record.updated_at = now;
            let sequence = next_sequence(meta)?;
            record_change(changes, &record, sequence, now)?;
            requests.insert(key, to_json(&record)?)?;
            Ok(record)
        },
    )?;
    Ok(record)
}

/// Every request, oldest first, optionally only those in one status.
pub(crate) fn list_requests(
    trees: &RequestTrees,
    status: Option<StateName>,
) -> Result<Vec<RequestRecord>, StoreError> {
    let mut records = Vec::new();
    for entry in trees.requests.iter() {
        let (_, bytes) = entry?;
        let record: RequestRecord = serde_json::from_slice(&bytes)?;
        if status.is_none_or(|status| record.status.to_state().name() == status) {
            records.push(record);
        }
    }
    records.sort_by_key(|record| (record.received_at, record.first_sequence));
    Ok(records)
}

// ---------------------------------------------------------------------------
// The reviewer's key

fn key_hash(key: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, key.as_bytes())
        .as_ref()
        .to_vec()
}

/// Makes the reviewer's admin key on first start (written to
/// [`ADMIN_KEY_FILE`], mode 0600, only its hash stored) and returns it; a
/// later start reuses the key in the file, and replaces it if the file is
/// gone or holds a key the database does not know.
pub(crate) fn ensure_admin_key(
    trees: &RequestTrees,
    data_dir: &Path,
    rng: &SystemRandom,
) -> Result<Zeroizing<String>, InsurerError> {
    let path = data_dir.join(ADMIN_KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let key = Zeroizing::new(text.trim().to_owned());
        if !key.is_empty() && is_admin_key(trees, &key)? {
            tracing::info!(path = %path.display(), "admin API key");
            return Ok(key);
        }
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill(bytes.as_mut())
        .map_err(|_| InsurerError::Config("the system random number generator failed".into()))?;
    let key = Zeroizing::new(format!("{ADMIN_KEY_PREFIX}{}", b64::encode(bytes.as_ref())));
    // One reviewer key at a time: a lost file revokes the old key.
    trees.admin_keys.clear().map_err(StoreError::from)?;
    store::put(&trees.admin_keys, key_hash(&key), &REVIEWER)?;
    trees.admin_keys.flush().map_err(StoreError::from)?;
    write_file(&path, format!("{}\n", key.as_str()).as_bytes(), true)?;
    tracing::info!(path = %path.display(), "made a new admin API key");
    Ok(key)
}

/// Whether `key` is the reviewer's live admin key.
pub(crate) fn is_admin_key(trees: &RequestTrees, key: &str) -> Result<bool, StoreError> {
    Ok(trees.admin_keys.contains_key(key_hash(key))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash() -> ContentHash {
        ContentHash::of(b"abc")
    }

    fn chunk<'a>(hash: &'a ContentHash, offset: u64, size: u64, bytes: &'a [u8]) -> Chunk<'a> {
        Chunk {
            member_id: "m",
            hash,
            offset,
            size,
            bytes,
            now: 0,
        }
    }

    fn held(size: u64, received: u64, complete: bool) -> AttachmentRecord {
        AttachmentRecord {
            size,
            received,
            complete,
            started_at: 0,
        }
    }

    #[test]
    fn chunk_rules() {
        let h = hash();
        assert_eq!(
            plan_chunk(None, &chunk(&h, 0, 10, b"abcd")),
            Ok(ChunkPlan::Append)
        );
        assert_eq!(
            plan_chunk(None, &chunk(&h, 4, 10, b"abcd")),
            Err(Refusal::OffsetMismatch)
        );
        assert_eq!(
            plan_chunk(None, &chunk(&h, 8, 10, b"abcd")),
            Err(Refusal::ChunkPastEnd)
        );
        let partial = held(10, 4, false);
        assert_eq!(
            plan_chunk(Some(&partial), &chunk(&h, 0, 10, b"abcd")),
            Ok(ChunkPlan::Answer(partial.clone()))
        );
        assert_eq!(
            plan_chunk(Some(&partial), &chunk(&h, 2, 10, b"abcd")),
            Err(Refusal::OffsetMismatch)
        );
        assert_eq!(
            plan_chunk(Some(&partial), &chunk(&h, 4, 10, b"abcdef")),
            Ok(ChunkPlan::Complete)
        );
        assert_eq!(
            plan_chunk(Some(&partial), &chunk(&h, 4, 11, b"abcd")),
            Err(Refusal::SizeMismatch)
        );
        let done = held(10, 10, true);
        assert_eq!(
            plan_chunk(Some(&done), &chunk(&h, 7, 10, b"zzzzzzzz")),
            Ok(ChunkPlan::Answer(done.clone()))
        );
    }
}
