//! The per-device secret from which offline tokens are derived.

use ring::hmac;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::TokenError;
use crate::rng::{RandomError, Rng};

/// Bytes in a [`TokenSecret`]: 32, the output size of SHA-256, which RFC
/// 2104 recommends as the minimum HMAC key length for it.
pub const SECRET_LEN: usize = 32;

/// The secret a device shares with the insurer, agreed at enrolment; the
/// phone keeps it in the vault and the backend beside the device record.
///
/// The bytes are wiped when the value is dropped and never printed: its
/// `Debug` shows only the length. Note that ring's HMAC key schedule, built
/// for each derivation or window search, does not wipe itself; it lives
/// only for the duration of that call.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TokenSecret {
    bytes: [u8; SECRET_LEN],
}

impl TokenSecret {
    /// A secret from its 32 bytes (as stored in the vault or the backend).
    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        Self { bytes }
    }

    /// A secret from a slice, which must hold exactly [`SECRET_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, TokenError> {
        let bytes = <[u8; SECRET_LEN]>::try_from(bytes)
            .map_err(|_| TokenError::InvalidSecretLength { found: bytes.len() })?;
        Ok(Self { bytes })
    }

    /// A fresh random secret, for enrolment (made on the backend or on the
    /// phone, whichever side the enrolment protocol chooses).
    pub fn generate(rng: &dyn Rng) -> Result<Self, RandomError> {
        let mut secret = Self {
            bytes: [0; SECRET_LEN],
        };
        rng.fill(&mut secret.bytes)?;
        Ok(secret)
    }

    /// The raw bytes, to store them (vault, backend database). The name is
    /// long on purpose: every call site is a place where the secret leaves
    /// this type.
    pub fn expose_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.bytes
    }

    /// The HMAC-SHA-256 key; built once per call so that a window search
    /// pays the key schedule once, not per candidate.
    pub(crate) fn hmac_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.bytes)
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSecret({SECRET_LEN} bytes, redacted)")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn debug_does_not_show_the_bytes() {
        let secret = TokenSecret::from_bytes([0xab; SECRET_LEN]);
        let shown = format!("{secret:?}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        assert!(!shown.contains("171"), "{shown}");
    }

    #[test]
    fn from_slice_refuses_a_wrong_length() {
        assert!(TokenSecret::from_slice(&[0; SECRET_LEN]).is_ok());
        let err = TokenSecret::from_slice(&[0; 16]).unwrap_err();
        assert!(matches!(err, TokenError::InvalidSecretLength { found: 16 }));
        assert!(err.to_string().contains("16"));
    }

    #[test]
    fn generate_uses_the_given_source() {
        let a = TokenSecret::generate(&SeededRng::new([1; 32])).unwrap();
        let b = TokenSecret::generate(&SeededRng::new([1; 32])).unwrap();
        let c = TokenSecret::generate(&SeededRng::new([2; 32])).unwrap();
        assert_eq!(a.expose_bytes(), b.expose_bytes());
        assert_ne!(a.expose_bytes(), c.expose_bytes());
    }

    #[test]
    fn zeroize_wipes_the_bytes() {
        let mut secret = TokenSecret::from_bytes([7; SECRET_LEN]);
        secret.zeroize();
        assert_eq!(secret.expose_bytes(), &[0; SECRET_LEN]);
    }
}
