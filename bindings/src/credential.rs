//! The rotating QR: the member's side (`Carnet.current_qr` behind the
//! credential PIN) and the integrator's offline verifier (`QrVerifier`).
//! Thin mirrors of `carnet_core::credential`; no logic.

use std::sync::Arc;

use carnet_core::credential::{
    CachedTrustList, Presentation, Purpose, QrMatrix, Rejection, Verified, Verifier,
};
use carnet_core::model::JwkSet;
use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::carnet::{Carnet, run};
use crate::error::CarnetError;

/// What a code is for: the first scan identifies, a fresh one settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum QrPurpose {
    /// First scan: identity and eligibility.
    Identify,
    /// Second scan: settlement.
    Settle,
}

impl From<QrPurpose> for Purpose {
    fn from(purpose: QrPurpose) -> Self {
        match purpose {
            QrPurpose::Identify => Purpose::Identify,
            QrPurpose::Settle => Purpose::Settle,
        }
    }
}

impl From<Purpose> for QrPurpose {
    fn from(purpose: Purpose) -> Self {
        match purpose {
            Purpose::Identify => QrPurpose::Identify,
            Purpose::Settle => QrPurpose::Settle,
        }
    }
}

/// One code to show. The shell draws `modules` (cheap to pass) and shows
/// the next code at `refresh_at`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QrCode {
    /// The QR text (`CN1:` + Base45).
    pub text: String,
    /// The QR version (1-40).
    pub version: u8,
    /// Modules per side, without the quiet zone (4 modules each side).
    pub width: u32,
    /// `width * width` modules, row by row from the top left: 1 dark, 0 light.
    pub modules: Vec<u8>,
    /// What the code is for.
    pub purpose: QrPurpose,
    /// Issued at (Unix seconds, server-corrected time).
    pub issued_at: i64,
    /// Verifiers stop accepting it after this (plus their skew allowance).
    pub expires_at: i64,
    /// When to show the next one (Unix seconds).
    pub refresh_at: i64,
}

impl From<Presentation> for QrCode {
    fn from(presentation: Presentation) -> Self {
        Self {
            text: presentation.text,
            version: presentation.matrix.version,
            width: presentation.matrix.width,
            modules: presentation.matrix.modules,
            purpose: presentation.purpose.into(),
            issued_at: presentation.issued_at.timestamp(),
            expires_at: presentation.expires_at.timestamp(),
            refresh_at: presentation.refresh_at.timestamp(),
        }
    }
}

fn matrix_of(code: &QrCode) -> QrMatrix {
    QrMatrix {
        version: code.version,
        width: code.width,
        modules: code.modules.clone(),
    }
}

/// The code as a PNG, `module_pixels` pixels per module (for sharing or a
/// file; shells draw `modules` on screen).
#[uniffi::export]
pub fn qr_png(code: &QrCode, module_pixels: u32) -> Result<Vec<u8>, CarnetError> {
    matrix_of(code)
        .to_png(module_pixels)
        .map_err(|error| carnet_core::Error::from(error).into())
}

/// The code as an SVG document.
#[uniffi::export]
pub fn qr_svg(code: &QrCode) -> String {
    matrix_of(code).to_svg()
}

#[uniffi::export(async_runtime = "tokio")]
impl Carnet {
    /// Whether the member has chosen a credential PIN.
    pub fn credential_pin_is_set(&self) -> Result<bool, CarnetError> {
        Ok(self.inner.credential_pin_is_set()?)
    }

    /// Sets the 6-digit credential PIN that guards the QR (not the login
    /// password); changing it needs `current`.
    pub async fn set_credential_pin(
        self: Arc<Self>,
        current: Option<String>,
        new_pin: String,
    ) -> Result<(), CarnetError> {
        let inner = self.inner.clone();
        let current = current.map(Zeroizing::new);
        let new_pin = Zeroizing::new(new_pin);
        run(async move { inner.set_credential_pin(current.as_deref().map(|s| s.as_str()), &new_pin) })
            .await
    }

    /// Unlocks the QR with the credential PIN (five wrong ones lock it for a
    /// growing delay).
    pub async fn unlock_credential(self: Arc<Self>, pin: String) -> Result<(), CarnetError> {
        let inner = self.inner.clone();
        let pin = Zeroizing::new(pin);
        run(async move { inner.unlock_credential(&pin) }).await
    }

    /// Unlocks the QR after the platform's biometric prompt succeeded.
    pub fn unlock_credential_with_biometric(&self) -> Result<(), CarnetError> {
        Ok(self.inner.unlock_credential_with_biometric()?)
    }

    /// The code to show now, made offline (no network), valid 60 s.
    pub async fn current_qr(self: Arc<Self>, purpose: QrPurpose) -> Result<QrCode, CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.current_qr(purpose.into()) })
            .await
            .map(QrCode::from)
    }
}

/// An accepted code, as a counter sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct VerifiedQr {
    /// The pseudonymous member id.
    pub member_id: String,
    /// The device that showed it (for revocation).
    pub device_id: String,
    /// Coverage plan.
    pub plan: String,
    /// Coverage region.
    pub region: String,
    /// Last day of coverage, `YYYY-MM-DD`.
    pub coverage_valid_until: String,
    /// What the code was made for.
    pub purpose: QrPurpose,
    /// Issued at (Unix seconds).
    pub issued_at: i64,
    /// Expires at (Unix seconds).
    pub expires_at: i64,
    /// Stable codes of what the counter should know (`trust_list_stale`,
    /// `revocation_not_checked`).
    pub warnings: Vec<String>,
}

impl From<Verified> for VerifiedQr {
    fn from(verified: Verified) -> Self {
        Self {
            member_id: verified.certificate.member_id,
            device_id: verified.certificate.device_id,
            plan: verified.certificate.coverage.plan,
            region: verified.certificate.coverage.region,
            coverage_valid_until: verified
                .certificate
                .coverage
                .valid_until
                .format("%Y-%m-%d")
                .to_string(),
            purpose: verified.purpose.into(),
            issued_at: verified.issued_at,
            expires_at: verified.expires_at,
            warnings: verified
                .warnings
                .iter()
                .map(|warning| warning.code().to_owned())
                .collect(),
        }
    }
}

impl From<Rejection> for CarnetError {
    fn from(rejection: Rejection) -> Self {
        Self::QrRejected {
            reason: rejection.code().to_owned(),
            clerk_message: rejection.clerk_message().to_owned(),
        }
    }
}

/// The offline verifier a pharmacy or clinic runs: the insurer's published
/// keys (JWKS) and nothing else. Share one per counter: its replay cache
/// must see every scan.
#[derive(Debug, uniffi::Object)]
pub struct QrVerifier {
    verifier: Verifier,
}

#[uniffi::export]
impl QrVerifier {
    /// A verifier trusting the keys in `jwks_json` (the insurer's
    /// `/.well-known/jwks.json`), fetched at `fetched_at` (Unix seconds),
    /// so that a stale list can be reported.
    #[uniffi::constructor]
    pub fn new(jwks_json: String, fetched_at: i64) -> Result<Self, CarnetError> {
        let jwks: JwkSet =
            serde_json::from_str(&jwks_json).map_err(|_| CarnetError::InvalidConfig)?;
        let fetched_at = unix(fetched_at)?;
        Ok(Self {
            verifier: Verifier::new(CachedTrustList::new(jwks, fetched_at)),
        })
    }

    /// Verifies a scanned `text` for `expected` at `now` (Unix seconds, the
    /// counter's own clock). A refusal is `CarnetError.QrRejected` with a
    /// stable reason and a message for the clerk.
    pub fn verify(
        &self,
        text: String,
        expected: QrPurpose,
        now: i64,
    ) -> Result<VerifiedQr, CarnetError> {
        Ok(self
            .verifier
            .verify(&text, expected.into(), unix(now)?)?
            .into())
    }
}

fn unix(seconds: i64) -> Result<DateTime<Utc>, CarnetError> {
    DateTime::from_timestamp(seconds, 0).ok_or(CarnetError::InvalidConfig)
}
