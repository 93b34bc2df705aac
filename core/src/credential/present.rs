//! Making a code: sign a fresh statement with the device key, wrap the
//! member certificate in it, encode, and lay out the QR matrix. No network;
//! time and randomness come from the caller.

use chrono::{DateTime, TimeZone, Utc};

use crate::certificate::{self, CertificateError};
use crate::device::DeviceSigner;
use crate::rng::Rng;

use super::error::CredentialError;
use super::format::{self, CERTIFICATE_HEADER, Claims, LIFETIME_SECONDS, NONCE_LEN, Purpose};
use super::profile::{self, ProfileError};
use super::qr::{DEFAULT_MODULE_PIXELS, QrMatrix};
use super::text;

/// How long before expiry the shell should show a new code, in seconds, so
/// that a code being scanned never expires in the scanner's hands.
pub const REFRESH_BEFORE_EXPIRY_SECONDS: i64 = 15;

/// One code, ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    /// The QR text: `CN1:` and Base45.
    pub text: String,
    /// The QR symbol to draw.
    pub matrix: QrMatrix,
    /// What the code may be used for.
    pub purpose: Purpose,
    /// Its issue time (whole seconds).
    pub issued_at: DateTime<Utc>,
    /// When verifiers stop accepting it (plus their clock-skew allowance).
    pub expires_at: DateTime<Utc>,
    /// When the shell should replace it with a new one.
    pub refresh_at: DateTime<Utc>,
}

impl Presentation {
    /// The symbol as a compact SVG (quiet zone included).
    pub fn svg(&self) -> String {
        self.matrix.to_svg()
    }

    /// The symbol as a PNG, [`DEFAULT_MODULE_PIXELS`] pixels per module.
    pub fn png(&self) -> Result<Vec<u8>, CredentialError> {
        self.matrix.to_png(DEFAULT_MODULE_PIXELS)
    }
}

/// Makes a code for `purpose` at `now`: the caller passes the
/// server-corrected time (`Carnet::now()`), so that a phone whose clock is
/// wrong still makes codes that verify.
///
/// `certificate` is the insurer-signed member certificate as stored at
/// enrolment; it must bind `signer`'s key and not have expired.
/// The images are rendered on demand ([`Presentation::svg`],
/// [`Presentation::png`]): shells draw [`Presentation::matrix`] themselves.
pub fn present(
    purpose: Purpose,
    now: DateTime<Utc>,
    signer: &dyn DeviceSigner,
    certificate: &[u8],
    rng: &dyn Rng,
) -> Result<Presentation, CredentialError> {
    let issued_at = now.timestamp();
    let (stored, embedded) = certificate::decode_for_presentation(certificate)?;
    if issued_at >= stored.expires_at {
        return Err(CredentialError::CertificateExpired);
    }
    // A code signed by a key the certificate does not bind would be refused
    // at every counter: say so here, where the member can act (enrol again).
    if !stored.device_key.matches_sec1(&signer.public_key()?) {
        return Err(CredentialError::DeviceKeyMismatch);
    }
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce)?;
    let expires_at = issued_at + LIFETIME_SECONDS;
    let payload = format::encode_claims(&Claims {
        issued_at,
        expires_at,
        nonce: nonce.to_vec(),
        purpose,
    })
    .map_err(encoding)?;
    // The certificate goes, as stored, into the protected header (`kcwt`).
    let protected = profile::es256_header()
        .value(CERTIFICATE_HEADER, embedded)
        .build();
    let signed = profile::sign1(protected, payload, |to_be_signed| {
        profile::der_to_raw(&signer.sign(to_be_signed)?).ok_or(CredentialError::MalformedSignature)
    })?;
    let text = text::encode(&profile::to_bytes(signed).map_err(encoding)?);
    let matrix = QrMatrix::encode_alphanumeric(&text)?;
    // Out of chrono's range only past the year 262143, long after any
    // certificate has expired.
    let at = |seconds: i64| {
        Utc.timestamp_opt(seconds, 0)
            .single()
            .ok_or(CredentialError::CertificateExpired)
    };
    Ok(Presentation {
        text,
        matrix,
        purpose,
        issued_at: at(issued_at)?,
        expires_at: at(expires_at)?,
        refresh_at: at(expires_at - REFRESH_BEFORE_EXPIRY_SECONDS)?,
    })
}

/// Encoding values into a `Vec` cannot fail; were it ever to, it is told as
/// a certificate that cannot be used.
fn encoding(error: ProfileError) -> CredentialError {
    CredentialError::Certificate(CertificateError::from(error))
}
