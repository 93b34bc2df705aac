//! The backend's side of offline tokens: recompute every code of a device
//! that can still be valid, and find the one that was typed.
//!
//! The window at `now` is every slot whose tokens are still valid (the
//! current one and the 12 before it: a token of slot `s` is valid until
//! the end of `s` plus 12 h), plus the next slot when `now` is within
//! [`CLOCK_SKEW_SECONDS`] of its start (a phone whose clock runs a little
//! fast). Each slot holds [`SEQUENCES_PER_SLOT`] candidates. The 12 slots
//! before the window are searched too, only to tell "expired" from
//! "unknown"; they never accept.

use std::ops::{Range, RangeInclusive};

use chrono::{DateTime, Utc};

use super::DIGITS;
use super::derive::{Counter, SEQUENCES_PER_SLOT, add_seconds, code_digits, slot_of};
use super::error::{TokenError, TokenRejection};
use super::input::normalize_digits;
use super::secret::TokenSecret;

/// How far ahead of the backend's clock a phone's clock may be: 5
/// minutes. Only the start of validity is relaxed (a token from the next
/// slot is accepted in the last 5 minutes of the current one); expiry is
/// strict, since the member already has at least 12 hours.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// Slots whose tokens can be valid at any instant: the current one and the
/// 12 before it (`LIFETIME_SECONDS / SLOT_SECONDS + 1`).
pub const VALID_SLOTS: u64 = 13;

/// Slots before the window searched only to answer "expired" rather than
/// "unknown": 12, so a token is recognised up to 12 h after it expired.
pub const EXPIRED_LOOKBACK_SLOTS: u64 = 12;

/// The most candidates that can accept a guess: ([`VALID_SLOTS`] + 1 for
/// clock skew) × [`SEQUENCES_PER_SLOT`] = 112, per device.
pub const MAX_CANDIDATES: usize = (VALID_SLOTS as usize + 1) * SEQUENCES_PER_SLOT as usize;

/// The slots the backend searches at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    oldest_valid: u64,
    newest: u64,
    oldest_searched: u64,
}

impl Window {
    /// The window at `now`.
    pub fn at(now: DateTime<Utc>) -> Result<Self, TokenError> {
        let current = slot_of(now)?;
        let newest = slot_of(add_seconds(now, CLOCK_SKEW_SECONDS))?.max(current);
        let oldest_valid = current.saturating_sub(VALID_SLOTS - 1);
        Ok(Self {
            oldest_valid,
            newest,
            oldest_searched: oldest_valid.saturating_sub(EXPIRED_LOOKBACK_SLOTS),
        })
    }

    /// Slots whose tokens are accepted.
    pub fn valid_slots(&self) -> RangeInclusive<u64> {
        self.oldest_valid..=self.newest
    }

    /// Slots searched only to recognise an expired token (empty near 1970).
    pub fn expired_slots(&self) -> Range<u64> {
        self.oldest_searched..self.oldest_valid
    }

    /// Candidates that can accept a guess: 104, or 112 in the last 5
    /// minutes of an hour. The false-accept probability of one guess is
    /// this over 10^6.
    pub fn candidate_count(&self) -> usize {
        slot_span(self.oldest_valid, self.newest) * usize::from(SEQUENCES_PER_SLOT)
    }

    /// Codes computed by one search, expired slots included (the cost of
    /// a non-matching guess).
    pub fn search_count(&self) -> usize {
        slot_span(self.oldest_searched, self.newest) * usize::from(SEQUENCES_PER_SLOT)
    }
}

fn slot_span(from: u64, to: u64) -> usize {
    usize::try_from(to.saturating_sub(from).saturating_add(1)).unwrap_or(usize::MAX)
}

/// An offline code that matched a valid token not used before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The token's counter. The backend records it as used, with an
    /// insert-if-absent on (device, counter), before it answers: the
    /// redemption that loses that race answers [`TokenRejection::Used`].
    pub counter: Counter,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
}

/// Finds `code` among the offline tokens of the device holding `secret`.
///
/// `used(counter)` says whether the backend has recorded that counter as
/// redeemed; it is asked only about counters whose code matches (rarely
/// more than one). The answer:
///
/// 1. if a valid counter with this code was already used: `Used`. A code
///    is redeemed once even when two counters of the window share it (with
///    about a hundred candidates that happens to about one token in ten
///    thousand), so a code cannot be redeemed twice through its twin;
/// 2. else the latest valid counter with this code: `Ok`. Always the
///    latest, so that two concurrent redemptions of one code record the
///    same counter and the insert-if-absent lets only one through, and so
///    that the recorded counter stays in the window as long as any twin;
/// 3. else, among the 12 slots before the window: `Used` if that counter
///    was recorded, otherwise `Expired`;
/// 4. else `Unknown`.
///
/// Every candidate is computed and compared on every call, in constant
/// time per comparison: the time taken does not depend on how many digits
/// of a guess are right.
pub fn accept_offline(
    secret: &TokenSecret,
    code: &str,
    now: DateTime<Utc>,
    used: &dyn Fn(Counter) -> bool,
) -> Result<Accepted, TokenRejection> {
    let wanted = normalize_digits(code)?;
    let window = Window::at(now).map_err(|_| TokenRejection::ClockOutOfRange { at: now })?;
    let key = secret.hmac_key();

    let mut valid_fresh = None;
    let mut valid_used = None;
    let mut expired_fresh = None;
    let mut expired_used = None;
    for slot in window.oldest_searched..=window.newest {
        for sequence in 0..SEQUENCES_PER_SLOT {
            // Cannot fail: the sequence is in range and the slot came from
            // a real time. Skipping is the safe answer if it ever did.
            let Ok(counter) = Counter::new(slot, sequence) else {
                continue;
            };
            if !digits_equal(&code_digits(&key, counter.value()), &wanted) {
                continue;
            }
            // Ascending order: each later match replaces the earlier one.
            let is_valid = slot >= window.oldest_valid;
            match (is_valid, used(counter)) {
                (true, false) => valid_fresh = Some(counter),
                (true, true) => valid_used = Some(counter),
                (false, false) => expired_fresh = Some(counter),
                (false, true) => expired_used = Some(counter),
            }
        }
    }

    if let Some(counter) = valid_used {
        return Err(TokenRejection::Used { counter });
    }
    if let Some(counter) = valid_fresh {
        return Ok(Accepted {
            counter,
            expires_at: counter.expires_at(),
        });
    }
    if let Some(counter) = expired_used {
        return Err(TokenRejection::Used { counter });
    }
    if let Some(counter) = expired_fresh {
        return Err(TokenRejection::Expired {
            counter,
            expired_at: counter.expires_at(),
        });
    }
    Err(TokenRejection::Unknown)
}

/// Constant-time equality of two codes: no early exit, so the time does
/// not tell how many leading digits matched (which would let a guesser
/// find a code digit by digit, 60 tries instead of a million).
/// `ring::constant_time::verify_slices_are_equal` would do the same, but
/// ring 0.17.14 deprecates it as internal, "with no promises regarding
/// side channels"; this is the same fold, with `black_box` so that the
/// optimiser cannot turn it back into an early exit.
fn digits_equal(a: &[u8; DIGITS], b: &[u8; DIGITS]) -> bool {
    let difference = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::cell::RefCell;
    use std::collections::HashSet;

    use chrono::TimeDelta;

    use super::*;
    use crate::token::derive::{SLOT_SECONDS, derive_offline_code, slot_start};
    use crate::token::error::TokenInputError;
    use crate::token::{LIFETIME_SECONDS, Throttle, Throttled};

    /// 2026-03-02T09:30:00Z.
    const NOW: i64 = 1_772_443_800;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn secret() -> TokenSecret {
        TokenSecret::from_bytes(core::array::from_fn(|i| i as u8))
    }

    fn never(_: Counter) -> bool {
        false
    }

    fn made_now(sequence: u8) -> (Counter, String) {
        let counter = Counter::new(slot_of(at(NOW)).unwrap(), sequence).unwrap();
        (counter, derive_offline_code(&secret(), counter))
    }

    #[test]
    fn constants_agree_with_the_lifetime() {
        assert_eq!(VALID_SLOTS, (LIFETIME_SECONDS / SLOT_SECONDS) as u64 + 1);
        assert_eq!(MAX_CANDIDATES, 112);
    }

    #[test]
    fn window_holds_exactly_the_slots_that_are_valid() {
        // Every second of two hours, every 7 seconds: the valid range is
        // exactly the slots with expires_at > now and start <= now + skew.
        for now in (NOW..NOW + 2 * 3_600).step_by(7) {
            let now = at(now);
            let window = Window::at(now).unwrap();
            let valid = window.valid_slots();
            for slot in valid.clone() {
                let counter = Counter::new(slot, 0).unwrap();
                assert!(counter.expires_at() > now);
                assert!(counter.slot_start() <= add_seconds(now, CLOCK_SKEW_SECONDS));
            }
            let before = Counter::new(valid.start() - 1, 0).unwrap();
            assert!(before.expires_at() <= now);
            assert!(slot_start(valid.end() + 1) > add_seconds(now, CLOCK_SKEW_SECONDS));
            assert!(window.candidate_count() <= MAX_CANDIDATES);
            assert!([104, 112].contains(&window.candidate_count()));
            assert_eq!(window.expired_slots().count(), 12);
        }
    }

    #[test]
    fn a_fresh_token_is_accepted_with_its_counter() {
        let (counter, code) = made_now(3);
        let accepted = accept_offline(&secret(), &code, at(NOW), &never).unwrap();
        assert_eq!(accepted.counter, counter);
        assert_eq!(accepted.expires_at, counter.expires_at());
    }

    #[test]
    fn valid_until_the_last_second_then_expired_then_unknown() {
        let (counter, code) = made_now(0);
        let expires = counter.expires_at();
        let one = TimeDelta::seconds(1);
        assert!(accept_offline(&secret(), &code, expires - one, &never).is_ok());
        let err = accept_offline(&secret(), &code, expires, &never).unwrap_err();
        assert_eq!(
            err,
            TokenRejection::Expired {
                counter,
                expired_at: expires
            }
        );
        assert!(matches!(
            accept_offline(&secret(), &code, expires + one, &never),
            Err(TokenRejection::Expired { .. })
        ));
        // Recognised as expired for 12 more hours, then unknown.
        let late = expires + TimeDelta::seconds(12 * 3_600);
        assert!(matches!(
            accept_offline(&secret(), &code, late - one, &never),
            Err(TokenRejection::Expired { .. })
        ));
        assert_eq!(
            accept_offline(&secret(), &code, late, &never),
            Err(TokenRejection::Unknown)
        );
    }

    #[test]
    fn a_used_counter_answers_used() {
        let (counter, code) = made_now(1);
        let used = |c: Counter| c == counter;
        assert_eq!(
            accept_offline(&secret(), &code, at(NOW), &used),
            Err(TokenRejection::Used { counter })
        );
        // Also once expired: a redeemed token stays "used".
        let late = counter.expires_at() + TimeDelta::seconds(60);
        assert_eq!(
            accept_offline(&secret(), &code, late, &used),
            Err(TokenRejection::Used { counter })
        );
    }

    #[test]
    fn redeemed_once_with_a_recording_backend() {
        let (_, code) = made_now(2);
        let used = RefCell::new(HashSet::new());
        let check = |c: Counter| used.borrow().contains(&c);
        let first = accept_offline(&secret(), &code, at(NOW), &check).unwrap();
        assert!(used.borrow_mut().insert(first.counter));
        let second = accept_offline(&secret(), &code, at(NOW + 60), &check);
        assert!(matches!(second, Err(TokenRejection::Used { .. })));
    }

    #[test]
    fn twin_codes_in_the_window_are_redeemed_once_and_the_latest_is_recorded() {
        // Find a secret whose window holds two counters with one code.
        let now = at(NOW);
        let window = Window::at(now).unwrap();
        let mut found = None;
        'search: for seed in 0u32..5_000 {
            let mut bytes = [0u8; 32];
            bytes[..4].copy_from_slice(&seed.to_be_bytes());
            let secret = TokenSecret::from_bytes(bytes);
            let mut seen = std::collections::HashMap::new();
            for slot in window.valid_slots() {
                for sequence in 0..SEQUENCES_PER_SLOT {
                    let counter = Counter::new(slot, sequence).unwrap();
                    let code = derive_offline_code(&secret, counter);
                    if let Some(earlier) = seen.insert(code.clone(), counter) {
                        found = Some((secret, code, earlier, counter));
                        break 'search;
                    }
                }
            }
        }
        let (secret, code, earlier, later) = found.expect("a collision among 5,000 secrets");
        let accepted = accept_offline(&secret, &code, now, &never).unwrap();
        assert_eq!(accepted.counter, later);
        // Recording either twin spends the code.
        for recorded in [earlier, later] {
            let used = |c: Counter| c == recorded;
            assert_eq!(
                accept_offline(&secret, &code, now, &used),
                Err(TokenRejection::Used { counter: recorded })
            );
        }
    }

    #[test]
    fn a_slightly_fast_phone_is_accepted_a_fast_one_is_not() {
        let next = slot_of(at(NOW)).unwrap() + 1;
        let counter = Counter::new(next, 0).unwrap();
        let code = derive_offline_code(&secret(), counter);
        let start = counter.slot_start();
        let within = start - TimeDelta::seconds(CLOCK_SKEW_SECONDS);
        assert_eq!(
            accept_offline(&secret(), &code, within, &never).map(|a| a.counter),
            Ok(counter)
        );
        let beyond = within - TimeDelta::seconds(1);
        assert_eq!(
            accept_offline(&secret(), &code, beyond, &never),
            Err(TokenRejection::Unknown)
        );
    }

    #[test]
    fn another_devices_secret_does_not_match() {
        let (_, code) = made_now(0);
        let other = TokenSecret::from_bytes([0xee; 32]);
        // The other device's window may hold this code by chance (about
        // one in ten thousand); these fixed bytes do not.
        assert_eq!(
            accept_offline(&other, &code, at(NOW), &never),
            Err(TokenRejection::Unknown)
        );
    }

    #[test]
    fn typed_forms_are_normalised_and_garbage_is_not_a_guess() {
        let (counter, code) = made_now(4);
        let persian: String = code
            .chars()
            .map(|c| char::from_u32(0x06F0 + (c as u32 - '0' as u32)).unwrap())
            .collect();
        let spaced = format!("{} {}", &persian[..6], &persian[6..]);
        assert_eq!(
            accept_offline(&secret(), &spaced, at(NOW), &never).map(|a| a.counter),
            Ok(counter)
        );
        let err = accept_offline(&secret(), "12345", at(NOW), &never).unwrap_err();
        assert_eq!(
            err,
            TokenRejection::Malformed(TokenInputError::TooFewDigits { found: 5 })
        );
        assert!(!err.is_failed_guess());
        assert!(TokenRejection::Unknown.is_failed_guess());
    }

    #[test]
    fn near_1970_the_window_shrinks_and_before_it_is_refused() {
        let code = derive_offline_code(&secret(), Counter::new(0, 0).unwrap());
        assert!(accept_offline(&secret(), &code, at(100), &never).is_ok());
        assert!(matches!(
            accept_offline(&secret(), &code, at(-1), &never),
            Err(TokenRejection::ClockOutOfRange { .. })
        ));
    }

    #[test]
    fn codes_compare_by_every_digit() {
        assert!(digits_equal(b"123456", b"123456"));
        assert!(!digits_equal(b"123456", b"123457"));
        assert!(!digits_equal(b"123456", b"023456"));
    }

    #[test]
    fn after_five_failures_even_the_right_code_waits_for_the_delay() {
        // The backend's order: check the throttle, compare, record.
        let (_, right) = made_now(5);
        let mut throttle = Throttle::new();
        let t0 = at(NOW);
        let wrong = if right == "000000" {
            "111111"
        } else {
            "000000"
        };
        for _ in 0..5 {
            assert!(throttle.check(t0).is_ok());
            let err = accept_offline(&secret(), wrong, t0, &never).unwrap_err();
            assert!(err.is_failed_guess());
            throttle.record_failure(t0);
        }
        // 5 failures: the next attempt waits 5 s × 5 = 25 s, right code or not.
        let retry_after = t0 + TimeDelta::seconds(25);
        assert_eq!(
            throttle.check(t0 + TimeDelta::seconds(24)),
            Err(Throttled::Wait { retry_after })
        );
        assert!(throttle.check(retry_after).is_ok());
        assert!(accept_offline(&secret(), &right, retry_after, &never).is_ok());
        throttle.record_success();
        assert!(throttle.check(retry_after).is_ok());
    }
}
