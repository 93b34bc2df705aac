//! The member certificate: a COSE_Sign1 (RFC 9052) whose payload is a CWT
//! claims set (RFC 8392), signed by the insurer with ES256. It binds a
//! pseudonymous member id and the coverage to one device's P-256 key, carried
//! as the proof-of-possession `cnf` claim (RFC 8747). The backend issues it
//! at enrolment; the core keeps it in the vault; a verifier needs only the
//! insurer's published key (JWKS).
//!
//! Claims: `1 iss`, `2 sub` (member id), `4 exp`, `6 iat`, `7 cti` (device
//! id), `8 cnf` (`{1: COSE_Key}`), and the private claim [`COVERAGE_CLAIM`]
//! (`{1: plan, 2: region, 3: valid-until "YYYY-MM-DD"}`).

use ciborium::value::Value;
use coset::cwt::{ClaimsSet, ClaimsSetBuilder, Timestamp};
use coset::{
    AsCborValue, CborSerializable, CoseKey, CoseKeyBuilder, CoseSign1, CoseSign1Builder,
    HeaderBuilder, Label, TaggedCborSerializable, iana,
};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use zeroize::Zeroizing;

use crate::model::{Coverage, Jwk, JwkSet, b64};

/// The private CWT claim that carries the coverage.
pub const COVERAGE_CLAIM: i64 = -65537;

/// Length of an uncompressed SEC1 P-256 public key.
pub const P256_PUBLIC_KEY_LEN: usize = 65;

/// What the insurer certifies about one member on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberCertificate {
    /// The insurer's identifier (`iss`).
    pub issuer: String,
    /// Pseudonymous member id (`sub`).
    pub member_id: String,
    /// The enrolled device's id (`cti`), the handle for revocation.
    pub device_id: String,
    /// The device's P-256 public key, SEC1 uncompressed (`cnf`).
    pub device_public_key: Vec<u8>,
    /// Coverage at issue time.
    pub coverage: Coverage,
    /// Unix seconds (`iat`).
    pub issued_at: i64,
    /// Unix seconds (`exp`).
    pub expires_at: i64,
}

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Not a COSE_Sign1 carrying our claims.
    #[error("the certificate is malformed: {0}")]
    Malformed(&'static str),
    /// Signed with an algorithm other than ES256.
    #[error("the certificate uses an unsupported algorithm")]
    UnsupportedAlgorithm,
    /// Its `kid` is not in the trust list.
    #[error("the certificate was signed by a key that is not trusted (kid {kid})")]
    UnknownKey {
        /// The key id the certificate names.
        kid: String,
    },
    /// The signature does not verify.
    #[error("the certificate's signature is not valid")]
    BadSignature,
    /// Past its `exp`.
    #[error("the certificate expired")]
    Expired,
    /// The insurer key could not be used.
    #[error("the insurer key is not usable")]
    BadKey,
}

/// The insurer's ES256 signing key.
pub struct InsurerKey {
    kid: String,
    key_pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for InsurerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsurerKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl InsurerKey {
    /// Makes a new key; returns it with its PKCS#8 document for storage.
    pub fn generate() -> Result<(Self, Zeroizing<Vec<u8>>), CertificateError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| CertificateError::BadKey)?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        Ok((Self::from_pkcs8(&pkcs8)?, pkcs8))
    }

    /// Loads a key from its PKCS#8 document.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, CertificateError> {
        let rng = SystemRandom::new();
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|_| CertificateError::BadKey)?;
        let kid = key_id(key_pair.public_key().as_ref());
        Ok(Self { kid, key_pair, rng })
    }

    /// The key id, as in the COSE header and the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key, SEC1 uncompressed.
    pub fn public_key(&self) -> &[u8] {
        self.key_pair.public_key().as_ref()
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Jwk {
        jwk_from_sec1(&self.kid, self.public_key())
    }

    /// Signs `certificate`: the COSE_Sign1 bytes (CBOR tag 18).
    pub fn issue(&self, certificate: &MemberCertificate) -> Result<Vec<u8>, CertificateError> {
        let payload = claims_of(certificate)?
            .to_vec()
            .map_err(|_| CertificateError::Malformed("claims do not encode"))?;
        let protected = HeaderBuilder::new()
            .algorithm(iana::Algorithm::ES256)
            .key_id(self.kid.as_bytes().to_vec())
            .build();
        let sign1 = CoseSign1Builder::new()
            .protected(protected)
            .payload(payload)
            .try_create_signature(b"", |to_be_signed| {
                self.key_pair
                    .sign(&self.rng, to_be_signed)
                    .map(|signature| signature.as_ref().to_vec())
                    .map_err(|_| CertificateError::BadKey)
            })?
            .build();
        sign1
            .to_tagged_vec()
            .map_err(|_| CertificateError::Malformed("envelope does not encode"))
    }
}

/// The key id of a P-256 public key: base64url of the first 8 bytes of the
/// SHA-256 of its SEC1 encoding.
pub fn key_id(public_key_sec1: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, public_key_sec1);
    b64::encode(&digest.as_ref()[..8])
}

fn jwk_from_sec1(kid: &str, sec1: &[u8]) -> Jwk {
    let (x, y) = if sec1.len() == P256_PUBLIC_KEY_LEN {
        (&sec1[1..33], &sec1[33..65])
    } else {
        (&[][..], &[][..])
    };
    Jwk {
        kty: "EC".into(),
        crv: "P-256".into(),
        kid: kid.into(),
        alg: "ES256".into(),
        use_: "sig".into(),
        x: b64::encode(x),
        y: b64::encode(y),
    }
}

/// The insurer keys a verifier trusts, by kid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustList {
    keys: Vec<(String, Vec<u8>)>,
}

impl TrustList {
    /// A trust list from published JWKs; keys that are not EC P-256 are skipped.
    pub fn from_jwks(set: &JwkSet) -> Self {
        let keys = set
            .keys
            .iter()
            .filter(|jwk| jwk.kty == "EC" && jwk.crv == "P-256")
            .filter_map(|jwk| {
                let x = b64::decode(&jwk.x)?;
                let y = b64::decode(&jwk.y)?;
                (x.len() == 32 && y.len() == 32).then(|| {
                    let mut sec1 = Vec::with_capacity(P256_PUBLIC_KEY_LEN);
                    sec1.push(4);
                    sec1.extend_from_slice(&x);
                    sec1.extend_from_slice(&y);
                    (jwk.kid.clone(), sec1)
                })
            })
            .collect();
        Self { keys }
    }

    /// The public key (SEC1) with this kid.
    pub fn key(&self, kid: &str) -> Option<&[u8]> {
        self.keys
            .iter()
            .find(|(candidate, _)| candidate == kid)
            .map(|(_, key)| key.as_slice())
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Verifies `bytes` against `trust` at `now_unix` (seconds) and returns what
/// it certifies.
pub fn verify(
    bytes: &[u8],
    trust: &TrustList,
    now_unix: i64,
) -> Result<MemberCertificate, CertificateError> {
    let certificate = verify_signature(bytes, trust)?;
    if now_unix >= certificate.expires_at {
        return Err(CertificateError::Expired);
    }
    Ok(certificate)
}

/// Decodes a certificate this device already verified when it stored it,
/// without checking the signature again (for display; never for trust).
pub fn decode_unverified(bytes: &[u8]) -> Result<MemberCertificate, CertificateError> {
    let sign1 = parse_sign1(bytes)?;
    claims_payload(&sign1)
}

fn parse_sign1(bytes: &[u8]) -> Result<CoseSign1, CertificateError> {
    CoseSign1::from_tagged_slice(bytes)
        .or_else(|_| CoseSign1::from_slice(bytes))
        .map_err(|_| CertificateError::Malformed("not a COSE_Sign1"))
}

fn claims_payload(sign1: &CoseSign1) -> Result<MemberCertificate, CertificateError> {
    let payload = sign1
        .payload
        .as_deref()
        .ok_or(CertificateError::Malformed("no payload"))?;
    let claims =
        ClaimsSet::from_slice(payload).map_err(|_| CertificateError::Malformed("bad claims"))?;
    certificate_of(claims)
}

/// Verifies the signature only (no expiry check) and decodes the claims.
pub fn verify_signature(
    bytes: &[u8],
    trust: &TrustList,
) -> Result<MemberCertificate, CertificateError> {
    let sign1 = parse_sign1(bytes)?;
    let alg_is_es256 = matches!(
        &sign1.protected.header.alg,
        Some(coset::RegisteredLabelWithPrivate::Assigned(
            iana::Algorithm::ES256
        ))
    );
    if !alg_is_es256 {
        return Err(CertificateError::UnsupportedAlgorithm);
    }
    let kid = String::from_utf8(sign1.protected.header.key_id.clone())
        .map_err(|_| CertificateError::Malformed("kid is not text"))?;
    let public_key = trust
        .key(&kid)
        .ok_or_else(|| CertificateError::UnknownKey { kid: kid.clone() })?;
    sign1.verify_signature(b"", |signature, signed| {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
            .verify(signed, signature)
            .map_err(|_| CertificateError::BadSignature)
    })?;
    claims_payload(&sign1)
}

fn claims_of(certificate: &MemberCertificate) -> Result<ClaimsSet, CertificateError> {
    if certificate.device_public_key.len() != P256_PUBLIC_KEY_LEN {
        return Err(CertificateError::Malformed("device key is not SEC1 P-256"));
    }
    let key = CoseKeyBuilder::new_ec2_pub_key(
        iana::EllipticCurve::P_256,
        certificate.device_public_key[1..33].to_vec(),
        certificate.device_public_key[33..65].to_vec(),
    )
    .build()
    .to_cbor_value()
    .map_err(|_| CertificateError::Malformed("device key does not encode"))?;
    let coverage = Value::Map(vec![
        (
            Value::from(1),
            Value::from(certificate.coverage.plan.clone()),
        ),
        (
            Value::from(2),
            Value::from(certificate.coverage.region.clone()),
        ),
        (
            Value::from(3),
            Value::from(
                certificate
                    .coverage
                    .valid_until
                    .format("%Y-%m-%d")
                    .to_string(),
            ),
        ),
    ]);
    Ok(ClaimsSetBuilder::new()
        .issuer(certificate.issuer.clone())
        .subject(certificate.member_id.clone())
        .issued_at(Timestamp::WholeSeconds(certificate.issued_at))
        .expiration_time(Timestamp::WholeSeconds(certificate.expires_at))
        .cwt_id(certificate.device_id.as_bytes().to_vec())
        .claim(
            iana::CwtClaimName::Cnf,
            Value::Map(vec![(Value::from(1), key)]),
        )
        .private_claim(COVERAGE_CLAIM, coverage)
        .build())
}

fn certificate_of(claims: ClaimsSet) -> Result<MemberCertificate, CertificateError> {
    let whole_seconds = |timestamp: Option<Timestamp>, what: &'static str| match timestamp {
        Some(Timestamp::WholeSeconds(seconds)) => Ok(seconds),
        _ => Err(CertificateError::Malformed(what)),
    };
    let mut device_public_key = None;
    let mut coverage = None;
    for (name, value) in &claims.rest {
        match name {
            coset::RegisteredLabelWithPrivate::Assigned(iana::CwtClaimName::Cnf) => {
                device_public_key = Some(device_key_of(value)?);
            }
            coset::RegisteredLabelWithPrivate::PrivateUse(COVERAGE_CLAIM) => {
                coverage = Some(coverage_of(value)?);
            }
            _ => {}
        }
    }
    Ok(MemberCertificate {
        issuer: claims.issuer.ok_or(CertificateError::Malformed("no iss"))?,
        member_id: claims
            .subject
            .ok_or(CertificateError::Malformed("no sub"))?,
        device_id: String::from_utf8(claims.cwt_id.ok_or(CertificateError::Malformed("no cti"))?)
            .map_err(|_| CertificateError::Malformed("cti is not text"))?,
        device_public_key: device_public_key.ok_or(CertificateError::Malformed("no cnf"))?,
        coverage: coverage.ok_or(CertificateError::Malformed("no coverage"))?,
        issued_at: whole_seconds(claims.issued_at, "no iat")?,
        expires_at: whole_seconds(claims.expiration_time, "no exp")?,
    })
}

fn map_entry(map: &[(Value, Value)], label: i64) -> Option<&Value> {
    map.iter()
        .find(|(key, _)| key.as_integer() == Some(label.into()))
        .map(|(_, value)| value)
}

fn device_key_of(cnf: &Value) -> Result<Vec<u8>, CertificateError> {
    let malformed = CertificateError::Malformed("cnf is not a P-256 COSE_Key");
    let map = cnf.as_map().ok_or(malformed.clone())?;
    let key_value = map_entry(map, 1).ok_or(malformed.clone())?;
    let key = CoseKey::from_cbor_value(key_value.clone()).map_err(|_| malformed.clone())?;
    let param = |label: i64| {
        key.params
            .iter()
            .find(|(l, _)| *l == Label::Int(label))
            .and_then(|(_, v)| v.as_bytes())
    };
    let crv_is_p256 = key
        .params
        .iter()
        .any(|(l, v)| *l == Label::Int(-1) && v.as_integer() == Some(1.into()));
    match (crv_is_p256, param(-2), param(-3)) {
        (true, Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
            let mut sec1 = Vec::with_capacity(P256_PUBLIC_KEY_LEN);
            sec1.push(4);
            sec1.extend_from_slice(x);
            sec1.extend_from_slice(y);
            Ok(sec1)
        }
        _ => Err(malformed),
    }
}

fn coverage_of(value: &Value) -> Result<Coverage, CertificateError> {
    let malformed = CertificateError::Malformed("coverage claim");
    let map = value.as_map().ok_or(malformed.clone())?;
    let text = |label| {
        map_entry(map, label)
            .and_then(Value::as_text)
            .map(str::to_owned)
            .ok_or(malformed.clone())
    };
    let valid_until =
        chrono::NaiveDate::parse_from_str(&text(3)?, "%Y-%m-%d").map_err(|_| malformed.clone())?;
    Ok(Coverage {
        plan: text(1)?,
        region: text(2)?,
        valid_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn device_key() -> Vec<u8> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap()
            .public_key()
            .as_ref()
            .to_vec()
    }

    fn certificate() -> MemberCertificate {
        MemberCertificate {
            issuer: "carnet-insurer".into(),
            member_id: "m-3f9a".into(),
            device_id: "d-1".into(),
            device_public_key: device_key(),
            coverage: Coverage {
                plan: "Integral".into(),
                region: "AR-M".into(),
                valid_until: NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
            },
            issued_at: 1_800_000_000,
            expires_at: 1_800_000_000 + 90 * 86_400,
        }
    }

    fn trust(key: &InsurerKey) -> TrustList {
        TrustList::from_jwks(&JwkSet {
            keys: vec![key.jwk()],
        })
    }

    #[test]
    fn an_issued_certificate_verifies_and_round_trips() {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let original = certificate();
        let bytes = insurer.issue(&original).unwrap();
        let decoded = verify(&bytes, &trust(&insurer), original.issued_at + 10).unwrap();
        assert_eq!(decoded, original);
        assert_eq!(decode_unverified(&bytes).unwrap(), original);
    }

    #[test]
    fn expiry_unknown_key_and_tampering_are_told_apart() {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let (other, _) = InsurerKey::generate().unwrap();
        let original = certificate();
        let bytes = insurer.issue(&original).unwrap();
        assert_eq!(
            verify(&bytes, &trust(&insurer), original.expires_at),
            Err(CertificateError::Expired)
        );
        assert!(matches!(
            verify(&bytes, &trust(&other), original.issued_at),
            Err(CertificateError::UnknownKey { .. })
        ));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            verify(&flipped, &trust(&insurer), original.issued_at),
            Err(CertificateError::BadSignature)
        );
        assert!(matches!(
            verify(b"garbage", &trust(&insurer), original.issued_at),
            Err(CertificateError::Malformed(_))
        ));
    }

    #[test]
    fn every_truncation_is_refused_without_panic() {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let bytes = insurer.issue(&certificate()).unwrap();
        for len in 0..bytes.len() {
            assert!(verify(&bytes[..len], &trust(&insurer), 0).is_err());
        }
    }
}
