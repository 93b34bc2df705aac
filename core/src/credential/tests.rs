//! The credential end to end inside the crate: a code made by [`present`]
//! and judged by [`Verifier`], and every kind of bad input the issue names.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;

use super::*;
use crate::certificate::{DEFAULT_ISSUER, DEFAULT_LIFETIME_SECONDS, InsurerKey, MemberCertificate};
use crate::device::{DeviceSigner, SoftwareDeviceKey};
use crate::model::{Coverage, JwkSet};
use crate::rng::SeededRng;

const T0: i64 = 1_800_000_000;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

struct World {
    insurer: InsurerKey,
    device: SoftwareDeviceKey,
    certificate: Vec<u8>,
}

/// The device id of the test member.
const DEVICE_ID: &str = "0d1e2f3a4b5c6d7e";

fn member(device: &SoftwareDeviceKey, expires_at: i64) -> MemberCertificate {
    MemberCertificate {
        issuer: DEFAULT_ISSUER.into(),
        member_id: "3f9a0c4e8b7d6a5f".into(),
        device_id: DEVICE_ID.into(),
        device_public_key: device.public_key().unwrap(),
        coverage: Coverage {
            plan: "INT".into(),
            region: "AR-M".into(),
            valid_until: NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
        },
        issued_at: T0 - 86_400,
        expires_at,
    }
}

/// A code made by hand (what `present` refuses to make), signed by `signer`.
fn hand_made(
    signer: &dyn DeviceSigner,
    certificate: &[u8],
    issued_at: i64,
    expires_at: i64,
) -> String {
    let payload = format::encode_claims(&format::Claims {
        issued_at,
        expires_at,
        nonce: vec![5; 8],
        purpose: Purpose::Identify,
    })
    .unwrap();
    let protected = profile::es256_header()
        .value(
            CERTIFICATE_HEADER,
            profile::deterministic_value(certificate).unwrap(),
        )
        .build();
    let signed = profile::sign1(protected, payload, |tbs| {
        Ok::<_, CredentialError>(profile::der_to_raw(&signer.sign(tbs)?).unwrap())
    })
    .unwrap();
    text::encode(&profile::to_bytes(signed).unwrap())
}

fn world() -> World {
    let (insurer, _) = InsurerKey::generate().unwrap();
    let device = SoftwareDeviceKey::generate().unwrap();
    let certificate = insurer.issue(&member(&device, T0 + 90 * 86_400)).unwrap();
    World {
        insurer,
        device,
        certificate,
    }
}

impl World {
    fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.insurer.jwk()],
        }
    }

    /// A verifier with fresh lists, so that accepted codes carry no warning.
    fn verifier(&self) -> Verifier {
        let verifier = Verifier::new(CachedTrustList::new(self.jwks(), at(T0)));
        verifier.update_revocations(RevocationList::new([], at(T0)));
        verifier
    }

    fn code(&self, purpose: Purpose, now: i64, seed: u8) -> Presentation {
        present(
            purpose,
            at(now),
            &self.device,
            &self.certificate,
            &SeededRng::new([seed; 32]),
        )
        .unwrap()
    }
}

#[test]
fn a_code_verifies_offline_and_says_who_and_for_what() {
    let world = world();
    let code = world.code(Purpose::Identify, T0, 1);
    assert!(code.text.starts_with("CN1:"));
    assert_eq!(code.issued_at, at(T0));
    assert_eq!(code.expires_at, at(T0 + 60));
    assert_eq!(code.refresh_at, at(T0 + 45));
    let verified = world
        .verifier()
        .verify(&code.text, Purpose::Identify, at(T0 + 5))
        .unwrap();
    assert_eq!(
        verified.certificate,
        member(&world.device, T0 + 90 * 86_400)
    );
    assert_eq!(verified.purpose, Purpose::Identify);
    assert_eq!((verified.issued_at, verified.expires_at), (T0, T0 + 60));
    assert_eq!(verified.nonce.len(), NONCE_LEN);
    assert!(verified.warnings.is_empty(), "{:?}", verified.warnings);

    let settle = world.code(Purpose::Settle, T0, 2);
    assert!(
        world
            .verifier()
            .verify(&settle.text, Purpose::Settle, at(T0))
            .is_ok()
    );
}

#[test]
fn the_code_fits_version_12_at_level_m_with_what_the_insurer_issues() {
    let size = |member_id: &str, device_id: &str, plan: &str, lifetime: i64| {
        let (insurer, _) = InsurerKey::generate().unwrap();
        let device = SoftwareDeviceKey::generate().unwrap();
        let mut certified = member(&device, T0 + 80 * 86_400);
        certified.member_id = member_id.into();
        certified.device_id = device_id.into();
        certified.coverage.plan = plan.into();
        certified.issued_at = certified.expires_at - lifetime;
        let certificate = insurer.issue(&certified).unwrap();
        let code = present(
            Purpose::Identify,
            at(T0),
            &device,
            &certificate,
            &SeededRng::new([1; 32]),
        )
        .unwrap();
        let version = version_for(&code.text).unwrap();
        assert_eq!(code.matrix.version, version);
        assert!(code.text.len() <= alphanumeric_capacity(version));
        (text::decode(&code.text).unwrap().len(), version)
    };
    // 8-byte ids, a 90-day certificate, a plan code: version 12 (at most
    // 276 bytes), with room for plan and region to grow to 10 characters.
    assert_eq!(
        size(
            "3f9a0c4e8b7d6a5f",
            DEVICE_ID,
            "INT",
            DEFAULT_LIFETIME_SECONDS
        ),
        (273, 12)
    );
    assert_eq!(
        size(
            "3f9a0c4e8b7d6a5f",
            DEVICE_ID,
            "INTEGR",
            DEFAULT_LIFETIME_SECONDS
        ),
        (276, 12)
    );
    // What the insurer issued before (16-byte ids, the plan's full name):
    // still version 13.
    assert_eq!(
        size(
            "3f9a0c4e8b7d6a5f4e3d2c1b0a998877",
            "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f6",
            "Integral",
            DEFAULT_LIFETIME_SECONDS
        ),
        (294, 13)
    );
    // Another lifetime carries iat: 6 bytes more.
    assert_eq!(
        size("3f9a0c4e8b7d6a5f", DEVICE_ID, "INT", 30 * 86_400),
        (279, 13)
    );
}

#[test]
fn the_window_allows_the_documented_skew_and_no_more() {
    let world = world();
    let code = world.code(Purpose::Identify, T0, 1);
    let verify = |now: i64| {
        world
            .verifier()
            .verify(&code.text, Purpose::Identify, at(now))
    };
    assert!(verify(T0 - CLOCK_SKEW_SECONDS).is_ok());
    assert_eq!(
        verify(T0 - CLOCK_SKEW_SECONDS - 1),
        Err(Rejection::NotYetValid)
    );
    assert!(verify(T0 + LIFETIME_SECONDS + CLOCK_SKEW_SECONDS - 1).is_ok());
    assert_eq!(
        verify(T0 + LIFETIME_SECONDS + CLOCK_SKEW_SECONDS),
        Err(Rejection::Expired)
    );
    assert_eq!(verify(T0 + 3_600), Err(Rejection::Expired));
}

#[test]
fn a_second_scan_is_a_replay_even_from_two_counters_at_once() {
    let world = world();
    let code = world.code(Purpose::Settle, T0, 1);
    let verifier = world.verifier();
    assert!(verifier.verify(&code.text, Purpose::Settle, at(T0)).is_ok());
    assert_eq!(
        verifier.verify(&code.text, Purpose::Settle, at(T0 + 1)),
        Err(Rejection::Replayed)
    );

    for round in 0..10u8 {
        let code = world.code(Purpose::Settle, T0, 10 + round);
        let verifier = Arc::new(world.verifier());
        let accepted = Arc::new(AtomicUsize::new(0));
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let counters: Vec<_> = (0..4)
            .map(|_| {
                let (verifier, accepted, barrier, text) = (
                    verifier.clone(),
                    accepted.clone(),
                    barrier.clone(),
                    code.text.clone(),
                );
                std::thread::spawn(move || {
                    barrier.wait();
                    match verifier.verify(&text, Purpose::Settle, at(T0)) {
                        Ok(_) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(rejection) => assert_eq!(rejection, Rejection::Replayed),
                    }
                })
            })
            .collect();
        for counter in counters {
            counter.join().unwrap();
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn an_identify_code_cannot_settle_and_is_not_used_up_by_trying() {
    let world = world();
    let verifier = world.verifier();
    let identify = world.code(Purpose::Identify, T0, 1);
    assert_eq!(
        verifier.verify(&identify.text, Purpose::Settle, at(T0)),
        Err(Rejection::WrongPurpose {
            expected: Purpose::Settle,
            presented: Purpose::Identify
        })
    );
    assert!(
        verifier
            .verify(&identify.text, Purpose::Identify, at(T0))
            .is_ok()
    );
    let settle = world.code(Purpose::Settle, T0, 2);
    assert!(matches!(
        verifier.verify(&settle.text, Purpose::Identify, at(T0)),
        Err(Rejection::WrongPurpose { .. })
    ));
}

#[test]
fn a_code_from_another_insurer_is_refused_by_kid() {
    let world = world();
    let stranger = self::world();
    let code = stranger.code(Purpose::Identify, T0, 1);
    assert!(matches!(
        world.verifier().verify(&code.text, Purpose::Identify, at(T0)),
        Err(Rejection::UnknownInsurer { kid }) if kid == stranger.insurer.kid()
    ));
}

#[test]
fn a_certificate_forged_under_a_trusted_kid_is_refused() {
    let world = world();
    // Another key signs a certificate whose header names the trusted kid.
    let forger = SoftwareDeviceKey::generate().unwrap();
    let original = profile::decode_sign1(&world.certificate, profile::Protected::KeyId).unwrap();
    let forged = profile::sign1(
        original.protected.header.clone(),
        original.payload.clone().unwrap(),
        |tbs| Ok::<_, CredentialError>(profile::der_to_raw(&forger.sign(tbs)?).unwrap()),
    )
    .unwrap();
    let forged = profile::to_bytes(forged).unwrap();
    let code = present(
        Purpose::Identify,
        at(T0),
        &world.device,
        &forged,
        &SeededRng::new([1; 32]),
    )
    .unwrap();
    assert_eq!(
        world
            .verifier()
            .verify(&code.text, Purpose::Identify, at(T0)),
        Err(Rejection::InsurerSignatureInvalid)
    );
}

#[test]
fn a_code_signed_by_another_device_is_refused() {
    let world = world();
    let thief = SoftwareDeviceKey::generate().unwrap();
    // present() itself refuses: the certificate binds another key.
    assert!(matches!(
        present(
            Purpose::Identify,
            at(T0),
            &thief,
            &world.certificate,
            &SeededRng::new([1; 32])
        ),
        Err(CredentialError::DeviceKeyMismatch)
    ));
    // Made by hand, the counter refuses it.
    let text = hand_made(&thief, &world.certificate, T0, T0 + 60);
    assert_eq!(
        world.verifier().verify(&text, Purpose::Identify, at(T0)),
        Err(Rejection::DeviceSignatureInvalid)
    );
}

#[test]
fn a_code_with_a_long_lifetime_is_refused() {
    let world = world();
    let text = hand_made(&world.device, &world.certificate, T0, T0 + 3_600);
    assert_eq!(
        world.verifier().verify(&text, Purpose::Identify, at(T0)),
        Err(Rejection::Malformed("validity window"))
    );
    // The same code with a 60 s lifetime is fine: the refusal is the window.
    let text = hand_made(&world.device, &world.certificate, T0, T0 + 60);
    assert!(
        world
            .verifier()
            .verify(&text, Purpose::Identify, at(T0))
            .is_ok()
    );
}

#[test]
fn a_code_that_is_not_deterministic_cbor_is_refused_even_when_signed() {
    // The device itself signs claims in a non-deterministic order: the
    // signature is good, the encoding is not, and the code is refused.
    let world = world();
    let claims = format::encode_claims(&format::Claims {
        issued_at: T0,
        expires_at: T0 + 60,
        nonce: vec![5; 8],
        purpose: Purpose::Identify,
    })
    .unwrap();
    let ciborium::Value::Map(mut entries) = profile::deterministic_value(&claims).unwrap() else {
        panic!("claims are a map")
    };
    entries.swap(0, 1);
    let payload = profile::encode(&ciborium::Value::Map(entries)).unwrap();
    let protected = profile::es256_header()
        .value(
            CERTIFICATE_HEADER,
            profile::deterministic_value(&world.certificate).unwrap(),
        )
        .build();
    let signed = profile::sign1(protected, payload, |tbs| {
        Ok::<_, CredentialError>(profile::der_to_raw(&world.device.sign(tbs)?).unwrap())
    })
    .unwrap();
    let text = text::encode(&profile::to_bytes(signed).unwrap());
    assert_eq!(
        world.verifier().verify(&text, Purpose::Identify, at(T0)),
        Err(Rejection::Malformed("map keys out of order or repeated"))
    );
}

#[test]
fn a_revoked_device_is_refused_and_an_unchecked_one_is_flagged() {
    let world = world();
    let verifier = world.verifier();
    verifier.update_revocations(RevocationList::new([DEVICE_ID.to_owned()], at(T0)));
    let code = world.code(Purpose::Identify, T0, 1);
    assert_eq!(
        verifier.verify(&code.text, Purpose::Identify, at(T0)),
        Err(Rejection::DeviceRevoked)
    );
    // Without a revocation list, or with a stale one: accepted, flagged.
    let offline = Verifier::new(CachedTrustList::new(world.jwks(), at(T0)));
    let verified = offline
        .verify(&code.text, Purpose::Identify, at(T0))
        .unwrap();
    assert_eq!(verified.warnings, [Warning::RevocationNotChecked]);
}

#[test]
fn a_stale_trust_list_is_reported_with_its_age() {
    let world = world();
    let fetched = at(T0 - TRUST_LIST_MAX_AGE_SECONDS - 10);
    let verifier = Verifier::new(CachedTrustList::new(world.jwks(), fetched));
    verifier.update_revocations(RevocationList::new([], at(T0)));
    let code = world.code(Purpose::Identify, T0, 1);
    let verified = verifier
        .verify(&code.text, Purpose::Identify, at(T0))
        .unwrap();
    assert_eq!(
        verified.warnings,
        [Warning::TrustListStale {
            age_seconds: TRUST_LIST_MAX_AGE_SECONDS + 10
        }]
    );
    assert_eq!(verifier.trust_list().fetched_at, fetched);
}

#[test]
fn an_expired_certificate_makes_no_code_and_passes_no_counter() {
    let (insurer, _) = InsurerKey::generate().unwrap();
    let device = SoftwareDeviceKey::generate().unwrap();
    let certificate = insurer.issue(&member(&device, T0 + 30)).unwrap();
    let rng = SeededRng::new([1; 32]);
    assert!(matches!(
        present(Purpose::Identify, at(T0 + 30), &device, &certificate, &rng),
        Err(CredentialError::CertificateExpired)
    ));
    // Made just before, scanned just after the certificate's end.
    let code = present(Purpose::Identify, at(T0 + 10), &device, &certificate, &rng).unwrap();
    let verifier = Verifier::new(CachedTrustList::new(
        JwkSet {
            keys: vec![insurer.jwk()],
        },
        at(T0),
    ));
    assert_eq!(
        verifier.verify(&code.text, Purpose::Identify, at(T0 + 31)),
        Err(Rejection::CertificateExpired)
    );
}

#[test]
fn garbage_is_refused_with_its_reason() {
    let world = world();
    let verifier = world.verifier();
    let now = at(T0);
    let verify = |text: &str| verifier.verify(text, Purpose::Identify, now);
    assert_eq!(verify(""), Err(Rejection::NotACarnetCode));
    assert_eq!(verify("hello"), Err(Rejection::NotACarnetCode));
    assert_eq!(verify("HC1:NCFOXN%TS3DH"), Err(Rejection::NotACarnetCode));
    assert_eq!(verify("CN2:ABC"), Err(Rejection::UnsupportedVersion));
    assert!(matches!(verify("CN1:"), Err(Rejection::Malformed(_))));
    assert!(matches!(verify("CN1:abc"), Err(Rejection::Malformed(_))));
    assert!(matches!(
        verify("CN1:QED8WEX0"),
        Err(Rejection::Malformed(_))
    ));
    assert!(matches!(
        verify(&text::encode(&[0x84, 0x40, 0xa0, 0x40, 0x40])),
        Err(Rejection::Malformed(_))
    ));
}

#[test]
fn every_single_byte_flip_and_every_truncation_is_refused() {
    let world = world();
    let code = world.code(Purpose::Identify, T0, 1);
    let bytes = text::decode(&code.text).unwrap();
    // A fresh verifier for each would also refuse; one that has not seen the
    // original proves none of them is accepted as new.
    let verifier = world.verifier();
    for position in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut flipped = bytes.clone();
            flipped[position] ^= mask;
            let outcome = verifier.verify(&text::encode(&flipped), Purpose::Identify, at(T0));
            assert!(
                outcome.is_err(),
                "flip {mask:#x} at {position} was accepted"
            );
        }
    }
    for len in 0..code.text.len() {
        assert!(
            verifier
                .verify(&code.text[..len], Purpose::Identify, at(T0))
                .is_err(),
            "truncation to {len} was accepted"
        );
    }
    // The original was never burnt by its mutants.
    assert!(
        verifier
            .verify(&code.text, Purpose::Identify, at(T0))
            .is_ok()
    );
}

#[test]
fn the_certificate_cache_changes_nothing_but_speed_and_forgets_on_key_change() {
    let world = world();
    let uncached = Verifier::with_config(
        CachedTrustList::new(world.jwks(), at(T0)),
        VerifierConfig {
            certificate_cache_capacity: 0,
            ..VerifierConfig::default()
        },
    );
    let cached = Verifier::with_config(
        CachedTrustList::new(world.jwks(), at(T0)),
        VerifierConfig {
            certificate_cache_capacity: 1,
            ..VerifierConfig::default()
        },
    );
    for seed in 0..3 {
        let code = world.code(Purpose::Identify, T0, seed);
        assert_eq!(
            uncached.verify(&code.text, Purpose::Identify, at(T0)),
            cached.verify(&code.text, Purpose::Identify, at(T0))
        );
    }
    // Another member pushes the first out of a one-entry cache: still fine.
    let other = self::world();
    let config = VerifierConfig {
        certificate_cache_capacity: 1,
        ..VerifierConfig::default()
    };
    let both = Verifier::with_config(
        CachedTrustList::new(
            JwkSet {
                keys: vec![world.insurer.jwk(), other.insurer.jwk()],
            },
            at(T0),
        ),
        config,
    );
    // (Both worlds share a device id: distinct seeds keep their nonces apart.)
    for seed in 10..14 {
        for (w, offset) in [(&world, 0), (&other, 100)] {
            let code = w.code(Purpose::Identify, T0, seed + offset);
            assert!(both.verify(&code.text, Purpose::Identify, at(T0)).is_ok());
        }
    }
    // The insurer withdraws the first key: its certificates stop at once,
    // even though they were cached.
    both.update_trust_list(CachedTrustList::new(
        JwkSet {
            keys: vec![other.insurer.jwk()],
        },
        at(T0),
    ));
    let code = world.code(Purpose::Identify, T0, 20);
    assert!(matches!(
        both.verify(&code.text, Purpose::Identify, at(T0)),
        Err(Rejection::UnknownInsurer { .. })
    ));
}

#[test]
fn a_signer_that_returns_junk_is_reported_not_trusted() {
    struct Junk(SoftwareDeviceKey);
    impl DeviceSigner for Junk {
        fn public_key(&self) -> Result<Vec<u8>, crate::device::SignerError> {
            self.0.public_key()
        }
        fn sign(&self, _: &[u8]) -> Result<Vec<u8>, crate::device::SignerError> {
            Ok(vec![0x30, 0x02, 0x05, 0x00])
        }
    }
    let world = world();
    let junk = Junk(world.device);
    assert!(matches!(
        present(
            Purpose::Identify,
            at(T0),
            &junk,
            &world.certificate,
            &SeededRng::new([1; 32])
        ),
        Err(CredentialError::MalformedSignature)
    ));
    assert!(matches!(
        present(
            Purpose::Identify,
            at(T0),
            &junk,
            b"not a certificate",
            &SeededRng::new([1; 32])
        ),
        Err(CredentialError::Certificate(_))
    ));
}

#[test]
fn the_presentation_renders_svg_and_png() {
    let world = world();
    let code = world.code(Purpose::Identify, T0, 1);
    let svg = code.svg();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert!(svg.len() < 40_000, "{} bytes", svg.len());
    let png = code.png().unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    assert!(png.len() < 10_000, "{} bytes", png.len());
    assert_eq!(
        code.matrix.modules.len(),
        (code.matrix.width * code.matrix.width) as usize
    );
}

fn shared_world() -> &'static (World, String) {
    static WORLD: std::sync::OnceLock<(World, String)> = std::sync::OnceLock::new();
    WORLD.get_or_init(|| {
        let world = world();
        let text = world.code(Purpose::Settle, T0, 7).text;
        (world, text)
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize),
    Insert(usize, u8),
    Truncate(usize),
    TextChar(usize, char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip(at, mask)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert(at, byte)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<char>()).prop_map(|(at, c)| Mutation::TextChar(at, c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random mutations of a valid code, applied to its bytes or its text:
    /// never a panic, never accepted, unless the mutant is the same code
    /// (tag 18 added in front, which readers accept; the nonce then stops a
    /// second use).
    #[test]
    fn random_mutations_are_refused_without_panic(mutations in proptest::collection::vec(mutation(), 1..4)) {
        let (world, original) = shared_world();
        let mut bytes = text::decode(original).unwrap();
        let mut text_form: Option<String> = None;
        for mutation in &mutations {
            let len = bytes.len().max(1);
            match *mutation {
                Mutation::Flip(at, mask) => {
                    if let Some(byte) = bytes.get_mut(at % len) { *byte ^= mask; }
                }
                Mutation::Delete(at) => { if !bytes.is_empty() { bytes.remove(at % len); } }
                Mutation::Insert(at, byte) => bytes.insert(at % (bytes.len() + 1), byte),
                Mutation::Truncate(at) => bytes.truncate(at % len),
                Mutation::TextChar(at, c) => {
                    let mut chars: Vec<char> = text::encode(&bytes).chars().collect();
                    let index = at % chars.len();
                    chars[index] = c;
                    text_form = Some(chars.into_iter().collect());
                }
            }
        }
        let text = text_form.unwrap_or_else(|| text::encode(&bytes));
        let original_bytes = text::decode(original).unwrap();
        let same_code = text::decode(&text).is_ok_and(|decoded| {
            decoded == original_bytes || decoded.strip_prefix(&[0xd2][..]) == Some(&original_bytes[..])
        });
        let outcome = world.verifier().verify(&text, Purpose::Settle, at(T0));
        if !same_code {
            prop_assert!(outcome.is_err(), "mutant accepted: {mutations:?}");
        }
    }

    /// Arbitrary text never panics the verifier.
    #[test]
    fn arbitrary_text_is_refused_without_panic(text in ".{0,600}") {
        let (world, _) = shared_world();
        prop_assert!(world.verifier().verify(&text, Purpose::Identify, at(T0)).is_err());
    }

    /// Arbitrary bytes behind the prefix never panic the verifier.
    #[test]
    fn arbitrary_bytes_are_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (world, _) = shared_world();
        prop_assert!(world.verifier().verify(&text::encode(&bytes), Purpose::Identify, at(T0)).is_err());
    }
}
