//! Requests a member files from the phone (absenteeism leave, a substitute's
//! certificate of continuity, remote-care registration, reimbursement
//! claims) and the outbox that keeps them in the vault until the backend
//! has decided them.
//!
//! - `kinds`: what each request holds ([`RequestForm`]);
//! - `validate`: the rules before a request may be queued
//!   ([`validate()`], one [`FieldProblem`] per field);
//! - `attachment`: files referenced by SHA-256 and stored once in the vault
//!   ([`AttachmentRef`]);
//! - `state`: the life cycle as one table ([`transition`]);
//! - `id`: the client-made id that is also the idempotency key
//!   ([`RequestId`]);
//! - `outbox`: the requests in the vault ([`Outbox`]);
//! - `error`: what can go wrong ([`OutboxError`]).
//!
//! The invariant: a request the member was told is saved is on disk (every
//! [`Outbox`] method returns `Ok` only after the vault's flushed write), and
//! nothing in the outbox is ever dropped silently. Uploading is the sync
//! engine's job; it reads [`Outbox::pending_uploads`], uploads the
//! attachments ([`RequestForm::attachments`], [`Outbox::attachment_bytes`])
//! and then each request under its id and revision, and reports back with
//! [`Outbox::mark_sent`] and [`Outbox::apply_status`]. Decisions:
//! `docs/adr/0005-outbox.md`.

mod attachment;
mod error;
mod id;
mod kinds;
mod outbox;
mod state;
mod validate;

#[cfg(test)]
mod tests;

pub use attachment::{
    AttachmentRef, ContentHash, MAX_ATTACHMENT_BYTES, MAX_FILE_NAME_BYTES, MediaType,
};
pub use error::{AttachmentError, InvalidRequestId, OutboxError, TransitionError};
pub use id::{REQUEST_ID_BYTES, RequestId};
pub use kinds::{
    AbsenteeismLeave, ClaimItem, ClaimKind, ContinuityCertificate, FamilyRelation, LeaveReason,
    ReimbursementClaim, RemoteCareReason, RemoteCareRegistration, RequestForm, RequestKind,
};
pub use outbox::{Listing, MemberRequest, Outbox, Update};
pub use state::{
    Event, EventName, RequestState, ServerStatus, StateName, StatusChange, transition,
};
pub use validate::{
    FieldProblem, MAX_ATTACHMENTS, MAX_CLAIM_ITEMS, MAX_DETAILS_CHARS, MAX_LEAVE_DAYS,
    MAX_REMOTE_CARE_DAYS, MAX_TEXT_CHARS, RequestField, SCHOOL_YEAR_TOLERANCE, validate,
};
