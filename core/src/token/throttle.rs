//! Failed redemptions, slowed and finally stopped (RFC 4226 §7.3).
//!
//! The backend keeps one [`Throttle`] per member (counted across all their
//! devices and all providers) and one per provider, persists them (they are
//! serde values), and checks every one that applies before comparing a
//! code. Pure logic: the clock is a parameter.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::derive::add_seconds;

/// Consecutive failures allowed without delay: 5.
pub const FREE_FAILURES: u32 = 5;

/// From the 5th consecutive failure on, the next attempt waits this many
/// seconds times the number of failures (RFC 4226 §7.3's "A × T" with
/// T = 5 s): 25 s after the 5th, 30 s after the 6th, … 495 s after the 99th.
pub const DELAY_PER_FAILURE_SECONDS: i64 = 5;

/// Consecutive failures after which tokens are disabled until someone
/// re-enables them (the member in the app, for the member's throttle).
pub const DISABLE_AFTER_FAILURES: u32 = 100;

/// Why an attempt is refused before its code is even compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Throttled {
    /// Too many wrong codes in a row: wait.
    #[error("too many wrong codes in a row; try again after {retry_after}")]
    Wait {
        /// The first instant at which an attempt is allowed.
        retry_after: DateTime<Utc>,
    },
    /// 100 wrong codes in a row: disabled until re-enabled.
    #[error(
        "tokens are disabled after {limit} wrong codes in a row; the member must re-enable them in the app",
        limit = DISABLE_AFTER_FAILURES
    )]
    Disabled,
}

/// The failure count of one member or one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throttle {
    consecutive_failures: u32,
    last_failure_at: Option<DateTime<Utc>>,
    disabled: bool,
    /// Every failure ever, for monitoring: a success ends a run of
    /// "consecutive" failures, so a slow guesser who waits for the member's
    /// own redemptions never reaches 100; this total still shows them.
    #[serde(default)]
    total_failures: u64,
}

impl Throttle {
    /// No failures.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether an attempt may be made at `now`. Call before comparing the
    /// code: a refused attempt is not compared, and not counted either.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), Throttled> {
        if self.disabled {
            return Err(Throttled::Disabled);
        }
        match self.retry_after() {
            Some(retry_after) if now < retry_after => Err(Throttled::Wait { retry_after }),
            _ => Ok(()),
        }
    }

    /// Records a wrong code at `now`; the 100th in a row disables.
    pub fn record_failure(&mut self, now: DateTime<Utc>) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.total_failures = self.total_failures.saturating_add(1);
        // A clock that stepped back must not shorten the delay.
        self.last_failure_at = Some(match self.last_failure_at {
            Some(last) if last > now => last,
            _ => now,
        });
        if self.consecutive_failures >= DISABLE_AFTER_FAILURES {
            self.disabled = true;
        }
    }

    /// Records an accepted code: the run of failures ends. Does not lift a
    /// disablement (only [`Throttle::re_enable`] does).
    pub fn record_success(&mut self) {
        self.consecutive_failures = 0;
        self.last_failure_at = None;
    }

    /// Lifts a disablement and forgets the run of failures (the member
    /// re-enabled tokens in the app, or an operator did for a provider).
    /// [`Throttle::total_failures`] is kept.
    pub fn re_enable(&mut self) {
        *self = Self {
            total_failures: self.total_failures,
            ..Self::default()
        };
    }

    /// Failures since this throttle was created, never reset: alert on it.
    pub fn total_failures(&self) -> u64 {
        self.total_failures
    }

    /// Whether 100 failures in a row disabled tokens.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Wrong codes since the last success or re-enablement.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }

    /// When the next attempt is allowed, if it must wait (ignores
    /// disablement: see [`Throttle::check`]).
    pub fn retry_after(&self) -> Option<DateTime<Utc>> {
        if self.consecutive_failures < FREE_FAILURES {
            return None;
        }
        let delay = DELAY_PER_FAILURE_SECONDS.saturating_mul(i64::from(self.consecutive_failures));
        self.last_failure_at.map(|last| add_seconds(last, delay))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use chrono::TimeDelta;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_772_443_800 + seconds, 0).unwrap()
    }

    fn failed(times: u32, now: DateTime<Utc>) -> Throttle {
        let mut throttle = Throttle::new();
        for _ in 0..times {
            throttle.record_failure(now);
        }
        throttle
    }

    #[test]
    fn four_failures_cost_nothing() {
        let throttle = failed(4, at(0));
        assert_eq!(throttle.check(at(0)), Ok(()));
        assert_eq!(throttle.retry_after(), None);
    }

    #[test]
    fn the_fifth_failure_imposes_25_seconds_to_the_second() {
        let throttle = failed(5, at(0));
        let retry_after = at(25);
        assert_eq!(throttle.check(at(0)), Err(Throttled::Wait { retry_after }));
        assert_eq!(throttle.check(at(24)), Err(Throttled::Wait { retry_after }));
        assert_eq!(throttle.check(at(25)), Ok(()));
    }

    #[test]
    fn the_delay_grows_by_5_seconds_per_failure() {
        for failures in 5..DISABLE_AFTER_FAILURES {
            let throttle = failed(failures, at(0));
            let delay = 5 * i64::from(failures);
            assert_eq!(throttle.retry_after(), Some(at(delay)));
            assert!(throttle.check(at(delay - 1)).is_err());
            assert!(throttle.check(at(delay)).is_ok());
        }
    }

    #[test]
    fn the_delay_counts_from_the_last_failure() {
        let mut throttle = failed(5, at(0));
        throttle.record_failure(at(25));
        assert_eq!(throttle.retry_after(), Some(at(25 + 30)));
    }

    #[test]
    fn a_clock_stepping_back_does_not_shorten_the_delay() {
        let mut throttle = failed(5, at(100));
        throttle.record_failure(at(0));
        assert_eq!(throttle.retry_after(), Some(at(100 + 30)));
    }

    #[test]
    fn a_success_ends_the_run() {
        let mut throttle = failed(7, at(0));
        throttle.record_success();
        assert_eq!(throttle.consecutive_failures(), 0);
        assert_eq!(throttle.total_failures(), 7);
        assert_eq!(throttle.check(at(0)), Ok(()));
    }

    #[test]
    fn the_hundredth_failure_disables_until_re_enabled() {
        let throttle = failed(99, at(0));
        assert!(!throttle.is_disabled());
        let mut throttle = failed(100, at(0));
        assert!(throttle.is_disabled());
        // No amount of waiting lifts it, nor a success.
        assert_eq!(throttle.check(at(10 * 86_400)), Err(Throttled::Disabled));
        throttle.record_success();
        assert_eq!(throttle.check(at(10 * 86_400)), Err(Throttled::Disabled));
        throttle.re_enable();
        assert_eq!(throttle.check(at(0)), Ok(()));
        assert_eq!(throttle.consecutive_failures(), 0);
        assert_eq!(throttle.total_failures(), 100);
    }

    #[test]
    fn it_survives_persistence() {
        let throttle = failed(6, at(0));
        let json = serde_json::to_string(&throttle).unwrap();
        let back: Throttle = serde_json::from_str(&json).unwrap();
        assert_eq!(back, throttle);
        // The monitoring total may be absent from a stored record.
        let old = r#"{"consecutive_failures":2,"last_failure_at":null,"disabled":false}"#;
        assert_eq!(
            serde_json::from_str::<Throttle>(old)
                .unwrap()
                .total_failures(),
            0
        );
        assert_eq!(
            back.check(at(29)),
            Err(Throttled::Wait {
                retry_after: at(30)
            })
        );
    }

    #[test]
    fn a_hundred_guesses_take_almost_seven_hours() {
        // The fastest an attacker can burn through the 100: each attempt
        // exactly when allowed.
        let mut throttle = Throttle::new();
        let mut now = at(0);
        while !throttle.is_disabled() {
            if let Err(Throttled::Wait { retry_after }) = throttle.check(now) {
                now = retry_after;
            }
            throttle.record_failure(now);
        }
        let elapsed = now - at(0);
        assert_eq!(elapsed, TimeDelta::seconds(24_700));
    }
}
