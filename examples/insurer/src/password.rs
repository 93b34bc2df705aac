//! Password hashing: PBKDF2-HMAC-SHA256, 600,000 iterations (OWASP's figure
//! for SHA-256), a 16-byte random salt per member, constant-time checks.

use std::num::NonZeroU32;

use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

use crate::store::PasswordHash;

/// PBKDF2 iterations for new hashes.
pub(crate) const ITERATIONS: u32 = 600_000;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
static ALGORITHM: pbkdf2::Algorithm = pbkdf2::PBKDF2_HMAC_SHA256;

/// Hashes `password` with a fresh salt; `None` if the system has no randomness.
pub(crate) fn hash(password: &str, rng: &SystemRandom) -> Option<PasswordHash> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill(&mut salt).ok()?;
    let iterations = NonZeroU32::new(ITERATIONS)?;
    let mut out = [0u8; HASH_LEN];
    pbkdf2::derive(ALGORITHM, iterations, &salt, password.as_bytes(), &mut out);
    Some(PasswordHash {
        iterations: ITERATIONS,
        salt: hex::encode(salt),
        hash: hex::encode(out),
    })
}

/// Whether `password` matches `stored` (constant time in the password).
pub(crate) fn verify(password: &str, stored: &PasswordHash) -> bool {
    let (Ok(salt), Ok(expected), Some(iterations)) = (
        hex::decode(&stored.salt),
        hex::decode(&stored.hash),
        NonZeroU32::new(stored.iterations),
    ) else {
        return false;
    };
    pbkdf2::verify(ALGORITHM, iterations, &salt, password.as_bytes(), &expected).is_ok()
}

/// Spends the same time as [`verify`] and fails: for unknown usernames, so
/// that timing does not tell which usernames exist.
pub(crate) fn verify_dummy(password: &str) -> bool {
    let dummy = PasswordHash {
        iterations: ITERATIONS,
        salt: hex::encode([0x5a; SALT_LEN]),
        hash: hex::encode([0u8; HASH_LEN]),
    };
    std::hint::black_box(verify(password, &dummy));
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_only_its_password_and_salts_differ() {
        let rng = SystemRandom::new();
        let first = hash("Clave2024", &rng).unwrap();
        let second = hash("Clave2024", &rng).unwrap();
        assert_ne!(first.salt, second.salt);
        assert_eq!(first.iterations, 600_000);
        assert!(verify("Clave2024", &first));
        assert!(!verify("Clave2025", &first));
        assert!(!verify_dummy("Clave2024"));
        let broken = PasswordHash {
            iterations: 0,
            salt: "zz".into(),
            hash: String::new(),
        };
        assert!(!verify("Clave2024", &broken));
    }
}
