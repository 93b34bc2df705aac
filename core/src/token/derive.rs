//! Offline derivation: the counter (hour slot and sequence) and the 6-digit
//! code, RFC 4226 HOTP with HMAC-SHA-256.
//!
//! Why HMAC-SHA-256 rather than RFC 4226's HMAC-SHA-1: RFC 6238 §1.2 allows
//! HMAC-SHA-256 with the same dynamic truncation and publishes test vectors
//! for it (which `tests/token_vectors.rs` checks); the 32-byte secret is
//! SHA-256's natural key size; ring names SHA-1 HMAC "for legacy use only";
//! and nothing outside Carnet needs to compute these codes (only our
//! backend verifies them), so SHA-1's authenticator-app interoperability
//! buys nothing.

use chrono::{DateTime, TimeDelta, Utc};
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::error::TokenError;
use super::secret::TokenSecret;
use super::{DIGITS, LIFETIME_SECONDS};

/// Length of a time slot: one hour. `slot = floor(unix seconds / 3600)`.
pub const SLOT_SECONDS: i64 = 3_600;

/// Offline tokens a device can make in one slot: sequences `0..8`. Each
/// one widens the backend's window (and so the false-accept probability),
/// hence a small number; more in the same hour wait for the next slot or
/// are made online.
pub const SEQUENCES_PER_SLOT: u8 = 8;

/// Low bits of the counter that hold the sequence: a whole byte, so that
/// [`SEQUENCES_PER_SLOT`] can grow to 256 without changing the layout.
pub const SEQUENCE_BITS: u32 = 8;

/// 10^[`DIGITS`].
const MODULUS: u32 = 1_000_000;

/// The highest slot a counter can hold: the slot must fit in the top 56
/// bits of the 64-bit counter.
const MAX_SLOT: u64 = u64::MAX >> SEQUENCE_BITS;

/// The HOTP counter of an offline token: `slot << 8 | sequence`, fed to
/// HMAC as 8 bytes big-endian (RFC 4226 §5.2).
///
/// Serialised as that 64-bit value, which is also what the backend should
/// store to record a token as used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Counter {
    // Field order matters: the derived `Ord` is then the order of `value()`.
    slot: u64,
    sequence: u8,
}

impl Counter {
    /// The counter of `sequence` in `slot`; refuses a sequence outside
    /// `0..SEQUENCES_PER_SLOT` or a slot beyond 56 bits.
    pub fn new(slot: u64, sequence: u8) -> Result<Self, TokenError> {
        if sequence >= SEQUENCES_PER_SLOT || slot > MAX_SLOT {
            return Err(TokenError::InvalidCounter { slot, sequence });
        }
        Ok(Self { slot, sequence })
    }

    /// The counter from its 64-bit value (as stored by the backend).
    pub fn from_value(value: u64) -> Result<Self, TokenError> {
        let sequence = u8::try_from(value & 0xff).unwrap_or(u8::MAX);
        Self::new(value >> SEQUENCE_BITS, sequence)
    }

    /// The hour slot: `floor(unix seconds / 3600)` when the token was made.
    pub fn slot(&self) -> u64 {
        self.slot
    }

    /// The sequence within the slot, `0..SEQUENCES_PER_SLOT`.
    pub fn sequence(&self) -> u8 {
        self.sequence
    }

    /// `slot << 8 | sequence`.
    pub fn value(&self) -> u64 {
        (self.slot << SEQUENCE_BITS) | u64::from(self.sequence)
    }

    /// The 8 bytes HMAC signs: [`Counter::value`] big-endian.
    pub fn to_bytes(&self) -> [u8; 8] {
        self.value().to_be_bytes()
    }

    /// When the slot begins.
    pub fn slot_start(&self) -> DateTime<Utc> {
        slot_start(self.slot)
    }

    /// When a token of this counter stops being valid: the end of its slot
    /// plus 12 hours. The backend sees only the code, so validity can only
    /// depend on the slot; counting from the slot's end rather than its
    /// start means a member always gets at least 12 hours (made in the
    /// slot's last second: 12 h and 1 s; made at its first: 13 h).
    /// Valid while `now < expires_at`.
    pub fn expires_at(&self) -> DateTime<Utc> {
        add_seconds(self.slot_start(), SLOT_SECONDS + LIFETIME_SECONDS)
    }
}

impl TryFrom<u64> for Counter {
    type Error = TokenError;

    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Self::from_value(value)
    }
}

impl From<Counter> for u64 {
    fn from(counter: Counter) -> Self {
        counter.value()
    }
}

/// The slot of `at`: `floor(unix seconds / 3600)`. Refuses times before
/// 1970 (a phone whose clock was reset), which have no slot.
pub fn slot_of(at: DateTime<Utc>) -> Result<u64, TokenError> {
    u64::try_from(at.timestamp().div_euclid(SLOT_SECONDS))
        .map_err(|_| TokenError::ClockOutOfRange { at })
}

/// When `slot` begins. Saturates at the latest time chrono represents for
/// slots beyond it (none that a real clock produces).
pub fn slot_start(slot: u64) -> DateTime<Utc> {
    i64::try_from(slot)
        .ok()
        .and_then(|slot| slot.checked_mul(SLOT_SECONDS))
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `at + seconds`, saturating at the end of chrono's range.
pub(crate) fn add_seconds(at: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    TimeDelta::try_seconds(seconds)
        .and_then(|delta| at.checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The offline token of `counter`: 6 ASCII digits, zero-padded.
pub fn derive_offline_code(secret: &TokenSecret, counter: Counter) -> String {
    hotp_sha256(secret, counter.value())
}

/// RFC 4226 HOTP over HMAC-SHA-256 (as RFC 6238 allows) at any 64-bit
/// counter, 6 digits. The bare primitive, public for test vectors; tokens
/// use [`derive_offline_code`].
pub fn hotp_sha256(secret: &TokenSecret, counter: u64) -> String {
    code_string(code_digits(&secret.hmac_key(), counter))
}

/// The code at `counter` as 6 ASCII digits, without allocating (the window
/// search computes a hundred of these).
pub(crate) fn code_digits(key: &hmac::Key, counter: u64) -> [u8; DIGITS] {
    let tag = hmac::sign(key, &counter.to_be_bytes());
    digits(dynamic_truncation(tag.as_ref()) % MODULUS)
}

/// RFC 4226 §5.3: the low 4 bits of the last byte give an offset; the 31
/// bits at that offset are the value. Written with iterators rather than
/// indexing: for a 32-byte MAC the offset is at most 15, so the 4 bytes
/// always exist, and nothing here can panic even if they did not.
fn dynamic_truncation(mac: &[u8]) -> u32 {
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let value = mac
        .iter()
        .skip(offset)
        .take(4)
        .fold(0u32, |acc, byte| (acc << 8) | u32::from(*byte));
    value & 0x7fff_ffff
}

/// `value` (below 10^6) as 6 zero-padded ASCII digits.
pub(crate) fn digits(mut value: u32) -> [u8; DIGITS] {
    let mut out = [b'0'; DIGITS];
    for slot in out.iter_mut().rev() {
        // `value % 10` is below 10, so the cast cannot truncate.
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out
}

/// 6 ASCII digits as a `String`.
pub(crate) fn code_string(digits: [u8; DIGITS]) -> String {
    digits.iter().map(|byte| char::from(*byte)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn counter_layout_is_slot_then_sequence_byte() {
        let counter = Counter::new(0x0102_0304, 5).unwrap();
        assert_eq!(counter.value(), 0x01_0203_0405);
        assert_eq!(counter.to_bytes(), [0, 0, 0, 1, 2, 3, 4, 5]);
        assert_eq!(Counter::from_value(0x01_0203_0405).unwrap(), counter);
    }

    #[test]
    fn counter_refuses_a_sequence_beyond_the_cap_and_a_huge_slot() {
        assert!(Counter::new(1, SEQUENCES_PER_SLOT - 1).is_ok());
        assert!(matches!(
            Counter::new(1, SEQUENCES_PER_SLOT),
            Err(TokenError::InvalidCounter { .. })
        ));
        assert!(Counter::from_value(0x0108).is_err());
        assert!(Counter::new(MAX_SLOT, 0).is_ok());
        assert!(Counter::new(MAX_SLOT + 1, 0).is_err());
    }

    #[test]
    fn counter_serialises_as_its_value_and_checks_it_back() {
        let counter = Counter::new(492_345, 3).unwrap();
        let json = serde_json::to_string(&counter).unwrap();
        assert_eq!(json, (492_345u64 * 256 + 3).to_string());
        assert_eq!(serde_json::from_str::<Counter>(&json).unwrap(), counter);
        assert!(serde_json::from_str::<Counter>("255").is_err());
    }

    #[test]
    fn counter_order_is_value_order() {
        let a = Counter::new(10, 7).unwrap();
        let b = Counter::new(11, 0).unwrap();
        assert!(a < b && a.value() < b.value());
    }

    #[test]
    fn slot_is_the_floor_of_the_hour() {
        assert_eq!(slot_of(at(0)).unwrap(), 0);
        assert_eq!(slot_of(at(3_599)).unwrap(), 0);
        assert_eq!(slot_of(at(3_600)).unwrap(), 1);
        assert_eq!(slot_start(2), at(7_200));
        assert!(matches!(
            slot_of(at(-1)),
            Err(TokenError::ClockOutOfRange { .. })
        ));
        assert_eq!(slot_start(u64::MAX), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn offline_validity_is_twelve_hours_from_the_end_of_the_slot() {
        let counter = Counter::new(10, 0).unwrap();
        assert_eq!(counter.slot_start(), at(36_000));
        assert_eq!(counter.expires_at(), at(36_000 + 3_600 + 43_200));
        // Made in the last second of the slot: valid 12 h later, expired
        // 12 h and 1 s later (validity is half-open: `now < expires_at`).
        let made_at = at(36_000 + 3_599);
        let expires = counter.expires_at();
        assert!(made_at + TimeDelta::seconds(LIFETIME_SECONDS - 1) < expires);
        assert!(made_at + TimeDelta::seconds(LIFETIME_SECONDS) < expires);
        assert!(made_at + TimeDelta::seconds(LIFETIME_SECONDS + 1) >= expires);
    }

    #[test]
    fn codes_are_six_zero_padded_digits() {
        assert_eq!(digits(0), *b"000000");
        assert_eq!(digits(42), *b"000042");
        assert_eq!(digits(999_999), *b"999999");
        let secret = TokenSecret::from_bytes([0; 32]);
        for value in 0..200 {
            let code = hotp_sha256(&secret, value);
            assert_eq!(code.len(), DIGITS);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn truncation_follows_rfc_4226_section_5_4() {
        // The worked example of RFC 4226 §5.4 (an HMAC-SHA-1 output): the
        // truncation alone does not depend on the hash.
        let mac = hex::decode("1f8698690e02ca16618550ef7f19da8e945b555a").unwrap();
        assert_eq!(dynamic_truncation(&mac), 0x50ef_7f19);
        assert_eq!(dynamic_truncation(&mac) % MODULUS, 872_921);
    }

    #[test]
    fn derive_matches_the_bare_primitive_at_the_counter_value() {
        let secret = TokenSecret::from_bytes([9; 32]);
        let counter = Counter::new(492_345, 2).unwrap();
        assert_eq!(
            derive_offline_code(&secret, counter),
            hotp_sha256(&secret, counter.value())
        );
    }
}
