//! The member certificate: a COSE_Sign1 (RFC 9052) whose payload is a CWT
//! claims set (RFC 8392), signed by the insurer with ES256. It binds a
//! pseudonymous member id and the coverage to one device's P-256 key, carried
//! as the proof-of-possession `cnf` claim (RFC 8747). The backend issues it
//! at enrolment; the core keeps it in the vault; every QR presentation
//! carries it; a verifier needs only the insurer's published key (JWKS).
//!
//! Encoded and decoded with coset (and ciborium for the claim values coset
//! has no type for), under the profile of `credential::profile`: untagged,
//! ES256, an empty unprotected header, deterministic CBOR. It is compact
//! because it rides in every QR code (`docs/formats/credential.md`, "The
//! member certificate"): the key id as [`KID_LEN`] raw bytes, and these
//! claims, in this order:
//!
//! | label | claim | value |
//! | --- | --- | --- |
//! | `1` | iss | text; omitted when it is [`DEFAULT_ISSUER`] |
//! | `4` | exp | unix seconds |
//! | `6` | iat | unix seconds; omitted when it is `exp -` [`DEFAULT_LIFETIME_SECONDS`] |
//! | `8` | cnf | `{1: COSE_Key}`, EC2 P-256 with the compressed point (`y` as a bool) |
//! | [`COVERAGE_CLAIM`] | coverage | `[member id, device id, plan, region, valid-until as days since 1970-01-01]` |
//!
//! Ids travel as raw bytes when they are 16 or 32 lowercase hex digits (8 or
//! 16 bytes: what the insurer makes), as text otherwise, and read back as
//! the same string.

use chrono::NaiveDate;
use ciborium::Value;
use coset::cwt::{ClaimName, ClaimsSet, ClaimsSetBuilder, Timestamp};
use coset::{AsCborValue, CborSerializable, CoseKey, CoseKeyBuilder, CoseSign1, KeyType, iana};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use zeroize::Zeroizing;

use crate::credential::profile::{self, ProfileError, Protected};
use crate::model::{Coverage, Jwk, JwkSet, b64};

/// The private CWT claim that says who is covered and how:
/// `[member id, device id, plan, region, valid until]`, the last as days
/// since 1970-01-01. The member id is not `sub` because `sub` must be text
/// (RFC 8392 §3.1.2) and the ids travel as raw bytes; the device id is not
/// `cti` because `cti` must be bytes and an id may be text. One claim for
/// all of it costs one label (5 bytes) instead of three.
pub const COVERAGE_CLAIM: i64 = -65537;

/// The issuer a certificate without `iss` comes from (the reference
/// insurer). Omitting it saves 16 bytes in every QR code; the key id
/// already names the insurer's key.
pub const DEFAULT_ISSUER: &str = "carnet-insurer";

/// How long the insurer's certificates live: 90 days. A certificate whose
/// `exp - iat` is exactly this omits `iat` (6 bytes less in every QR code),
/// and a certificate without `iat` reads back with
/// `issued_at = expires_at - DEFAULT_LIFETIME_SECONDS`; any other lifetime
/// carries `iat`, so every certificate round-trips exactly.
pub const DEFAULT_LIFETIME_SECONDS: i64 = 90 * 86_400;

/// The longest certificate accepted, in bytes, checked before decoding. A
/// certificate rides in every QR code; one this long would already need a
/// symbol no phone screen shows well.
pub const MAX_CERTIFICATE_LEN: usize = 1024;

/// Length of an uncompressed SEC1 P-256 public key.
pub const P256_PUBLIC_KEY_LEN: usize = 65;

/// Length of the key id in the COSE header (raw bytes; its base64url form is
/// the JWKS `kid`): the first 4 bytes of the SHA-256 of the key. A kid only
/// picks the key to try: a verifier tries every trusted key with that kid,
/// so even a collision among an insurer's few keys costs a second check,
/// never a wrong answer.
pub const KID_LEN: usize = 4;

/// `cnf` member holding a COSE_Key (RFC 8747 §3.2).
const CNF_COSE_KEY: i64 = 1;
/// A coverage claim has five items.
const COVERAGE_ITEMS: usize = 5;

/// What the insurer certifies about one member on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberCertificate {
    /// The insurer's identifier (`iss`; [`DEFAULT_ISSUER`] when absent).
    pub issuer: String,
    /// Pseudonymous member id (in [`COVERAGE_CLAIM`]).
    pub member_id: String,
    /// The enrolled device's id, the handle for revocation (in
    /// [`COVERAGE_CLAIM`]).
    pub device_id: String,
    /// The device's P-256 public key, SEC1 uncompressed (`cnf`).
    pub device_public_key: Vec<u8>,
    /// Coverage at issue time.
    pub coverage: Coverage,
    /// Unix seconds (`iat`; `expires_at -` [`DEFAULT_LIFETIME_SECONDS`]
    /// when absent).
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

impl From<ProfileError> for CertificateError {
    fn from(error: ProfileError) -> Self {
        match error {
            ProfileError::Malformed(what) => Self::Malformed(what),
            ProfileError::Algorithm => Self::UnsupportedAlgorithm,
        }
    }
}

impl From<coset::CoseError> for CertificateError {
    fn from(error: coset::CoseError) -> Self {
        ProfileError::from(error).into()
    }
}

/// The insurer's ES256 signing key.
pub struct InsurerKey {
    kid: String,
    kid_bytes: [u8; KID_LEN],
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
        let kid_bytes = kid_bytes(key_pair.public_key().as_ref());
        Ok(Self {
            kid: b64::encode(&kid_bytes),
            kid_bytes,
            key_pair,
            rng,
        })
    }

    /// The key id, as in the JWKS (base64url of the COSE header's raw `kid`).
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

    /// Signs `certificate`: the untagged COSE_Sign1 bytes.
    pub fn issue(&self, certificate: &MemberCertificate) -> Result<Vec<u8>, CertificateError> {
        let payload = encode_claims(certificate)?;
        let protected = profile::es256_header()
            .key_id(self.kid_bytes.to_vec())
            .build();
        let signed = profile::sign1(protected, payload, |to_be_signed| {
            let signature = self
                .key_pair
                .sign(&self.rng, to_be_signed)
                .map_err(|_| CertificateError::BadKey)?;
            signature
                .as_ref()
                .try_into()
                .map_err(|_| CertificateError::BadKey)
        })?;
        let bytes = profile::to_bytes(signed)?;
        if bytes.len() > MAX_CERTIFICATE_LEN {
            return Err(CertificateError::Malformed(
                "longer than a certificate may be",
            ));
        }
        Ok(bytes)
    }
}

fn kid_bytes(public_key_sec1: &[u8]) -> [u8; KID_LEN] {
    let digest = ring::digest::digest(&ring::digest::SHA256, public_key_sec1);
    let mut kid = [0u8; KID_LEN];
    kid.copy_from_slice(&digest.as_ref()[..KID_LEN]);
    kid
}

/// The key id of a P-256 public key: base64url of the first 8 bytes of the
/// SHA-256 of its SEC1 encoding. The COSE header carries those 8 bytes raw
/// (as the EU DCC does); the JWKS carries this text.
pub fn key_id(public_key_sec1: &[u8]) -> String {
    b64::encode(&kid_bytes(public_key_sec1))
}

fn jwk_from_sec1(kid: &str, sec1: &[u8]) -> Jwk {
    let (x, y) = match (sec1.len(), sec1.get(1..33), sec1.get(33..65)) {
        (P256_PUBLIC_KEY_LEN, Some(x), Some(y)) => (x, y),
        _ => (&[][..], &[][..]),
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

/// One trusted insurer key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TrustedKey {
    kid: String,
    /// The raw key id the COSE header carries (the `kid` base64url-decoded),
    /// when the `kid` is base64url.
    kid_bytes: Option<Vec<u8>>,
    sec1: Vec<u8>,
}

/// The insurer keys a verifier trusts, by kid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustList {
    keys: Vec<TrustedKey>,
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
                    TrustedKey {
                        kid: jwk.kid.clone(),
                        kid_bytes: b64::decode(&jwk.kid),
                        sec1,
                    }
                })
            })
            .collect();
        Self { keys }
    }

    /// The public key (SEC1) with this kid.
    pub fn key(&self, kid: &str) -> Option<&[u8]> {
        self.keys
            .iter()
            .find(|candidate| candidate.kid == kid)
            .map(|key| key.sec1.as_slice())
    }

    /// The public keys (SEC1) whose raw COSE key id is `kid`: usually one.
    fn keys_by_raw_kid<'a>(&'a self, kid: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.keys
            .iter()
            .filter(move |candidate| candidate.kid_bytes.as_deref() == Some(kid))
            .map(|key| key.sec1.as_slice())
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
    claims_of(&decode_sign1(bytes)?)?.into_certificate()
}

/// Verifies the signature only (no expiry check) and decodes the claims.
pub fn verify_signature(
    bytes: &[u8],
    trust: &TrustList,
) -> Result<MemberCertificate, CertificateError> {
    verify_sign1(&decode_sign1(bytes)?, trust)
}

/// [`verify_signature`] for a certificate carried inside a presentation,
/// already decoded (and its encoding checked) as part of it.
pub(crate) fn verify_embedded(
    certificate: Value,
    trust: &TrustList,
) -> Result<MemberCertificate, CertificateError> {
    verify_sign1(
        &profile::sign1_from_value(certificate, Protected::KeyId)?,
        trust,
    )
}

/// The bytes as a COSE_Sign1 of our profile, size checked first.
fn decode_sign1(bytes: &[u8]) -> Result<CoseSign1, CertificateError> {
    if bytes.len() > MAX_CERTIFICATE_LEN {
        return Err(CertificateError::Malformed(
            "longer than a certificate may be",
        ));
    }
    Ok(profile::decode_sign1(bytes, Protected::KeyId)?)
}

/// The insurer's signature with every trusted key named by the kid, then
/// the claims.
fn verify_sign1(
    sign1: &CoseSign1,
    trust: &TrustList,
) -> Result<MemberCertificate, CertificateError> {
    let kid = sign1.protected.header.key_id.as_slice();
    if kid.is_empty() {
        return Err(CertificateError::Malformed("no key id"));
    }
    let mut keys = trust.keys_by_raw_kid(kid).peekable();
    if keys.peek().is_none() {
        return Err(CertificateError::UnknownKey {
            kid: b64::encode(kid),
        });
    }
    if !keys.any(|public_key| profile::es256_verifies(sign1, public_key)) {
        return Err(CertificateError::BadSignature);
    }
    claims_of(sign1)?.into_certificate()
}

fn claims_of(sign1: &CoseSign1) -> Result<CompactCertificate, CertificateError> {
    decode_claims(sign1.payload.as_deref().unwrap_or_default())
}

/// The device key as the certificate carries it: the x coordinate and the
/// parity of y (a compressed point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompressedKey {
    pub(crate) x: [u8; 32],
    pub(crate) y_is_odd: bool,
}

impl CompressedKey {
    /// Compresses an uncompressed SEC1 key, checking that it is on the curve.
    pub(crate) fn from_sec1(sec1: &[u8]) -> Option<Self> {
        if sec1.len() != P256_PUBLIC_KEY_LEN || p256::PublicKey::from_sec1_bytes(sec1).is_err() {
            return None;
        }
        Some(Self {
            x: sec1.get(1..33)?.try_into().ok()?,
            y_is_odd: sec1.get(64)? & 1 == 1,
        })
    }

    /// Whether `sec1` (uncompressed) is this key, without any curve
    /// arithmetic: same x and same parity of y.
    pub(crate) fn matches_sec1(&self, sec1: &[u8]) -> bool {
        sec1.len() == P256_PUBLIC_KEY_LEN
            && sec1.first() == Some(&4)
            && sec1.get(1..33) == Some(&self.x[..])
            && sec1.get(64).map(|last| last & 1 == 1) == Some(self.y_is_odd)
    }

    /// The uncompressed SEC1 key; `None` when x is not on the curve.
    pub(crate) fn decompress(&self) -> Option<Vec<u8>> {
        let mut compressed = [0u8; 33];
        compressed[0] = if self.y_is_odd { 3 } else { 2 };
        compressed[1..].copy_from_slice(&self.x);
        let key = p256::PublicKey::from_sec1_bytes(&compressed).ok()?;
        Some(key.to_encoded_point(false).as_bytes().to_vec())
    }
}

/// The certificate's claims as carried, before the device key is
/// decompressed (the presenter only needs to compare it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompactCertificate {
    pub(crate) issuer: String,
    pub(crate) member_id: String,
    pub(crate) device_id: String,
    pub(crate) device_key: CompressedKey,
    pub(crate) coverage: Coverage,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
}

impl CompactCertificate {
    fn into_certificate(self) -> Result<MemberCertificate, CertificateError> {
        let device_public_key = self
            .device_key
            .decompress()
            .ok_or(CertificateError::Malformed(
                "device key is not a P-256 point",
            ))?;
        Ok(MemberCertificate {
            issuer: self.issuer,
            member_id: self.member_id,
            device_id: self.device_id,
            device_public_key,
            coverage: self.coverage,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        })
    }
}

/// Decodes a stored certificate for the presenter, without checking its
/// signature (the presenter trusts its own stored copy) and without
/// decompressing the device key (it only compares keys); with the decoded
/// CBOR, ready to embed in a presentation as it is.
pub(crate) fn decode_for_presentation(
    bytes: &[u8],
) -> Result<(CompactCertificate, Value), CertificateError> {
    if bytes.len() > MAX_CERTIFICATE_LEN {
        return Err(CertificateError::Malformed(
            "longer than a certificate may be",
        ));
    }
    let value = profile::deterministic_value(bytes)?;
    let sign1 = profile::sign1_from_value(value.clone(), Protected::KeyId)?;
    Ok((claims_of(&sign1)?, value))
}

fn epoch() -> NaiveDate {
    chrono::DateTime::UNIX_EPOCH.date_naive()
}

/// An id as carried: 8 or 16 raw bytes for 16 or 32 lowercase hex digits
/// (what the insurer makes), text otherwise, so that any id survives the
/// round trip.
fn encode_id(id: &str) -> Value {
    let compact =
        matches!(id.len(), 16 | 32) && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match hex::decode(id) {
        Ok(bytes) if compact => Value::Bytes(bytes),
        _ => Value::Text(id.to_owned()),
    }
}

fn decode_id(value: Value) -> Result<String, CertificateError> {
    match value {
        Value::Bytes(bytes) => Ok(hex::encode(bytes)),
        Value::Text(text) => Ok(text),
        _ => Err(CertificateError::Malformed(
            "an id is neither bytes nor text",
        )),
    }
}

fn encode_claims(certificate: &MemberCertificate) -> Result<Vec<u8>, CertificateError> {
    let key = CompressedKey::from_sec1(&certificate.device_public_key)
        .ok_or(CertificateError::Malformed("device key is not SEC1 P-256"))?;
    let days = certificate
        .coverage
        .valid_until
        .signed_duration_since(epoch())
        .num_days();
    // coset writes iss, exp, iat, then the other claims in the order given:
    // cnf (8) then the private claim, which is deterministic order.
    let mut claims =
        ClaimsSetBuilder::new().expiration_time(Timestamp::WholeSeconds(certificate.expires_at));
    if certificate.issuer != DEFAULT_ISSUER {
        claims = claims.issuer(certificate.issuer.clone());
    }
    if certificate.expires_at.checked_sub(certificate.issued_at) != Some(DEFAULT_LIFETIME_SECONDS) {
        claims = claims.issued_at(Timestamp::WholeSeconds(certificate.issued_at));
    }
    let cose_key = CoseKeyBuilder::new_ec2_pub_key_y_sign(
        iana::EllipticCurve::P_256,
        key.x.to_vec(),
        key.y_is_odd,
    )
    .build()
    .to_cbor_value()?;
    let cnf = Value::Map(vec![(Value::from(CNF_COSE_KEY), cose_key)]);
    let coverage = Value::Array(vec![
        encode_id(&certificate.member_id),
        encode_id(&certificate.device_id),
        Value::Text(certificate.coverage.plan.clone()),
        Value::Text(certificate.coverage.region.clone()),
        Value::from(days),
    ]);
    let claims = claims
        .claim(iana::CwtClaimName::Cnf, cnf)
        .private_claim(COVERAGE_CLAIM, coverage)
        .build();
    Ok(claims.to_vec()?)
}

fn decode_claims(payload: &[u8]) -> Result<CompactCertificate, CertificateError> {
    let claims = ClaimsSet::from_cbor_value(profile::deterministic_value(payload)?)?;
    let expires_at =
        whole_seconds(claims.expiration_time)?.ok_or(CertificateError::Malformed("no exp"))?;
    let issued_at = match whole_seconds(claims.issued_at)? {
        Some(issued_at) => issued_at,
        None => expires_at
            .checked_sub(DEFAULT_LIFETIME_SECONDS)
            .ok_or(CertificateError::Malformed("exp out of range"))?,
    };
    let (mut device_key, mut coverage) = (None, None);
    for (name, value) in claims.rest {
        match name {
            ClaimName::Assigned(iana::CwtClaimName::Cnf) => device_key = Some(decode_cnf(value)?),
            ClaimName::PrivateUse(COVERAGE_CLAIM) => coverage = Some(decode_coverage(value)?),
            // Claims a later insurer adds (registered or private-use) are
            // ignored, as CWT intends.
            _ => {}
        }
    }
    let (member_id, device_id, coverage) =
        coverage.ok_or(CertificateError::Malformed("no coverage"))?;
    Ok(CompactCertificate {
        issuer: claims.issuer.unwrap_or_else(|| DEFAULT_ISSUER.to_owned()),
        member_id,
        device_id,
        device_key: device_key.ok_or(CertificateError::Malformed("no cnf"))?,
        coverage,
        issued_at,
        expires_at,
    })
}

fn whole_seconds(timestamp: Option<Timestamp>) -> Result<Option<i64>, CertificateError> {
    match timestamp {
        None => Ok(None),
        Some(Timestamp::WholeSeconds(seconds)) => Ok(Some(seconds)),
        Some(Timestamp::FractionalSeconds(_)) => {
            Err(CertificateError::Malformed("a time is not whole seconds"))
        }
    }
}

/// `{1: COSE_Key}` (other members of `cnf` are ignored), the key an EC2
/// P-256 key with the compressed point.
fn decode_cnf(cnf: Value) -> Result<CompressedKey, CertificateError> {
    let not_ours = || CertificateError::Malformed("cnf is not a P-256 COSE_Key");
    let Value::Map(members) = cnf else {
        return Err(not_ours());
    };
    let key = members
        .into_iter()
        .find(|(label, _)| *label == Value::from(CNF_COSE_KEY))
        .ok_or_else(not_ours)?
        .1;
    let key = CoseKey::from_cbor_value(key)?;
    if key.kty != KeyType::Assigned(iana::KeyType::EC2) {
        return Err(not_ours());
    }
    let param = |label: iana::Ec2KeyParameter| {
        key.params
            .iter()
            .find(|(found, _)| *found == coset::Label::Int(label as i64))
            .map(|(_, value)| value)
    };
    let p256 = Value::from(iana::EllipticCurve::P_256 as i64);
    match (
        param(iana::Ec2KeyParameter::Crv),
        param(iana::Ec2KeyParameter::X),
        param(iana::Ec2KeyParameter::Y),
    ) {
        (Some(curve), Some(Value::Bytes(x)), Some(Value::Bool(y_is_odd))) if *curve == p256 => {
            Ok(CompressedKey {
                x: x.as_slice().try_into().map_err(|_| not_ours())?,
                y_is_odd: *y_is_odd,
            })
        }
        _ => Err(not_ours()),
    }
}

fn decode_coverage(value: Value) -> Result<(String, String, Coverage), CertificateError> {
    let malformed = || CertificateError::Malformed("coverage claim");
    let Value::Array(items) = value else {
        return Err(malformed());
    };
    let [member_id, device_id, plan, region, days]: [Value; COVERAGE_ITEMS] =
        items.try_into().map_err(|_| malformed())?;
    let (Value::Text(plan), Value::Text(region), Value::Integer(days)) = (plan, region, days)
    else {
        return Err(malformed());
    };
    let valid_until = i64::try_from(days)
        .ok()
        .and_then(chrono::Duration::try_days)
        .and_then(|days| epoch().checked_add_signed(days))
        .ok_or_else(malformed)?;
    Ok((
        decode_id(member_id)?,
        decode_id(device_id)?,
        Coverage {
            plan,
            region,
            valid_until,
        },
    ))
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

    #[test]
    fn the_insurers_ids_travel_as_raw_bytes_and_come_back_as_the_same_hex() {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let trust = trust(&insurer);
        // 8-byte ids (16 hex digits, what the insurer makes) and 16-byte ids
        // (32 digits, what it made before) both travel raw.
        let mut short = certificate();
        short.member_id = "0123456789abcdef".into();
        short.device_id = "fedcba9876543210".into();
        let short_bytes = insurer.issue(&short).unwrap();
        assert_eq!(
            verify(&short_bytes, &trust, short.issued_at).unwrap(),
            short
        );
        let mut long = certificate();
        long.member_id = "0123456789abcdef0123456789abcdef".into();
        long.device_id = "fedcba9876543210fedcba9876543210".into();
        let long_bytes = insurer.issue(&long).unwrap();
        assert_eq!(verify(&long_bytes, &trust, long.issued_at).unwrap(), long);
        assert_eq!(long_bytes.len(), short_bytes.len() + 2 * 8);
        // Upper-case hex is not what the insurer makes: it stays text, and
        // still round-trips exactly.
        let mut upper = long.clone();
        upper.member_id = "0123456789ABCDEF0123456789ABCDEF".into();
        let bytes = insurer.issue(&upper).unwrap();
        assert_eq!(decode_unverified(&bytes).unwrap(), upper);
        assert_eq!(bytes.len(), long_bytes.len() + 17);
        // So does any other id.
        let mut other = long.clone();
        other.device_id = "fedcba98".into();
        let bytes = insurer.issue(&other).unwrap();
        assert_eq!(decode_unverified(&bytes).unwrap(), other);
    }

    #[test]
    fn another_issuer_is_carried_and_the_default_is_implied() {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let mut original = certificate();
        let without = insurer.issue(&original).unwrap();
        original.issuer = "another-insurer".into();
        let with = insurer.issue(&original).unwrap();
        assert_eq!(decode_unverified(&with).unwrap(), original);
        assert_eq!(with.len(), without.len() + 2 + "another-insurer".len());
    }

    #[test]
    fn the_issue_time_travels_only_for_an_unusual_lifetime() {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let usual = certificate();
        assert_eq!(usual.expires_at - usual.issued_at, DEFAULT_LIFETIME_SECONDS);
        let without = insurer.issue(&usual).unwrap();
        assert_eq!(decode_unverified(&without).unwrap(), usual);
        // A certificate renewed early, say, lives longer: its iat travels.
        let mut unusual = usual.clone();
        unusual.issued_at -= 86_400;
        let with = insurer.issue(&unusual).unwrap();
        assert_eq!(decode_unverified(&with).unwrap(), unusual);
        assert_eq!(with.len(), without.len() + 6);
        let claims = |bytes: &[u8]| {
            let sign1 = profile::decode_sign1(bytes, Protected::KeyId).unwrap();
            ClaimsSet::from_slice(sign1.payload.as_deref().unwrap()).unwrap()
        };
        assert_eq!(claims(&without).issued_at, None);
        assert_eq!(
            claims(&with).issued_at,
            Some(Timestamp::WholeSeconds(unusual.issued_at))
        );
    }

    #[test]
    fn the_kid_is_raw_in_cose_and_base64url_in_the_jwks() {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let bytes = insurer.issue(&certificate()).unwrap();
        let sign1 = profile::decode_sign1(&bytes, Protected::KeyId).unwrap();
        assert_eq!(sign1.protected.header.key_id.len(), KID_LEN);
        assert_eq!(b64::encode(&sign1.protected.header.key_id), insurer.kid());
        assert_eq!(insurer.jwk().kid, insurer.kid());
        assert_eq!(key_id(insurer.public_key()), insurer.kid());
    }

    #[test]
    fn every_trusted_key_with_the_kid_is_tried() {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let (other, _) = InsurerKey::generate().unwrap();
        let original = certificate();
        let bytes = insurer.issue(&original).unwrap();
        // Another key published under the same kid, listed first.
        let mut impostor = other.jwk();
        impostor.kid = insurer.kid().to_owned();
        let trust = TrustList::from_jwks(&JwkSet {
            keys: vec![impostor.clone(), insurer.jwk()],
        });
        assert_eq!(
            verify(&bytes, &trust, original.issued_at).unwrap(),
            original
        );
        let only_impostor = TrustList::from_jwks(&JwkSet {
            keys: vec![impostor],
        });
        assert_eq!(
            verify(&bytes, &only_impostor, original.issued_at),
            Err(CertificateError::BadSignature)
        );
    }

    #[test]
    fn the_encoding_is_deterministic_and_nothing_else_is_read() {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let bytes = insurer.issue(&certificate()).unwrap();
        // Our own output is the deterministic encoding of itself.
        assert!(profile::deterministic_value(&bytes).is_ok());
        let sign1 = profile::decode_sign1(&bytes, Protected::KeyId).unwrap();
        assert!(profile::deterministic_value(sign1.payload.as_deref().unwrap()).is_ok());
        // The same claims, two of them swapped: refused even unsigned.
        let Value::Map(mut claims) =
            profile::deterministic_value(sign1.payload.as_deref().unwrap()).unwrap()
        else {
            panic!("claims are a map")
        };
        claims.swap(0, 1);
        let mut swapped = sign1.clone();
        swapped.payload = Some(profile::encode(&Value::Map(claims)).unwrap());
        assert_eq!(
            decode_unverified(&profile::to_bytes(swapped).unwrap()),
            Err(CertificateError::Malformed(
                "map keys out of order or repeated"
            ))
        );
        // Too long to be a certificate: refused before decoding.
        assert_eq!(
            decode_unverified(&vec![0u8; MAX_CERTIFICATE_LEN + 1]),
            Err(CertificateError::Malformed(
                "longer than a certificate may be"
            ))
        );
    }

    #[test]
    fn a_key_that_is_not_on_the_curve_is_refused_at_issue() {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let mut bad = certificate();
        bad.device_public_key = vec![4; 65];
        assert!(matches!(
            insurer.issue(&bad),
            Err(CertificateError::Malformed(_))
        ));
    }

    #[test]
    fn compression_round_trips_for_both_parities() {
        let mut seen = [false, false];
        while seen != [true, true] {
            let sec1 = device_key();
            let key = CompressedKey::from_sec1(&sec1).unwrap();
            seen[usize::from(key.y_is_odd)] = true;
            assert!(key.matches_sec1(&sec1));
            assert_eq!(key.decompress().unwrap(), sec1);
        }
    }
}
