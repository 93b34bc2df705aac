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
use crate::credential::pin::{PinPolicy, PinRecord};
use crate::credential::{Presentation, Purpose, present};
use crate::device::{DeviceSigner, SoftwareDeviceKey};
use crate::error::Error;
use crate::model::{
    Account, ConfirmEmailRequest, DeviceInfo, EnrolDeviceRequest, EnrolDeviceResponse,
    IssueTokenRequest, LoginRequest, RefreshRequest, RegisterRequest, SessionTokens, TokenOrigin,
    TokenState, Transaction, b64, enrolment_message,
};
use crate::requests::{
    AttachmentRef, Listing, MediaType, MemberRequest, Outbox, RequestForm, RequestId,
};
use crate::rng::{Rng, SystemRng};
use crate::sync::{
    AccessTokens, CancelToken, FailedUpload, RequestSync, Retrier, SyncPolicy, SyncProgress,
};
use crate::token::{Origin, Status, TokenBook, TokenRecord, TokenSecret};
use crate::vault::{KeyStore, Vault, VaultKey};

/// Refresh the access token when it has less than this left.
const REFRESH_MARGIN_SECONDS: i64 = 30;

/// The sync renews the member certificate when it has less than this left
/// (30 days of its 90). A third of the lifetime leaves a member who syncs
/// only now and then weeks to pass by a network before the QR is refused,
/// while renewing once a month at most for one who syncs daily.
pub const RENEW_BEFORE: chrono::TimeDelta = chrono::TimeDelta::days(30);

const TREE_SESSION: &str = "session";
const TREE_DEVICE: &str = "device";
const TREE_ACCOUNT: &str = "account";
const TREE_CLOCK: &str = "clock";
const TREE_CREDENTIAL: &str = "credential";
const KEY_PIN: &[u8] = b"pin";
const TREE_TOKENS: &str = "tokens";
const KEY_BOOK: &[u8] = b"book";
const KEY_TOKEN_SECRET: &[u8] = b"token-secret";
// Holds transactions only: `transactions()` reads the whole tree.
const TREE_TRANSACTIONS: &str = "transactions";
const TREE_SYNC: &str = "sync";
const KEY_TRANSACTION_CURSOR: &[u8] = b"transaction-cursor";
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
    rng: Arc<dyn Rng>,
    pin_policy: PinPolicy,
    // One refresh at a time: refresh tokens are single-use.
    session_gate: tokio::sync::Mutex<()>,
    // The token book is read, changed and written whole: one writer at a time.
    book_gate: parking_lot::Mutex<()>,
    // One sync at a time; see `sync_with` for why a second one waits.
    sync_gate: tokio::sync::Mutex<()>,
    sync_policy: SyncPolicy,
}

/// What a sync brought in and sent out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Tokens newly seen as used.
    pub tokens_used: usize,
    /// New pharmacy transactions.
    pub new_transactions: usize,
    /// Whether the member's tokens are disabled (100 wrong codes in a row).
    pub tokens_disabled: bool,
    /// Requests (revisions) the insurer acknowledged in this sync.
    pub requests_uploaded: usize,
    /// Attachment bytes the insurer newly accepted in this sync.
    pub attachments_uploaded: u64,
    /// Request status changes (received, returned, approved...) that
    /// changed a request on this phone.
    pub status_changes_applied: usize,
    /// Status changes read from the insurer since the last sync, applied or
    /// not (repeats, requests filed from another phone).
    pub status_changes_pulled: usize,
    /// Requests the insurer refused, each with why. They stay queued: the
    /// member recalls, corrects and submits them again.
    pub requests_failed: Vec<FailedUpload>,
    /// Whether this sync renewed the member certificate (it was within
    /// [`RENEW_BEFORE`] of its expiry, or the insurer no longer publishes
    /// the key that signed it).
    pub certificate_renewed: bool,
    /// Why a renewal this sync attempted failed (the error's text: codes,
    /// never personal data); `None` when none was due or it succeeded. The
    /// rest of the sync went on; the next sync tries again.
    pub certificate_renewal_failed: Option<String>,
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
            rng: Arc::new(SystemRng::new()),
            pin_policy: PinPolicy::default(),
            session_gate: tokio::sync::Mutex::new(()),
            book_gate: parking_lot::Mutex::new(()),
            sync_gate: tokio::sync::Mutex::new(()),
            sync_policy: SyncPolicy::default(),
        })
    }

    /// Replaces the sync's retry policy (tests shorten the waits).
    pub fn with_sync_policy(mut self, policy: SyncPolicy) -> Self {
        self.sync_policy = policy;
        self
    }

    /// Replaces the random source (seeded in tests and test vectors).
    pub fn with_rng(mut self, rng: Arc<dyn Rng>) -> Self {
        self.rng = rng;
        self
    }

    /// Replaces the credential PIN policy (idle time, lock delays).
    pub fn with_pin_policy(mut self, policy: PinPolicy) -> Self {
        self.pin_policy = policy;
        self
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
        let access = self.access_token().await?;
        let request = self
            .signed_enrolment_body(&access, &*signer, device_name)
            .await?;
        let response = self.api.enrol_device(&access, &request).await?;
        let enrolment = self.keep_certificate(response, &request.public_key).await?;
        // The offline token secret rides on enrolment; if it cannot be
        // fetched now, the next sync asks again.
        if let Err(error) = self.fetch_token_secret(&access, &enrolment.device_id).await {
            tracing::warn!(%error, "offline token secret not fetched at enrolment");
        }
        Ok(enrolment)
    }

    /// Renews this device's member certificate now: same device id, same
    /// device key, a new 90-day lifetime. The sync does this by itself
    /// when it is due ([`RENEW_BEFORE`]); this is for an explicit call.
    /// Fails with [`Error::NotEnrolled`] without an enrolment, and with the
    /// insurer's refusal (`409 device_revoked` as [`ApiError::Conflict`]
    /// for a revoked device); the stored certificate is then unchanged.
    pub async fn renew_certificate(&self) -> Result<Enrolment, Error> {
        let stored: StoredEnrolment = self
            .vault()?
            .get(TREE_DEVICE, KEY_ENROLMENT)?
            .ok_or(Error::NotEnrolled)?;
        self.renew_stored(&stored).await
    }

    /// Asks the insurer for a challenge and signs it with the device key:
    /// the body of an enrolment and of a renewal, proving the key is held.
    async fn signed_enrolment_body(
        &self,
        access: &str,
        signer: &dyn DeviceSigner,
        device_name: &str,
    ) -> Result<EnrolDeviceRequest, Error> {
        let public_key = b64::encode(&signer.public_key()?);
        let challenge = self.api.enrolment_challenge(access).await?;
        let signature = signer.sign(&enrolment_message(&challenge.challenge, &public_key))?;
        Ok(EnrolDeviceRequest {
            name: device_name.to_owned(),
            public_key,
            challenge: challenge.challenge,
            signature: b64::encode(&signature),
        })
    }

    /// Checks the certificate of an enrolment or renewal answer and stores
    /// it (flushed) as this device's enrolment. Trusted only if a key the
    /// insurer publishes signed it, it has not expired and it binds
    /// `public_key` (base64url SEC1), the key this phone holds.
    async fn keep_certificate(
        &self,
        response: EnrolDeviceResponse,
        public_key: &str,
    ) -> Result<Enrolment, Error> {
        let certificate_bytes =
            b64::decode(&response.certificate).ok_or(ApiError::MalformedResponse {
                what: "certificate is not base64url".into(),
            })?;
        let trust = TrustList::from_jwks(&self.api.jwks().await?);
        let certificate = certificate::verify(&certificate_bytes, &trust, self.now().timestamp())?;
        if b64::encode(&certificate.device_public_key) != public_key {
            return Err(ApiError::MalformedResponse {
                what: "certificate binds another device key".into(),
            }
            .into());
        }
        let stored = StoredEnrolment {
            device_id: response.device.id,
            device_name: response.device.name,
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

    /// Renews the certificate of `stored` at the insurer and keeps the new
    /// one (see [`Carnet::renew_certificate`]).
    async fn renew_stored(&self, stored: &StoredEnrolment) -> Result<Enrolment, Error> {
        let signer = self.device_signer()?;
        let access = self.access_token().await?;
        let request = self
            .signed_enrolment_body(&access, &*signer, &stored.device_name)
            .await?;
        let response = self
            .api
            .renew_certificate(&access, &stored.device_id, &request)
            .await?;
        // A certificate for another device would make every QR name it.
        if response.device.id != stored.device_id {
            return Err(ApiError::MalformedResponse {
                what: "renewal answered for another device".into(),
            }
            .into());
        }
        self.keep_certificate(response, &request.public_key).await
    }

    /// Whether the certificate of `stored` should be renewed: it expires
    /// within [`RENEW_BEFORE`], or the insurer's JWKS no longer verifies it
    /// (its key was withdrawn: counters would refuse every code).
    async fn certificate_needs_renewal(&self, stored: &StoredEnrolment) -> Result<bool, Error> {
        if stored.certificate_expires_at <= (self.now() + RENEW_BEFORE).timestamp() {
            return Ok(true);
        }
        let trust = TrustList::from_jwks(&self.api.jwks().await?);
        let verifies = b64::decode(&stored.certificate)
            .is_some_and(|bytes| certificate::verify_signature(&bytes, &trust).is_ok());
        Ok(!verifies)
    }

    /// The sync's certificate step: renews when due. A failure is logged
    /// and put in the report, and the sync goes on, except when the session
    /// is gone (nothing else would work either) or the sync was cancelled.
    async fn sync_certificate(
        &self,
        vault: &Vault,
        cancel: &CancelToken,
        report: &mut SyncReport,
    ) -> Result<(), Error> {
        let Some(stored) = vault.get::<StoredEnrolment>(TREE_DEVICE, KEY_ENROLMENT)? else {
            return Ok(());
        };
        let outcome = cancel
            .run(async {
                if !self.certificate_needs_renewal(&stored).await? {
                    return Ok(false);
                }
                self.renew_stored(&stored).await.map(|_| true)
            })
            .await?;
        match outcome {
            Ok(renewed) => report.certificate_renewed = renewed,
            Err(
                error @ (Error::NotLoggedIn
                | Error::SessionExpired
                | Error::Closed
                | Error::Api(ApiError::Unauthorized { .. })),
            ) => return Err(error),
            Err(error) => {
                // The error's text carries codes and kinds, not the member.
                tracing::warn!(%error, "member certificate not renewed");
                report.certificate_renewal_failed = Some(error.to_string());
            }
        }
        Ok(())
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

    /// Whether the member has chosen a credential PIN.
    pub fn credential_pin_is_set(&self) -> Result<bool, Error> {
        Ok(self
            .vault()?
            .get::<PinRecord>(TREE_CREDENTIAL, KEY_PIN)?
            .is_some())
    }

    /// Sets the 6-digit credential PIN that guards the QR (distinct from the
    /// login password). Changing it needs the current one.
    pub fn set_credential_pin(&self, current: Option<&str>, new_pin: &str) -> Result<(), Error> {
        let vault = self.vault()?;
        if vault.get::<PinRecord>(TREE_CREDENTIAL, KEY_PIN)?.is_some() {
            self.unlock_credential(current.unwrap_or_default())?;
        }
        let record = PinRecord::create(new_pin, &self.pin_policy, &*self.rng, self.now())?;
        vault.put(TREE_CREDENTIAL, KEY_PIN, &record)?;
        Ok(())
    }

    /// Unlocks the QR with the credential PIN. Five wrong PINs lock it with
    /// a growing delay; the count survives restarts (it is in the vault).
    pub fn unlock_credential(&self, pin: &str) -> Result<(), Error> {
        let vault = self.vault()?;
        let mut record: PinRecord = vault
            .get(TREE_CREDENTIAL, KEY_PIN)?
            .ok_or(Error::NoCredentialPin)?;
        let outcome = record.verify(pin, self.now(), &self.pin_policy);
        // The failure count must be on disk before the answer is given, or a
        // crash after each guess would reset it.
        vault.put(TREE_CREDENTIAL, KEY_PIN, &record)?;
        Ok(outcome?)
    }

    /// Unlocks the QR after the shell's platform biometric prompt succeeded.
    pub fn unlock_credential_with_biometric(&self) -> Result<(), Error> {
        let vault = self.vault()?;
        let mut record: PinRecord = vault
            .get(TREE_CREDENTIAL, KEY_PIN)?
            .ok_or(Error::NoCredentialPin)?;
        if record.locked_until(self.now()).is_some() {
            return Err(Error::CredentialLocked);
        }
        record.unlock_with_biometric(self.now());
        vault.put(TREE_CREDENTIAL, KEY_PIN, &record)?;
        Ok(())
    }

    /// The code to show at the counter now, made offline: signed by the
    /// device key over the server-corrected time, valid 60 s. Needs the
    /// credential unlocked within the idle time; the shell shows the next one
    /// at [`Presentation::refresh_at`].
    pub fn current_qr(&self, purpose: Purpose) -> Result<Presentation, Error> {
        let now = self.now();
        let vault = self.vault()?;
        let record: PinRecord = vault
            .get(TREE_CREDENTIAL, KEY_PIN)?
            .ok_or(Error::NoCredentialPin)?;
        if record.needs_unlock(now, &self.pin_policy) {
            return Err(Error::CredentialLocked);
        }
        let stored: StoredEnrolment = vault
            .get(TREE_DEVICE, KEY_ENROLMENT)?
            .ok_or(Error::NotEnrolled)?;
        let certificate = b64::decode(&stored.certificate).ok_or(
            crate::certificate::CertificateError::Malformed("stored certificate"),
        )?;
        let signer = self.device_signer()?;
        Ok(present(purpose, now, &*signer, &certificate, &*self.rng)?)
    }

    /// A consult token from the insurer (online): six random digits, valid
    /// 12 hours, one consultation or practice. Kept in the token history.
    pub async fn request_token(&self, practice: Option<&str>) -> Result<TokenRecord, Error> {
        let access = self.access_token().await?;
        let request = IssueTokenRequest {
            practice: practice.map(str::to_owned),
        };
        let issued = self.api.issue_token(&access, &request).await?;
        let at = |seconds: i64| {
            chrono::DateTime::from_timestamp(seconds, 0).ok_or(ApiError::MalformedResponse {
                what: "token time out of range".into(),
            })
        };
        let record = TokenRecord {
            code: issued.code,
            origin: Origin::Online,
            practice: issued.practice,
            made_at: at(issued.issued_at)?,
            expires_at: at(issued.expires_at)?,
            status: Status::Active,
        };
        self.change_book(|book| {
            book.insert(record.clone());
            Ok(())
        })?;
        Ok(record)
    }

    /// A consult token made on the phone with no network, from the secret
    /// agreed at enrolment and the corrected time. It is on disk before it
    /// is returned, so a crash cannot hand out the same code twice.
    pub fn offline_token(&self, practice: Option<&str>) -> Result<TokenRecord, Error> {
        let vault = self.vault()?;
        let secret = vault
            .get_bytes(TREE_DEVICE, KEY_TOKEN_SECRET)?
            .ok_or(Error::NoTokenSecret)
            .and_then(|bytes| Ok(TokenSecret::from_slice(&bytes)?))?;
        let now = self.now();
        self.change_book(|book| Ok(book.make_offline(&secret, practice.map(str::to_owned), now)?))
    }

    /// The token history kept on this phone, newest first, each with its
    /// status now (active, used for which practice and when, expired).
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, Error> {
        let now = self.now();
        let book: TokenBook = self
            .vault()?
            .get(TREE_TOKENS, KEY_BOOK)?
            .unwrap_or_default();
        let mut records: Vec<TokenRecord> = book
            .records()
            .iter()
            .cloned()
            .map(|mut record| {
                record.status = record.status_at(now);
                record
            })
            .collect();
        records.sort_by_key(|record| std::cmp::Reverse(record.made_at));
        Ok(records)
    }

    /// Re-enables consult tokens after 100 wrong codes in a row disabled them.
    pub async fn re_enable_tokens(&self) -> Result<(), Error> {
        let access = self.access_token().await?;
        Ok(self.api.re_enable_tokens(&access).await?)
    }

    /// The pharmacy transactions seen at the last sync, newest first.
    pub fn transactions(&self) -> Result<Vec<Transaction>, Error> {
        let mut transactions: Vec<Transaction> = self.vault()?.values(TREE_TRANSACTIONS)?;
        transactions.sort_by(|a, b| b.settled_at.cmp(&a.settled_at).then(b.id.cmp(&a.id)));
        Ok(transactions)
    }

    /// The member's requests in the vault. Every call on it blocks on disk
    /// I/O. Holding it keeps the vault open: drop it before
    /// [`Carnet::logout`].
    pub fn outbox(&self) -> Result<Outbox, Error> {
        Ok(Outbox::new(
            self.vault()?,
            Arc::clone(&self.rng),
            Arc::clone(&self.clock),
        ))
    }

    /// Saves a new request as a draft (incomplete forms are fine) and
    /// returns it with its id. On disk when this returns.
    pub fn save_request_draft(&self, form: RequestForm) -> Result<MemberRequest, Error> {
        Ok(self.outbox()?.save_draft(form)?)
    }

    /// Replaces the form of a draft or returned request (a new revision).
    pub fn update_request_draft(
        &self,
        id: &RequestId,
        form: RequestForm,
    ) -> Result<MemberRequest, Error> {
        Ok(self.outbox()?.update_draft(id, form)?)
    }

    /// Checks a draft or returned request and queues it for the next sync.
    /// Every problem comes back at once ([`crate::requests::OutboxError::Invalid`]).
    pub fn submit_request(&self, id: &RequestId) -> Result<MemberRequest, Error> {
        Ok(self.outbox()?.submit(id)?)
    }

    /// Takes a queued request back to a draft (or a resubmitted one back to
    /// returned) so the member can edit it; safe even while a sync is
    /// uploading it (ADR 0005).
    pub fn recall_request(&self, id: &RequestId) -> Result<MemberRequest, Error> {
        Ok(self.outbox()?.recall(id)?)
    }

    /// Every request on this phone, in creation order, and how many records
    /// could not be read.
    pub fn requests(&self) -> Result<Listing, Error> {
        Ok(self.outbox()?.list()?)
    }

    /// One request, or `None`.
    pub fn request(&self, id: &RequestId) -> Result<Option<MemberRequest>, Error> {
        Ok(self.outbox()?.get(id)?)
    }

    /// Stores a photo or scan in the vault (once per content) and returns
    /// the reference to put in a form.
    pub fn add_attachment(
        &self,
        bytes: &[u8],
        media_type: MediaType,
        file_name: &str,
    ) -> Result<AttachmentRef, Error> {
        Ok(self
            .outbox()?
            .add_attachment(bytes, media_type, file_name)?)
    }

    /// [`Carnet::sync_with`] without progress or cancel handle.
    pub async fn sync(&self) -> Result<SyncReport, Error> {
        self.sync_with(None, None).await
    }

    /// Brings the phone up to date, in this order: the queued requests and
    /// their files go to the insurer, the requests' status changes come
    /// back, the member certificate is renewed when due ([`RENEW_BEFORE`];
    /// see [`SyncReport::certificate_renewed`]), then which tokens were used, new pharmacy transactions
    /// (amount, time, place), and the offline token secret if enrolment
    /// could not fetch it.
    ///
    /// Transient failures are retried with backoff; after
    /// [`SyncPolicy::max_attempts`] in a row the sync ends with
    /// [`Error::SyncOffline`], everything kept. `cancel` stops it at its
    /// next await point with [`Error::SyncCancelled`]. Safe to stop at any
    /// point, the process killed included.
    ///
    /// One sync at a time: a second call **waits** for the running one,
    /// then runs itself (cancellable while it waits). Why not fail with
    /// "in progress": the app's two callers are the platform scheduler
    /// (WorkManager, BGTaskScheduler) and the member's pull-to-refresh. A
    /// pull-to-refresh that lands during a scheduled sync should end when
    /// the data is fresh, not with an error the UI must retry; and the
    /// second run still picks up what was queued after the first one read
    /// the outbox. It is cheap when the first did the work.
    pub async fn sync_with(
        &self,
        progress: Option<Arc<dyn SyncProgress>>,
        cancel: Option<CancelToken>,
    ) -> Result<SyncReport, Error> {
        let cancel = cancel.unwrap_or_default();
        let _running = cancel.run(self.sync_gate.lock()).await?;
        let vault = self.vault()?;
        let outbox = Arc::new(self.outbox()?);
        let requests = RequestSync::new(&self.api, outbox, Arc::clone(&vault), self)
            .policy(self.sync_policy)
            .rng(Arc::clone(&self.rng))
            .cancel(cancel.clone())
            .progress(progress)
            .run()
            .await?;
        let mut report = SyncReport {
            requests_uploaded: requests.requests_uploaded,
            attachments_uploaded: requests.attachment_bytes_uploaded,
            status_changes_applied: requests.status_changes_applied,
            status_changes_pulled: requests.status_changes_pulled,
            requests_failed: requests.failed,
            ..SyncReport::default()
        };
        let mut retrier = Retrier::new(self.sync_policy, Arc::clone(&self.rng), cancel);
        // Before the tokens: the certificate is what keeps the QR usable,
        // so a failure further on must not hold it back.
        self.sync_certificate(&vault, retrier.cancel(), &mut report)
            .await?;
        self.sync_tokens(&vault, &mut retrier, &mut report).await?;
        Ok(report)
    }

    /// Which tokens were used, new pharmacy transactions, and the offline
    /// token secret if enrolment could not fetch it.
    async fn sync_tokens(
        &self,
        vault: &Vault,
        retrier: &mut Retrier,
        report: &mut SyncReport,
    ) -> Result<(), Error> {
        let enrolment: Option<StoredEnrolment> = vault.get(TREE_DEVICE, KEY_ENROLMENT)?;
        if let Some(enrolment) = enrolment
            && vault.get_bytes(TREE_DEVICE, KEY_TOKEN_SECRET)?.is_none()
        {
            let access = self.access_token().await?;
            let fetched = retrier
                .cancel()
                .run(self.fetch_token_secret(&access, &enrolment.device_id))
                .await?;
            if let Err(error) = fetched {
                tracing::warn!(%error, "offline token secret still not fetched");
            }
        }

        let history = retrier
            .call("token_history", || async {
                let access = self.access_token().await?;
                Ok(self.api.token_history(&access).await?)
            })
            .await?;
        report.tokens_disabled = history.disabled;
        self.change_book(|book| {
            for entry in &history.tokens {
                let (TokenState::Used, Some(redemption)) = (entry.status, &entry.redemption) else {
                    continue;
                };
                let origin = match (entry.origin, entry.slot, entry.sequence) {
                    (TokenOrigin::Offline, Some(slot), Some(sequence)) => {
                        Origin::Offline { slot, sequence }
                    }
                    _ => Origin::Online,
                };
                let Some(at) = chrono::DateTime::from_timestamp(redemption.redeemed_at, 0) else {
                    continue;
                };
                let already = book.records().iter().any(|record| {
                    record.origin == origin
                        && record.code == entry.code
                        && matches!(record.status, Status::Used { .. })
                });
                if !already && book.mark_used(origin, &entry.code, redemption.practice.clone(), at)
                {
                    report.tokens_used += 1;
                }
            }
            Ok(())
        })?;

        let mut cursor: Option<String> = vault.get(TREE_SYNC, KEY_TRANSACTION_CURSOR)?;
        loop {
            let since = cursor.as_deref();
            let page = retrier
                .call("transactions", || async {
                    let access = self.access_token().await?;
                    Ok(self.api.transactions(&access, since).await?)
                })
                .await?;
            for transaction in &page.transactions {
                let key = format!("tx/{}", transaction.id);
                if vault
                    .get::<Transaction>(TREE_TRANSACTIONS, key.as_bytes())?
                    .is_none()
                {
                    report.new_transactions += 1;
                }
                vault.put(TREE_TRANSACTIONS, key.as_bytes(), transaction)?;
            }
            // The cursor only moves once the page is on disk: a sync stopped
            // here fetches the page again rather than skipping it.
            vault.put(TREE_SYNC, KEY_TRANSACTION_CURSOR, &page.cursor)?;
            cursor = Some(page.cursor);
            if !page.more {
                break;
            }
        }
        Ok(())
    }

    async fn fetch_token_secret(&self, access: &str, device_id: &str) -> Result<(), Error> {
        let response = self.api.token_secret(access, device_id).await?;
        let bytes = zeroize::Zeroizing::new(b64::decode(&response.secret).ok_or(
            ApiError::MalformedResponse {
                what: "token secret is not base64url".into(),
            },
        )?);
        // Refuse a secret of the wrong size before it is stored.
        TokenSecret::from_slice(&bytes)?;
        self.vault()?
            .put_bytes(TREE_DEVICE, KEY_TOKEN_SECRET, &bytes)?;
        Ok(())
    }

    /// Reads the token book, applies `change`, writes it back (flushed)
    /// before returning what `change` returned.
    fn change_book<T>(
        &self,
        change: impl FnOnce(&mut TokenBook) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let _gate = self.book_gate.lock();
        let vault = self.vault()?;
        let mut book: TokenBook = vault.get(TREE_TOKENS, KEY_BOOK)?.unwrap_or_default();
        let result = change(&mut book)?;
        vault.put(TREE_TOKENS, KEY_BOOK, &book)?;
        Ok(result)
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

// The sync asks before each call, so a long sync refreshes in passing.
impl AccessTokens for Carnet {
    fn access_token(&self) -> impl std::future::Future<Output = Result<String, Error>> + Send {
        // The inherent method (one refresh at a time, session in the vault).
        Carnet::access_token(self)
    }
}
