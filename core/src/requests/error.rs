//! What can go wrong with requests: [`OutboxError`] for every outbox call,
//! [`TransitionError`] when the state machine refuses an event,
//! [`AttachmentError`] when a file cannot be attached, [`InvalidRequestId`]
//! when an id does not parse.
//!
//! No message carries a request's content, a file name, a reviewer's
//! reason or a request id: only field names, states, counts and limits.
//! (Field problems are [`super::FieldProblem`], next to the rules.)

use super::state::{EventName, StateName};
use super::validate::FieldProblem;
use crate::rng::RandomError;
use crate::vault::VaultError;

/// Why an outbox call failed. Unless the variant says otherwise, nothing
/// was changed on disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The request cannot be queued as it is: every problem found, in form
    /// order. It stays a draft (or returned), as it was.
    #[error("the request has {} problem(s) to correct before it can be sent", .0.len())]
    Invalid(Vec<FieldProblem>),

    /// No request with this id is on this phone.
    #[error("this request is not on this phone")]
    NotFound,

    /// The request's state does not allow this (e.g. an edit once sent).
    #[error(transparent)]
    Transition(#[from] TransitionError),

    /// An edit tried to turn a request into another kind.
    #[error("a request cannot change kind; start a new request of the other kind instead")]
    KindChanged,

    /// The backend (or the sync engine) named a revision newer than any this
    /// phone made: a bug on one side. Nothing was changed.
    #[error(
        "revision {reported} was reported for a request whose latest revision is {latest}; \
         this is a bug: report it"
    )]
    UnknownRevision {
        /// The revision reported.
        reported: u64,
        /// The newest revision on this phone.
        latest: u64,
    },

    /// The file could not be attached.
    #[error(transparent)]
    Attachment(#[from] AttachmentError),

    /// The vault failed; see [`VaultError`] for what to do.
    #[error(transparent)]
    Vault(#[from] VaultError),

    /// The system random source failed while making a request id.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// An event the state machine does not allow in the request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Requests can be edited only as drafts or once returned.
    #[error(
        "a {state} request cannot be edited; only drafts and returned requests can \
         (recall a queued request first)"
    )]
    NotEditable {
        /// The state it is in.
        state: StateName,
    },
    /// Any other event that does not apply in this state.
    #[error("cannot {event} a {state} request")]
    NotAllowed {
        /// The state it is in.
        state: StateName,
        /// What was attempted.
        event: EventName,
    },
}

/// Why a file could not be attached or read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// The file has no bytes.
    #[error("the file is empty; choose another file or take the photo again")]
    Empty,
    /// The file is over the size limit.
    #[error("the file is larger than {max_bytes} bytes; take a smaller photo or scan")]
    TooLarge {
        /// The limit ([`super::MAX_ATTACHMENT_BYTES`]).
        max_bytes: u64,
    },
    /// Not one of [`super::MediaType::ALL`].
    #[error("this kind of file cannot be attached; use a JPEG, PNG, HEIC or WebP photo or a PDF")]
    UnsupportedMediaType,
    /// Empty, too long, or with path separators or control characters.
    #[error(
        "the file name is not usable (empty, longer than 255 bytes, or with / \\ or control \
         characters); rename the file"
    )]
    InvalidFileName,
    /// Not 64 hex digits.
    #[error("an attachment hash must be 64 hexadecimal digits")]
    InvalidHash,
    /// The stored bytes do not hash to their address: a bug.
    #[error("a stored attachment does not match its hash; this is a bug: report it")]
    HashMismatch,
}

/// A request id that is not 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a request id must be 32 hexadecimal digits")]
pub struct InvalidRequestId;
