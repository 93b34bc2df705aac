//! `carnet-ffi`: the UniFFI surface of `carnet-core` for the Android and iOS
//! shells. Thin by rule: wrappers, record mirrors and the one error mapping;
//! no logic (docs/adr/0002-uniffi.md).
//!
//! - [`Carnet`]: the one handle the apps hold (async, tokio-backed);
//! - [`records`]: plain records mirroring the core's types;
//! - [`foreign`]: the traits the apps implement (platform keystore, hardware
//!   device key) and their adapters to the core's traits;
//! - [`credential`]: the rotating QR (member side) and the offline
//!   `QrVerifier` for pharmacies and clinics;
//! - [`tokens`]: consult tokens, pharmacy transactions and the sync report;
//! - [`requests`]: the member's requests (forms, attachments, outbox);
//! - [`sync`]: the sync with a progress listener and a cancel handle;
//! - [`error`]: the flat public [`CarnetError`] with stable codes, mapped
//!   from `carnet_core::Error` in one place.

uniffi::setup_scaffolding!();

mod carnet;
pub mod credential;
pub mod error;
pub mod foreign;
pub mod records;
pub mod requests;
pub mod sync;
pub mod tokens;

pub use carnet::Carnet;
pub use credential::{QrCode, QrPurpose, QrVerifier, VerifiedQr};
pub use error::{CarnetError, DeviceSignerError, KeyStoreError, SyncProgressError};
pub use foreign::{DeviceSigner, KeyStore};
pub use records::{
    Account, CarnetConfig, Coverage, Device, Enrolment, Registration, RegistrationField,
};
pub use requests::{
    AbsenteeismLeave, AttachmentRef, ClaimItem, ClaimKind, ContinuityCertificate, FamilyRelation,
    LeaveReason, MemberRequest, ReimbursementClaim, RemoteCareReason, RemoteCareRegistration,
    RequestFieldProblem, RequestForm, RequestKind, RequestListing, RequestStateName,
};
pub use sync::{
    FailedUpload, SyncCancelHandle, SyncPhase, SyncProgressListener, SyncProgressReport,
    UploadProblem,
};
pub use tokens::{ConsultToken, SyncReport, TokenStatus, Transaction, TransactionItem};
