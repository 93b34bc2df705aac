//! Wire types shared by the core's API client and the reference insurer
//! backend. Both sides use these definitions; `docs/api/openapi.yaml`
//! describes the same shapes.
//!
//! Binary fields (keys, signatures, certificates) travel as unpadded
//! base64url strings.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// `POST /v1/registrations`: a member signs up (the fields of the OSEP form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The insurer's affiliate number.
    pub affiliate_number: String,
    /// The 16-digit number printed on the member's card.
    pub card_number: String,
    /// Birth date, ISO 8601 (`YYYY-MM-DD`).
    pub birth_date: NaiveDate,
    /// 5 to 25 characters: letters, digits, `.`, `_` or `-`.
    pub username: String,
    /// 8 to 15 letters and digits, with at least one of each.
    pub password: String,
    /// Where the confirmation code is sent.
    pub email: String,
}

/// Answer to a registration: the account exists but must be confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterResponse {
    /// The username, as registered.
    pub username: String,
    /// Always true: the e-mail must be confirmed before login.
    pub confirmation_required: bool,
}

/// `POST /v1/registrations/confirm`: the code sent by e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmailRequest {
    /// The username given at registration.
    pub username: String,
    /// The 6-digit code from the e-mail.
    pub code: String,
}

/// `POST /v1/sessions`: log in with username and password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
}

/// `POST /v1/sessions/refresh`: trade a refresh token for a new pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh; it is single-use.
    pub refresh_token: String,
}

/// A new session: tokens and the server's clock.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTokens {
    /// Bearer token for API calls.
    pub access_token: String,
    /// When the access token stops working (Unix seconds).
    pub access_expires_at: i64,
    /// Single-use token to get a new pair.
    pub refresh_token: String,
    /// When the refresh token stops working (Unix seconds).
    pub refresh_expires_at: i64,
    /// The server's clock when it answered (Unix milliseconds), so that the
    /// phone can correct its own.
    pub server_time_ms: i64,
}

impl std::fmt::Debug for SessionTokens {
    // Tokens are secrets: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTokens")
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("server_time_ms", &self.server_time_ms)
            .finish_non_exhaustive()
    }
}

/// What the member is covered for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// The plan's name, e.g. "OSEP Integral".
    pub plan: String,
    /// The member's home region (a code such as "AR-M").
    pub region: String,
    /// Last day of coverage.
    pub valid_until: NaiveDate,
}

/// `GET /v1/account`: the member's account as the insurer holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Pseudonymous member id: what certificates and QR codes carry instead
    /// of the affiliate number.
    pub member_id: String,
    /// The username.
    pub username: String,
    /// The confirmed e-mail.
    pub email: String,
    /// The affiliate number.
    pub affiliate_number: String,
    /// The last four digits of the card number (the rest is never sent back).
    pub card_last4: String,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Coverage.
    pub coverage: Coverage,
}

/// `POST /v1/devices/challenge`: a one-time challenge for enrolment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolmentChallenge {
    /// Random bytes (base64url) the device key must sign.
    pub challenge: String,
    /// When the challenge stops being accepted (Unix seconds).
    pub expires_at: i64,
}

/// `POST /v1/devices`: enrol this device's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolDeviceRequest {
    /// A name the member recognises ("Pixel 8").
    pub name: String,
    /// The P-256 public key, SEC1 uncompressed (65 bytes), base64url.
    pub public_key: String,
    /// The challenge from `POST /v1/devices/challenge`, as received.
    pub challenge: String,
    /// ECDSA P-256 SHA-256 signature (ASN.1 DER), base64url, over
    /// [`enrolment_message`] of the challenge and the public key.
    pub signature: String,
}

/// The bytes a device signs to prove it holds the key it enrols.
pub fn enrolment_message(challenge: &str, public_key_b64: &str) -> Vec<u8> {
    format!("carnet-enrol-v1\n{challenge}\n{public_key_b64}").into_bytes()
}

/// A device enrolled on an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Server-made id.
    pub id: String,
    /// The name given at enrolment.
    pub name: String,
    /// When it was enrolled (Unix seconds).
    pub enrolled_at: i64,
    /// When its certificate expires (Unix seconds).
    pub certificate_expires_at: i64,
    /// When it was revoked (Unix seconds), if it was.
    pub revoked_at: Option<i64>,
}

/// Answer to an enrolment: the device and its certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolDeviceResponse {
    /// The enrolled device.
    pub device: DeviceInfo,
    /// The member certificate: a COSE_Sign1 (CWT), base64url.
    pub certificate: String,
}

/// `GET /v1/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    /// Every device of the account, revoked ones included.
    pub devices: Vec<DeviceInfo>,
}

/// One public key of the insurer, as a JWK (RFC 7517/7518, EC P-256).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always "EC".
    pub kty: String,
    /// Always "P-256".
    pub crv: String,
    /// Key id; the certificate's COSE `kid` header holds the same string.
    pub kid: String,
    /// Always "ES256".
    pub alg: String,
    /// Always "sig".
    #[serde(rename = "use")]
    pub use_: String,
    /// X coordinate, base64url.
    pub x: String,
    /// Y coordinate, base64url.
    pub y: String,
}

/// `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The insurer's signing keys.
    pub keys: Vec<Jwk>,
}

/// Every error the backend returns has this body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// A stable machine code (see `docs/api/openapi.yaml`), e.g.
    /// `invalid_field`, `wrong_credentials`, `email_not_confirmed`.
    pub code: String,
    /// A human-readable explanation (English, no personal data).
    pub message: String,
    /// For `invalid_field`: the names of the invalid fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// Unpadded base64url, the encoding of every binary field on the wire.
pub mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    /// Encodes `bytes`.
    pub fn encode(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes `text`, or `None` when it is not unpadded base64url.
    pub fn decode(text: &str) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(text).ok()
    }
}

/// `POST /v1/tokens`: ask the insurer for an online consult token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueTokenRequest {
    /// The practice the token is for, if the member names one.
    #[serde(default)]
    pub practice: Option<String>,
}

/// An online consult token, as issued.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// Six ASCII digits.
    pub code: String,
    /// The practice named, trimmed, or null.
    pub practice: Option<String>,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds: 12 hours after issue.
    pub expires_at: i64,
}

impl std::fmt::Debug for IssuedToken {
    // The code is a credential while it is active.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// `POST /v1/devices/{id}/token-secret`: the per-device secret for offline
/// consult tokens (given once, at enrolment).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSecretResponse {
    /// 32 random bytes, base64url.
    pub secret: String,
}

/// Where a redeemed token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenOrigin {
    /// Issued by the backend.
    Online,
    /// Derived on the phone.
    Offline,
}

/// What became of a token, as the backend knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    /// Not redeemed, not expired.
    Active,
    /// Redeemed.
    Used,
    /// Past its 12 hours.
    Expired,
}

/// How a token was redeemed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    /// The practice.
    pub practice: String,
    /// Unix seconds.
    pub redeemed_at: i64,
}

/// One token of the member's history at the backend.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// The six digits.
    pub code: String,
    /// Online or offline.
    pub origin: TokenOrigin,
    /// Offline only: the hour slot.
    pub slot: Option<u64>,
    /// Offline only: the sequence in the slot.
    pub sequence: Option<u8>,
    /// Online only: the practice the member named, if any.
    pub practice: Option<String>,
    /// Online: issue time; offline: the start of its slot (Unix seconds).
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Its state.
    pub status: TokenState,
    /// When used: for which practice, and when.
    pub redemption: Option<Redemption>,
}

impl std::fmt::Debug for TokenEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEntry")
            .field("origin", &self.origin)
            .field("status", &self.status)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// `GET /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenHistory {
    /// Newest first: online tokens, and offline ones once redeemed.
    pub tokens: Vec<TokenEntry>,
    /// True after 100 wrong codes in a row, until the member re-enables.
    pub disabled: bool,
}

/// One line of a pharmacy settlement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionItem {
    /// What was dispensed.
    pub description: String,
    /// How many.
    pub quantity: u32,
    /// The line's total, in cents.
    pub amount_cents: i64,
}

/// A settled pharmacy transaction: what the member sees after sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// Server id.
    pub id: String,
    /// Pseudonymous member id.
    pub member_id: String,
    /// Where.
    pub pharmacy_name: String,
    /// How much, in cents.
    pub amount_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The lines.
    pub items: Vec<TransactionItem>,
    /// When (Unix seconds).
    pub settled_at: i64,
}

/// `GET /v1/transactions?since=CURSOR`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionPage {
    /// Newest first.
    pub transactions: Vec<Transaction>,
    /// Pass as `since` to get what was recorded after this page.
    pub cursor: String,
    /// Whether more follow `cursor` already.
    pub more: bool,
}

/// Attachments: chunk size limit the backend accepts in one
/// `PUT /v1/attachments/{sha256}` (1 MiB). The core sends smaller chunks
/// ([`ATTACHMENT_CHUNK_BYTES`]) so that a retry over a bad line resends little.
pub const MAX_ATTACHMENT_CHUNK_BYTES: usize = 1024 * 1024;

/// The chunk size the core uploads attachments in (256 KiB).
pub const ATTACHMENT_CHUNK_BYTES: usize = 256 * 1024;

/// `GET /v1/attachments/{sha256}` and the answer to every chunk
/// `PUT /v1/attachments/{sha256}?offset=N&size=S`: how much of a member's
/// attachment the backend holds. Attachments are per member: one member
/// cannot learn whether another uploaded the same file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentUploadState {
    /// Lowercase hex SHA-256 of the whole file.
    pub sha256: String,
    /// The file's total size in bytes, as declared by the first chunk.
    pub size: u64,
    /// Bytes received so far, contiguous from 0: the next chunk's offset.
    pub received: u64,
    /// Whether all bytes arrived and their SHA-256 matched.
    pub complete: bool,
}

/// `PUT /v1/requests/{id}`: upload one revision of a request. The path id is
/// the phone-made [`crate::requests::RequestId`], the idempotency key of
/// every upload of this request for its whole life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRequestBody {
    /// The revision sent (see ADR 0005): the same (id, revision) again is a
    /// replay; a higher one replaces or resubmits; a lower one is ignored.
    pub revision: u64,
    /// The content; every attachment it cites must be complete first
    /// (`422 missing_attachments` otherwise, with the hashes in `fields`).
    pub form: crate::requests::RequestForm,
}

/// The answer to `PUT /v1/requests/{id}` (200 for a new revision, and the
/// same body again for a replay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestReceipt {
    /// The request id.
    pub id: String,
    /// The newest revision the backend holds (may exceed the uploaded one if
    /// a late retry of an old revision arrived after a newer one).
    pub revision: u64,
    /// Whether the backend already held the uploaded (id, revision).
    pub replay: bool,
    /// The request's status at the backend.
    #[serde(flatten)]
    pub status: crate::requests::ServerStatus,
}

/// One status change in `GET /v1/requests/changes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestStatusEntry {
    /// The request id.
    pub id: String,
    /// The revision the status concerns.
    pub revision: u64,
    /// When the backend recorded it (Unix seconds).
    pub at: i64,
    /// What became of it.
    #[serde(flatten)]
    pub status: crate::requests::ServerStatus,
}

/// `GET /v1/requests/changes?after=SEQ&limit=N`: the member's status changes
/// recorded after `after`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestChanges {
    /// Oldest first; at most `limit` (default 100, at most 500).
    pub changes: Vec<RequestStatusEntry>,
    /// Pass as `after` next time (unchanged when `changes` is empty).
    pub next_after: u64,
    /// Whether more changes follow already.
    pub more: bool,
}

/// `POST /v1/admin/requests/{id}/review` (reviewer, admin key): what the
/// reviewer decides about the request's latest revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    /// Start the review.
    UnderReview,
    /// Send it back to the member with reasons (at least one).
    Return,
    /// Accept it.
    Approve,
    /// Refuse it, with reasons (at least one).
    Reject,
}

/// The body of `POST /v1/admin/requests/{id}/review`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewBody {
    /// The decision.
    pub action: ReviewAction,
    /// Required for `return` and `reject`.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// One request as the reviewer sees it (`GET /v1/admin/requests`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewedRequest {
    /// The request id.
    pub id: String,
    /// Pseudonymous member id.
    pub member_id: String,
    /// The newest revision held.
    pub revision: u64,
    /// How many uploads of any revision arrived (replays included).
    pub uploads: u64,
    /// When the first upload arrived (Unix seconds).
    pub received_at: i64,
    /// The content of the newest revision.
    pub form: crate::requests::RequestForm,
    /// Where it stands.
    #[serde(flatten)]
    pub status: crate::requests::ServerStatus,
}

/// `GET /v1/admin/requests`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewQueue {
    /// Oldest first.
    pub requests: Vec<ReviewedRequest>,
}
