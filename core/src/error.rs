//! The core's rich internal error. The bindings flatten it into a public
//! enum with stable codes and no personal data.

use crate::account::FieldProblem;
use crate::api::ApiError;
use crate::certificate::CertificateError;
use crate::device::SignerError;
use crate::requests::OutboxError;
use crate::sync::Cancelled;
use crate::vault::VaultError;

/// Anything a [`crate::Carnet`] call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Registration fields that break the rules; nothing was sent.
    #[error("the registration has invalid fields: {0:?}")]
    InvalidRegistration(Vec<FieldProblem>),
    /// The encrypted store failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The insurer's API failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A member certificate did not verify.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The device key failed.
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// No session: log in first.
    #[error("not logged in; log in first")]
    NotLoggedIn,
    /// The session ended (refresh token expired or revoked): log in again.
    #[error("the session has ended; log in again")]
    SessionExpired,
    /// This device has no member certificate yet: enrol it.
    #[error("this device is not enrolled; enrol it first")]
    NotEnrolled,
    /// No credential PIN yet: the member must choose one before showing a QR.
    #[error("no credential PIN is set; choose one first")]
    NoCredentialPin,
    /// The QR is locked: unlock it with the credential PIN or a biometric.
    #[error("the QR is locked; unlock it with the credential PIN or biometrics")]
    CredentialLocked,
    /// The credential PIN was refused (wrong, locked for a while, malformed).
    #[error(transparent)]
    Pin(#[from] crate::credential::pin::PinError),
    /// A QR code could not be made.
    #[error(transparent)]
    Credential(#[from] crate::credential::CredentialError),
    /// A consult token could not be made (cap reached, slot full).
    #[error(transparent)]
    Token(#[from] crate::token::TokenError),
    /// No offline token secret yet: go online once (sync) to get it.
    #[error("offline tokens are not set up on this device yet; connect once to set them up")]
    NoTokenSecret,
    /// This handle was closed by logout: open a new one.
    #[error("this Carnet was closed by logout; open a new one")]
    Closed,
    /// The operating system's random source failed.
    #[error(transparent)]
    Random(#[from] crate::rng::RandomError),
    /// A bug or an unexpected state (a background task died).
    #[error("internal error: {0}")]
    Internal(String),
    /// A request could not be saved, changed or read on this phone; see
    /// [`OutboxError`] for what to do.
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// The sync was cancelled through its [`crate::sync::CancelToken`].
    /// What the insurer had confirmed is recorded; nothing else changed.
    #[error(
        "the sync was cancelled; what was already sent is kept, and the next sync continues \
         from there"
    )]
    SyncCancelled,
    /// The insurer could not be reached (no network, timeouts, or the
    /// server overloaded or down) for `attempts` tries in a row. Every
    /// request and file stays on this phone, and whatever the insurer
    /// confirmed before is recorded: schedule another sync (after
    /// `retry_after_seconds` if the server gave it).
    #[error(
        "the insurer could not be reached after {attempts} attempt(s) ({last}); everything is \
         kept on this phone, and the next sync will try again"
    )]
    SyncOffline {
        /// Failed attempts in a row before giving up.
        attempts: u32,
        /// How long the server asked to wait, if it did (`Retry-After`).
        retry_after_seconds: Option<u64>,
        /// The last failure.
        last: ApiError,
    },
}

impl From<Cancelled> for Error {
    fn from(_: Cancelled) -> Self {
        Self::SyncCancelled
    }
}
