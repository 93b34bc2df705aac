//! The offline verifier an integrator's counter software embeds: it needs
//! the insurer's published keys and its own clock, nothing else. The
//! checks, in order (the first failure is the reason given):
//!
//! 1. the text: prefix, canonical Base45, the COSE_Sign1 and its claims
//!    (decoded with coset, deterministic CBOR required);
//! 2. the member certificate: its insurer key by kid in the trust list, the
//!    insurer's signature (skipped for a certificate already verified, when
//!    the certificate cache is on);
//! 3. the device signature, with the key the certificate binds;
//! 4. the certificate's expiry, then the code's window: `iat` no more than
//!    the skew allowance ahead, `exp` plus the allowance not yet reached,
//!    and a lifetime of at most 60 s;
//! 5. revocation of the device, when a revocation list is loaded;
//! 6. the purpose asked for;
//! 7. the nonce, recorded atomically: a second scan is a replay.
//!
//! The nonce is recorded last, so that a code refused for another reason
//! (say, shown to settle when made to identify) is not used up.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ciborium::Value;
use parking_lot::RwLock;

use crate::certificate::{self, CertificateError, MemberCertificate, TrustList};

use super::error::{Rejection, Warning};
use super::format::{self, CERTIFICATE_HEADER, LIFETIME_SECONDS, Purpose};
use super::nonce::NonceCache;
use super::profile::{self, ProfileError, Protected};
use super::text;
use super::trust::{
    CachedTrustList, REVOCATION_LIST_MAX_AGE_SECONDS, RevocationList, TRUST_LIST_MAX_AGE_SECONDS,
};

/// How far the phone's (server-corrected) clock and the verifier's may
/// disagree, in seconds: 30. A code is accepted from `iat - 30` until
/// `exp + 30`, so at most 120 s in all for a 60 s code.
pub const CLOCK_SKEW_SECONDS: i64 = 30;

/// Default number of verified member certificates remembered.
pub const DEFAULT_CERTIFICATE_CACHE_CAPACITY: usize = 10_000;

/// How a verifier behaves; the defaults are the documented ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierConfig {
    /// Clock-skew allowance in seconds ([`CLOCK_SKEW_SECONDS`]).
    pub clock_skew_seconds: i64,
    /// Age beyond which the trust list is reported stale
    /// ([`TRUST_LIST_MAX_AGE_SECONDS`]).
    pub trust_list_max_age_seconds: i64,
    /// Age beyond which the revocation list no longer counts
    /// ([`REVOCATION_LIST_MAX_AGE_SECONDS`]).
    pub revocation_list_max_age_seconds: i64,
    /// Verified member certificates remembered (keyed by the SHA-256 of the
    /// protected header that carries them, which is the algorithm and the
    /// certificate's bytes) so that a member's next code costs one signature
    /// check, not two; 0 turns the cache off.
    pub certificate_cache_capacity: usize,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        Self {
            clock_skew_seconds: CLOCK_SKEW_SECONDS,
            trust_list_max_age_seconds: TRUST_LIST_MAX_AGE_SECONDS,
            revocation_list_max_age_seconds: REVOCATION_LIST_MAX_AGE_SECONDS,
            certificate_cache_capacity: DEFAULT_CERTIFICATE_CACHE_CAPACITY,
        }
    }
}

/// An accepted code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// What the insurer certifies: member id, device id, coverage.
    pub certificate: MemberCertificate,
    /// What the code was made for (the purpose asked).
    pub purpose: Purpose,
    /// The code's `iat` (unix seconds).
    pub issued_at: i64,
    /// The code's `exp` (unix seconds).
    pub expires_at: i64,
    /// The code's nonce.
    pub nonce: Vec<u8>,
    /// What the counter should know (stale lists); empty when all is fresh.
    pub warnings: Vec<Warning>,
}

struct Trust {
    cached: CachedTrustList,
    list: TrustList,
}

/// Verifies Carnet codes offline. Share one per counter (or per process)
/// across threads: the nonce cache is what stops a replay, so it must see
/// every scan.
pub struct Verifier {
    config: VerifierConfig,
    trust: RwLock<Trust>,
    revocations: RwLock<Option<RevocationList>>,
    nonces: NonceCache,
    certificates: RwLock<HashMap<[u8; 32], Arc<MemberCertificate>>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .field("trusted_keys", &self.trust.read().list.len())
            .field("remembered_nonces", &self.nonces.len())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier with the default configuration.
    pub fn new(trust: CachedTrustList) -> Self {
        Self::with_config(trust, VerifierConfig::default())
    }

    /// A verifier with `config`.
    pub fn with_config(trust: CachedTrustList, config: VerifierConfig) -> Self {
        Self {
            config,
            trust: RwLock::new(Trust {
                list: trust.trust_list(),
                cached: trust,
            }),
            revocations: RwLock::new(None),
            nonces: NonceCache::new(),
            certificates: RwLock::new(HashMap::new()),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Replaces the trust list (after a fetch). Certificates verified with
    /// the old list are forgotten, so a withdrawn key stops working at once.
    pub fn update_trust_list(&self, trust: CachedTrustList) {
        let mut current = self.trust.write();
        *current = Trust {
            list: trust.trust_list(),
            cached: trust,
        };
        self.certificates.write().clear();
    }

    /// The trust list in use, with its fetch time (to save for offline use).
    pub fn trust_list(&self) -> CachedTrustList {
        self.trust.read().cached.clone()
    }

    /// Loads the revocation list (after a fetch, when online).
    pub fn update_revocations(&self, revocations: RevocationList) {
        *self.revocations.write() = Some(revocations);
    }

    /// Verifies `text` (as scanned) for `expected` at the verifier's own
    /// time `now`.
    pub fn verify(
        &self,
        text: &str,
        expected: Purpose,
        now: DateTime<Utc>,
    ) -> Result<Verified, Rejection> {
        let now_unix = now.timestamp();
        let bytes = text::decode(text)?;
        let sign1 = profile::decode_sign1(&bytes, Protected::Parameter(CERTIFICATE_HEADER))
            .map_err(malformed)?;
        let claims = format::decode_claims(sign1.payload.as_deref().unwrap_or_default())
            .map_err(malformed)?;
        let embedded = profile::protected_parameter(&sign1, CERTIFICATE_HEADER)
            .ok_or(Rejection::Malformed("no member certificate"))?;
        let carrier = sign1.protected.original_data.as_deref().unwrap_or_default();

        let (member, trust_age) = self.member_certificate(carrier, embedded, now)?;
        if !profile::es256_verifies(&sign1, &member.device_public_key) {
            return Err(Rejection::DeviceSignatureInvalid);
        }

        if now_unix >= member.expires_at {
            return Err(Rejection::CertificateExpired);
        }
        let lifetime = claims.expires_at.saturating_sub(claims.issued_at);
        if !(1..=LIFETIME_SECONDS).contains(&lifetime) {
            return Err(Rejection::Malformed("validity window"));
        }
        let skew = self.config.clock_skew_seconds;
        if claims.issued_at.saturating_sub(skew) > now_unix {
            return Err(Rejection::NotYetValid);
        }
        let last_second = claims.expires_at.saturating_add(skew);
        if now_unix >= last_second {
            return Err(Rejection::Expired);
        }

        let mut warnings = Vec::new();
        if trust_age > self.config.trust_list_max_age_seconds {
            warnings.push(Warning::TrustListStale {
                age_seconds: trust_age,
            });
        }
        match &*self.revocations.read() {
            Some(list) if list.is_revoked(&member.device_id) => {
                return Err(Rejection::DeviceRevoked);
            }
            Some(list) if !list.is_stale(now, self.config.revocation_list_max_age_seconds) => {}
            _ => warnings.push(Warning::RevocationNotChecked),
        }

        if claims.purpose != expected {
            return Err(Rejection::WrongPurpose {
                expected,
                presented: claims.purpose,
            });
        }
        if !self
            .nonces
            .insert_if_absent(&member.device_id, &claims.nonce, last_second, now_unix)
        {
            return Err(Rejection::Replayed);
        }
        Ok(Verified {
            certificate: MemberCertificate::clone(&member),
            purpose: claims.purpose,
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
            nonce: claims.nonce,
            warnings,
        })
    }

    /// The verified member certificate inside a code (`embedded`, carried
    /// by the protected header `carrier`), from the cache when it was
    /// verified before; with the trust list's age.
    fn member_certificate(
        &self,
        carrier: &[u8],
        embedded: &Value,
        now: DateTime<Utc>,
    ) -> Result<(Arc<MemberCertificate>, i64), Rejection> {
        let capacity = self.config.certificate_cache_capacity;
        let digest = (capacity > 0).then(|| {
            let digest = ring::digest::digest(&ring::digest::SHA256, carrier);
            let mut key = [0u8; 32];
            key.copy_from_slice(digest.as_ref());
            key
        });
        // The trust lock is held across the check and the cache insert, so
        // that a certificate verified with an old list cannot be cached after
        // `update_trust_list` cleared the cache.
        let trust = self.trust.read();
        let age = trust.cached.age_seconds(now);
        if let Some(hit) = digest.and_then(|key| self.certificates.read().get(&key).cloned()) {
            return Ok((hit, age));
        }
        let member = Arc::new(
            certificate::verify_embedded(embedded.clone(), &trust.list).map_err(
                |error| match error {
                    CertificateError::UnknownKey { kid } => Rejection::UnknownInsurer { kid },
                    CertificateError::BadSignature => Rejection::InsurerSignatureInvalid,
                    CertificateError::Expired => Rejection::CertificateExpired,
                    CertificateError::Malformed(what) => Rejection::Malformed(what),
                    CertificateError::UnsupportedAlgorithm | CertificateError::BadKey => {
                        Rejection::Malformed("certificate algorithm")
                    }
                },
            )?,
        );
        if let Some(key) = digest {
            let mut cache = self.certificates.write();
            // Full: start over rather than track recency; the members of the
            // last minutes come back within their first code.
            if cache.len() >= capacity {
                cache.clear();
            }
            cache.insert(key, member.clone());
        }
        Ok((member, age))
    }
}

/// A refusal before any signature check.
fn malformed(error: ProfileError) -> Rejection {
    match error {
        ProfileError::Malformed(what) => Rejection::Malformed(what),
        ProfileError::Algorithm => Rejection::Malformed("the algorithm is not ES256"),
    }
}
