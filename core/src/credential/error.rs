//! What can go wrong: [`CredentialError`] when the phone makes a code,
//! [`Rejection`] when a counter refuses one, [`Warning`] when a counter
//! accepts one but should know something.

use crate::certificate::CertificateError;
use crate::device::SignerError;
use crate::rng::RandomError;

use super::format::Purpose;

/// Why the phone could not make a code.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The device key could not sign (locked phone, key lost, platform
    /// failure).
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// The signer returned something that is not a DER ECDSA P-256
    /// signature (a faulty platform callback).
    #[error("the device key returned a malformed signature")]
    MalformedSignature,
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The stored member certificate cannot be read.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    /// The member certificate has expired: go online so that the app renews
    /// it.
    #[error("the member certificate has expired; connect to renew it")]
    CertificateExpired,
    /// The certificate binds another key than this device's: enrol again.
    #[error("the member certificate belongs to another device key; enrol this device again")]
    DeviceKeyMismatch,
    /// The text does not fit a QR code (cannot happen with a certificate
    /// the insurer issued).
    #[error("the code is too long for a QR symbol")]
    TooLong,
    /// The PNG could not be written.
    #[error("the QR image could not be written: {0}")]
    Image(String),
}

/// Why a verifier refused a code. Each reason has a stable [`code`] for
/// integrators and a [`clerk_message`] for the person at the counter.
///
/// [`code`]: Rejection::code
/// [`clerk_message`]: Rejection::clerk_message
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Not a Carnet code at all (no `CN1:` prefix): another QR was scanned.
    #[error("not a Carnet code")]
    NotACarnetCode,
    /// A Carnet code of a format version this verifier does not know.
    #[error("a Carnet code of an unsupported version")]
    UnsupportedVersion,
    /// The text or its content is damaged or truncated.
    #[error("the code is malformed: {0}")]
    Malformed(&'static str),
    /// The certificate names an insurer key that is not in the trust list.
    #[error("the certificate's insurer key is not trusted (kid {kid})")]
    UnknownInsurer {
        /// The key id, base64url, as in the JWKS.
        kid: String,
    },
    /// The insurer's signature on the certificate does not verify.
    #[error("the certificate's signature is not valid")]
    InsurerSignatureInvalid,
    /// The device's signature on the code does not verify.
    #[error("the code's signature is not valid")]
    DeviceSignatureInvalid,
    /// The member certificate has expired.
    #[error("the member certificate has expired")]
    CertificateExpired,
    /// The code's issue time is beyond the clock-skew allowance ahead of
    /// this verifier's clock.
    #[error("the code is dated in the future")]
    NotYetValid,
    /// The code expired (past the clock-skew allowance).
    #[error("the code has expired")]
    Expired,
    /// This code was already accepted within its window.
    #[error("the code was already used")]
    Replayed,
    /// The code was made for another purpose than the one asked.
    #[error("the code was made to {presented}, not to {expected}")]
    WrongPurpose {
        /// What the verifier asked for.
        expected: Purpose,
        /// What the code was made for.
        presented: Purpose,
    },
    /// The device that made the code has been revoked.
    #[error("the device that made this code has been revoked")]
    DeviceRevoked,
}

impl Rejection {
    /// A stable machine code (snake case) for integrators' logs and
    /// translations.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotACarnetCode => "not_a_carnet_code",
            Self::UnsupportedVersion => "unsupported_version",
            Self::Malformed(_) => "malformed",
            Self::UnknownInsurer { .. } => "unknown_insurer",
            Self::InsurerSignatureInvalid => "insurer_signature_invalid",
            Self::DeviceSignatureInvalid => "device_signature_invalid",
            Self::CertificateExpired => "certificate_expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Expired => "expired",
            Self::Replayed => "replayed",
            Self::WrongPurpose { .. } => "wrong_purpose",
            Self::DeviceRevoked => "device_revoked",
        }
    }

    /// What to tell the person at the counter, in plain words: what
    /// happened and what to do next.
    pub fn clerk_message(&self) -> &'static str {
        match self {
            Self::NotACarnetCode => {
                "This is not a Carnet member code: ask the member to open the Carnet app and show its code."
            }
            Self::UnsupportedVersion => {
                "This code was made by a newer Carnet app: update this counter's software, or identify the member another way."
            }
            Self::Malformed(_) => {
                "This code could not be read completely: ask the member to show it again, brighter and closer."
            }
            Self::UnknownInsurer { .. } => {
                "This code comes from an insurer this counter does not know: update the insurer keys, or identify the member another way."
            }
            Self::InsurerSignatureInvalid => {
                "This member certificate has been altered: do not accept this code."
            }
            Self::DeviceSignatureInvalid => {
                "This code has been altered or was not made on the member's phone: do not accept it."
            }
            Self::CertificateExpired => {
                "The member's certificate has expired: ask the member to connect the app to the internet to renew it, then show a new code."
            }
            Self::NotYetValid => {
                "This code is dated in the future: check this counter's clock, then scan a new code."
            }
            Self::Expired => "This code has expired: ask the member to show a new one.",
            Self::Replayed => "This code has already been used: ask the member to show a new one.",
            Self::WrongPurpose {
                expected: Purpose::Settle,
                ..
            } => {
                "This code only identifies the member: ask the member to show a payment code to settle."
            }
            Self::WrongPurpose { .. } => {
                "This is a payment code: ask the member to show an identification code first."
            }
            Self::DeviceRevoked => {
                "This phone has been withdrawn from the member's account: do not accept the code; the member must use their current phone."
            }
        }
    }
}

/// Something a verifier should know about an accepted code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The trust list is older than its maximum age: a withdrawn insurer key
    /// might still be trusted. Go online to refresh it.
    TrustListStale {
        /// Its age, in seconds.
        age_seconds: i64,
    },
    /// No revocation list, or one older than its maximum age: a revoked
    /// device might still be accepted. Go online to refresh it.
    RevocationNotChecked,
}

impl Warning {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TrustListStale { .. } => "trust_list_stale",
            Self::RevocationNotChecked => "revocation_not_checked",
        }
    }

    /// What to tell the person at the counter.
    pub fn clerk_message(&self) -> &'static str {
        match self {
            Self::TrustListStale { .. } => {
                "The insurer keys on this counter are out of date: connect it to the internet soon."
            }
            Self::RevocationNotChecked => {
                "Withdrawn phones could not be checked: connect this counter to the internet soon."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_rejection() -> Vec<Rejection> {
        vec![
            Rejection::NotACarnetCode,
            Rejection::UnsupportedVersion,
            Rejection::Malformed("x"),
            Rejection::UnknownInsurer { kid: "k".into() },
            Rejection::InsurerSignatureInvalid,
            Rejection::DeviceSignatureInvalid,
            Rejection::CertificateExpired,
            Rejection::NotYetValid,
            Rejection::Expired,
            Rejection::Replayed,
            Rejection::WrongPurpose {
                expected: Purpose::Settle,
                presented: Purpose::Identify,
            },
            Rejection::WrongPurpose {
                expected: Purpose::Identify,
                presented: Purpose::Settle,
            },
            Rejection::DeviceRevoked,
        ]
    }

    #[test]
    fn every_rejection_has_its_own_message_ending_in_what_to_do() {
        let all = every_rejection();
        let messages: std::collections::HashSet<_> =
            all.iter().map(Rejection::clerk_message).collect();
        assert_eq!(messages.len(), all.len());
        for rejection in &all {
            let message = rejection.clerk_message();
            assert!(message.contains(':'), "{message}");
            assert!(message.ends_with('.'), "{message}");
        }
        assert_eq!(
            Rejection::Expired.clerk_message(),
            "This code has expired: ask the member to show a new one."
        );
        let codes: std::collections::HashSet<_> = all.iter().map(Rejection::code).collect();
        assert_eq!(codes.len(), all.len() - 1); // both WrongPurpose share a code
    }
}
