//! The worked example of `docs/formats/credential.md`, byte for byte: fixed
//! keys (PKCS#8 below, each private scalar the SHA-256 of its label), a
//! fixed clock, a seeded nonce and deterministic (RFC 6979) device
//! signatures. If this test fails, the format changed: change the document
//! and the prefix with it.
//!
//! Also: the rendered PNG is decoded in-process with a real QR decoder
//! (rqrr) and verified, and the size report against an EU DCC-style
//! certificate is checked.

// A test's helpers stop it loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use carnet_core::certificate::{self, DEFAULT_ISSUER, InsurerKey, MemberCertificate, TrustList};
use carnet_core::credential::{
    self, CachedTrustList, Presentation, Purpose, Rejection, RevocationList, Verifier, dcc,
};
use carnet_core::device::{DeviceSigner, SignerError, SoftwareDeviceKey};
use carnet_core::model::{Coverage, JwkSet};
use carnet_core::rng::SeededRng;
use chrono::{DateTime, NaiveDate, Utc};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;

/// Private scalar: SHA-256("carnet test vector: insurer key").
const INSURER_PKCS8: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b020101042088df1eeed6b60261e43823f2373316d91a9e90714194f4d1be15e79f9527005ca14403420004e7676dccf7bb3a55df00132db1a10b8319f1f2066167be540d21cef06ddb8ecac8949a5c39193193567a32547896addc3b3d20c697cf80b25d9b75116b5114c0";
/// Private scalar: SHA-256("carnet test vector: device key").
const DEVICE_PKCS8: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420733f23bd849050af9f736c11d5f6b1fdd66cb402c40871b1d3f533376333fcc4a14403420004175f702f050a7e0eb94fd57a83bde3061d2c572134ad3dbf6c3095957fee1d9cae64405da6bf55e4b25807f58c6974d5f31e2c3786a6d3a740e3c0f1ce84a3e5";

/// 2026-03-02T09:30:00Z, the fixed clock.
const NOW: i64 = 1_772_443_800;
/// The nonce source's seed: 32 bytes of 0x42.
const SEED: [u8; 32] = [0x42; 32];

const KID: &str = "SMGi3Q";
const CERTIFICATE_PROTECTED: &str = "a20126044448c1a2dd";
const CERTIFICATE_PAYLOAD: &str = "a3041a6a0ed09808a101a401022001215820175f702f050a7e0eb94fd57a83bde3061d2c572134ad3dbf6c3095957fee1d9c22f53a0001000085483f9a0c4e8b7d6a5f480d1e2f3a4b5c6d7e63494e546441522d4d195152";
const CERTIFICATE: &str = "8449a20126044448c1a2dda05858a3041a6a0ed09808a101a401022001215820175f702f050a7e0eb94fd57a83bde3061d2c572134ad3dbf6c3095957fee1d9c22f53a0001000085483f9a0c4e8b7d6a5f480d1e2f3a4b5c6d7e63494e546441522d4d1951525840594117e9f0be3c47bacff8134502d08a06a5a4b4854aa4f139913a9f8bc0352b107950ab6026a4f4f1dd250b8225f5eacd9a4a80d213031c850b615a9cc95cee";
/// The presentation's protected header: `{1: -7, 13: certificate}`.
const PRESENTATION_PROTECTED_HEAD: &str = "a201260d";
const PRESENTATION_PAYLOAD: &str = "a4041a69a558d4061a69a5589807489663e77064ce399a3a0001000201";
const PRESENTATION_COSE: &str = "8458aca201260d8449a20126044448c1a2dda05858a3041a6a0ed09808a101a401022001215820175f702f050a7e0eb94fd57a83bde3061d2c572134ad3dbf6c3095957fee1d9c22f53a0001000085483f9a0c4e8b7d6a5f480d1e2f3a4b5c6d7e63494e546441522d4d1951525840594117e9f0be3c47bacff8134502d08a06a5a4b4854aa4f139913a9f8bc0352b107950ab6026a4f4f1dd250b8225f5eacd9a4a80d213031c850b615a9cc95ceea0581da4041a69a558d4061a69a5589807489663e77064ce399a3a000100020158407358b39d2bbb4ef48ba6afb5c98470e05cf57debbfc98387aa1d6da65976a14192f22547a8aef0a3a15d2c5d4eb58a268b83992dea8e89e576f5513e70226537";
const PRESENTATION_TEXT: &str = "CN1:+WG4$LO60+V1+D9O60CO0+89NQK8CKB9BFN0FIDUGQ441F90X50324V94P24.2CM.5VE1Y%174A/LFB0OZY0BR5+84O+L:8OH66L+IR4UAXJ30V100000A%G$180P1OSH6KD+49W 3SG7 UB0:F1C94UARB8WW5193KIA368DA8%PTA2O2395DQSJ20G09KHE.K/ MSJ9DMU8GIS7KKDO:J56FF.TL$*4K/U3/RLK1.Z4YUTXMJ%CG7I2BR3XJ1LKBNKPN7UC6B3XKBF3S+K8 QBF3S+K*9J.79FSCH9E83QHMJ100200T70T68R9B5*JPUN8-UB3L7:MJXGGGSP1V6 THLPZ6HIW3F1L*:E1D8ORUT2995M*UK2ZB ZBY.MC*4TSG9 5*0IH0TQ0V9+7UF4A1";

/// The device key signing deterministically (RFC 6979), DER out, as a
/// platform keystore would: same input, same signature, so the vector is
/// reproducible. Production signers are randomised; verifiers cannot tell.
struct DeterministicSigner(SigningKey);

impl DeviceSigner for DeterministicSigner {
    fn public_key(&self) -> Result<Vec<u8>, SignerError> {
        Ok(self
            .0
            .verifying_key()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec())
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let signature: Signature = self.0.sign(message);
        Ok(signature.to_der().as_bytes().to_vec())
    }
}

fn unhex(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn device() -> DeterministicSigner {
    DeterministicSigner(SigningKey::from_pkcs8_der(&unhex(DEVICE_PKCS8)).unwrap())
}

fn insurer() -> InsurerKey {
    InsurerKey::from_pkcs8(&unhex(INSURER_PKCS8)).unwrap()
}

fn jwks() -> JwkSet {
    JwkSet {
        keys: vec![insurer().jwk()],
    }
}

fn member() -> MemberCertificate {
    MemberCertificate {
        issuer: DEFAULT_ISSUER.into(),
        member_id: "3f9a0c4e8b7d6a5f".into(),
        device_id: "0d1e2f3a4b5c6d7e".into(),
        device_public_key: device().public_key().unwrap(),
        coverage: Coverage {
            plan: "INT".into(),
            region: "AR-M".into(),
            valid_until: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
        },
        // Enrolled ten days before, for the usual 90 days.
        issued_at: NOW - 10 * 86_400,
        expires_at: NOW + 80 * 86_400,
    }
}

/// The items of an untagged COSE_Sign1, by plain CBOR (ciborium): what an
/// integrator's library sees.
fn items(cose: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let value: ciborium::Value = ciborium::from_reader(cose).unwrap();
    let items = value.into_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[1], ciborium::Value::Map(vec![]));
    let bytes = |i: usize| items[i].as_bytes().unwrap().clone();
    (bytes(0), bytes(2), bytes(3))
}

fn presentation() -> Presentation {
    credential::present(
        Purpose::Identify,
        at(NOW),
        &device(),
        &unhex(CERTIFICATE),
        &SeededRng::new(SEED),
    )
    .unwrap()
}

fn verifier() -> Verifier {
    let verifier = Verifier::new(CachedTrustList::new(jwks(), at(NOW)));
    verifier.update_revocations(RevocationList::new([], at(NOW)));
    verifier
}

/// Prints the vectors as this build makes them, to update the constants
/// above and the document after a deliberate format change:
/// `cargo test -p carnet-core --test credential_vectors -- --ignored --nocapture`.
/// (The insurer's signature is randomised: a new certificate differs in its
/// last 64 bytes, and so does everything made from it.)
#[test]
#[ignore = "prints new vectors; run by hand after a format change"]
fn print_vectors() {
    let issued = insurer().issue(&member()).unwrap();
    let code = credential::present(
        Purpose::Identify,
        at(NOW),
        &device(),
        &issued,
        &SeededRng::new(SEED),
    )
    .unwrap();
    let cose = base45::decode(code.text.strip_prefix("CN1:").unwrap()).unwrap();
    println!("KID {}", insurer().kid());
    println!("CERTIFICATE {}", hex::encode(&issued));
    println!("PRESENTATION_COSE {}", hex::encode(&cose));
    println!("PRESENTATION_TEXT {}", code.text);
}

#[test]
fn the_fixed_keys_are_the_documented_ones() {
    let software = SoftwareDeviceKey::from_pkcs8(&unhex(DEVICE_PKCS8)).unwrap();
    assert_eq!(
        software.public_key().unwrap(),
        device().public_key().unwrap()
    );
    assert_eq!(insurer().kid(), KID);
    assert_eq!(certificate::key_id(insurer().public_key()), KID);
}

#[test]
fn the_member_certificate_vector() {
    // The protected header and claims are deterministic: issuing again gives
    // the same bytes; only the insurer's (randomised) signature differs.
    let issued = insurer().issue(&member()).unwrap();
    let (protected, payload, _) = items(&issued);
    assert_eq!(hex::encode(&protected), CERTIFICATE_PROTECTED);
    assert_eq!(hex::encode(&payload), CERTIFICATE_PAYLOAD);
    // The recorded certificate has those bytes, verifies with the JWKS
    // alone, and says what was certified.
    let recorded = unhex(CERTIFICATE);
    let (protected, payload, _) = items(&recorded);
    assert_eq!(hex::encode(protected), CERTIFICATE_PROTECTED);
    assert_eq!(hex::encode(payload), CERTIFICATE_PAYLOAD);
    let trust = TrustList::from_jwks(&jwks());
    assert_eq!(
        certificate::verify(&recorded, &trust, NOW).unwrap(),
        member()
    );
}

#[test]
fn the_presentation_vector() {
    let code = presentation();
    assert_eq!(code.text, PRESENTATION_TEXT);
    let cose = base45::decode(code.text.strip_prefix("CN1:").unwrap()).unwrap();
    assert_eq!(hex::encode(&cose), PRESENTATION_COSE);
    let (protected, payload, _) = items(&cose);
    // The protected header is {1: -7, 13: the certificate, as recorded}.
    assert_eq!(
        hex::encode(&protected),
        format!("{PRESENTATION_PROTECTED_HEAD}{CERTIFICATE}")
    );
    let header: ciborium::Value = ciborium::from_reader(&protected[..]).unwrap();
    let header = header.into_map().unwrap();
    assert_eq!(header.len(), 2);
    assert_eq!(header[1].0, ciborium::Value::from(13));
    let mut embedded = Vec::new();
    ciborium::into_writer(&header[1].1, &mut embedded).unwrap();
    assert_eq!(hex::encode(embedded), CERTIFICATE);
    assert_eq!(hex::encode(payload), PRESENTATION_PAYLOAD);
    assert_eq!(code.issued_at, at(NOW));
    assert_eq!(code.expires_at, at(NOW + 60));

    let verified = verifier()
        .verify(&code.text, Purpose::Identify, at(NOW + 5))
        .unwrap();
    assert_eq!(verified.certificate, member());
    assert!(verified.warnings.is_empty());
    assert_eq!(
        verifier().verify(&code.text, Purpose::Settle, at(NOW + 5)),
        Err(Rejection::WrongPurpose {
            expected: Purpose::Settle,
            presented: Purpose::Identify
        })
    );
}

/// coset reads both levels as a third party would, and the signatures
/// verify with the JWKS alone (p256, not Carnet's verifier).
#[test]
fn coset_reads_the_vector_and_p256_verifies_both_signatures() {
    use coset::{CborSerializable, CoseSign1, cwt::ClaimsSet};
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier as _;

    let outer = CoseSign1::from_slice(&unhex(PRESENTATION_COSE)).unwrap();
    let embedded = &outer.protected.header.rest[0];
    assert_eq!(embedded.0, coset::Label::Int(13));
    let certificate =
        <CoseSign1 as coset::AsCborValue>::from_cbor_value(embedded.1.clone()).unwrap();
    assert_eq!(
        carnet_core::model::b64::encode(&certificate.protected.header.key_id),
        KID
    );
    // The insurer's key from its JWK.
    let jwk = insurer().jwk();
    let mut sec1 = vec![4];
    sec1.extend(base64_url_decode(&jwk.x));
    sec1.extend(base64_url_decode(&jwk.y));
    let insurer_key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
    certificate
        .verify_signature(b"", |signature, data| {
            insurer_key.verify(data, &Signature::from_slice(signature).unwrap())
        })
        .unwrap();
    // The device key from the certificate's cnf (compressed point).
    let claims = ClaimsSet::from_slice(certificate.payload.as_deref().unwrap()).unwrap();
    let cnf = &claims.rest[0].1;
    let key =
        <coset::CoseKey as coset::AsCborValue>::from_cbor_value(cnf.as_map().unwrap()[0].1.clone())
            .unwrap();
    let device_key = VerifyingKey::from_sec1_bytes(&key.to_sec1_octet_string().unwrap()).unwrap();
    outer
        .verify_signature(b"", |signature, data| {
            device_key.verify(data, &Signature::from_slice(signature).unwrap())
        })
        .unwrap();
    let presented = ClaimsSet::from_slice(outer.payload.as_deref().unwrap()).unwrap();
    assert_eq!(
        presented.issued_at,
        Some(coset::cwt::Timestamp::WholeSeconds(NOW))
    );
}

/// Decodes a 1-bit or 8-bit greyscale PNG into luma rows.
fn luma(png_bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    let (width, height) = (frame.width as usize, frame.height as usize);
    buffer.truncate(frame.buffer_size());
    (width, height, buffer)
}

#[test]
fn the_rendered_png_scans_with_a_real_decoder_and_verifies() {
    let code = presentation();
    let (width, height, pixels) = luma(&code.png().unwrap());
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    let (meta, text) = grids[0].decode().unwrap();
    assert_eq!(text, code.text);
    assert_eq!(meta.version.0, usize::from(code.matrix.version));
    assert_eq!(meta.ecc_level, 0, "rqrr numbers M as 0");
    assert!(
        verifier()
            .verify(&text, Purpose::Identify, at(NOW + 1))
            .is_ok()
    );
}

#[test]
fn the_size_report_against_a_dcc_style_certificate() {
    let code = presentation();
    let cose_len = base45::decode(&code.text[4..]).unwrap().len();
    let certificate_len = unhex(CERTIFICATE).len();
    // The DCC's kid: the first 8 bytes of the SHA-256 of the signer's key.
    let digest = ring::digest::digest(&ring::digest::SHA256, insurer().public_key());
    let kid = &digest.as_ref()[..8];
    let dcc = dcc::dcc_style_sample(&device(), kid, NOW).unwrap();
    let dcc_version = credential::version_for(&dcc.text).unwrap();
    println!("| | Carnet `CN1:` (identify) | EU DCC-style `HC1:` |");
    println!("| --- | --- | --- |");
    println!("| member certificate (COSE_Sign1) | {certificate_len} bytes | n/a |");
    println!(
        "| COSE_Sign1 | {cose_len} bytes | {} bytes |",
        dcc.cose.len()
    );
    println!(
        "| after zlib | not compressed | {} bytes |",
        dcc.compressed.len()
    );
    let dcc_uncompressed_text = base45::encode(&dcc.cose).len() + 4;
    println!(
        "| QR text | {} characters | {} characters |",
        code.text.len(),
        dcc.text.len()
    );
    println!(
        "| QR version at level M | {} ({}x{} modules) | {} ({}x{} modules) |",
        code.matrix.version,
        code.matrix.width,
        code.matrix.width,
        dcc_version,
        17 + 4 * u32::from(dcc_version),
        17 + 4 * u32::from(dcc_version)
    );
    // Version 12 holds 419 characters at level M (276 bytes); 13 holds 483.
    assert_eq!(
        (
            certificate_len,
            cose_len,
            code.text.len(),
            code.matrix.version
        ),
        (168, 273, 414, 12)
    );
    assert_eq!(
        (
            dcc.cose.len(),
            dcc.compressed.len(),
            dcc.text.len(),
            dcc_version
        ),
        (393, 404, 610, 16)
    );
    // zlib cannot shrink signatures, keys and ids: the DCC sample grows by
    // 11 bytes; without zlib it would be 594 characters, version 15.
    assert_eq!(dcc_uncompressed_text, 594);
    assert_eq!(
        credential::version_for(&"A".repeat(dcc_uncompressed_text)),
        Some(15)
    );
}

fn base64_url_decode(text: &str) -> Vec<u8> {
    carnet_core::model::b64::decode(text).unwrap()
}
