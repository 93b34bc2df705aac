//! The presentation's layout: its protected header carries the member
//! certificate, and its payload is a CWT claims set (RFC 8392) signed by the
//! device key. Field by field in `docs/formats/credential.md`.
//!
//! Protected header: `{1: -7 (ES256), 13: the certificate}`, where 13 is
//! `kcwt` (RFC 9528 §3.5.3: "a CWT containing a COSE_Key in a 'cnf'
//! claim"), the COSE_Sign1 array itself, not wrapped in a byte string.
//!
//! Claims:
//!
//! | label | claim | value |
//! | --- | --- | --- |
//! | `4` | exp | unix seconds, `iat + 60` |
//! | `6` | iat | unix seconds (the phone's server-corrected time) |
//! | `7` | cti | the nonce: [`NONCE_LEN`] random bytes |
//! | [`PURPOSE_CLAIM`] | purpose | `1` identify, `2` settle |
//!
//! coset writes them in that (deterministic) order; the reader refuses
//! unknown claims, since a new field means a new format version and a new
//! prefix.

use ciborium::Value;
use coset::cwt::{ClaimName, ClaimsSet, ClaimsSetBuilder, Timestamp};
use coset::{AsCborValue, CborSerializable, iana};
use serde::{Deserialize, Serialize};

use super::profile::{self, ProfileError};

/// The private claim for the purpose of the code.
pub const PURPOSE_CLAIM: i64 = -65539;
/// The protected header parameter that carries the insurer-signed member
/// certificate: `kcwt` (13, RFC 9528), whose value is a CWT with a `cnf`
/// claim, which the member certificate is.
pub const CERTIFICATE_HEADER: i64 = iana::HeaderParameter::KeyCwt as i64;
/// How long a code is valid, in seconds (`exp - iat`).
pub const LIFETIME_SECONDS: i64 = 60;
/// Length of the nonce Carnet makes.
pub const NONCE_LEN: usize = 8;
/// Nonce lengths a verifier accepts (8 to 16 bytes).
pub const NONCE_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=16;

/// What a code may be used for. A verifier asks for one; a code made for
/// the other is refused, so that a code shown to identify cannot be used
/// to pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The first scan: who is this member, and are they covered?
    Identify,
    /// The second scan: settle a dispensation.
    Settle,
}

impl Purpose {
    /// Its value in the purpose claim.
    pub fn code(self) -> i64 {
        match self {
            Self::Identify => 1,
            Self::Settle => 2,
        }
    }

    /// The purpose with this claim value.
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::Identify),
            2 => Some(Self::Settle),
            _ => None,
        }
    }

    /// A lower-case name for logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identify => "identify",
            Self::Settle => "settle",
        }
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The claims of one presentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claims {
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) nonce: Vec<u8>,
    pub(crate) purpose: Purpose,
}

/// Writes the claims (coset's fixed order for exp, iat, cti, then the
/// purpose: deterministic order).
pub(crate) fn encode_claims(claims: &Claims) -> Result<Vec<u8>, ProfileError> {
    Ok(ClaimsSetBuilder::new()
        .expiration_time(Timestamp::WholeSeconds(claims.expires_at))
        .issued_at(Timestamp::WholeSeconds(claims.issued_at))
        .cwt_id(claims.nonce.clone())
        .private_claim(PURPOSE_CLAIM, Value::from(claims.purpose.code()))
        .build()
        .to_vec()?)
}

/// Reads the claims: all four, nothing else, deterministically encoded.
pub(crate) fn decode_claims(payload: &[u8]) -> Result<Claims, ProfileError> {
    let malformed = ProfileError::Malformed;
    let claims = ClaimsSet::from_cbor_value(profile::deterministic_value(payload)?)?;
    if claims.issuer.is_some()
        || claims.subject.is_some()
        || claims.audience.is_some()
        || claims.not_before.is_some()
    {
        return Err(malformed("unknown claim"));
    }
    let mut purpose = None;
    for (name, value) in claims.rest {
        match (name, value) {
            (ClaimName::PrivateUse(PURPOSE_CLAIM), Value::Integer(code)) => {
                purpose = Some(
                    i64::try_from(code)
                        .ok()
                        .and_then(Purpose::from_code)
                        .ok_or(malformed("unknown purpose"))?,
                )
            }
            (ClaimName::PrivateUse(PURPOSE_CLAIM), _) => return Err(malformed("unknown purpose")),
            _ => return Err(malformed("unknown claim")),
        }
    }
    let nonce = claims.cwt_id.ok_or(malformed("no nonce"))?;
    if !NONCE_LEN_RANGE.contains(&nonce.len()) {
        return Err(malformed("nonce length"));
    }
    let seconds = |timestamp, missing| match timestamp {
        Some(Timestamp::WholeSeconds(seconds)) => Ok(seconds),
        Some(Timestamp::FractionalSeconds(_)) => Err(malformed("a time is not whole seconds")),
        None => Err(malformed(missing)),
    };
    Ok(Claims {
        expires_at: seconds(claims.expiration_time, "no exp")?,
        issued_at: seconds(claims.issued_at, "no iat")?,
        nonce,
        purpose: purpose.ok_or(malformed("no purpose"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            issued_at: 1_800_000_000,
            expires_at: 1_800_000_060,
            nonce: vec![7; 8],
            purpose: Purpose::Settle,
        }
    }

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    #[test]
    fn claims_round_trip_in_deterministic_order() {
        let bytes = encode_claims(&claims()).unwrap();
        assert_eq!(
            bytes,
            [
                0xa4, 0x04, 0x1a, 0x6b, 0x49, 0xd2, 0x3c, 0x06, 0x1a, 0x6b, 0x49, 0xd2, 0x00, 0x07,
                0x48, 7, 7, 7, 7, 7, 7, 7, 7, 0x3a, 0x00, 0x01, 0x00, 0x02, 0x02
            ]
        );
        assert_eq!(decode_claims(&bytes).unwrap(), claims());
    }

    #[test]
    fn missing_unknown_and_out_of_range_claims_are_refused() {
        let malformed = ProfileError::Malformed;
        let mut short_nonce = claims();
        short_nonce.nonce = vec![1; 7];
        assert_eq!(
            decode_claims(&encode_claims(&short_nonce).unwrap()),
            Err(malformed("nonce length"))
        );
        let mut bytes = encode_claims(&claims()).unwrap();
        // purpose 2 -> 3
        let last = bytes.len() - 1;
        bytes[last] = 0x03;
        assert_eq!(decode_claims(&bytes), Err(malformed("unknown purpose")));
        // A map with only exp.
        assert_eq!(
            decode_claims(&[0xa1, 0x04, 0x00]),
            Err(malformed("no nonce"))
        );
        // Unknown claims: a registered one (iss), an unknown private one.
        assert_eq!(
            decode_claims(&[0xa1, 0x01, 0x61, b'x']),
            Err(malformed("unknown claim"))
        );
        assert_eq!(
            decode_claims(&unhex("a13a0001000401")),
            Err(malformed("unknown claim"))
        );
        // A fractional time.
        assert_eq!(
            decode_claims(&unhex(
                "a406f93c00074800000000000000003a0001000201041a6b49d23c"
            )),
            Err(malformed("map keys out of order or repeated"))
        );
        assert_eq!(
            decode_claims(&unhex(
                "a4041a6b49d23c06f93c00074800000000000000003a0001000201"
            )),
            Err(malformed("a time is not whole seconds"))
        );
    }

    #[test]
    fn purposes_have_stable_codes() {
        for purpose in [Purpose::Identify, Purpose::Settle] {
            assert_eq!(Purpose::from_code(purpose.code()), Some(purpose));
        }
        assert_eq!(Purpose::Identify.code(), 1);
        assert_eq!(Purpose::Settle.code(), 2);
        assert_eq!(Purpose::from_code(0), None);
    }
}
