//! The façade that the bindings wrap: one handle per member app, owning the
//! vault, the API client and the device key.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::account::validate_registration;
use crate::api::{ApiClient, ApiConfig, ApiError};
use crate::certificate::{self, MemberCertificate, TrustList};
use crate::clock::Clock;
use crate::device::{DeviceSigner, SoftwareDeviceKey};
use crate::error::Error;
use crate::model::{
    Account, ConfirmEmailRequest, DeviceInfo, EnrolDeviceRequest, LoginRequest, RefreshRequest,
    RegisterRequest, SessionTokens, b64, enrolment_message,
};
use crate::vault::{KeyStore, Vault, VaultKey};

/// Refresh the access token when it has less than this left.
const REFRESH_MARGIN_SECONDS: i64 = 30;

const TREE_SESSION: &str = "session";
const TREE_DEVICE: &str = "device";
const TREE_ACCOUNT: &str = "account";
const TREE_CLOCK: &str = "clock";
const KEY_CURRENT: &[u8] = b"current";
const KEY_SOFTWARE_KEY: &[u8] = b"software-key";
const KEY_ENROLMENT: &[u8] = b"enrolment";
const KEY_OFFSET: &[u8] = b"server-offset-ms";

/// Where the member's data lives and which insurer to talk to.
#[derive(Debug, Clone)]
pub struct CarnetConfig {
    /// The vault's directory (app-private storage).
    pub data_dir: PathBuf,
    /// The insurer's API.
    pub api: ApiConfig,
}

/// What unlocks the vault.
pub enum VaultKeySource {
    /// A passphrase or PIN, stretched with PBKDF2 (CLI, tests, no keystore).
    Passphrase(Zeroizing<String>),
    /// The platform keystore (Android Keystore, iOS Keychain).
    KeyStore(Arc<dyn KeyStore>),
}

impl std::fmt::Debug for VaultKeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Passphrase(_) => "VaultKeySource::Passphrase",
            Self::KeyStore(_) => "VaultKeySource::KeyStore",
        })
    }
}

/// The session as kept in the vault.
#[derive(Clone, Serialize, Deserialize)]
struct StoredSession {
    access_token: String,
    access_expires_at: i64,
    refresh_token: String,
    refresh_expires_at: i64,
}

/// This device's enrolment as kept in the vault.
#[derive(Clone, Serialize, Deserialize)]
struct StoredEnrolment {
    device_id: String,
    device_name: String,
    certificate: String,
    certificate_expires_at: i64,
}

/// This device's enrolment, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The server's id for this device.
    pub device_id: String,
    /// The name given at enrolment.
    pub device_name: String,
    /// What the member certificate says.
    pub certificate: MemberCertificate,
}

/// One member app's core: vault, API client, device key.
pub struct Carnet {
    vault: RwLock<Option<Arc<Vault>>>,
    vault_location: Option<PathBuf>,
    api: ApiClient,
    clock: Arc<dyn Clock>,
    platform_signer: Option<Arc<dyn DeviceSigner>>,
    // One refresh at a time: refresh tokens are single-use.
    session_gate: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Carnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carnet")
            .field("vault_location", &self.vault_location)
            .finish_non_exhaustive()
    }
}

impl Carnet {
    /// Opens (or creates) the vault in `config.data_dir` and prepares the
    /// API client. `signer` is a hardware-backed device key from the shell;
    /// without one the core makes a software key at enrolment.
    pub async fn open(
        config: CarnetConfig,
        key_source: VaultKeySource,
        signer: Option<Arc<dyn DeviceSigner>>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let api = ApiClient::new(&config.api)?;
        let data_dir = config.data_dir.clone();
        // PBKDF2 and disk I/O: off the async threads.
        let vault = tokio::task::spawn_blocking(move || match &key_source {
            VaultKeySource::Passphrase(passphrase) => {
                Vault::open(&data_dir, VaultKey::Passphrase(passphrase))
            }
            VaultKeySource::KeyStore(store) => Vault::open(&data_dir, VaultKey::KeyStore(&**store)),
        })
        .await
        .map_err(|e| Error::Internal(format!("vault task: {e}")))??;
        let vault_location = vault.location();
        Ok(Self {
            vault: RwLock::new(Some(Arc::new(vault))),
            vault_location,
            api,
            clock,
            platform_signer: signer,
            session_gate: tokio::sync::Mutex::new(()),
        })
    }

    /// The directory that holds the encrypted vault.
    pub fn vault_location(&self) -> Option<PathBuf> {
        self.vault_location.clone()
    }

    fn vault(&self) -> Result<Arc<Vault>, Error> {
        self.vault.read().clone().ok_or(Error::Closed)
    }

    /// Signs up a member. Every field is checked here first (the backend
    /// checks again); the e-mail must then be confirmed.
    pub async fn register(&self, request: RegisterRequest) -> Result<String, Error> {
        let today = self.now().date_naive();
        let request = validate_registration(&request, today).map_err(Error::InvalidRegistration)?;
        let response = self.api.register(&request).await?;
        Ok(response.username)
    }

    /// Confirms the e-mail with the code the insurer sent.
    pub async fn confirm_email(&self, username: &str, code: &str) -> Result<(), Error> {
        let request = ConfirmEmailRequest {
            username: username.to_owned(),
            code: code.trim().to_owned(),
        };
        Ok(self.api.confirm_email(&request).await?)
    }

    /// Logs in and keeps the session in the vault.
    pub async fn login(&self, username: &str, password: &str) -> Result<(), Error> {
        let request = LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        let tokens = self.api.login(&request).await?;
        let _gate = self.session_gate.lock().await;
        self.store_session(&tokens)
    }

    /// Enrols this device: proves possession of the device key and stores
    /// the insurer's member certificate for it.
    pub async fn enrol_device(&self, device_name: &str) -> Result<Enrolment, Error> {
        let signer = self.device_signer()?;
        let public_key = b64::encode(&signer.public_key()?);
        let access = self.access_token().await?;
        let challenge = self.api.enrolment_challenge(&access).await?;
        let signature = signer.sign(&enrolment_message(&challenge.challenge, &public_key))?;
        let request = EnrolDeviceRequest {
            name: device_name.to_owned(),
            public_key: public_key.clone(),
            challenge: challenge.challenge,
            signature: b64::encode(&signature),
        };
        let response = self.api.enrol_device(&access, &request).await?;
        let certificate_bytes =
            b64::decode(&response.certificate).ok_or(ApiError::MalformedResponse {
                what: "certificate is not base64url".into(),
            })?;
        // Trust the certificate only if the published key signed it and it
        // binds the key we hold.
        let trust = TrustList::from_jwks(&self.api.jwks().await?);
        let certificate = certificate::verify(&certificate_bytes, &trust, self.now().timestamp())?;
        if b64::encode(&certificate.device_public_key) != public_key {
            return Err(ApiError::MalformedResponse {
                what: "certificate binds another device key".into(),
            }
            .into());
        }
        let stored = StoredEnrolment {
            device_id: response.device.id.clone(),
            device_name: response.device.name.clone(),
            certificate: response.certificate,
            certificate_expires_at: certificate.expires_at,
        };
        self.vault()?.put(TREE_DEVICE, KEY_ENROLMENT, &stored)?;
        Ok(Enrolment {
            device_id: stored.device_id,
            device_name: stored.device_name,
            certificate,
        })
    }

    /// This device's enrolment, from the vault (no network).
    pub fn enrolment(&self) -> Result<Enrolment, Error> {
        let stored: StoredEnrolment = self
            .vault()?
            .get(TREE_DEVICE, KEY_ENROLMENT)?
            .ok_or(Error::NotEnrolled)?;
        let bytes = b64::decode(&stored.certificate).ok_or(
            crate::certificate::CertificateError::Malformed("stored certificate"),
        )?;
        let certificate = certificate::decode_unverified(&bytes)?;
        Ok(Enrolment {
            device_id: stored.device_id,
            device_name: stored.device_name,
            certificate,
        })
    }

    /// The member's account, fresh from the insurer; when the insurer cannot
    /// be reached, the copy kept in the vault from the last success.
    pub async fn account(&self) -> Result<Account, Error> {
        let fresh = match self.access_token().await {
            Ok(access) => self.api.account(&access).await,
            Err(error) => return Err(error),
        };
        match fresh {
            Ok(account) => {
                self.vault()?.put(TREE_ACCOUNT, KEY_CURRENT, &account)?;
                Ok(account)
            }
            Err(ApiError::Transport { failure }) => self
                .vault()?
                .get(TREE_ACCOUNT, KEY_CURRENT)?
                .ok_or(Error::Api(ApiError::Transport { failure })),
            Err(error) => Err(error.into()),
        }
    }

    /// Every device enrolled on the account, revoked ones included.
    pub async fn devices(&self) -> Result<Vec<DeviceInfo>, Error> {
        let access = self.access_token().await?;
        Ok(self.api.devices(&access).await?.devices)
    }

    /// Revokes one of the member's devices. Revoking this one also forgets
    /// its enrolment here.
    pub async fn revoke_device(&self, device_id: &str) -> Result<(), Error> {
        let access = self.access_token().await?;
        self.api.revoke_device(&access, device_id).await?;
        let vault = self.vault()?;
        let own: Option<StoredEnrolment> = vault.get(TREE_DEVICE, KEY_ENROLMENT)?;
        if own.is_some_and(|own| own.device_id == device_id) {
            vault.remove(TREE_DEVICE, KEY_ENROLMENT)?;
        }
        Ok(())
    }

    /// Ends the session at the insurer (best effort: offline logout still
    /// wipes) and wipes the vault. The handle is closed afterwards.
    pub async fn logout(&self) -> Result<(), Error> {
        let vault = self.vault()?;
        let session: Option<StoredSession> = vault.get(TREE_SESSION, KEY_CURRENT)?;
        if let Some(session) = session {
            match self.api.logout(&session.access_token).await {
                Ok(()) | Err(ApiError::Unauthorized { .. }) | Err(ApiError::Transport { .. }) => {}
                Err(error) => tracing::warn!(%error, "server logout failed; wiping anyway"),
            }
        }
        let taken = self.vault.write().take();
        drop(vault);
        if let Some(vault) = taken {
            let vault = Arc::try_unwrap(vault)
                .map_err(|_| Error::Internal("the vault is still in use".into()))?;
            tokio::task::spawn_blocking(move || vault.wipe())
                .await
                .map_err(|e| Error::Internal(format!("wipe task: {e}")))??;
        }
        Ok(())
    }

    /// The current time corrected by the offset to the server's clock
    /// learned at login, so a phone with a wrong clock still agrees with
    /// verifiers.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        let offset_ms = self
            .vault()
            .ok()
            .and_then(|vault| vault.get::<i64>(TREE_CLOCK, KEY_OFFSET).ok().flatten())
            .unwrap_or(0);
        self.clock.now() + chrono::Duration::milliseconds(offset_ms)
    }

    fn store_session(&self, tokens: &SessionTokens) -> Result<(), Error> {
        let vault = self.vault()?;
        let offset_ms = tokens.server_time_ms - self.clock.now().timestamp_millis();
        vault.put(TREE_CLOCK, KEY_OFFSET, &offset_ms)?;
        let session = StoredSession {
            access_token: tokens.access_token.clone(),
            access_expires_at: tokens.access_expires_at,
            refresh_token: tokens.refresh_token.clone(),
            refresh_expires_at: tokens.refresh_expires_at,
        };
        vault.put(TREE_SESSION, KEY_CURRENT, &session)?;
        Ok(())
    }

    /// A valid access token, refreshed first when it is about to expire.
    async fn access_token(&self) -> Result<String, Error> {
        let _gate = self.session_gate.lock().await;
        let vault = self.vault()?;
        let session: StoredSession = vault
            .get(TREE_SESSION, KEY_CURRENT)?
            .ok_or(Error::NotLoggedIn)?;
        let now = self.now().timestamp();
        if session.access_expires_at - REFRESH_MARGIN_SECONDS > now {
            return Ok(session.access_token);
        }
        if session.refresh_expires_at <= now {
            return Err(Error::SessionExpired);
        }
        let request = RefreshRequest {
            refresh_token: session.refresh_token,
        };
        match self.api.refresh(&request).await {
            Ok(tokens) => {
                self.store_session(&tokens)?;
                Ok(tokens.access_token)
            }
            Err(ApiError::Unauthorized { .. }) => {
                vault.remove(TREE_SESSION, KEY_CURRENT)?;
                Err(Error::SessionExpired)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The shell's hardware key, or the software key kept in the vault
    /// (made on first use).
    fn device_signer(&self) -> Result<Arc<dyn DeviceSigner>, Error> {
        if let Some(signer) = &self.platform_signer {
            return Ok(signer.clone());
        }
        let vault = self.vault()?;
        let stored: Option<Zeroizing<Vec<u8>>> = vault
            .get::<String>(TREE_DEVICE, KEY_SOFTWARE_KEY)?
            .and_then(|text| b64::decode(&text))
            .map(Zeroizing::new);
        let key = match stored {
            Some(pkcs8) => SoftwareDeviceKey::from_pkcs8(&pkcs8)?,
            None => {
                let key = SoftwareDeviceKey::generate()?;
                let encoded = Zeroizing::new(b64::encode(key.pkcs8()));
                vault.put(TREE_DEVICE, KEY_SOFTWARE_KEY, &*encoded)?;
                key
            }
        };
        Ok(Arc::new(key))
    }
}
