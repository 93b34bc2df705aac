//! Online tokens: six uniformly random digits that the backend draws and
//! records, valid 12 hours from issue.

use chrono::{DateTime, Utc};

use super::LIFETIME_SECONDS;
use super::derive::{add_seconds, code_string, digits};
use super::error::TokenError;
use crate::rng::Rng;

/// The largest multiple of 10^6 not above 2^32: a 32-bit draw below it,
/// taken modulo 10^6, is uniform; a draw at or above it is thrown away.
const UNBIASED_LIMIT: u32 = 4_294_000_000;

/// Draws before giving up. A healthy source is rejected with probability
/// 2.25e-4 per draw, so 32 rejections in a row mean a broken source (one
/// stuck at 0xFF…), not bad luck (probability about 10^-117).
const MAX_DRAWS: usize = 32;

/// Six uniformly random digits for an online token, by rejection sampling
/// (no modulo bias).
pub fn random_code(rng: &dyn Rng) -> Result<String, TokenError> {
    for _ in 0..MAX_DRAWS {
        let mut bytes = [0u8; 4];
        rng.fill(&mut bytes)?;
        let draw = u32::from_be_bytes(bytes);
        if draw < UNBIASED_LIMIT {
            return Ok(code_string(digits(draw % 1_000_000)));
        }
    }
    Err(TokenError::Random)
}

/// When an online token issued at `issued_at` stops being valid: 12 hours
/// later. Valid while `now < expires_at`.
pub fn online_expires_at(issued_at: DateTime<Utc>) -> DateTime<Utc> {
    add_seconds(issued_at, LIFETIME_SECONDS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::rng::{RandomError, SeededRng};
    use parking_lot::Mutex;

    /// A source that replays fixed 32-bit draws, big-endian.
    struct Replay(Mutex<Vec<u32>>);

    impl Rng for Replay {
        fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
            let mut draws = self.0.lock();
            if draws.is_empty() {
                return Err(RandomError);
            }
            let draw = draws.remove(0);
            dest.copy_from_slice(&draw.to_be_bytes());
            Ok(())
        }
    }

    #[test]
    fn limit_is_the_largest_multiple_of_a_million_in_32_bits() {
        assert_eq!(u64::from(UNBIASED_LIMIT) % 1_000_000, 0);
        assert!(u64::from(UNBIASED_LIMIT) + 1_000_000 > 1u64 << 32);
    }

    #[test]
    fn draws_above_the_limit_are_rejected_not_folded() {
        // 4_294_000_000 would fold to 000000; it must be skipped.
        let rng = Replay(Mutex::new(vec![UNBIASED_LIMIT, u32::MAX, 1_234_567]));
        assert_eq!(random_code(&rng).unwrap(), "234567");
        let rng = Replay(Mutex::new(vec![UNBIASED_LIMIT - 1]));
        assert_eq!(random_code(&rng).unwrap(), "999999");
        let rng = Replay(Mutex::new(vec![7]));
        assert_eq!(random_code(&rng).unwrap(), "000007");
    }

    #[test]
    fn a_stuck_or_failing_source_is_an_error_not_a_loop() {
        let rng = Replay(Mutex::new(vec![u32::MAX; MAX_DRAWS]));
        assert!(matches!(random_code(&rng), Err(TokenError::Random)));
        let rng = Replay(Mutex::new(vec![]));
        assert!(matches!(random_code(&rng), Err(TokenError::Random)));
    }

    #[test]
    fn digits_are_roughly_uniform() {
        // 60,000 codes, 360,000 digits: each digit value 36,000 ± a few
        // hundred. A modulo bias would not show at this size, but a broken
        // mapping (a digit never or always drawn) would.
        let rng = SeededRng::new([3; 32]);
        let mut counts = [0usize; 10];
        for _ in 0..60_000 {
            for byte in random_code(&rng).unwrap().bytes() {
                if let Some(count) = counts.get_mut(usize::from(byte - b'0')) {
                    *count += 1;
                }
            }
        }
        for count in counts {
            assert!((35_000..37_000).contains(&count), "{counts:?}");
        }
    }

    #[test]
    fn online_validity_is_exactly_twelve_hours() {
        let issued = DateTime::from_timestamp(1_772_443_800, 0).unwrap();
        assert_eq!(
            online_expires_at(issued),
            DateTime::from_timestamp(1_772_443_800 + 43_200, 0).unwrap()
        );
    }
}
