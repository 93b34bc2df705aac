//! The rotating QR credential: what the member shows at the counter, and
//! the offline verifier that the counter runs.
//!
//! A code is the text `CN1:` + Base45 (RFC 9285) of a COSE_Sign1 (RFC 9052)
//! signed with ES256 by the device key. Its protected header carries the
//! insurer-signed member certificate (`kcwt`, RFC 9528), itself a
//! COSE_Sign1 / CWT whose `cnf` claim is the device key; its payload is a
//! CWT claims set (RFC 8392): issue time, expiry 60 s later, a random nonce
//! and the purpose (identify or settle). The full format, with sizes and
//! test vectors, is `docs/formats/credential.md`.
//!
//! - [`present`] makes a code (pure: time, signer, certificate and
//!   randomness are parameters; no network);
//! - [`Verifier`] checks one offline, with the insurer's keys, a clock-skew
//!   allowance, a replay cache and an optional revocation list;
//! - [`pin`] is the credential PIN gate in front of [`present`];
//! - [`dcc`] makes an EU DCC-style certificate for size comparisons.
//!
//! Inner layout: `profile` is Carnet's COSE profile over coset and ciborium
//! (strict decoding, ES256), `format` the presentation's layout, `text` the
//! Base45 text, `qr` the symbol, `nonce` and `trust` what the verifier
//! remembers, `error` every failure.

pub mod dcc;
mod error;
mod format;
mod nonce;
pub mod pin;
mod present;
pub(crate) mod profile;
mod qr;
mod text;
mod trust;
mod verify;

pub use error::{CredentialError, Rejection, Warning};
pub use format::{
    CERTIFICATE_HEADER, LIFETIME_SECONDS, NONCE_LEN, NONCE_LEN_RANGE, PURPOSE_CLAIM, Purpose,
};
pub use nonce::NonceCache;
pub use present::{Presentation, REFRESH_BEFORE_EXPIRY_SECONDS, present};
pub use qr::{
    DEFAULT_MODULE_PIXELS, EC_LEVEL, QUIET_ZONE, QrMatrix, alphanumeric_capacity, version_for,
};
pub use text::{MAX_TEXT_LEN, PREFIX};
pub use trust::{
    CachedTrustList, REVOCATION_LIST_MAX_AGE_SECONDS, RevocationList, TRUST_LIST_MAX_AGE_SECONDS,
};
pub use verify::{
    CLOCK_SKEW_SECONDS, DEFAULT_CERTIFICATE_CACHE_CAPACITY, Verified, Verifier, VerifierConfig,
};

#[cfg(test)]
mod tests;
