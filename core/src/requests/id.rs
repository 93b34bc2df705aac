//! The request id: made on the phone, random, and the request's idempotency
//! key at the backend for its whole life.

use serde::{Deserialize, Serialize};

use super::error::InvalidRequestId;
use crate::rng::{RandomError, Rng};

/// Random bytes in an id: 128 bits, so two phones never collide and an id
/// says nothing about the member or the order of their requests.
pub const REQUEST_ID_BYTES: usize = 16;

/// A request's id: [`REQUEST_ID_BYTES`] random bytes as 32 lowercase hex
/// digits. Made by the phone before anything is sent, so that every upload
/// of the request, however often retried, carries the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id from `rng`.
    pub fn generate(rng: &dyn Rng) -> Result<Self, RandomError> {
        let mut bytes = [0u8; REQUEST_ID_BYTES];
        rng.fill(&mut bytes)?;
        Ok(Self(hex::encode(bytes)))
    }

    /// Reads an id written as 32 hex digits (either case).
    pub fn parse(text: &str) -> Result<Self, InvalidRequestId> {
        if text.len() == 2 * REQUEST_ID_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(InvalidRequestId)
        }
    }

    /// The 32 lowercase hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RequestId {
    type Error = InvalidRequestId;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn ids_are_32_lowercase_hex_digits_and_parse_back() {
        let id = RequestId::generate(&SeededRng::new([1; 32])).unwrap();
        assert_eq!(id.as_str().len(), 32);
        assert!(
            id.as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(
            RequestId::parse(&id.as_str().to_uppercase()),
            Ok(id.clone())
        );
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<RequestId>(&json).unwrap(), id);
        for bad in ["", "00", &"0".repeat(31), &"0".repeat(33), &"z".repeat(32)] {
            assert_eq!(RequestId::parse(bad), Err(InvalidRequestId));
        }
        assert!(serde_json::from_str::<RequestId>("\"123\"").is_err());
    }
}
