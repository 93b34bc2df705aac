//! What can go wrong: [`TokenError`] when the phone makes a token,
//! [`TokenInputError`] when typed digits cannot be read, [`TokenRejection`]
//! when the backend refuses an offline code.
//!
//! No message carries a code, a secret or a practice: only counts, times
//! and the offending character of a typed input.

use chrono::{DateTime, Utc};

use super::derive::Counter;
use crate::rng::RandomError;

/// Why a token could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The device already holds the maximum of offline tokens that are
    /// neither used nor expired.
    #[error(
        "this device already holds {max} unused offline tokens; use one, wait until {next_expiry} when the oldest expires, or get a token online"
    )]
    TooManyOutstanding {
        /// The cap ([`super::MAX_OUTSTANDING`]).
        max: usize,
        /// When the first outstanding token expires, freeing a place.
        next_expiry: DateTime<Utc>,
    },
    /// Every sequence of the current hour slot is taken.
    #[error(
        "{per_slot} offline tokens were already made this hour; make the next one after {next_slot_at} or get one online"
    )]
    SlotFull {
        /// Tokens per slot ([`super::SEQUENCES_PER_SLOT`]).
        per_slot: u8,
        /// When the next slot begins.
        next_slot_at: DateTime<Utc>,
    },
    /// The clock reads a time before 1970, which has no slot.
    #[error("the clock reads {at}, before 1970; set the device's date and time")]
    ClockOutOfRange {
        /// What the clock read.
        at: DateTime<Utc>,
    },
    /// A stored secret does not have 32 bytes.
    #[error("the token secret has {found} bytes instead of 32; enrol the device again")]
    InvalidSecretLength {
        /// How many bytes it had.
        found: usize,
    },
    /// A counter with a sequence beyond the per-slot cap or a slot beyond
    /// 56 bits (a corrupt record).
    #[error(
        "counter (slot {slot}, sequence {sequence}) is out of range; sequences are below {per_slot} and slots below 2^56; the record is corrupt",
        per_slot = super::SEQUENCES_PER_SLOT
    )]
    InvalidCounter {
        /// The slot given.
        slot: u64,
        /// The sequence given.
        sequence: u8,
    },
    /// The random source failed (or returned the same bytes 32 times).
    #[error("the system random number generator failed; try again")]
    Random,
}

// By hand: `RandomError` is neither `Clone` nor `PartialEq`, and carries
// nothing to keep.
impl From<RandomError> for TokenError {
    fn from(_: RandomError) -> Self {
        Self::Random
    }
}

/// Why typed or scanned text is not a token; each says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenInputError {
    /// Nothing but spaces and dashes (or nothing at all).
    #[error("no digits were entered; type the 6 digits of the token")]
    Empty,
    /// A character that is neither a digit nor a separator that is ignored.
    #[error(
        "character {position} ({character:?}, U+{code_point:04X}) is not a digit; type only the 6 digits of the token"
    )]
    UnexpectedCharacter {
        /// The character, for the message.
        character: char,
        /// Its code point, to tell look-alikes apart.
        code_point: u32,
        /// Its position among the characters of the input, from 1.
        position: usize,
    },
    /// Fewer than 6 digits.
    #[error("only {found} digits were entered; a token has 6")]
    TooFewDigits {
        /// Digits found.
        found: usize,
    },
    /// More than 6 digits.
    #[error("{found} digits were entered; a token has 6, check for an extra digit")]
    TooManyDigits {
        /// Digits found.
        found: usize,
    },
}

/// Why the backend refused an offline code.
///
/// [`TokenRejection::code`] is a stable identifier for the provider's
/// software; the messages are for the clerk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// The text is not 6 digits; nothing was compared.
    #[error("the token was not read: {0}")]
    Malformed(#[from] TokenInputError),
    /// No token of this device in the last 25 hours has this code.
    #[error("no token matches this code; check the digits with the member")]
    Unknown,
    /// The code is a token of this device whose 12 hours are over.
    #[error("this token expired at {expired_at}; the member must make a new one")]
    Expired {
        /// The matching counter.
        counter: Counter,
        /// When it expired.
        expired_at: DateTime<Utc>,
    },
    /// The code was already redeemed.
    #[error("this token was already redeemed; the member must make a new one")]
    Used {
        /// The counter recorded as used.
        counter: Counter,
    },
    /// The server's clock reads before 1970.
    #[error("the server clock reads {at}, before 1970; fix the server's time")]
    ClockOutOfRange {
        /// What the clock read.
        at: DateTime<Utc>,
    },
}

impl TokenRejection {
    /// A stable identifier: `malformed`, `unknown`, `expired`, `used`,
    /// `clock`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Unknown => "unknown",
            Self::Expired { .. } => "expired",
            Self::Used { .. } => "used",
            Self::ClockOutOfRange { .. } => "clock",
        }
    }

    /// Whether this refusal counts as a failed guess for the [`super::Throttle`]:
    /// yes when a code was compared and not accepted (unknown, expired,
    /// used), no when nothing was compared (malformed input, server clock).
    /// Expired and used count too: otherwise they would be free probes.
    pub fn is_failed_guess(&self) -> bool {
        matches!(
            self,
            Self::Unknown | Self::Expired { .. } | Self::Used { .. }
        )
    }
}
