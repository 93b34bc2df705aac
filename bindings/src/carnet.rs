//! The one handle the apps hold: a thin wrapper over `carnet_core::Carnet`.
//!
//! Every async method runs its core work as a task on the tokio runtime that
//! `async_runtime = "tokio"` provides, and awaits it. So the work (and the
//! app's keystore and signer callbacks) runs on a tokio thread, not on the
//! app's coroutine or main thread; a panic in it comes back as
//! `CarnetError::Unexpected` instead of unwinding through the FFI; and a
//! cancelled Kotlin coroutine or Swift task stops waiting while the core
//! call runs to its end (so a login or logout is never cut half-way).

use std::future::Future;
use std::sync::Arc;

use carnet_core::VaultKeySource;
use carnet_core::account::validate_registration;
use carnet_core::clock::SystemClock;
use chrono::NaiveDate;
use zeroize::Zeroizing;

use crate::error::CarnetError;
use crate::foreign::{DeviceSigner, DeviceSignerAdapter, KeyStore, KeyStoreAdapter};
use crate::records::{Account, CarnetConfig, Device, Enrolment, Registration, parse_date};

/// One member app's core: the encrypted vault, the insurer's API and the
/// device key. Open one per app process; `logout` closes it.
#[derive(Debug, uniffi::Object)]
pub struct Carnet {
    pub(crate) inner: Arc<carnet_core::Carnet>,
}

/// Runs `work` as a tokio task and maps its error.
pub(crate) async fn run<T, F>(work: F) -> Result<T, CarnetError>
where
    F: Future<Output = Result<T, carnet_core::Error>> + Send + 'static,
    T: Send + 'static,
{
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| CarnetError::Unexpected {
        what: "no_async_runtime".into(),
    })?;
    match runtime.spawn(work).await {
        Ok(result) => result.map_err(CarnetError::from),
        Err(_) => Err(CarnetError::Unexpected {
            what: "task_failed".into(),
        }),
    }
}

impl Carnet {
    async fn open(
        config: CarnetConfig,
        key_source: VaultKeySource,
        signer: Option<Arc<dyn DeviceSigner>>,
    ) -> Result<Self, CarnetError> {
        let signer = signer.map(|signer| {
            Arc::new(DeviceSignerAdapter(signer)) as Arc<dyn carnet_core::device::DeviceSigner>
        });
        let inner = run(carnet_core::Carnet::open(
            config.into(),
            key_source,
            signer,
            Arc::new(SystemClock),
        ))
        .await?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Carnet {
    /// Opens (or creates) the vault in `config.data_dir`, its key derived
    /// from `passphrase` (a PIN or passphrase; for shells without a platform
    /// keystore, the CLI and tests). The device key is made in software at
    /// enrolment.
    #[uniffi::constructor]
    pub async fn open_with_passphrase(
        config: CarnetConfig,
        passphrase: String,
    ) -> Result<Self, CarnetError> {
        let passphrase = Zeroizing::new(passphrase);
        Self::open(config, VaultKeySource::Passphrase(passphrase), None).await
    }

    /// Opens (or creates) the vault in `config.data_dir`, its key wrapped by
    /// the platform `key_store`. With a `device_signer` (Android Keystore,
    /// Secure Enclave) the device key stays in hardware; without one the
    /// core makes a software key at enrolment.
    #[uniffi::constructor]
    pub async fn open_with_key_store(
        config: CarnetConfig,
        key_store: Arc<dyn KeyStore>,
        device_signer: Option<Arc<dyn DeviceSigner>>,
    ) -> Result<Self, CarnetError> {
        let key_store = Arc::new(KeyStoreAdapter(key_store));
        Self::open(config, VaultKeySource::KeyStore(key_store), device_signer).await
    }

    /// Signs a member up and returns the username as registered. Every field
    /// is checked first, all at once (`InvalidRegistration` lists them);
    /// then the e-mail must be confirmed with `confirm_email`.
    pub async fn register(
        self: Arc<Self>,
        registration: Registration,
    ) -> Result<String, CarnetError> {
        let Some(birth_date) = parse_date(&registration.birth_date) else {
            return Err(unparseable_birth_date(registration));
        };
        let request = registration.into_request(birth_date);
        let inner = self.inner.clone();
        run(async move { inner.register(request).await }).await
    }

    /// Confirms the e-mail with the 6-digit code the insurer sent.
    pub async fn confirm_email(
        self: Arc<Self>,
        username: String,
        code: String,
    ) -> Result<(), CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.confirm_email(&username, &code).await }).await
    }

    /// Logs in; the session is kept in the vault and refreshed by itself.
    pub async fn login(
        self: Arc<Self>,
        username: String,
        password: String,
    ) -> Result<(), CarnetError> {
        let password = Zeroizing::new(password);
        let inner = self.inner.clone();
        run(async move { inner.login(&username, &password).await }).await
    }

    /// Enrols this device under `device_name` ("Pixel 8"): proves possession
    /// of the device key and keeps the insurer's member certificate.
    pub async fn enrol_device(
        self: Arc<Self>,
        device_name: String,
    ) -> Result<Enrolment, CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.enrol_device(&device_name).await })
            .await
            .map(Enrolment::from)
    }

    /// This device's enrolment, from the vault (no network).
    pub fn enrolment(&self) -> Result<Enrolment, CarnetError> {
        self.inner
            .enrolment()
            .map(Enrolment::from)
            .map_err(CarnetError::from)
    }

    /// The member's account, fresh from the insurer; offline, the copy from
    /// the last success.
    pub async fn account(self: Arc<Self>) -> Result<Account, CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.account().await })
            .await
            .map(Account::from)
    }

    /// Every device enrolled on the account, revoked ones included.
    pub async fn devices(self: Arc<Self>) -> Result<Vec<Device>, CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.devices().await })
            .await
            .map(|devices| devices.into_iter().map(Device::from).collect())
    }

    /// Revokes one of the member's devices (by `Device.id`). Revoking this
    /// one also forgets its enrolment here.
    pub async fn revoke_device(self: Arc<Self>, device_id: String) -> Result<(), CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.revoke_device(&device_id).await }).await
    }

    /// Ends the session (best effort when offline) and wipes the vault.
    /// Every later call on this handle fails with `Closed`.
    pub async fn logout(self: Arc<Self>) -> Result<(), CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.logout().await }).await
    }

    /// The directory holding the encrypted vault (for backup exclusion
    /// rules), if it is on disk.
    pub fn vault_location(&self) -> Option<String> {
        self.inner
            .vault_location()
            .map(|path| path.to_string_lossy().into_owned())
    }
}

/// `InvalidRegistration` for a birth date that is not `YYYY-MM-DD`, together
/// with whatever the core's rules find in the other fields (checked with a
/// stand-in date, so that the member sees every field to correct at once).
fn unparseable_birth_date(registration: Registration) -> CarnetError {
    let stand_in = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    let today = chrono::Utc::now().date_naive();
    let request = registration.into_request(stand_in);
    let others = match validate_registration(&request, today) {
        Ok(_) => Vec::new(),
        Err(problems) => problems.iter().map(|problem| problem.field()).collect(),
    };
    CarnetError::invalid_fields(
        std::iter::once(carnet_core::account::RegistrationField::BirthDate).chain(others),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::RegistrationField;

    fn registration(birth_date: &str, email: &str) -> Registration {
        Registration {
            affiliate_number: "123456/01".into(),
            card_number: "6034 9300 0012 3456".into(),
            birth_date: birth_date.into(),
            username: "maria.lopez".into(),
            password: "Clave2024".into(),
            email: email.into(),
        }
    }

    #[test]
    fn an_unreadable_birth_date_is_reported_with_the_other_bad_fields() {
        assert_eq!(
            unparseable_birth_date(registration("29/02/1980", "maria.example.org")),
            CarnetError::InvalidRegistration {
                fields: vec![RegistrationField::BirthDate, RegistrationField::Email],
            }
        );
        assert_eq!(
            unparseable_birth_date(registration("1980-13-01", "maria@example.org")),
            CarnetError::InvalidRegistration {
                fields: vec![RegistrationField::BirthDate],
            }
        );
    }

    #[tokio::test]
    async fn work_runs_on_the_runtime_and_panics_come_back_as_unexpected() {
        let ok: Result<u8, CarnetError> = run(async { Ok(7) }).await;
        assert_eq!(ok, Ok(7));
        let mapped: Result<(), CarnetError> = run(async { Err(carnet_core::Error::Closed) }).await;
        assert_eq!(mapped, Err(CarnetError::Closed));
        #[allow(clippy::panic)]
        let panicked: Result<(), CarnetError> = run(async { panic!("boom") }).await;
        assert_eq!(
            panicked,
            Err(CarnetError::Unexpected {
                what: "task_failed".into()
            })
        );
    }
}
