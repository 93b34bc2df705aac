//! The rotating QR credential against its targets (docs/PERFORMANCE.md,
//! "Credential (QR)"):
//! - the whole presentation (sign, encode, matrix) against the qrcode
//!   crate's bare encode of the same text, side by side in one run
//!   (target: at most 1.1x);
//! - verification on one thread, without and with the certificate cache
//!   (targets: 10,000 and 20,000 per second);
//! - the size of a code against an EU DCC-style certificate (printed).
//!
//! Run: `cargo bench -p carnet-core --bench credential -- --warm-up-time 1 --measurement-time 3`.

// Setup failures in a benchmark should stop it loudly; `criterion_group!`
// generates undocumented public items.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use carnet_core::certificate::{DEFAULT_ISSUER, InsurerKey, MemberCertificate};
use carnet_core::credential::{
    self, CachedTrustList, Purpose, QrMatrix, RevocationList, Verifier, VerifierConfig, dcc,
};
use carnet_core::device::{DeviceSigner, SoftwareDeviceKey};
use carnet_core::model::{Coverage, JwkSet};
use carnet_core::rng::SystemRng;
use chrono::{DateTime, NaiveDate, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use qrcode::{EcLevel, QrCode};

const T0: i64 = 1_800_000_000;
/// Distinct codes verified by one verifier before it is replaced (so that
/// every verification is of a fresh code, none a replay).
const CODES: usize = 1_000;

struct Setup {
    insurer: InsurerKey,
    device: SoftwareDeviceKey,
    certificate: Vec<u8>,
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn setup() -> Setup {
    let (insurer, _) = InsurerKey::generate().unwrap();
    let device = SoftwareDeviceKey::generate().unwrap();
    let member = MemberCertificate {
        issuer: DEFAULT_ISSUER.into(),
        // What the insurer issues: 8-byte ids, a plan code.
        member_id: "3f9a0c4e8b7d6a5f".into(),
        device_id: "0d1e2f3a4b5c6d7e".into(),
        device_public_key: device.public_key().unwrap(),
        coverage: Coverage {
            plan: "INT".into(),
            region: "AR-M".into(),
            valid_until: NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
        },
        issued_at: T0 - 86_400,
        expires_at: T0 + 89 * 86_400,
    };
    let certificate = insurer.issue(&member).unwrap();
    Setup {
        insurer,
        device,
        certificate,
    }
}

fn presentation(c: &mut Criterion) {
    let s = setup();
    let rng = SystemRng::new();
    let text = credential::present(Purpose::Identify, at(T0), &s.device, &s.certificate, &rng)
        .unwrap()
        .text;
    let present =
        || credential::present(Purpose::Identify, at(T0), &s.device, &s.certificate, &rng).unwrap();
    let bare = || QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).unwrap();
    let mut group = c.benchmark_group("presentation");
    // The machine is shared: load shifts between two benchmarks run one
    // after the other. Each of these two runs both operations alternately
    // and times only its own, so both see the same load.
    group.bench_function("qrcode bare encode of the same text (interleaved)", |b| {
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                black_box(present());
                let start = Instant::now();
                black_box(bare());
                timed += start.elapsed();
            }
            timed
        })
    });
    group.bench_function("carnet present: sign, encode, matrix (interleaved)", |b| {
        b.iter_custom(|iterations| {
            let mut timed = Duration::ZERO;
            for _ in 0..iterations {
                black_box(bare());
                let start = Instant::now();
                black_box(present());
                timed += start.elapsed();
            }
            timed
        })
    });
    group.bench_function("carnet matrix only (alphanumeric segment)", |b| {
        b.iter(|| QrMatrix::encode_alphanumeric(black_box(&text)).unwrap())
    });
    group.bench_function("carnet present + svg + png", |b| {
        b.iter(|| {
            let code = credential::present(
                Purpose::Identify,
                black_box(at(T0)),
                &s.device,
                &s.certificate,
                &rng,
            )
            .unwrap();
            (code.svg(), code.png().unwrap())
        })
    });
    group.finish();
}

fn verifier(s: &Setup, cache: usize) -> Verifier {
    let verifier = Verifier::with_config(
        CachedTrustList::new(
            JwkSet {
                keys: vec![s.insurer.jwk()],
            },
            at(T0),
        ),
        VerifierConfig {
            certificate_cache_capacity: cache,
            ..VerifierConfig::default()
        },
    );
    verifier.update_revocations(RevocationList::new([], at(T0)));
    verifier
}

fn verification(c: &mut Criterion) {
    let s = setup();
    let rng = SystemRng::new();
    let codes: Vec<String> = (0..CODES)
        .map(|_| {
            credential::present(Purpose::Settle, at(T0), &s.device, &s.certificate, &rng)
                .unwrap()
                .text
        })
        .collect();
    let mut group = c.benchmark_group("verify");
    for (name, cache) in [
        ("without certificate cache", 0),
        ("with certificate cache", 1_000),
    ] {
        group.bench_function(name, |b| {
            // A fresh verifier for every CODES codes, outside the timing, so
            // that each verification is of a code it has not seen.
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                let mut done = 0u64;
                while done < iterations {
                    let verifier = verifier(&s, cache);
                    let batch = (iterations - done).min(CODES as u64) as usize;
                    let start = Instant::now();
                    for code in &codes[..batch] {
                        black_box(
                            verifier
                                .verify(black_box(code), Purpose::Settle, at(T0 + 1))
                                .unwrap(),
                        );
                    }
                    total += start.elapsed();
                    done += batch as u64;
                }
                total
            })
        });
    }
    group.finish();
}

/// Prints the median of 300 interleaved pairs, present / bare, the most
/// load-resistant form of the 1.1x target.
fn ratio(_: &mut Criterion) {
    let s = setup();
    let rng = SystemRng::new();
    let text = credential::present(Purpose::Identify, at(T0), &s.device, &s.certificate, &rng)
        .unwrap()
        .text;
    let (mut present, mut bare) = (Vec::new(), Vec::new());
    for round in 0..330 {
        let start = Instant::now();
        black_box(
            credential::present(Purpose::Identify, at(T0), &s.device, &s.certificate, &rng)
                .unwrap(),
        );
        let present_time = start.elapsed();
        let start = Instant::now();
        black_box(QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).unwrap());
        let bare_time = start.elapsed();
        if round >= 30 {
            present.push(present_time);
            bare.push(bare_time);
        }
    }
    present.sort();
    bare.sort();
    let (p, b) = (present[present.len() / 2], bare[bare.len() / 2]);
    println!(
        "ratio: present {p:?} / bare encode {b:?} = {:.3} (medians of 300 interleaved pairs)",
        p.as_secs_f64() / b.as_secs_f64()
    );
}

/// Prints the size comparison (not timed).
fn sizes(_: &mut Criterion) {
    let s = setup();
    let code = credential::present(
        Purpose::Identify,
        at(T0),
        &s.device,
        &s.certificate,
        &SystemRng::new(),
    )
    .unwrap();
    let cose = base45::decode(&code.text[credential::PREFIX.len()..])
        .unwrap()
        .len();
    // The DCC's kid: the first 8 bytes of the SHA-256 of the signer's key.
    let digest = ring::digest::digest(&ring::digest::SHA256, s.insurer.public_key());
    let kid = &digest.as_ref()[..8];
    let dcc = dcc::dcc_style_sample(&s.device, kid, T0).unwrap();
    let dcc_version = credential::version_for(&dcc.text).unwrap();
    println!(
        "size: Carnet CN1: certificate {} bytes, COSE {} bytes, {} characters, QR version {} at M | \
         DCC-style HC1: COSE {} bytes, zlib {} bytes, {} characters, QR version {} at M",
        s.certificate.len(),
        cose,
        code.text.len(),
        code.matrix.version,
        dcc.cose.len(),
        dcc.compressed.len(),
        dcc.text.len(),
        dcc_version
    );
}

/// The parts of a presentation and of a verification, to see where the
/// time goes.
fn components(c: &mut Criterion) {
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    let s = setup();
    let mut group = c.benchmark_group("parts");
    let public_key = s.device.public_key().unwrap();
    let message = [7u8; 300];
    let der = s.device.sign(&message).unwrap();
    let raw = {
        let signature = p256::ecdsa::Signature::from_der(&der).unwrap();
        signature.to_bytes().to_vec()
    };
    group.bench_function("ring ES256 verify (one signature)", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, black_box(&public_key))
                .verify(black_box(&message), black_box(&raw))
                .unwrap()
        })
    });
    group.bench_function("device key ES256 sign (ring, DER)", |b| {
        b.iter(|| s.device.sign(black_box(&message)).unwrap())
    });
    let code = credential::present(
        Purpose::Identify,
        at(T0),
        &s.device,
        &s.certificate,
        &SystemRng::new(),
    )
    .unwrap();
    group.bench_function("render svg", |b| b.iter(|| black_box(&code).svg()));
    group.bench_function("render png (8 px per module)", |b| {
        b.iter(|| black_box(&code).png().unwrap())
    });
    group.bench_function("certificate decode (parse + decompress key)", |b| {
        b.iter(|| carnet_core::certificate::decode_unverified(black_box(&s.certificate)).unwrap())
    });
    let trust = carnet_core::certificate::TrustList::from_jwks(&JwkSet {
        keys: vec![s.insurer.jwk()],
    });
    group.bench_function("certificate verify (decode + one ES256)", |b| {
        b.iter(|| {
            carnet_core::certificate::verify_signature(black_box(&s.certificate), &trust).unwrap()
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    sizes,
    ratio,
    presentation,
    verification,
    components
);
criterion_main!(benches);
