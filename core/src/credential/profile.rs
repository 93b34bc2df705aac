//! Carnet's COSE profile, on top of coset and ciborium: an ES256
//! COSE_Sign1 (RFC 9052 §4.2, RFC 9053 §2.1) with an empty unprotected
//! header, in deterministically encoded CBOR (RFC 8949 §4.2.1), for both the
//! member certificate and the presentation.
//!
//! coset builds and parses the structures; this module adds only what the
//! verifier wants on top, with the libraries doing every encoding:
//!
//! - **one code, one byte string**: every CBOR layer (the message, its
//!   protected header, its claims) is decoded once with ciborium, with a
//!   nesting limit, and must be exactly the deterministic encoding of what
//!   was decoded: ciborium re-encodes it and the bytes must be the same (so
//!   no longer integer heads, no indefinite lengths, no trailing bytes), and
//!   every map's keys must come in the bytewise order of their encodings;
//! - **the profile**: ES256 only, no `crit` or other header parameter the
//!   caller did not allow, an empty unprotected header, a 64-byte `r ‖ s`
//!   signature;
//! - the conversion of the ASN.1 DER signatures that platform keystores
//!   produce into COSE's raw `r ‖ s`, with the `p256` crate's DER parser.
//!
//! Sizes are bounded by the callers before anything is decoded (the QR text
//! length, [`crate::certificate::MAX_CERTIFICATE_LEN`]).

use ciborium::Value;
use coset::iana;
use coset::{
    AsCborValue, CborSerializable, CoseError, CoseSign1, CoseSign1Builder, Header, Label,
    RegisteredLabelWithPrivate,
};
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

/// Raw ES256 signature: `r ‖ s`, 32 bytes each.
pub(crate) const ES256_SIGNATURE_LEN: usize = 64;

/// Longest key id accepted (Carnet uses 4 bytes, the EU DCC 8).
const MAX_KID_LEN: usize = 32;

/// Nesting accepted in any CBOR layer. Carnet's deepest is 3 (claims, `cnf`,
/// COSE_Key); the limit keeps hostile input from exhausting the stack.
const MAX_DEPTH: usize = 16;

/// Why bytes were refused before any signature was checked. The text names
/// the place, never the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProfileError {
    /// Not well-formed, not deterministic, or not what the profile allows.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// A COSE_Sign1 signed with another algorithm than ES256.
    #[error("the algorithm is not ES256")]
    Algorithm,
}

impl From<CoseError> for ProfileError {
    fn from(error: CoseError) -> Self {
        Self::Malformed(match error {
            CoseError::DecodeFailed(ciborium::de::Error::Io(_)) => "truncated",
            CoseError::DecodeFailed(ciborium::de::Error::RecursionLimitExceeded) => {
                "nested too deeply"
            }
            CoseError::DecodeFailed(_) => "not well-formed CBOR",
            CoseError::DuplicateMapKey => "map keys repeated",
            CoseError::EncodeFailed => "cannot be encoded",
            CoseError::ExtraneousData => "trailing bytes",
            CoseError::OutOfRangeIntegerValue => "integer out of range",
            CoseError::UnexpectedItem(..) => "unexpected item",
            CoseError::UnregisteredIanaValue | CoseError::UnregisteredIanaNonPrivateValue => {
                "unregistered value"
            }
        })
    }
}

/// Decodes `bytes` as exactly one CBOR item that is its own deterministic
/// encoding (see the module documentation).
pub(crate) fn deterministic_value(bytes: &[u8]) -> Result<Value, ProfileError> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|error| {
            ProfileError::Malformed(match error {
                ciborium::de::Error::Io(_) => "truncated",
                ciborium::de::Error::RecursionLimitExceeded => "nested too deeply",
                _ => "not well-formed CBOR",
            })
        })?;
    if !rest.is_empty() {
        return Err(ProfileError::Malformed("trailing bytes"));
    }
    if encode(&value)? != bytes {
        return Err(ProfileError::Malformed("not deterministic CBOR"));
    }
    if !keys_in_order(&value) {
        return Err(ProfileError::Malformed("map keys out of order or repeated"));
    }
    Ok(value)
}

/// ciborium's encoding of `value` (shortest heads, definite lengths, map
/// entries in the order given).
pub(crate) fn encode(value: &Value) -> Result<Vec<u8>, ProfileError> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out)
        .map_err(|_| ProfileError::Malformed("cannot be encoded"))?;
    Ok(out)
}

/// Whether every map in `value` has its keys in strictly ascending bytewise
/// order of their encodings (RFC 8949 §4.2.1), which also rules out
/// repeated keys.
fn keys_in_order(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().all(keys_in_order),
        Value::Tag(_, inner) => keys_in_order(inner),
        Value::Map(entries) => {
            let mut previous: Option<Vec<u8>> = None;
            for (key, item) in entries {
                let Ok(encoded) = encode(key) else {
                    return false;
                };
                if previous.as_ref().is_some_and(|before| *before >= encoded)
                    || !keys_in_order(key)
                    || !keys_in_order(item)
                {
                    return false;
                }
                previous = Some(encoded);
            }
            true
        }
        _ => true,
    }
}

/// What a protected header may hold besides `alg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protected {
    /// The member certificate: `alg` and a `kid`.
    KeyId,
    /// The presentation: `alg` and this one more parameter (the embedded
    /// certificate, `kcwt`).
    Parameter(i64),
}

/// Decodes `bytes` as a whole ES256 COSE_Sign1 under the profile. Tag 18
/// is accepted in front (off-the-shelf libraries often add it).
pub(crate) fn decode_sign1(bytes: &[u8], protected: Protected) -> Result<CoseSign1, ProfileError> {
    sign1_from_value(deterministic_value(bytes)?, protected)
}

/// The same, for a COSE_Sign1 already decoded as part of a larger,
/// deterministically encoded item.
pub(crate) fn sign1_from_value(
    value: Value,
    protected: Protected,
) -> Result<CoseSign1, ProfileError> {
    let value = match value {
        Value::Tag(tag, inner) if tag == iana::CborTag::CoseSign1 as u64 => *inner,
        Value::Tag(..) => return Err(ProfileError::Malformed("unexpected tag")),
        value => value,
    };
    // The protected header is a byte string inside the message: it is its
    // own CBOR layer, checked (with the nesting limit) before coset reads it.
    if let Value::Array(items) = &value
        && let Some(Value::Bytes(header)) = items.first()
    {
        deterministic_value(header)?;
    }
    let sign1 = CoseSign1::from_cbor_value(value)?;
    check_protected(&sign1.protected.header, protected)?;
    if !sign1.unprotected.is_empty() {
        return Err(ProfileError::Malformed(
            "the unprotected header must be empty",
        ));
    }
    if sign1.payload.is_none() {
        return Err(ProfileError::Malformed("no payload"));
    }
    if sign1.signature.len() != ES256_SIGNATURE_LEN {
        return Err(ProfileError::Malformed("an ES256 signature is 64 bytes"));
    }
    Ok(sign1)
}

/// `alg` must be ES256; a `kid` or one other parameter as the caller allows;
/// anything else is refused (a `crit` we do not understand must fail, and
/// nothing else is expected).
fn check_protected(header: &Header, allowed: Protected) -> Result<(), ProfileError> {
    match &header.alg {
        Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) => {}
        Some(_) => return Err(ProfileError::Algorithm),
        None => {
            return Err(ProfileError::Malformed(
                "no algorithm in the protected header",
            ));
        }
    }
    let unexpected = || ProfileError::Malformed("unknown protected header parameter");
    if !header.crit.is_empty()
        || header.content_type.is_some()
        || !header.iv.is_empty()
        || !header.partial_iv.is_empty()
        || !header.counter_signatures.is_empty()
    {
        return Err(unexpected());
    }
    match allowed {
        Protected::KeyId => {
            if !header.rest.is_empty() {
                return Err(unexpected());
            }
            if header.key_id.len() > MAX_KID_LEN {
                return Err(ProfileError::Malformed("key id length"));
            }
        }
        Protected::Parameter(label) => {
            if !header.key_id.is_empty()
                || header
                    .rest
                    .iter()
                    .any(|(found, _)| *found != Label::Int(label))
            {
                return Err(unexpected());
            }
        }
    }
    Ok(())
}

/// The value of parameter `label` in a checked protected header.
pub(crate) fn protected_parameter(sign1: &CoseSign1, label: i64) -> Option<&Value> {
    sign1
        .protected
        .header
        .rest
        .iter()
        .find(|(found, _)| *found == Label::Int(label))
        .map(|(_, value)| value)
}

/// A header builder that starts with `alg`: ES256 (`{1: -7}`).
pub(crate) fn es256_header() -> coset::HeaderBuilder {
    coset::HeaderBuilder::new().algorithm(iana::Algorithm::ES256)
}

/// Signs `payload` under `protected` with ES256: `sign` gets the
/// `Sig_structure` bytes (RFC 9052 §4.4, no external AAD) and returns the
/// raw signature.
pub(crate) fn sign1<E>(
    protected: Header,
    payload: Vec<u8>,
    sign: impl FnOnce(&[u8]) -> Result<[u8; ES256_SIGNATURE_LEN], E>,
) -> Result<CoseSign1, E> {
    Ok(CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .try_create_signature(&[], |tbs| sign(tbs).map(Vec::from))?
        .build())
}

/// Whether the ES256 signature of `sign1` verifies with `public_key` (SEC1
/// uncompressed).
pub(crate) fn es256_verifies(sign1: &CoseSign1, public_key: &[u8]) -> bool {
    sign1
        .verify_signature(&[], |signature, tbs| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key).verify(tbs, signature)
        })
        .is_ok()
}

/// The untagged encoding of `sign1`.
pub(crate) fn to_bytes(sign1: CoseSign1) -> Result<Vec<u8>, ProfileError> {
    Ok(sign1.to_vec()?)
}

/// Converts an ASN.1 DER ECDSA P-256 signature (what Android Keystore, the
/// Secure Enclave and ring's `*_ASN1` algorithms produce) to the raw
/// fixed-width `r ‖ s` of COSE, using the `ecdsa` crate's DER parser.
pub(crate) fn der_to_raw(der: &[u8]) -> Option<[u8; ES256_SIGNATURE_LEN]> {
    let signature = p256::ecdsa::Signature::from_der(der).ok()?;
    let bytes = signature.to_bytes();
    let raw: &[u8] = &bytes;
    raw.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    #[test]
    fn der_signatures_become_raw_signatures_that_verify() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        // Many signatures, so that short r and s (leading zero bytes dropped
        // in DER) and high bits (a leading 0x00 added in DER) both occur.
        for i in 0..200u32 {
            let message = i.to_be_bytes();
            let der = key.sign(&rng, &message).unwrap();
            let raw = der_to_raw(der.as_ref()).unwrap();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref())
                .verify(&message, &raw)
                .unwrap();
        }
    }

    #[test]
    fn malformed_der_is_refused() {
        assert_eq!(der_to_raw(&[]), None);
        assert_eq!(der_to_raw(&[0x30, 0x00]), None);
        assert_eq!(der_to_raw(&[0u8; 64]), None);
        // r = 0 is not a valid scalar.
        assert_eq!(
            der_to_raw(&[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01]),
            None
        );
    }

    #[test]
    fn only_the_deterministic_encoding_is_accepted() {
        // {1: -7, 4: h'01'}, and spellings of it or its parts that RFC 8949
        // allows but §4.2.1 does not.
        assert!(deterministic_value(&unhex("a20126044101")).is_ok());
        for bad in [
            "a20441010126",   // keys out of order
            "a201260126",     // a key repeated
            "a2180126044101", // a key in a longer head than needed
            "bf0126044101ff", // an indefinite-length map
            "a1015f4101ff",   // an indefinite-length byte string
            "a1012600",       // a trailing byte
            "a101260441",     // truncated
            "1a00000001",     // an integer in a longer head than needed
            "fa7fc00000",     // NaN as a single where a half suffices
        ] {
            assert!(
                deterministic_value(&unhex(bad)).is_err(),
                "{bad} was accepted"
            );
        }
        let mut deep = vec![0x81; 100];
        deep.push(0x00);
        assert_eq!(
            deterministic_value(&deep),
            Err(ProfileError::Malformed("nested too deeply"))
        );
        // A huge declared length is refused without allocating it.
        assert_eq!(
            deterministic_value(&unhex("5b7fffffffffffffff")),
            Err(ProfileError::Malformed("truncated"))
        );
    }

    fn signed(protected: Header, payload: &[u8]) -> Vec<u8> {
        to_bytes(
            sign1(protected, payload.to_vec(), |_| {
                Ok::<_, ProfileError>([9u8; ES256_SIGNATURE_LEN])
            })
            .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_sign1_round_trips_and_its_profile_is_enforced() {
        let message = signed(es256_header().key_id(vec![1, 2, 3, 4]).build(), b"payload");
        assert_eq!(
            &message[..13],
            [
                0x84, 0x49, 0xa2, 0x01, 0x26, 0x04, 0x44, 1, 2, 3, 4, 0xa0, 0x47
            ]
        );
        let parsed = decode_sign1(&message, Protected::KeyId).unwrap();
        assert_eq!(parsed.protected.header.key_id, [1, 2, 3, 4]);
        assert_eq!(parsed.payload.as_deref(), Some(&b"payload"[..]));
        assert_eq!(parsed.signature, [9u8; 64]);
        // Tag 18 is accepted, other tags and trailing bytes are not.
        let mut tagged = vec![0xd2];
        tagged.extend_from_slice(&message);
        assert_eq!(decode_sign1(&tagged, Protected::KeyId).unwrap(), parsed);
        let mut wrong_tag = message.clone();
        wrong_tag.insert(0, 0xd3);
        assert!(decode_sign1(&wrong_tag, Protected::KeyId).is_err());
        let mut trailing = message.clone();
        trailing.push(0);
        assert_eq!(
            decode_sign1(&trailing, Protected::KeyId),
            Err(ProfileError::Malformed("trailing bytes"))
        );
        // Another algorithm.
        let es384 = coset::HeaderBuilder::new()
            .algorithm(iana::Algorithm::ES384)
            .build();
        assert_eq!(
            decode_sign1(&signed(es384, b"p"), Protected::KeyId),
            Err(ProfileError::Algorithm)
        );
        // A kid where none is allowed, an unknown parameter, a crit.
        let with_kid = es256_header().key_id(vec![1]).build();
        assert!(decode_sign1(&signed(with_kid, b"p"), Protected::Parameter(13)).is_err());
        let other = es256_header().value(14, Value::from(1)).build();
        assert!(decode_sign1(&signed(other.clone(), b"p"), Protected::Parameter(13)).is_err());
        assert!(decode_sign1(&signed(other, b"p"), Protected::KeyId).is_err());
        let crit = es256_header()
            .add_critical(iana::HeaderParameter::Kid)
            .build();
        assert!(decode_sign1(&signed(crit, b"p"), Protected::KeyId).is_err());
        let allowed = es256_header().value(13, Value::from(1)).build();
        assert!(decode_sign1(&signed(allowed, b"p"), Protected::Parameter(13)).is_ok());
    }

    #[test]
    fn short_signatures_unprotected_content_and_loose_headers_are_refused() {
        let message = signed(es256_header().build(), b"p");
        let mut value = deterministic_value(&message).unwrap();
        let Value::Array(items) = &mut value else {
            panic!("not an array")
        };
        // A 63-byte signature.
        let mut short = items.clone();
        short[3] = Value::Bytes(vec![0; 63]);
        assert!(sign1_from_value(Value::Array(short), Protected::KeyId).is_err());
        // Anything in the unprotected header.
        let mut unprotected = items.clone();
        unprotected[1] = Value::Map(vec![(Value::from(4), Value::Bytes(vec![1]))]);
        assert_eq!(
            sign1_from_value(Value::Array(unprotected), Protected::KeyId),
            Err(ProfileError::Malformed(
                "the unprotected header must be empty"
            ))
        );
        // A protected header whose own encoding is not deterministic.
        let mut loose = items.clone();
        loose[0] = Value::Bytes(vec![0xa1, 0x01, 0x38, 0x06]);
        assert!(sign1_from_value(Value::Array(loose), Protected::KeyId).is_err());
        // No payload (detached).
        let mut detached = items.clone();
        detached[2] = Value::Null;
        assert!(sign1_from_value(Value::Array(detached), Protected::KeyId).is_err());
    }

    #[test]
    fn the_sig_structure_is_rfc_9052s() {
        let mut seen = Vec::new();
        sign1(es256_header().build(), vec![0xa0], |tbs| {
            seen = tbs.to_vec();
            Ok::<_, ProfileError>([0; ES256_SIGNATURE_LEN])
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                0x84, 0x6a, b'S', b'i', b'g', b'n', b'a', b't', b'u', b'r', b'e', b'1', 0x43, 0xa1,
                0x01, 0x26, 0x40, 0x41, 0xa0
            ]
        );
    }
}
