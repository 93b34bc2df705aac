//! Exponential backoff with full jitter.
//!
//! The wait before retry number `attempt` (0 for the first retry) is drawn
//! uniformly from `[0, min(cap, base · 2^attempt)]` ("full jitter", as in
//! the AWS architecture blog's comparison): thousands of phones that lost
//! the network together (a lift, a tunnel, an outage at the insurer) do not
//! come back in lockstep, and the expected wait is half of the plain
//! exponential one. A `Retry-After` from the server is a floor: never
//! retry earlier than asked. Every wait is capped, so a sync never sleeps
//! longer than `cap` in one go; a server that asks for more than that ends
//! the sync instead (see the retry loop), for the platform scheduler to
//! come back later.

use std::time::Duration;

use crate::rng::{RandomError, Rng};

/// Backoff parameters. Defaults: 500 ms base, 30 s cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait; doubles with each attempt.
    pub base: Duration,
    /// No single wait is longer.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        // 500 ms: a blip (a Wi-Fi to mobile handover) is retried almost at
        // once. With the default 6 attempts (5 waits, ceilings 0.5, 1, 2, 4
        // and 8 s) a sync with no network waits about 8 s in all on average
        // and 15.5 s at most, plus the calls' own timeouts: short enough
        // for a pull-to-refresh, and WorkManager or BGTaskScheduler takes
        // over with its own, longer backoff. 30 s bounds any single wait,
        // a `Retry-After` floor included, for larger attempt budgets.
        Self {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The ceiling of the wait before retry `attempt` (0-based):
    /// `min(cap, base · 2^attempt)`, without overflow for any attempt.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The wait before retry `attempt` (0-based): uniform in
    /// `[0, ceiling(attempt)]` at millisecond resolution, raised to
    /// `retry_after` if the server asked for longer, and capped at `cap`.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &dyn Rng,
    ) -> Result<Duration, RandomError> {
        let ceiling_ms = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        let mut bytes = [0u8; 8];
        rng.fill(&mut bytes)?;
        let draw = u64::from_be_bytes(bytes);
        // Multiply-high maps the 64-bit draw onto [0, ceiling_ms] without
        // the bias of `%` (negligible here anyway) and without overflow.
        let span = u128::from(ceiling_ms) + 1;
        let jitter_ms = u64::try_from((u128::from(draw) * span) >> 64).unwrap_or(ceiling_ms);
        let jitter = Duration::from_millis(jitter_ms);
        Ok(jitter.max(retry_after.unwrap_or_default()).min(self.cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    const MS: Duration = Duration::from_millis(1);

    fn backoff() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(3),
        }
    }

    /// A source that always gives the same byte: all zeros gives the
    /// lowest wait, all ones the highest.
    struct Constant(u8);

    impl Rng for Constant {
        fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
            dest.fill(self.0);
            Ok(())
        }
    }

    struct Broken;

    impl Rng for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<(), RandomError> {
            Err(RandomError)
        }
    }

    #[test]
    fn the_ceiling_doubles_then_stops_at_the_cap() {
        let b = backoff();
        let ceilings: Vec<u128> = (0..8).map(|a| b.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3000, 3000, 3000]);
        // No overflow however many attempts.
        assert_eq!(b.ceiling(40), b.cap);
        assert_eq!(b.ceiling(u32::MAX), b.cap);
        let huge = Backoff {
            base: Duration::MAX,
            cap: Duration::MAX,
        };
        assert_eq!(huge.ceiling(3), Duration::MAX);
    }

    #[test]
    fn delays_stay_within_zero_and_the_ceiling() {
        let b = backoff();
        assert_eq!(b.delay(0, None, &Constant(0)).unwrap(), Duration::ZERO);
        assert_eq!(b.delay(0, None, &Constant(0xff)).unwrap(), 100 * MS);
        assert_eq!(b.delay(3, None, &Constant(0xff)).unwrap(), 800 * MS);
        assert_eq!(b.delay(9, None, &Constant(0xff)).unwrap(), b.cap);
        let rng = SeededRng::new([7; 32]);
        for attempt in 0..10 {
            for _ in 0..200 {
                let delay = b.delay(attempt, None, &rng).unwrap();
                assert!(delay <= b.ceiling(attempt), "{attempt}: {delay:?}");
            }
        }
    }

    #[test]
    fn jitter_spreads_the_waits_and_a_seed_reproduces_them() {
        let b = backoff();
        let draws = |seed| {
            let rng = SeededRng::new([seed; 32]);
            (0..400)
                .map(|_| b.delay(4, None, &rng).unwrap())
                .collect::<Vec<_>>()
        };
        let first = draws(1);
        assert_eq!(first, draws(1), "the same seed gives the same waits");
        assert_ne!(first, draws(2));
        // Full jitter: waits cover the whole range [0, 1600 ms], not just
        // its top; each quarter gets a fair share of 400 draws.
        let ceiling = b.ceiling(4);
        for quarter in 0..4u32 {
            let low = ceiling * quarter / 4;
            let high = ceiling * (quarter + 1) / 4;
            let count = first.iter().filter(|d| **d >= low && **d <= high).count();
            assert!((60..=140).contains(&count), "quarter {quarter}: {count}");
        }
        let mean = first.iter().sum::<Duration>() / 400;
        assert!(mean > 650 * MS && mean < 950 * MS, "{mean:?}");
    }

    #[test]
    fn retry_after_is_a_floor_and_the_cap_still_holds() {
        let b = backoff();
        let floor = Some(Duration::from_secs(2));
        // The jitter would have given 0 or 100 ms: the server said 2 s.
        assert_eq!(b.delay(0, floor, &Constant(0)).unwrap(), 2000 * MS);
        assert_eq!(b.delay(0, floor, &Constant(0xff)).unwrap(), 2000 * MS);
        // A jitter above the floor is kept.
        assert_eq!(
            b.delay(5, Some(Duration::from_secs(1)), &Constant(0xff))
                .unwrap(),
            3000 * MS
        );
        // A floor above the cap is cut to the cap (the retry loop decides
        // whether to wait at all).
        assert_eq!(
            b.delay(0, Some(Duration::from_secs(60)), &Constant(0))
                .unwrap(),
            b.cap
        );
    }

    #[test]
    fn a_failing_random_source_is_an_error_not_a_zero_wait() {
        assert!(backoff().delay(0, None, &Broken).is_err());
    }
}
