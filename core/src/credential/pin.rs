//! The credential PIN: the 6 digits (distinct from the login password) that
//! the member enters before a code is shown, unless the shell reports a
//! platform biometric, and again after an idle time. Five wrong PINs in a
//! row lock entry for [`PinPolicy::first_lock_seconds`], doubling with each
//! further wrong PIN up to [`PinPolicy::max_lock_seconds`].
//!
//! Pure logic: the caller passes the time (the server-corrected
//! `Carnet::now()`) and persists the [`PinRecord`] (in the vault) after every
//! call that takes `&mut self`. The PIN itself is never stored: only a
//! PBKDF2-HMAC-SHA256 hash with a random 16-byte salt, compared in constant
//! time (ring).

use std::num::NonZeroU32;

use chrono::{DateTime, Duration, Utc};
use ring::pbkdf2;
use serde::{Deserialize, Serialize};

use crate::rng::{RandomError, Rng};

/// Digits in a credential PIN.
pub const PIN_DIGITS: usize = 6;

/// Wrong PINs in a row allowed before entry is locked.
pub const FREE_ATTEMPTS: u32 = 5;

const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;

/// The PIN rules; the defaults are the documented ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinPolicy {
    /// PBKDF2 iterations for new records (100,000: a quarter second on a
    /// mid-range phone; the record also sits inside the encrypted vault,
    /// and online guessing is bounded by the lock).
    pub iterations: NonZeroU32,
    /// After this many seconds without an unlock, the PIN (or a biometric)
    /// is asked again: 300.
    pub idle_timeout_seconds: i64,
    /// The lock after the fifth wrong PIN in a row: 60 s.
    pub first_lock_seconds: i64,
    /// The longest lock: 1 hour.
    pub max_lock_seconds: i64,
}

impl Default for PinPolicy {
    fn default() -> Self {
        Self {
            iterations: NonZeroU32::MIN.saturating_add(99_999),
            idle_timeout_seconds: 300,
            first_lock_seconds: 60,
            max_lock_seconds: 3_600,
        }
    }
}

/// Why a PIN was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    /// Not exactly six digits 0-9.
    #[error("the credential PIN must be {PIN_DIGITS} digits")]
    NotSixDigits,
    /// Refused when choosing a PIN: all one digit, or a run like 123456.
    #[error("this PIN is too easy to guess; choose another")]
    TooSimple,
    /// Wrong PIN; `attempts_left` more before a lock.
    #[error("wrong PIN; {attempts_left} attempts left before a pause")]
    Wrong {
        /// Wrong PINs still allowed before entry locks.
        attempts_left: u32,
    },
    /// Too many wrong PINs: try again after `until`.
    #[error("too many wrong PINs; try again at {until}")]
    Locked {
        /// When entry opens again.
        until: DateTime<Utc>,
    },
    /// The random source failed (creating a record).
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// What the caller persists: the salted hash, the failure count and lock,
/// and the last unlock.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    salt: Vec<u8>,
    hash: Vec<u8>,
    iterations: u32,
    failures: u32,
    locked_until: Option<DateTime<Utc>>,
    last_unlocked_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for PinRecord {
    // The hash of a 6-digit PIN is a secret: a million guesses recover it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinRecord")
            .field("iterations", &self.iterations)
            .field("failures", &self.failures)
            .field("locked_until", &self.locked_until)
            .field("last_unlocked_at", &self.last_unlocked_at)
            .finish_non_exhaustive()
    }
}

fn check_format(pin: &str) -> Result<(), PinError> {
    if pin.len() == PIN_DIGITS && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PinError::NotSixDigits)
    }
}

/// All one digit, or each digit one more (or one less) than the previous.
fn is_too_simple(pin: &str) -> bool {
    let digits: Vec<i16> = pin
        .bytes()
        .map(|b| i16::from(b) - i16::from(b'0'))
        .collect();
    let steps: Vec<i16> = digits.windows(2).map(|pair| pair[1] - pair[0]).collect();
    [0, 1, -1]
        .iter()
        .any(|step| steps.iter().all(|candidate| candidate == step))
}

fn hash(pin: &str, salt: &[u8], iterations: NonZeroU32) -> Vec<u8> {
    let mut out = vec![0u8; HASH_LEN];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        pin.as_bytes(),
        &mut out,
    );
    out
}

impl PinRecord {
    /// A record for a newly chosen `pin`; choosing it counts as an unlock
    /// at `now`.
    pub fn create(
        pin: &str,
        policy: &PinPolicy,
        rng: &dyn Rng,
        now: DateTime<Utc>,
    ) -> Result<Self, PinError> {
        check_format(pin)?;
        if is_too_simple(pin) {
            return Err(PinError::TooSimple);
        }
        let mut salt = vec![0u8; SALT_LEN];
        rng.fill(&mut salt)?;
        Ok(Self {
            hash: hash(pin, &salt, policy.iterations),
            salt,
            iterations: policy.iterations.get(),
            failures: 0,
            locked_until: None,
            last_unlocked_at: Some(now),
        })
    }

    /// Checks `pin` at `now`. Right: the failures reset and the gate opens
    /// for the idle time. Wrong: one more failure, and the fifth in a row
    /// (and each after it) locks entry. While locked, the PIN is not even
    /// compared, so guessing during a lock costs nothing and gains nothing.
    /// A malformed PIN is a typing error and does not count.
    pub fn verify(
        &mut self,
        pin: &str,
        now: DateTime<Utc>,
        policy: &PinPolicy,
    ) -> Result<(), PinError> {
        if let Some(until) = self.locked_until.filter(|until| *until > now) {
            return Err(PinError::Locked { until });
        }
        check_format(pin)?;
        let iterations = NonZeroU32::new(self.iterations).unwrap_or(policy.iterations);
        let right = pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &self.salt,
            pin.as_bytes(),
            &self.hash,
        )
        .is_ok();
        if right {
            self.failures = 0;
            self.locked_until = None;
            self.last_unlocked_at = Some(now);
            return Ok(());
        }
        self.failures = self.failures.saturating_add(1);
        if self.failures < FREE_ATTEMPTS {
            return Err(PinError::Wrong {
                attempts_left: FREE_ATTEMPTS - self.failures,
            });
        }
        // 1, 2, 4, ... times the first lock, capped.
        let doublings = (self.failures - FREE_ATTEMPTS).min(20);
        let seconds = policy
            .first_lock_seconds
            .saturating_mul(1_i64 << doublings)
            .min(policy.max_lock_seconds);
        // Checked: a policy with absurd values locks "forever", never panics.
        let until = Duration::try_seconds(seconds)
            .and_then(|lock| now.checked_add_signed(lock))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.locked_until = Some(until);
        Err(PinError::Locked { until })
    }

    /// The shell reports a successful platform biometric (it already
    /// proved the member is present): the gate opens for the idle time. It
    /// does not clear wrong-PIN failures or a lock on PIN entry.
    pub fn unlock_with_biometric(&mut self, now: DateTime<Utc>) {
        self.last_unlocked_at = Some(now);
    }

    /// Whether the PIN (or a biometric) must be asked before showing a code
    /// at `now`: never unlocked, idle for the timeout or more, or the clock
    /// went back before the last unlock (someone changed it).
    pub fn needs_unlock(&self, now: DateTime<Utc>, policy: &PinPolicy) -> bool {
        match self.last_unlocked_at {
            None => true,
            Some(last) => now < last || (now - last).num_seconds() >= policy.idle_timeout_seconds,
        }
    }

    /// Asks for the PIN again at the next code (the member locked the app).
    pub fn lock_now(&mut self) {
        self.last_unlocked_at = None;
    }

    /// Wrong PINs in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Until when PIN entry is locked, if it is at `now`.
    pub fn locked_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    fn policy() -> PinPolicy {
        // Few iterations: the logic is under test, not PBKDF2's cost.
        PinPolicy {
            iterations: NonZeroU32::new(1_000).unwrap(),
            ..PinPolicy::default()
        }
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn record() -> PinRecord {
        PinRecord::create("480261", &policy(), &SeededRng::new([1; 32]), t0()).unwrap()
    }

    #[test]
    fn the_default_policy_is_the_documented_one() {
        let policy = PinPolicy::default();
        assert_eq!(policy.iterations.get(), 100_000);
        assert_eq!(policy.idle_timeout_seconds, 300);
        assert_eq!(
            (policy.first_lock_seconds, policy.max_lock_seconds),
            (60, 3_600)
        );
    }

    #[test]
    fn only_six_digits_that_are_not_trivial_are_accepted_as_a_new_pin() {
        let rng = SeededRng::new([1; 32]);
        for bad in ["12345", "1234567", "12a456", "", "１２３４５６"] {
            assert!(matches!(
                PinRecord::create(bad, &policy(), &rng, t0()),
                Err(PinError::NotSixDigits)
            ));
        }
        for simple in ["000000", "777777", "123456", "654321", "345678"] {
            assert!(matches!(
                PinRecord::create(simple, &policy(), &rng, t0()),
                Err(PinError::TooSimple)
            ));
        }
        assert!(PinRecord::create("135790", &policy(), &rng, t0()).is_ok());
    }

    #[test]
    fn the_right_pin_opens_and_the_record_holds_no_pin() {
        let mut record = record();
        record.verify("480261", t0(), &policy()).unwrap();
        let json = serde_json::to_string(&record).unwrap();
        assert!(!json.contains("480261"));
        assert!(!format!("{record:?}").contains("hash"));
        // The same PIN with another salt hashes differently.
        let other = PinRecord::create("480261", &policy(), &SeededRng::new([2; 32]), t0()).unwrap();
        assert_ne!(other.hash, record.hash);
    }

    #[test]
    fn five_wrong_pins_lock_with_a_growing_delay() {
        let policy = policy();
        let mut record = record();
        let mut now = t0();
        for left in (1..FREE_ATTEMPTS).rev() {
            match record.verify("000001", now, &policy) {
                Err(PinError::Wrong { attempts_left }) => assert_eq!(attempts_left, left),
                other => panic!("{other:?}"),
            }
        }
        // The fifth locks for a minute.
        let Err(PinError::Locked { until }) = record.verify("000001", now, &policy) else {
            panic!("the fifth wrong PIN must lock");
        };
        assert_eq!(until, now + Duration::seconds(60));
        // While locked even the right PIN is not compared.
        now += Duration::seconds(30);
        assert!(matches!(
            record.verify("480261", now, &policy),
            Err(PinError::Locked { .. })
        ));
        assert_eq!(record.failures(), 5);
        // After the lock, a sixth wrong PIN locks for two minutes, then four.
        now = until;
        let Err(PinError::Locked { until }) = record.verify("000001", now, &policy) else {
            panic!("locks again");
        };
        assert_eq!(until - now, Duration::seconds(120));
        now = until;
        let Err(PinError::Locked { until }) = record.verify("000001", now, &policy) else {
            panic!("locks again");
        };
        assert_eq!(until - now, Duration::seconds(240));
        // Capped at an hour.
        for _ in 0..30 {
            now = record.locked_until(now).unwrap_or(now);
            let _ = record.verify("000001", now, &policy);
        }
        assert_eq!(
            record.locked_until(now).unwrap() - now,
            Duration::seconds(3_600)
        );
        // The right PIN after the lock resets everything.
        now = record.locked_until(now).unwrap();
        record.verify("480261", now, &policy).unwrap();
        assert_eq!(record.failures(), 0);
        assert_eq!(record.locked_until(now), None);
    }

    #[test]
    fn a_typing_error_does_not_count() {
        let mut record = record();
        assert!(matches!(
            record.verify("48026", t0(), &policy()),
            Err(PinError::NotSixDigits)
        ));
        assert_eq!(record.failures(), 0);
    }

    #[test]
    fn the_gate_closes_after_the_idle_time_and_when_the_clock_goes_back() {
        let policy = policy();
        let mut record = record();
        assert!(!record.needs_unlock(t0(), &policy));
        assert!(!record.needs_unlock(t0() + Duration::seconds(299), &policy));
        assert!(record.needs_unlock(t0() + Duration::seconds(300), &policy));
        assert!(record.needs_unlock(t0() - Duration::seconds(1), &policy));
        record.unlock_with_biometric(t0() + Duration::seconds(400));
        assert!(!record.needs_unlock(t0() + Duration::seconds(500), &policy));
        record.lock_now();
        assert!(record.needs_unlock(t0() + Duration::seconds(500), &policy));
    }

    #[test]
    fn a_biometric_does_not_lift_a_pin_lock() {
        let policy = policy();
        let mut record = record();
        for _ in 0..FREE_ATTEMPTS {
            let _ = record.verify("000001", t0(), &policy);
        }
        record.unlock_with_biometric(t0());
        assert!(record.locked_until(t0()).is_some());
        assert!(!record.needs_unlock(t0(), &policy));
    }
}
