//! What a request sync did, and why a request could not be sent.

use crate::requests::{ContentHash, RequestId};

/// Why the insurer did not take one request in this sync. The request
/// stays queued on the phone (nothing is dropped): the app shows the
/// problem, and the member recalls the request, corrects it and submits it
/// again. Other requests are not held back by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadProblem {
    /// The insurer refused these fields of the form (wire names, e.g.
    /// `items[2].amount_cents`; never their values).
    InvalidFields {
        /// The refused fields.
        fields: Vec<String>,
    },
    /// A file the request cites was refused by the insurer (`code`:
    /// `too_large`, `size_mismatch`, `hash_mismatch` twice) or is not
    /// stored on this phone (`not_stored`).
    AttachmentRefused {
        /// The file's address.
        sha256: ContentHash,
        /// The server's code, or `not_stored`.
        code: String,
    },
    /// The insurer still lacked files after they were uploaded and the
    /// request was sent again.
    MissingAttachments {
        /// The hashes the insurer named.
        hashes: Vec<String>,
    },
    /// The id is already used at the insurer by a request that is not this
    /// member's (`409 id_taken`; 128 random bits make this a bug).
    IdTaken,
    /// Another refusal.
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's code.
        code: String,
    },
}

impl UploadProblem {
    /// A stable snake_case name of the problem, for logs and the bindings'
    /// error codes (no field names, hashes or content).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidFields { .. } => "invalid_fields",
            Self::AttachmentRefused { .. } => "attachment_refused",
            Self::MissingAttachments { .. } => "missing_attachments",
            Self::IdTaken => "id_taken",
            Self::Refused { .. } => "refused",
        }
    }
}

/// One request the insurer did not take in this sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedUpload {
    /// The request.
    pub id: RequestId,
    /// The revision that was refused.
    pub revision: u64,
    /// Why.
    pub problem: UploadProblem,
}

/// What one request sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSyncReport {
    /// Requests (revisions) the insurer acknowledged in this sync, replays
    /// of earlier uploads included.
    pub requests_uploaded: usize,
    /// Attachment bytes the insurer newly accepted in this sync.
    pub attachment_bytes_uploaded: u64,
    /// Status changes that changed a request on this phone.
    pub status_changes_applied: usize,
    /// Status changes read from the insurer's feed after the stored
    /// cursor, applied or not (repeats, other phones' requests).
    pub status_changes_pulled: usize,
    /// Requests the insurer refused, each with why; they stay queued.
    pub failed: Vec<FailedUpload>,
}
