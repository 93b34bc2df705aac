//! The public errors. [`CarnetError`] is flat (one level, no nested enums)
//! with stable variants and stable codes that the apps localise by; it is
//! mapped from the core's rich `carnet_core::Error` here and nowhere else.
//! Nothing personal goes into it: no username, member id, e-mail or server
//! message, only machine codes and field names.

use carnet_core::account::RegistrationField as CoreField;
use carnet_core::api::{ApiError, TransportFailure};
use carnet_core::credential::CredentialError;
use carnet_core::credential::pin::PinError;
use carnet_core::device::SignerError;
use carnet_core::requests::{AttachmentError, OutboxError, TransitionError};
use carnet_core::token::TokenError;
use carnet_core::vault::{KeyStoreError as CoreKeyStoreError, VaultError};

use crate::records::RegistrationField;
use crate::requests::{RequestAction, RequestFieldProblem};

/// Anything a `Carnet` call can fail with. `code()` gives a stable
/// snake_case code for each variant; the apps localise by it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CarnetError {
    /// Registration fields break the rules (checked locally, or refused by
    /// the server); nothing was registered. Correct these fields.
    #[error("these registration fields are not valid: {fields:?}")]
    InvalidRegistration {
        /// The fields to correct, each once, in form order when checked
        /// locally.
        fields: Vec<RegistrationField>,
    },
    /// Username or password is wrong.
    #[error("the username or password is wrong")]
    WrongCredentials,
    /// The e-mail address is not confirmed yet: enter the code sent to it.
    #[error("the e-mail address is not confirmed yet")]
    EmailNotConfirmed,
    /// The e-mail confirmation code is wrong or expired.
    #[error("the confirmation code is wrong or expired")]
    WrongConfirmationCode,
    /// The username is taken: choose another.
    #[error("this username is taken")]
    UsernameTaken,
    /// No session: log in first.
    #[error("not logged in")]
    NotLoggedIn,
    /// The session ended (expired or revoked): log in again.
    #[error("the session has ended; log in again")]
    SessionExpired,
    /// This device is not enrolled: enrol it first.
    #[error("this device is not enrolled")]
    NotEnrolled,
    /// This handle was closed by logout: open a new one.
    #[error("this handle was closed by logout")]
    Closed,
    /// The passphrase or platform key does not open this vault.
    #[error("the passphrase or key does not open the vault")]
    WrongVaultKey,
    /// The platform keystore is locked (the phone has not been unlocked
    /// since it started): wait for the unlock and retry; never wipe.
    #[error("the platform keystore is locked; unlock the phone and retry")]
    VaultLocked,
    /// The platform key protecting the vault is gone: its content cannot be
    /// read any more; log out (wipe) and sign in again.
    #[error("the key protecting the vault is gone")]
    VaultKeyLost,
    /// The vault's files are damaged. Nothing was deleted.
    #[error("the vault is damaged")]
    VaultCorrupt,
    /// The vault is open in another handle or process.
    #[error("the vault is open elsewhere")]
    VaultInUse,
    /// The vault was written by a newer version of the app: update it.
    #[error("the vault was written by a newer app version")]
    VaultTooNew,
    /// The phone's storage failed (disk full, permissions).
    #[error("the storage failed; check free space")]
    StorageFailure,
    /// The insurer could not be reached (no network, server down, timeout).
    #[error("the insurer could not be reached")]
    Offline,
    /// The TLS handshake failed: the server's certificate is not trusted.
    #[error("the secure connection to the insurer failed")]
    TlsFailure,
    /// The server's key is not one of the pinned keys: do not continue on
    /// this network.
    #[error("the insurer's server key does not match the pins")]
    PinMismatch,
    /// Too many attempts: wait `retry_after_seconds` (when known) and retry.
    #[error("too many attempts; wait and retry")]
    RateLimited {
        /// Seconds to wait, when the server said.
        retry_after_seconds: Option<u64>,
    },
    /// The insurer's server failed (5xx): try again later.
    #[error("the insurer's server is unavailable; try again later")]
    ServerUnavailable,
    /// The insurer answered something that could not be read or verified.
    #[error("the insurer's answer could not be read or verified")]
    InvalidServerResponse,
    /// The thing asked for does not exist (e.g. an unknown device id).
    #[error("not found")]
    NotFound,
    /// The configuration is unusable (URL not https, CA not PEM, bad pin).
    #[error("the connection settings are not valid")]
    InvalidConfig,
    /// The device key is locked (user authentication required): unlock and
    /// retry.
    #[error("the device key is locked; unlock and retry")]
    DeviceKeyLocked,
    /// The device key is gone (biometrics changed, data cleared): enrol
    /// this device again.
    #[error("the device key is gone; enrol again")]
    DeviceKeyLost,
    /// No credential PIN is set: ask the member to choose one.
    #[error("no credential PIN is set")]
    NoCredentialPin,
    /// The QR is locked: ask for the credential PIN or a biometric.
    #[error("the QR is locked; unlock it")]
    CredentialLocked,
    /// Wrong credential PIN; `attempts_left` before a pause.
    #[error("wrong PIN")]
    WrongPin {
        /// Wrong PINs left before the QR locks for a while.
        attempts_left: u32,
    },
    /// Too many wrong PINs: try again after `until` (Unix seconds).
    #[error("too many wrong PINs; wait")]
    PinLocked {
        /// When the next try is allowed (Unix seconds).
        until: i64,
    },
    /// The new PIN is not six digits, or too easy to guess (`123456`).
    #[error("the PIN must be six digits and not too simple")]
    InvalidPin,
    /// The member certificate expired: go online so the app renews it (or
    /// enrol again).
    #[error("the member certificate expired")]
    CertificateExpired,
    /// A counter's verifier refused the code. `reason` is a stable code
    /// (`expired`, `replayed`, `wrong_purpose`, ...); `clerk_message` says
    /// what to do in plain words.
    #[error("the code was refused: {reason}")]
    QrRejected {
        /// Stable reason code.
        reason: String,
        /// What to tell the person at the counter.
        clerk_message: String,
    },
    /// No more offline consult tokens for now (at most 15 outstanding, 8 an
    /// hour): the next one can be made at `available_at` (Unix seconds).
    #[error("no more offline tokens for now")]
    TokenLimitReached {
        /// When the next one can be made (Unix seconds).
        available_at: i64,
    },
    /// Offline tokens are not set up on this device yet: sync once online.
    #[error("offline tokens are not set up yet")]
    NoTokenSecret,
    /// The sync gave up after `attempts` transient failures in a row with no
    /// answer (no network, timeouts). Everything is kept on the phone;
    /// schedule another sync, not before `retry_after_seconds` when known.
    /// Its code is `offline`: for the member it is that same situation (same
    /// message, same retry), with what the scheduler needs on top.
    #[error("the insurer could not be reached after {attempts} attempt(s)")]
    SyncOffline {
        /// Failed attempts in a row before giving up.
        attempts: u32,
        /// How long the server asked to wait earlier (`Retry-After`), if it did.
        retry_after_seconds: Option<u64>,
    },
    /// The sync gave up after `attempts` transient failures in a row, the
    /// insurer answering 5xx (overloaded, maintenance). As `SyncOffline`;
    /// its code is `server_unavailable`.
    #[error("the insurer was unavailable for {attempts} attempt(s)")]
    SyncServerUnavailable {
        /// Failed attempts in a row before giving up.
        attempts: u32,
        /// How long the server asked to wait (`Retry-After`), if it did.
        retry_after_seconds: Option<u64>,
    },
    /// The sync was stopped through its `SyncCancelHandle`. What the insurer
    /// had confirmed is recorded; the next sync continues from there.
    #[error("the sync was cancelled")]
    SyncCancelled,
    /// The request cannot be queued as it is: every problem, one per field,
    /// in form order. It stays as it was (draft or returned).
    #[error("the request has {} field(s) to correct", problems.len())]
    RequestInvalid {
        /// The fields to correct (paths and problem codes, never values).
        problems: Vec<RequestFieldProblem>,
    },
    /// The request cannot be edited in its state (only drafts and returned
    /// requests can; recall a queued one first).
    #[error("a {state} request cannot be edited")]
    RequestNotEditable {
        /// The state it is in, as a wire name (`queued`, `sent`,
        /// `approved`...; `RequestStateName` in snake_case). A string, like
        /// every field of this enum, so that the error stays plain data.
        state: String,
    },
    /// The action does not apply in the request's state (e.g. recall a
    /// request already sent, submit an approved one).
    #[error("cannot {action} a {state} request")]
    RequestActionRefused {
        /// The state it is in, as a wire name (`draft`, `sent`...).
        state: String,
        /// What was attempted: `edit`, `submit`, `recall`, or
        /// `insurer_update` (not a member action).
        action: String,
    },
    /// The file has no bytes.
    #[error("the file is empty")]
    AttachmentEmpty,
    /// The file is larger than `max_bytes`.
    #[error("the file is larger than {max_bytes} bytes")]
    AttachmentTooLarge {
        /// The limit, in bytes (20 MiB).
        max_bytes: u64,
    },
    /// Not a JPEG, PNG, HEIC, WebP or PDF.
    #[error("this kind of file cannot be attached")]
    AttachmentTypeUnsupported,
    /// The file name is empty, too long, or has `/`, `\\` or control
    /// characters.
    #[error("the file name is not usable")]
    AttachmentNameInvalid,
    /// A bug or a state the app cannot act on. `what` is a fixed, non-personal
    /// category for bug reports, not for display.
    #[error("unexpected error ({what})")]
    Unexpected {
        /// A fixed category, e.g. `internal`, `keystore_failed`,
        /// `http_403:forbidden_code`.
        what: String,
    },
}

#[uniffi::export]
impl CarnetError {
    /// The stable code of this error (`wrong_credentials`, `offline`, ...):
    /// what the apps localise by and report in analytics.
    pub fn code(&self) -> String {
        self.code_str().to_owned()
    }
}

impl CarnetError {
    /// Every code, in declaration order of the variants that first give
    /// it (for tests and documentation). `SyncOffline` and
    /// `SyncServerUnavailable` have no codes of their own: they report
    /// `offline` and `server_unavailable`.
    pub const CODES: [&'static str; 44] = [
        "invalid_registration",
        "wrong_credentials",
        "email_not_confirmed",
        "wrong_confirmation_code",
        "username_taken",
        "not_logged_in",
        "session_expired",
        "not_enrolled",
        "closed",
        "wrong_vault_key",
        "vault_locked",
        "vault_key_lost",
        "vault_corrupt",
        "vault_in_use",
        "vault_too_new",
        "storage_failure",
        "offline",
        "tls_failure",
        "pin_mismatch",
        "rate_limited",
        "server_unavailable",
        "invalid_server_response",
        "not_found",
        "invalid_config",
        "device_key_locked",
        "device_key_lost",
        "no_credential_pin",
        "credential_locked",
        "wrong_pin",
        "pin_locked",
        "invalid_pin",
        "certificate_expired",
        "qr_rejected",
        "token_limit_reached",
        "no_token_secret",
        "sync_cancelled",
        "request_invalid",
        "request_not_editable",
        "request_action_refused",
        "attachment_empty",
        "attachment_too_large",
        "attachment_type_unsupported",
        "attachment_name_invalid",
        "unexpected",
    ];

    /// The stable code, without allocating.
    pub fn code_str(&self) -> &'static str {
        match self {
            Self::InvalidRegistration { .. } => "invalid_registration",
            Self::WrongCredentials => "wrong_credentials",
            Self::EmailNotConfirmed => "email_not_confirmed",
            Self::WrongConfirmationCode => "wrong_confirmation_code",
            Self::UsernameTaken => "username_taken",
            Self::NotLoggedIn => "not_logged_in",
            Self::SessionExpired => "session_expired",
            Self::NotEnrolled => "not_enrolled",
            Self::Closed => "closed",
            Self::WrongVaultKey => "wrong_vault_key",
            Self::VaultLocked => "vault_locked",
            Self::VaultKeyLost => "vault_key_lost",
            Self::VaultCorrupt => "vault_corrupt",
            Self::VaultInUse => "vault_in_use",
            Self::VaultTooNew => "vault_too_new",
            Self::StorageFailure => "storage_failure",
            Self::Offline => "offline",
            Self::TlsFailure => "tls_failure",
            Self::PinMismatch => "pin_mismatch",
            Self::RateLimited { .. } => "rate_limited",
            Self::ServerUnavailable => "server_unavailable",
            Self::InvalidServerResponse => "invalid_server_response",
            Self::NotFound => "not_found",
            Self::InvalidConfig => "invalid_config",
            Self::DeviceKeyLocked => "device_key_locked",
            Self::DeviceKeyLost => "device_key_lost",
            Self::NoCredentialPin => "no_credential_pin",
            Self::CredentialLocked => "credential_locked",
            Self::WrongPin { .. } => "wrong_pin",
            Self::PinLocked { .. } => "pin_locked",
            Self::InvalidPin => "invalid_pin",
            Self::CertificateExpired => "certificate_expired",
            Self::QrRejected { .. } => "qr_rejected",
            Self::TokenLimitReached { .. } => "token_limit_reached",
            Self::NoTokenSecret => "no_token_secret",
            Self::SyncOffline { .. } => "offline",
            Self::SyncServerUnavailable { .. } => "server_unavailable",
            Self::SyncCancelled => "sync_cancelled",
            Self::RequestInvalid { .. } => "request_invalid",
            Self::RequestNotEditable { .. } => "request_not_editable",
            Self::RequestActionRefused { .. } => "request_action_refused",
            Self::AttachmentEmpty => "attachment_empty",
            Self::AttachmentTooLarge { .. } => "attachment_too_large",
            Self::AttachmentTypeUnsupported => "attachment_type_unsupported",
            Self::AttachmentNameInvalid => "attachment_name_invalid",
            Self::Unexpected { .. } => "unexpected",
        }
    }

    pub(crate) fn unexpected(what: &str) -> Self {
        Self::Unexpected {
            what: what.to_owned(),
        }
    }

    /// Registration fields, each once, in the order given.
    pub(crate) fn invalid_fields(fields: impl IntoIterator<Item = CoreField>) -> Self {
        let mut unique: Vec<RegistrationField> = Vec::new();
        for field in fields.into_iter().map(RegistrationField::from) {
            if !unique.contains(&field) {
                unique.push(field);
            }
        }
        Self::InvalidRegistration { fields: unique }
    }
}

impl From<carnet_core::Error> for CarnetError {
    fn from(error: carnet_core::Error) -> Self {
        use carnet_core::Error as E;
        match error {
            E::InvalidRegistration(problems) => {
                Self::invalid_fields(problems.iter().map(|problem| problem.field()))
            }
            E::Vault(error) => error.into(),
            E::Api(error) => error.into(),
            // A certificate that does not verify came from the server (at
            // enrolment) or from the vault it was stored in verified.
            E::Certificate(_) => Self::InvalidServerResponse,
            E::Signer(error) => error.into(),
            E::NotLoggedIn => Self::NotLoggedIn,
            E::SessionExpired => Self::SessionExpired,
            E::NotEnrolled => Self::NotEnrolled,
            E::Closed => Self::Closed,
            E::Random(_) => Self::unexpected("random_source"),
            E::Internal(_) => Self::unexpected("internal"),
            E::NoCredentialPin => Self::NoCredentialPin,
            E::CredentialLocked => Self::CredentialLocked,
            E::Pin(error) => error.into(),
            E::Credential(error) => error.into(),
            E::Token(error) => error.into(),
            E::NoTokenSecret => Self::NoTokenSecret,
            E::Outbox(error) => error.into(),
            E::SyncCancelled => Self::SyncCancelled,
            E::SyncOffline {
                attempts,
                retry_after_seconds,
                last,
            } => Self::sync_offline(attempts, retry_after_seconds, last),
        }
    }
}

impl From<PinError> for CarnetError {
    fn from(error: PinError) -> Self {
        match error {
            PinError::NotSixDigits | PinError::TooSimple => Self::InvalidPin,
            PinError::Wrong { attempts_left } => Self::WrongPin { attempts_left },
            PinError::Locked { until } => Self::PinLocked {
                until: until.timestamp(),
            },
            PinError::Random(_) => Self::unexpected("random_source"),
        }
    }
}

impl From<TokenError> for CarnetError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::TooManyOutstanding { next_expiry, .. } => Self::TokenLimitReached {
                available_at: next_expiry.timestamp(),
            },
            TokenError::SlotFull { next_slot_at, .. } => Self::TokenLimitReached {
                available_at: next_slot_at.timestamp(),
            },
            TokenError::InvalidSecretLength { .. } => Self::InvalidServerResponse,
            TokenError::ClockOutOfRange { .. } | TokenError::InvalidCounter { .. } => {
                Self::unexpected("token_clock")
            }
            TokenError::Random => Self::unexpected("random_source"),
        }
    }
}

impl From<CredentialError> for CarnetError {
    fn from(error: CredentialError) -> Self {
        match error {
            CredentialError::Signer(error) => error.into(),
            CredentialError::MalformedSignature => Self::unexpected("signer_malformed_signature"),
            CredentialError::Random(_) => Self::unexpected("random_source"),
            CredentialError::Certificate(_) => Self::InvalidServerResponse,
            CredentialError::CertificateExpired => Self::CertificateExpired,
            CredentialError::DeviceKeyMismatch => Self::DeviceKeyLost,
            CredentialError::TooLong => Self::unexpected("qr_too_long"),
            CredentialError::Image(_) => Self::unexpected("qr_image"),
        }
    }
}

impl From<VaultError> for CarnetError {
    fn from(error: VaultError) -> Self {
        match error {
            VaultError::WrongKey => Self::WrongVaultKey,
            VaultError::KeyStoreLocked => Self::VaultLocked,
            VaultError::KeyLost => Self::VaultKeyLost,
            VaultError::Corrupt { .. } => Self::VaultCorrupt,
            VaultError::InUse => Self::VaultInUse,
            VaultError::UnsupportedSchema { .. } => Self::VaultTooNew,
            VaultError::Storage(_) => Self::StorageFailure,
            VaultError::KeyStore(_) => Self::unexpected("keystore_failed"),
            VaultError::Encoding(_) => Self::unexpected("vault_encoding"),
            VaultError::Random => Self::unexpected("random_source"),
            // VaultError is non_exhaustive: a new variant is unexpected
            // until it is mapped here.
            _ => Self::unexpected("vault"),
        }
    }
}

impl From<ApiError> for CarnetError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Transport { failure } => match failure {
                TransportFailure::Tls => Self::TlsFailure,
                TransportFailure::Connect
                | TransportFailure::Timeout
                | TransportFailure::Interrupted => Self::Offline,
            },
            ApiError::PinMismatch => Self::PinMismatch,
            ApiError::Unauthorized { code } => {
                // Any other 401 means the session is not accepted.
                server_code(&code).unwrap_or(Self::SessionExpired)
            }
            ApiError::Forbidden { code } => {
                server_code(&code).unwrap_or_else(|| Self::unexpected_status(403, &code))
            }
            ApiError::NotFound { code } => server_code(&code).unwrap_or(Self::NotFound),
            ApiError::Conflict { code } => {
                server_code(&code).unwrap_or_else(|| Self::unexpected_status(409, &code))
            }
            ApiError::InvalidFields { fields } => Self::invalid_fields(
                fields
                    .iter()
                    .filter_map(|name| CoreField::from_wire_name(name)),
            ),
            ApiError::RateLimited {
                retry_after_seconds,
            } => Self::RateLimited {
                retry_after_seconds,
            },
            ApiError::Rejected { status, code } => {
                server_code(&code).unwrap_or_else(|| Self::unexpected_status(status, &code))
            }
            ApiError::Server { .. } => Self::ServerUnavailable,
            ApiError::MalformedResponse { .. } => Self::InvalidServerResponse,
            ApiError::Config(_) => Self::InvalidConfig,
            // The single-call form; a sync retries these itself and ends
            // with `SyncOffline`, which carries the delay.
            ApiError::Unavailable { .. } => Self::ServerUnavailable,
            // Only the request-sync endpoints answer it, and the sync engine
            // handles it per request (`SyncReport.requests_failed`): if one
            // ever surfaces, it is the insurer's bug, named by its code.
            ApiError::Unprocessable { code, .. } => Self::unexpected_status(422, &code),
        }
    }
}

impl CarnetError {
    /// The sync's give-up. A rate limit stays `RateLimited` (its message
    /// already carries the wait); a failure that is not about reaching the
    /// insurer at all (not produced by the engine today) maps as itself.
    fn sync_offline(attempts: u32, retry_after_seconds: Option<u64>, last: ApiError) -> Self {
        match last {
            ApiError::Transport {
                failure:
                    TransportFailure::Connect
                    | TransportFailure::Timeout
                    | TransportFailure::Interrupted,
            } => Self::SyncOffline {
                attempts,
                retry_after_seconds,
            },
            ApiError::RateLimited {
                retry_after_seconds: last_wait,
            } => Self::RateLimited {
                retry_after_seconds: retry_after_seconds.or(last_wait),
            },
            ApiError::Server { .. } | ApiError::Unavailable { .. } => Self::SyncServerUnavailable {
                attempts,
                retry_after_seconds,
            },
            other => other.into(),
        }
    }
}

impl From<OutboxError> for CarnetError {
    fn from(error: OutboxError) -> Self {
        match error {
            OutboxError::Invalid(problems) => Self::RequestInvalid {
                problems: problems.iter().map(RequestFieldProblem::from).collect(),
            },
            OutboxError::NotFound => Self::NotFound,
            OutboxError::Transition(TransitionError::NotEditable { state }) => {
                Self::RequestNotEditable {
                    state: state.as_str().to_owned(),
                }
            }
            OutboxError::Transition(TransitionError::NotAllowed { state, event }) => {
                Self::RequestActionRefused {
                    state: state.as_str().to_owned(),
                    action: RequestAction::from(event).as_str().to_owned(),
                }
            }
            // The app sent a form of another kind for an existing request:
            // a bug in the app, not something the member can correct.
            OutboxError::KindChanged => Self::unexpected("request_kind_changed"),
            OutboxError::UnknownRevision { .. } => Self::unexpected("request_unknown_revision"),
            OutboxError::Attachment(error) => error.into(),
            OutboxError::Vault(error) => error.into(),
            OutboxError::Random(_) => Self::unexpected("random_source"),
            // OutboxError is non_exhaustive: a new variant is unexpected
            // until it is mapped here.
            _ => Self::unexpected("outbox"),
        }
    }
}

impl From<AttachmentError> for CarnetError {
    fn from(error: AttachmentError) -> Self {
        match error {
            AttachmentError::Empty => Self::AttachmentEmpty,
            AttachmentError::TooLarge { max_bytes } => Self::AttachmentTooLarge { max_bytes },
            AttachmentError::UnsupportedMediaType => Self::AttachmentTypeUnsupported,
            AttachmentError::InvalidFileName => Self::AttachmentNameInvalid,
            // Hashes are made by the core; a bad one is a bug.
            AttachmentError::InvalidHash => Self::unexpected("attachment_hash"),
            AttachmentError::HashMismatch => Self::unexpected("attachment_hash_mismatch"),
        }
    }
}

impl CarnetError {
    /// A refusal the app cannot act on. Server codes are machine codes from
    /// the API (never personal); anything else is replaced.
    fn unexpected_status(status: u16, code: &str) -> Self {
        let code = if !code.is_empty()
            && code.len() <= 40
            && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            code
        } else {
            "?"
        };
        Self::Unexpected {
            what: format!("http_{status}:{code}"),
        }
    }
}

/// The API's error codes (docs/api/openapi.yaml) that name what the member
/// can act on, whatever the HTTP status.
fn server_code(code: &str) -> Option<CarnetError> {
    Some(match code {
        "wrong_credentials" => CarnetError::WrongCredentials,
        "email_not_confirmed" => CarnetError::EmailNotConfirmed,
        "wrong_code" => CarnetError::WrongConfirmationCode,
        "username_taken" => CarnetError::UsernameTaken,
        "invalid_token" | "unauthorized" => CarnetError::SessionExpired,
        _ => return None,
    })
}

impl From<SignerError> for CarnetError {
    fn from(error: SignerError) -> Self {
        match error {
            SignerError::Locked => Self::DeviceKeyLocked,
            SignerError::KeyLost => Self::DeviceKeyLost,
            SignerError::Failed(_) => Self::unexpected("device_key_failed"),
        }
    }
}

/// Why the app's keystore could not wrap or unwrap the vault's key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum KeyStoreError {
    /// The key cannot be used yet (the phone has not been unlocked since it
    /// started). The vault reports `VaultLocked`; never wipe for this.
    #[error("the keystore is locked")]
    Locked,
    /// The key is gone for good (e.g. the screen lock was removed).
    #[error("the keystore key was invalidated")]
    KeyInvalidated,
    /// Any other failure; `reason` is for logs and must not be personal.
    #[error("the keystore failed: {reason}")]
    Failed {
        /// What failed.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for KeyStoreError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            reason: error.reason,
        }
    }
}

impl From<KeyStoreError> for CoreKeyStoreError {
    fn from(error: KeyStoreError) -> Self {
        match error {
            KeyStoreError::Locked => Self::Locked,
            KeyStoreError::KeyInvalidated => Self::KeyInvalidated,
            KeyStoreError::Failed { reason } => Self::Failed(reason),
        }
    }
}

/// Why the app's device key could not give its public key or sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum DeviceSignerError {
    /// The key needs user authentication now: the call reports
    /// `DeviceKeyLocked`.
    #[error("the device key is locked")]
    Locked,
    /// The key is gone: the call reports `DeviceKeyLost`.
    #[error("the device key is gone")]
    KeyLost,
    /// Any other failure; `reason` is for logs and must not be personal.
    #[error("the device key failed: {reason}")]
    Failed {
        /// What failed.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for DeviceSignerError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            reason: error.reason,
        }
    }
}

impl From<DeviceSignerError> for SignerError {
    fn from(error: DeviceSignerError) -> Self {
        match error {
            DeviceSignerError::Locked => Self::Locked,
            DeviceSignerError::KeyLost => Self::KeyLost,
            DeviceSignerError::Failed { reason } => Self::Failed(reason),
        }
    }
}

/// Why the app's progress listener failed. Progress is advisory: the sync
/// ignores it and goes on. Declared (rather than a bare `()` return) so that
/// an exception thrown by the listener comes back as a value: for a method
/// without an error type UniFFI panics instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum SyncProgressError {
    /// The listener threw; `reason` is not kept or logged (it may quote the
    /// app's state).
    #[error("the progress listener failed")]
    Failed {
        /// What the app said.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for SyncProgressError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            reason: error.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use carnet_core::account::FieldProblem;
    use carnet_core::certificate::CertificateError;
    use carnet_core::rng::RandomError;

    use super::*;
    use carnet_core::Error as E;

    fn map(error: E) -> CarnetError {
        error.into()
    }

    fn api(error: ApiError) -> CarnetError {
        map(E::Api(error))
    }

    fn code(code: &str) -> String {
        code.to_owned()
    }

    #[test]
    fn every_core_error_maps_to_its_public_variant() {
        let cases: Vec<(E, CarnetError)> = vec![
            (
                E::InvalidRegistration(vec![
                    FieldProblem::CardNumber,
                    FieldProblem::BirthDateInFuture,
                    FieldProblem::BirthDateImplausible,
                    FieldProblem::Email,
                ]),
                CarnetError::InvalidRegistration {
                    fields: vec![
                        RegistrationField::CardNumber,
                        RegistrationField::BirthDate,
                        RegistrationField::Email,
                    ],
                },
            ),
            (E::NotLoggedIn, CarnetError::NotLoggedIn),
            (E::SessionExpired, CarnetError::SessionExpired),
            (E::NotEnrolled, CarnetError::NotEnrolled),
            (E::Closed, CarnetError::Closed),
            (
                E::Random(RandomError),
                CarnetError::unexpected("random_source"),
            ),
            (
                E::Internal("task panicked with maria@example.org".into()),
                CarnetError::unexpected("internal"),
            ),
            (
                E::Certificate(CertificateError::BadSignature),
                CarnetError::InvalidServerResponse,
            ),
            (
                E::Certificate(CertificateError::UnknownKey { kid: "k1".into() }),
                CarnetError::InvalidServerResponse,
            ),
            (E::Signer(SignerError::Locked), CarnetError::DeviceKeyLocked),
            (E::Signer(SignerError::KeyLost), CarnetError::DeviceKeyLost),
            (
                E::Signer(SignerError::Failed("StrongBox said no".into())),
                CarnetError::unexpected("device_key_failed"),
            ),
        ];
        for (core, public) in cases {
            let printed = format!("{core:?}");
            assert_eq!(map(core), public, "{printed}");
        }
    }

    #[test]
    fn every_vault_error_maps_to_its_public_variant() {
        let cases = [
            (VaultError::WrongKey, CarnetError::WrongVaultKey),
            (VaultError::KeyStoreLocked, CarnetError::VaultLocked),
            (VaultError::KeyLost, CarnetError::VaultKeyLost),
            (
                VaultError::KeyStore("Keystore2 error -1000".into()),
                CarnetError::unexpected("keystore_failed"),
            ),
            (VaultError::InUse, CarnetError::VaultInUse),
            (
                VaultError::Corrupt {
                    what: "record in tree account".into(),
                },
                CarnetError::VaultCorrupt,
            ),
            (
                VaultError::UnsupportedSchema {
                    found: 9,
                    supported: 1,
                },
                CarnetError::VaultTooNew,
            ),
            (
                VaultError::Storage("disk full".into()),
                CarnetError::StorageFailure,
            ),
            (
                VaultError::Encoding("missing field".into()),
                CarnetError::unexpected("vault_encoding"),
            ),
            (VaultError::Random, CarnetError::unexpected("random_source")),
        ];
        for (core, public) in cases {
            assert_eq!(map(E::Vault(core.clone())), public, "{core:?}");
        }
    }

    #[test]
    fn transport_failures_tell_offline_from_tls() {
        for failure in [
            TransportFailure::Connect,
            TransportFailure::Timeout,
            TransportFailure::Interrupted,
        ] {
            assert_eq!(api(ApiError::Transport { failure }), CarnetError::Offline);
        }
        assert_eq!(
            api(ApiError::Transport {
                failure: TransportFailure::Tls
            }),
            CarnetError::TlsFailure
        );
        assert_eq!(api(ApiError::PinMismatch), CarnetError::PinMismatch);
        assert_eq!(
            api(ApiError::Config("bad CA".into())),
            CarnetError::InvalidConfig
        );
    }

    #[test]
    fn server_codes_map_to_what_the_member_can_act_on() {
        let cases = [
            (
                ApiError::Unauthorized {
                    code: code("wrong_credentials"),
                },
                CarnetError::WrongCredentials,
            ),
            (
                ApiError::Unauthorized {
                    code: code("invalid_token"),
                },
                CarnetError::SessionExpired,
            ),
            (
                ApiError::Unauthorized {
                    code: code("unauthorized"),
                },
                CarnetError::SessionExpired,
            ),
            (
                ApiError::Unauthorized {
                    code: code("something_new"),
                },
                CarnetError::SessionExpired,
            ),
            (
                ApiError::Forbidden {
                    code: code("email_not_confirmed"),
                },
                CarnetError::EmailNotConfirmed,
            ),
            (
                ApiError::Unauthorized {
                    code: code("email_not_confirmed"),
                },
                CarnetError::EmailNotConfirmed,
            ),
            (
                ApiError::Rejected {
                    status: 400,
                    code: code("wrong_code"),
                },
                CarnetError::WrongConfirmationCode,
            ),
            (
                ApiError::Forbidden {
                    code: code("wrong_code"),
                },
                CarnetError::WrongConfirmationCode,
            ),
            (
                ApiError::Conflict {
                    code: code("username_taken"),
                },
                CarnetError::UsernameTaken,
            ),
            (
                ApiError::NotFound {
                    code: code("device_not_found"),
                },
                CarnetError::NotFound,
            ),
            (
                ApiError::InvalidFields {
                    fields: vec![code("email"), code("card_number"), code("nonsense")],
                },
                CarnetError::InvalidRegistration {
                    fields: vec![RegistrationField::Email, RegistrationField::CardNumber],
                },
            ),
            (
                ApiError::RateLimited {
                    retry_after_seconds: Some(30),
                },
                CarnetError::RateLimited {
                    retry_after_seconds: Some(30),
                },
            ),
            (
                ApiError::RateLimited {
                    retry_after_seconds: None,
                },
                CarnetError::RateLimited {
                    retry_after_seconds: None,
                },
            ),
            (
                ApiError::Server { status: 503 },
                CarnetError::ServerUnavailable,
            ),
            (
                ApiError::MalformedResponse {
                    what: "bad json".into(),
                },
                CarnetError::InvalidServerResponse,
            ),
            (
                ApiError::Forbidden {
                    code: code("account_suspended"),
                },
                CarnetError::unexpected("http_403:account_suspended"),
            ),
            (
                ApiError::Conflict {
                    code: code("affiliate_registered"),
                },
                CarnetError::unexpected("http_409:affiliate_registered"),
            ),
            (
                ApiError::Rejected {
                    status: 400,
                    code: code("maria@example.org"),
                },
                CarnetError::unexpected("http_400:?"),
            ),
        ];
        for (core, public) in cases {
            assert_eq!(api(core.clone()), public, "{core:?}");
        }
    }

    #[test]
    fn codes_are_stable_unique_snake_case_and_cover_every_variant() {
        let samples = [
            CarnetError::InvalidRegistration { fields: vec![] },
            CarnetError::WrongCredentials,
            CarnetError::EmailNotConfirmed,
            CarnetError::WrongConfirmationCode,
            CarnetError::UsernameTaken,
            CarnetError::NotLoggedIn,
            CarnetError::SessionExpired,
            CarnetError::NotEnrolled,
            CarnetError::Closed,
            CarnetError::WrongVaultKey,
            CarnetError::VaultLocked,
            CarnetError::VaultKeyLost,
            CarnetError::VaultCorrupt,
            CarnetError::VaultInUse,
            CarnetError::VaultTooNew,
            CarnetError::StorageFailure,
            CarnetError::Offline,
            CarnetError::TlsFailure,
            CarnetError::PinMismatch,
            CarnetError::RateLimited {
                retry_after_seconds: None,
            },
            CarnetError::ServerUnavailable,
            CarnetError::InvalidServerResponse,
            CarnetError::NotFound,
            CarnetError::InvalidConfig,
            CarnetError::DeviceKeyLocked,
            CarnetError::DeviceKeyLost,
            CarnetError::NoCredentialPin,
            CarnetError::CredentialLocked,
            CarnetError::WrongPin { attempts_left: 1 },
            CarnetError::PinLocked { until: 0 },
            CarnetError::InvalidPin,
            CarnetError::CertificateExpired,
            CarnetError::QrRejected {
                reason: "expired".into(),
                clerk_message: String::new(),
            },
            CarnetError::TokenLimitReached { available_at: 0 },
            CarnetError::NoTokenSecret,
            CarnetError::SyncCancelled,
            CarnetError::RequestInvalid { problems: vec![] },
            CarnetError::RequestNotEditable {
                state: "sent".into(),
            },
            CarnetError::RequestActionRefused {
                state: "sent".into(),
                action: "recall".into(),
            },
            CarnetError::AttachmentEmpty,
            CarnetError::AttachmentTooLarge { max_bytes: 1 },
            CarnetError::AttachmentTypeUnsupported,
            CarnetError::AttachmentNameInvalid,
            CarnetError::unexpected("x"),
        ];
        let codes: Vec<String> = samples.iter().map(CarnetError::code).collect();
        assert_eq!(codes, CarnetError::CODES);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        for code in &codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
    }

    #[test]
    fn a_sync_that_gives_up_says_offline_or_server_unavailable_with_the_wait() {
        let connect = ApiError::Transport {
            failure: TransportFailure::Connect,
        };
        let gave_up = |retry_after_seconds, last| {
            map(E::SyncOffline {
                attempts: 6,
                retry_after_seconds,
                last,
            })
        };
        let offline = gave_up(None, connect);
        assert_eq!(
            offline,
            CarnetError::SyncOffline {
                attempts: 6,
                retry_after_seconds: None,
            }
        );
        assert_eq!(offline.code(), "offline");
        let busy = gave_up(
            Some(120),
            ApiError::Unavailable {
                status: 503,
                retry_after_seconds: 120,
            },
        );
        assert_eq!(
            busy,
            CarnetError::SyncServerUnavailable {
                attempts: 6,
                retry_after_seconds: Some(120),
            }
        );
        assert_eq!(busy.code(), "server_unavailable");
        assert_eq!(
            gave_up(None, ApiError::Server { status: 502 }).code(),
            "server_unavailable"
        );
        assert_eq!(
            gave_up(
                Some(40),
                ApiError::RateLimited {
                    retry_after_seconds: Some(40)
                }
            ),
            CarnetError::RateLimited {
                retry_after_seconds: Some(40)
            }
        );
        assert_eq!(map(E::SyncCancelled), CarnetError::SyncCancelled);
        // The single-call forms of the new API errors.
        assert_eq!(
            api(ApiError::Unavailable {
                status: 503,
                retry_after_seconds: 5
            }),
            CarnetError::ServerUnavailable
        );
        assert_eq!(
            api(ApiError::Unprocessable {
                code: code("invalid_field"),
                fields: vec![code("workplace")],
            }),
            CarnetError::unexpected("http_422:invalid_field")
        );
    }

    #[test]
    fn outbox_errors_map_to_what_the_member_can_act_on() {
        use carnet_core::requests::{EventName, FieldProblem, RequestField, StateName};
        let outbox = |error: OutboxError| map(E::Outbox(error));
        assert_eq!(
            outbox(OutboxError::Invalid(vec![
                FieldProblem::Missing {
                    field: RequestField::MedicalCertificate
                },
                FieldProblem::EndBeforeStart,
            ])),
            CarnetError::RequestInvalid {
                problems: vec![
                    RequestFieldProblem {
                        field: "medical_certificate".into(),
                        code: "missing".into(),
                        limits: vec![],
                    },
                    RequestFieldProblem {
                        field: "end".into(),
                        code: "end_before_start".into(),
                        limits: vec![],
                    },
                ],
            }
        );
        assert_eq!(outbox(OutboxError::NotFound), CarnetError::NotFound);
        assert_eq!(
            outbox(OutboxError::Transition(TransitionError::NotEditable {
                state: StateName::Queued
            })),
            CarnetError::RequestNotEditable {
                state: "queued".into()
            }
        );
        assert_eq!(
            outbox(OutboxError::Transition(TransitionError::NotAllowed {
                state: StateName::Sent,
                event: EventName::Recall,
            })),
            CarnetError::RequestActionRefused {
                state: "sent".into(),
                action: "recall".into(),
            }
        );
        assert_eq!(
            outbox(OutboxError::KindChanged),
            CarnetError::unexpected("request_kind_changed")
        );
        assert_eq!(
            outbox(OutboxError::UnknownRevision {
                reported: 3,
                latest: 2
            }),
            CarnetError::unexpected("request_unknown_revision")
        );
        assert_eq!(
            outbox(OutboxError::Vault(VaultError::InUse)),
            CarnetError::VaultInUse
        );
        let attachment = |error: AttachmentError| outbox(OutboxError::Attachment(error));
        assert_eq!(
            attachment(AttachmentError::Empty),
            CarnetError::AttachmentEmpty
        );
        assert_eq!(
            attachment(AttachmentError::TooLarge {
                max_bytes: 20 << 20
            }),
            CarnetError::AttachmentTooLarge {
                max_bytes: 20 << 20
            }
        );
        assert_eq!(
            attachment(AttachmentError::UnsupportedMediaType),
            CarnetError::AttachmentTypeUnsupported
        );
        assert_eq!(
            attachment(AttachmentError::InvalidFileName),
            CarnetError::AttachmentNameInvalid
        );
        assert_eq!(
            attachment(AttachmentError::HashMismatch),
            CarnetError::unexpected("attachment_hash_mismatch")
        );
    }

    #[test]
    fn no_personal_data_reaches_the_public_error() {
        let personal = "maria@example.org";
        let errors = [
            E::Internal(format!("user {personal}")),
            E::Vault(VaultError::Storage(format!("/data/{personal}"))),
            E::Vault(VaultError::KeyStore(personal.into())),
            E::Signer(SignerError::Failed(personal.into())),
            E::Api(ApiError::MalformedResponse {
                what: personal.into(),
            }),
            E::Api(ApiError::Rejected {
                status: 400,
                code: personal.into(),
            }),
            E::Api(ApiError::Config(personal.into())),
        ];
        for error in errors {
            let public = map(error);
            let shown = format!("{public} {public:?}");
            assert!(!shown.contains("maria"), "{shown}");
        }
    }

    #[test]
    fn callback_failures_become_failed_errors() {
        let unexpected = || uniffi::UnexpectedUniFFICallbackError::new("IllegalStateException");
        assert_eq!(
            KeyStoreError::from(unexpected()),
            KeyStoreError::Failed {
                reason: "IllegalStateException".into()
            }
        );
        assert_eq!(
            DeviceSignerError::from(unexpected()),
            DeviceSignerError::Failed {
                reason: "IllegalStateException".into()
            }
        );
        assert_eq!(
            CoreKeyStoreError::from(KeyStoreError::Locked),
            CoreKeyStoreError::Locked
        );
        assert_eq!(
            CoreKeyStoreError::from(KeyStoreError::KeyInvalidated),
            CoreKeyStoreError::KeyInvalidated
        );
        assert_eq!(
            SignerError::from(DeviceSignerError::KeyLost),
            SignerError::KeyLost
        );
    }
}
