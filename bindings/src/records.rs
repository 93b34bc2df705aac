//! Records that mirror the core's types (the core has no UniFFI), with the
//! conversions. Dates travel as ISO 8601 strings (`YYYY-MM-DD`), instants as
//! Unix seconds.

use std::path::PathBuf;

use carnet_core::account::RegistrationField as CoreField;
use carnet_core::api::ApiConfig;
use carnet_core::model;
use chrono::NaiveDate;

/// Where the member's data lives and which insurer to talk to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CarnetConfig {
    /// The vault's directory, in app-private storage.
    pub data_dir: String,
    /// The insurer's API base URL (`https://...`).
    pub server_url: String,
    /// A private root CA (PEM text, not a path) to trust, for private
    /// deployments and tests.
    pub root_ca_pem: Option<String>,
    /// Whether the public WebPKI roots are trusted as well.
    pub use_public_roots: bool,
    /// SPKI pins (base64 of SHA-256); empty: no pinning. Give a backup pin.
    pub spki_pins: Vec<String>,
}

impl From<CarnetConfig> for carnet_core::CarnetConfig {
    fn from(config: CarnetConfig) -> Self {
        let mut api = ApiConfig::new(config.server_url);
        api.extra_root_ca_pem = config.root_ca_pem;
        api.use_public_roots = config.use_public_roots;
        api.spki_pins = config.spki_pins;
        Self {
            data_dir: PathBuf::from(config.data_dir),
            api,
        }
    }
}

/// A registration field, for pointing at the ones to correct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum RegistrationField {
    /// The affiliate number.
    AffiliateNumber,
    /// The 16-digit card number.
    CardNumber,
    /// The birth date.
    BirthDate,
    /// The username.
    Username,
    /// The password.
    Password,
    /// The e-mail address.
    Email,
}

impl From<CoreField> for RegistrationField {
    fn from(field: CoreField) -> Self {
        match field {
            CoreField::AffiliateNumber => Self::AffiliateNumber,
            CoreField::CardNumber => Self::CardNumber,
            CoreField::BirthDate => Self::BirthDate,
            CoreField::Username => Self::Username,
            CoreField::Password => Self::Password,
            CoreField::Email => Self::Email,
        }
    }
}

/// A member signing up (the fields of the insurer's form).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct Registration {
    /// The insurer's affiliate number, e.g. `123456/01`.
    pub affiliate_number: String,
    /// The 16 digits printed on the card (spaces and dashes allowed).
    pub card_number: String,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: String,
    /// 5 to 25 characters: letters, digits, `.`, `_` or `-`.
    pub username: String,
    /// 8 to 15 letters and digits, with at least one of each.
    pub password: String,
    /// Where the confirmation code is sent.
    pub email: String,
}

impl std::fmt::Debug for Registration {
    // Personal data and a password: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration").finish_non_exhaustive()
    }
}

/// A date as the apps send it: `YYYY-MM-DD`.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

pub(crate) fn format_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

impl Registration {
    /// The core's request, with the birth date already parsed.
    pub(crate) fn into_request(self, birth_date: NaiveDate) -> model::RegisterRequest {
        model::RegisterRequest {
            affiliate_number: self.affiliate_number,
            card_number: self.card_number,
            birth_date,
            username: self.username,
            password: self.password,
            email: self.email,
        }
    }
}

/// What the member is covered for.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Coverage {
    /// The plan's name, e.g. "OSEP Integral".
    pub plan: String,
    /// The member's home region (a code such as "AR-M").
    pub region: String,
    /// Last day of coverage, `YYYY-MM-DD`.
    pub valid_until: String,
}

impl From<model::Coverage> for Coverage {
    fn from(coverage: model::Coverage) -> Self {
        Self {
            plan: coverage.plan,
            region: coverage.region,
            valid_until: format_date(coverage.valid_until),
        }
    }
}

/// The member's account as the insurer holds it.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct Account {
    /// Pseudonymous member id (what certificates and QR codes carry).
    pub member_id: String,
    /// The username.
    pub username: String,
    /// The confirmed e-mail.
    pub email: String,
    /// The affiliate number.
    pub affiliate_number: String,
    /// The last four digits of the card number.
    pub card_last4: String,
    /// Birth date, `YYYY-MM-DD`.
    pub birth_date: String,
    /// Coverage.
    pub coverage: Coverage,
}

impl std::fmt::Debug for Account {
    // Personal data: never in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").finish_non_exhaustive()
    }
}

impl From<model::Account> for Account {
    fn from(account: model::Account) -> Self {
        Self {
            member_id: account.member_id,
            username: account.username,
            email: account.email,
            affiliate_number: account.affiliate_number,
            card_last4: account.card_last4,
            birth_date: format_date(account.birth_date),
            coverage: account.coverage.into(),
        }
    }
}

/// A device enrolled on the account.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Device {
    /// The server's id for the device (what `revoke_device` takes).
    pub id: String,
    /// The name given at enrolment.
    pub name: String,
    /// When it was enrolled (Unix seconds).
    pub enrolled_at: i64,
    /// When its certificate expires (Unix seconds).
    pub certificate_expires_at: i64,
    /// When it was revoked (Unix seconds), if it was.
    pub revoked_at: Option<i64>,
}

impl From<model::DeviceInfo> for Device {
    fn from(device: model::DeviceInfo) -> Self {
        Self {
            id: device.id,
            name: device.name,
            enrolled_at: device.enrolled_at,
            certificate_expires_at: device.certificate_expires_at,
            revoked_at: device.revoked_at,
        }
    }
}

/// This device's enrolment: what its member certificate says.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrolment {
    /// The server's id for this device.
    pub device_id: String,
    /// The name given at enrolment.
    pub device_name: String,
    /// Pseudonymous member id the certificate binds.
    pub member_id: String,
    /// The insurer that issued the certificate.
    pub issuer: String,
    /// Coverage at issue time.
    pub coverage: Coverage,
    /// When the certificate was issued (Unix seconds).
    pub certificate_issued_at: i64,
    /// When the certificate expires (Unix seconds).
    pub certificate_expires_at: i64,
}

impl From<carnet_core::Enrolment> for Enrolment {
    fn from(enrolment: carnet_core::Enrolment) -> Self {
        let certificate = enrolment.certificate;
        Self {
            device_id: enrolment.device_id,
            device_name: enrolment.device_name,
            member_id: certificate.member_id,
            issuer: certificate.issuer,
            coverage: certificate.coverage.into(),
            certificate_issued_at: certificate.issued_at,
            certificate_expires_at: certificate.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_only_as_iso_8601() {
        assert_eq!(
            parse_date("1980-02-29"),
            NaiveDate::from_ymd_opt(1980, 2, 29)
        );
        assert_eq!(
            parse_date(" 1980-02-29 "),
            NaiveDate::from_ymd_opt(1980, 2, 29)
        );
        assert_eq!(parse_date("1981-02-29"), None);
        assert_eq!(parse_date("29/02/1980"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn config_reaches_the_core_unchanged() {
        let core: carnet_core::CarnetConfig = CarnetConfig {
            data_dir: "/data/carnet".into(),
            server_url: "https://api.example".into(),
            root_ca_pem: Some("PEM".into()),
            use_public_roots: false,
            spki_pins: vec!["pin1".into(), "pin2".into()],
        }
        .into();
        assert_eq!(core.data_dir, PathBuf::from("/data/carnet"));
        assert_eq!(core.api.base_url, "https://api.example");
        assert_eq!(core.api.extra_root_ca_pem.as_deref(), Some("PEM"));
        assert!(!core.api.use_public_roots);
        assert_eq!(core.api.spki_pins, ["pin1", "pin2"]);
    }

    #[test]
    fn personal_records_do_not_debug_print_their_fields() {
        let registration = Registration {
            affiliate_number: "123456/01".into(),
            card_number: "6034930000123456".into(),
            birth_date: "1980-02-29".into(),
            username: "maria.lopez".into(),
            password: "Clave2024".into(),
            email: "maria@example.org".into(),
        };
        let printed = format!("{registration:?}");
        assert!(!printed.contains("maria"), "{printed}");
        assert!(!printed.contains("Clave2024"), "{printed}");
    }
}
