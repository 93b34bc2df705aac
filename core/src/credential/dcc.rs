//! A representative EU Digital COVID Certificate, made the way the DCC
//! specification makes one (CWT claims with the health certificate under
//! claim -260, COSE_Sign1 tagged 18 with ES256 and an 8-byte kid, zlib,
//! Base45, `HC1:`), so that the size of a Carnet code can be compared with
//! the best-known signed QR format. Used by the size report in
//! `docs/PERFORMANCE.md`, the benchmark and the vector tests; it plays no
//! part in presenting or verifying a Carnet code.
//!
//! The content is the vaccination example of the DCC schema (one dose
//! entry, name in both spellings, birth date), the shape of the
//! certificates that were shown at borders and doors in 2021-2022.

use std::io::Write;

use ciborium::Value;
use coset::cwt::{ClaimsSetBuilder, Timestamp};
use coset::{CborSerializable, TaggedCborSerializable, iana};
use flate2::Compression;
use flate2::write::ZlibEncoder;

use crate::certificate::CertificateError;
use crate::device::DeviceSigner;

use super::error::CredentialError;
use super::profile;

/// The DCC's prefix ("health certificate", version 1).
pub const DCC_PREFIX: &str = "HC1:";

/// A DCC-style certificate and the sizes along its encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DccStyleSample {
    /// The tagged COSE_Sign1.
    pub cose: Vec<u8>,
    /// The zlib stream of `cose` (what the DCC Base45-encodes).
    pub compressed: Vec<u8>,
    /// `HC1:` and the Base45 of `compressed`.
    pub text: String,
}

/// A map with text keys, in the order given (the DCC's own order; its
/// specification does not ask for deterministic CBOR).
fn text_map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(key, value)| (Value::Text(key.to_owned()), value))
            .collect(),
    )
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

/// The DCC claims: issuer country, expiry a year on, issue time, and the
/// vaccination certificate under `hcert` (-260) `{1: eu_dgc_v1}`.
fn claims(issued_at: i64) -> Result<Vec<u8>, coset::CoseError> {
    let vaccination = text_map([
        ("tg", text("840539006")),
        ("vp", text("1119349007")),
        ("mp", text("EU/1/20/1528")),
        ("ma", text("ORG-100030215")),
        ("dn", Value::from(2)),
        ("sd", Value::from(2)),
        ("dt", text("2021-02-18")),
        ("co", text("AT")),
        ("is", text("Ministry of Health, Austria")),
        (
            "ci",
            text("URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B"),
        ),
    ]);
    let certificate = text_map([
        ("v", Value::Array(vec![vaccination])),
        ("dob", text("1998-02-26")),
        (
            "nam",
            text_map([
                ("fn", text("Musterfrau-Gößinger")),
                ("gn", text("Gabriele")),
                ("fnt", text("MUSTERFRAU<GOESSINGER")),
                ("gnt", text("GABRIELE")),
            ]),
        ),
        ("ver", text("1.3.0")),
    ]);
    ClaimsSetBuilder::new()
        .issuer("AT".to_owned())
        .expiration_time(Timestamp::WholeSeconds(issued_at + 365 * 86_400))
        .issued_at(Timestamp::WholeSeconds(issued_at))
        .claim(
            iana::CwtClaimName::Hcert,
            Value::Map(vec![(Value::from(1), certificate)]),
        )
        .build()
        .to_vec()
}

/// Makes the sample at `issued_at`, signed (ES256) by `signer`, with
/// `kid` (8 bytes in the DCC) in the protected header.
pub fn dcc_style_sample(
    signer: &dyn DeviceSigner,
    kid: &[u8],
    issued_at: i64,
) -> Result<DccStyleSample, CredentialError> {
    let encoding =
        |_| CredentialError::Certificate(CertificateError::Malformed("cannot be encoded"));
    let payload = claims(issued_at).map_err(encoding)?;
    let protected = profile::es256_header().key_id(kid.to_vec()).build();
    let signed = profile::sign1(protected, payload, |to_be_signed| {
        profile::der_to_raw(&signer.sign(to_be_signed)?).ok_or(CredentialError::MalformedSignature)
    })?;
    let cose = signed.to_tagged_vec().map_err(encoding)?;
    // Level 9, as the DCC reference implementations compress.
    let mut zlib = ZlibEncoder::new(Vec::new(), Compression::best());
    let compressed = zlib
        .write_all(&cose)
        .and_then(|()| zlib.finish())
        .map_err(|error| CredentialError::Image(error.to_string()))?;
    let mut text = String::from(DCC_PREFIX);
    text.push_str(&base45::encode(&compressed));
    Ok(DccStyleSample {
        cose,
        compressed,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::SoftwareDeviceKey;
    use coset::CoseSign1;
    use coset::cwt::ClaimsSet;

    #[test]
    fn the_sample_is_a_dcc_shaped_tagged_cose_sign1_that_inflates_back() {
        let signer = SoftwareDeviceKey::generate().unwrap();
        let sample = dcc_style_sample(&signer, &[1; 8], 1_800_000_000).unwrap();
        assert_eq!(sample.cose[0], 0xd2);
        let parsed = CoseSign1::from_tagged_slice(&sample.cose).unwrap();
        assert_eq!(parsed.protected.header.key_id, [1u8; 8]);
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::ZlibDecoder::new(&sample.compressed[..]),
            &mut inflated,
        )
        .unwrap();
        assert_eq!(inflated, sample.cose);
        assert!(sample.text.starts_with("HC1:"));
        // The claims are a CWT with the hcert claim.
        let claims = ClaimsSet::from_slice(parsed.payload.as_deref().unwrap()).unwrap();
        assert_eq!(claims.issuer.as_deref(), Some("AT"));
        assert_eq!(claims.rest.len(), 1);
    }
}
