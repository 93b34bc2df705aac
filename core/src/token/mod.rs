//! Consult tokens: the 6-digit code a member gives a clinic or a lab, valid
//! 12 hours, redeemed once by the provider for one practice.
//!
//! This module is the pure logic shared by the phone and the insurer
//! backend; it does no I/O and reads no clock: every function that depends
//! on time takes `now`, every random one takes an [`crate::rng::Rng`].
//! The format, with test vectors, is `docs/formats/token.md`.
//!
//! - Online tokens: the backend draws six uniform digits
//!   ([`random_code`]) and records them; valid [`LIFETIME_SECONDS`] from
//!   issue ([`online_expires_at`]).
//! - Offline tokens: the phone derives the code from a per-device
//!   [`TokenSecret`] and a [`Counter`] (hour slot and sequence within the
//!   slot) with RFC 4226 dynamic truncation over HMAC-SHA-256
//!   ([`derive_offline_code`]); [`TokenBook::make_offline`] picks the next
//!   free counter and enforces [`MAX_OUTSTANDING`]. The backend recomputes
//!   the window with [`accept_offline`].
//! - Failed redemptions are slowed and finally stopped by [`Throttle`]
//!   (RFC 4226 §7.3).
//! - What the member or the clerk types goes through [`normalize_code`]
//!   (Arabic-Indic, Persian and full-width digits; spaces and dashes).
//!
//! Order of a redemption at the backend, for each throttle that applies
//! (the member's, the provider's): [`Throttle::check`] first and stop if it
//! refuses (the code is not even compared), then the comparison, then
//! [`Throttle::record_failure`] when [`TokenRejection::is_failed_guess`],
//! or [`Throttle::record_success`] on acceptance.
//!
//! Inner layout: `secret` holds the key, `derive` the counter and the code,
//! `online` the random code, `window` the backend's search, `throttle` the
//! failure counter, `input` the normalisation, `history` the member's
//! records, `error` every failure.

mod derive;
mod error;
mod history;
mod input;
mod online;
mod secret;
mod throttle;
mod window;

pub use derive::{
    Counter, SEQUENCE_BITS, SEQUENCES_PER_SLOT, SLOT_SECONDS, derive_offline_code, hotp_sha256,
    slot_of, slot_start,
};
pub use error::{TokenError, TokenInputError, TokenRejection};
pub use history::{MAX_OUTSTANDING, Origin, Status, TokenBook, TokenRecord};
pub use input::normalize_code;
pub use online::{online_expires_at, random_code};
pub use secret::{SECRET_LEN, TokenSecret};
pub use throttle::{
    DELAY_PER_FAILURE_SECONDS, DISABLE_AFTER_FAILURES, FREE_FAILURES, Throttle, Throttled,
};
pub use window::{
    Accepted, CLOCK_SKEW_SECONDS, EXPIRED_LOOKBACK_SLOTS, MAX_CANDIDATES, VALID_SLOTS, Window,
    accept_offline,
};

/// Digits in a token.
pub const DIGITS: usize = 6;

/// How long a token stays valid: 12 hours. From issue for an online token;
/// from the end of its slot for an offline one (see [`Counter::expires_at`]).
pub const LIFETIME_SECONDS: i64 = 12 * 3_600;
