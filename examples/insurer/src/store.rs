//! Storage over sled: one tree per kind of record, values as JSON.
//!
//! | tree         | key                        | value            |
//! | ------------ | -------------------------- | ---------------- |
//! | `users`      | username                   | [`UserRecord`]   |
//! | `emails`     | e-mail, lower case         | username         |
//! | `members`    | member id                  | username         |
//! | `sessions`   | SHA-256 of a token         | [`TokenRecord`]  |
//! | `logins`     | login id                   | [`LoginRecord`]  |
//! | `devices`    | `member_id/device_id`      | [`DeviceRecord`] |
//! | `challenges` | the challenge (base64url)  | [`ChallengeRecord`] |
//! | `partners`   | partner id                 | [`PartnerRecord`] |
//! | `partner_keys` | SHA-256 of an API key    | partner id       |
//! | `seen_codes` | `device_id/nonce` (hex)    | forget-at, unix seconds, 8 bytes big-endian |
//! | `settlements` | settlement id             | [`SettlementRecord`] |
//! | `transactions` | `member_id/` + 8-byte big-endian sequence | [`carnet_core::model::Transaction`] |
//! | `online_tokens` | `member_id/code`        | [`OnlineTokenRecord`] |
//! | `token_secrets` | `member_id/device_id`   | [`SealedSecretRecord`] |
//! | `offline_used` | `member_id/device_id/` + counter (16 hex digits) | [`OfflineUseRecord`] |
//! | `throttles`  | `member/ID` or `provider/ID` | [`carnet_core::token::Throttle`] |
//! | `request_attachments`, `request_attachment_chunks`, `requests`, `request_changes`, `request_meta`, `admin_keys` | see [`crate::request_store`] | |
//!
//! Tokens and API keys are never stored, only their SHA-256. A login groups
//! the tokens of one session: logging out removes it, and every token of it
//! stops working. Offline-token secrets are stored sealed (AES-256-GCM) with
//! a key kept in a file beside the database.

use std::path::Path;

use carnet_core::model::{Coverage, DeviceInfo};
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The sled page cache.
const CACHE_CAPACITY: u64 = 16 * 1024 * 1024;

/// How often a read-modify-write is retried when another writer got there first.
const CAS_RETRIES: usize = 32;

/// A storage failure. Never caused by what a client sent.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value does not decode.
    #[error("a stored record is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// Too many concurrent writers on one record.
    #[error("the record kept changing under concurrent writes")]
    Contended,
}

/// A member's password, as PBKDF2-HMAC-SHA256.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PasswordHash {
    pub iterations: u32,
    /// Hex.
    pub salt: String,
    /// Hex.
    pub hash: String,
}

/// An account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    pub username: String,
    pub member_id: String,
    pub email: String,
    pub affiliate_number: String,
    /// Only the last four digits of the card are kept.
    pub card_last4: String,
    pub birth_date: NaiveDate,
    pub coverage: Coverage,
    pub password: PasswordHash,
    pub confirmed: bool,
    pub confirmation_code: String,
    pub failed_confirmations: u32,
    /// Unix seconds; confirmation is refused until then.
    pub confirmation_locked_until: Option<i64>,
    pub created_at: i64,
}

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TokenKind {
    Access,
    Refresh,
}

/// A token, stored under its SHA-256.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    pub kind: TokenKind,
    pub login_id: String,
    pub username: String,
    pub member_id: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// One login session (the tokens of it point here).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoginRecord {
    pub username: String,
    pub created_at: i64,
}

/// An enrolled device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeviceRecord {
    pub member_id: String,
    pub info: DeviceInfo,
    /// SEC1 uncompressed, base64url.
    pub public_key: String,
}

/// An enrolment challenge that has not been used yet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChallengeRecord {
    pub member_id: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Who a partner is: a pharmacy settles QR codes, a provider redeems
/// consult tokens. A key of one kind does not open the other's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PartnerKind {
    Pharmacy,
    Provider,
}

/// A pharmacy or a provider (clinic, lab) that calls the API with a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartnerRecord {
    pub id: String,
    pub kind: PartnerKind,
    pub name: String,
    pub address: String,
    pub created_at: i64,
}

/// A settlement opened by an identify scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SettlementRecord {
    pub pharmacy_id: String,
    pub member_id: String,
    /// Unix seconds.
    pub opened_at: i64,
    /// Unix seconds; a settle at or after it is refused.
    pub expires_at: i64,
    /// Set, once, by the settle that recorded the transaction.
    pub transaction_id: Option<String>,
}

/// How a consult token was redeemed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RedemptionRecord {
    /// The practice the provider redeemed it for, as sent (trimmed).
    pub practice: String,
    pub provider_id: String,
    /// Unix seconds.
    pub at: i64,
}

/// An online consult token, as issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OnlineTokenRecord {
    pub code: String,
    /// The practice the member named, if any.
    pub practice: Option<String>,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; valid while now is before it.
    pub expires_at: i64,
    /// Set, once, by the redemption that accepted it.
    pub redemption: Option<RedemptionRecord>,
}

/// A device's offline-token secret, sealed with AES-256-GCM.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SealedSecretRecord {
    /// 12 bytes, base64url.
    pub nonce: String,
    /// Ciphertext and tag, base64url.
    pub sealed: String,
    pub issued_at: i64,
}

/// An offline token redeemed: its counter is used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OfflineUseRecord {
    pub device_id: String,
    pub slot: u64,
    pub sequence: u8,
    pub code: String,
    /// Unix seconds: when the token would have expired.
    pub expires_at: i64,
    pub redemption: RedemptionRecord,
}

/// The database.
pub(crate) struct Store {
    db: sled::Db,
    pub users: sled::Tree,
    pub emails: sled::Tree,
    pub members: sled::Tree,
    pub sessions: sled::Tree,
    pub logins: sled::Tree,
    pub devices: sled::Tree,
    /// Every device id ever issued, to its member id: device ids are short
    /// (8 bytes) and must be unique across members, since a verifier's
    /// revocation list names devices.
    pub device_ids: sled::Tree,
    pub challenges: sled::Tree,
    pub partners: sled::Tree,
    pub partner_keys: sled::Tree,
    pub seen_codes: sled::Tree,
    pub settlements: sled::Tree,
    pub transactions: sled::Tree,
    pub online_tokens: sled::Tree,
    pub token_secrets: sled::Tree,
    pub offline_used: sled::Tree,
    pub throttles: sled::Tree,
    /// Members' requests, their attachments and status changes.
    pub requests: crate::request_store::RequestTrees,
    flushes: GroupFlush,
}

/// Group commit: callers that wait for durability at the same time share
/// one flush. Flushes run one at a time on tokio's blocking threads, never
/// through `flush_async`: many concurrent `flush_async` calls fill sled
/// 0.34's own I/O pool with flushes that wait for a log write queued
/// behind them, and everything stops (seen under the redemption load test).
#[derive(Default)]
struct GroupFlush {
    /// Flushes started (the number of the latest).
    started: std::sync::atomic::AtomicU64,
    /// The number of the latest flush that completed.
    done: std::sync::atomic::AtomicU64,
    running: tokio::sync::Mutex<()>,
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_CAPACITY)
            .open()?;
        Ok(Self {
            users: db.open_tree("users")?,
            emails: db.open_tree("emails")?,
            members: db.open_tree("members")?,
            sessions: db.open_tree("sessions")?,
            logins: db.open_tree("logins")?,
            devices: db.open_tree("devices")?,
            device_ids: db.open_tree("device_ids")?,
            challenges: db.open_tree("challenges")?,
            partners: db.open_tree("partners")?,
            partner_keys: db.open_tree("partner_keys")?,
            seen_codes: db.open_tree("seen_codes")?,
            settlements: db.open_tree("settlements")?,
            transactions: db.open_tree("transactions")?,
            online_tokens: db.open_tree("online_tokens")?,
            token_secrets: db.open_tree("token_secrets")?,
            offline_used: db.open_tree("offline_used")?,
            throttles: db.open_tree("throttles")?,
            requests: crate::request_store::RequestTrees::open(&db)?,
            flushes: GroupFlush::default(),
            db,
        })
    }

    /// Returns once everything written before the call is on disk: the
    /// answer of a write that must survive a crash waits for this.
    pub async fn flush_durable(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        // Any flush numbered above this one starts after our writes.
        let needed = self.flushes.started.load(SeqCst) + 1;
        let _running = self.flushes.running.lock().await;
        if self.flushes.done.load(SeqCst) >= needed {
            return Ok(());
        }
        let number = self.flushes.started.fetch_add(1, SeqCst) + 1;
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|_| {
                StoreError::Sled(sled::Error::Unsupported("the flush task failed".into()))
            })??;
        self.flushes.done.store(number, SeqCst);
        Ok(())
    }

    /// The ids of every revoked device (for the QR verifier at start).
    pub fn revoked_device_ids(&self) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut revoked = std::collections::HashSet::new();
        for entry in self.devices.iter() {
            let (_, bytes) = entry?;
            let record: DeviceRecord = serde_json::from_slice(&bytes)?;
            if record.info.revoked_at.is_some() {
                revoked.insert(record.info.id);
            }
        }
        Ok(revoked)
    }

    /// A fresh, strictly increasing number (sled's persistent id
    /// generator; it may skip values after a crash, never repeat one).
    pub fn generate_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    /// Writes everything to disk.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }
}

/// The record under `key`, if any.
pub(crate) fn get<T: DeserializeOwned>(
    tree: &sled::Tree,
    key: impl AsRef<[u8]>,
) -> Result<Option<T>, StoreError> {
    match tree.get(key)? {
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
        None => Ok(None),
    }
}

/// The record under `key` with its raw bytes (for a later compare-and-swap).
pub(crate) fn get_raw<T: DeserializeOwned>(
    tree: &sled::Tree,
    key: impl AsRef<[u8]>,
) -> Result<Option<(T, sled::IVec)>, StoreError> {
    match tree.get(key)? {
        Some(bytes) => Ok(Some((serde_json::from_slice(&bytes)?, bytes))),
        None => Ok(None),
    }
}

/// Stores `value` under `key`, replacing what was there.
pub(crate) fn put<T: Serialize>(
    tree: &sled::Tree,
    key: impl AsRef<[u8]>,
    value: &T,
) -> Result<(), StoreError> {
    tree.insert(key.as_ref(), serde_json::to_vec(value)?)?;
    Ok(())
}

/// Stores `value` under `key` only if nothing is there; `false` if something was.
pub(crate) fn create<T: Serialize>(
    tree: &sled::Tree,
    key: impl AsRef<[u8]>,
    value: &T,
) -> Result<bool, StoreError> {
    let bytes = serde_json::to_vec(value)?;
    Ok(tree
        .compare_and_swap(key.as_ref(), None::<&[u8]>, Some(bytes))?
        .is_ok())
}

/// What [`update`] should do with the record it read.
pub(crate) enum Update<T, R> {
    /// Write the new record and return `R`.
    Write(T, R),
    /// Leave it and return `R`.
    Keep(R),
}

/// Reads the record under `key`, lets `change` decide, and writes the result
/// only if nobody wrote in between (retrying otherwise). `None` when there is
/// no record.
pub(crate) fn update<T, R>(
    tree: &sled::Tree,
    key: impl AsRef<[u8]>,
    mut change: impl FnMut(T) -> Update<T, R>,
) -> Result<Option<R>, StoreError>
where
    T: Serialize + DeserializeOwned,
{
    let key = key.as_ref();
    for _ in 0..CAS_RETRIES {
        let Some((record, old)) = get_raw::<T>(tree, key)? else {
            return Ok(None);
        };
        match change(record) {
            Update::Keep(result) => return Ok(Some(result)),
            Update::Write(new, result) => {
                let new = serde_json::to_vec(&new)?;
                if tree.compare_and_swap(key, Some(&old), Some(new))?.is_ok() {
                    return Ok(Some(result));
                }
            }
        }
    }
    Err(StoreError::Contended)
}

/// Like [`update`], but a missing record starts as `T::default()`, and the
/// result is always written.
pub(crate) fn upsert<T, R>(
    tree: &sled::Tree,
    key: impl AsRef<[u8]>,
    mut change: impl FnMut(&mut T) -> R,
) -> Result<R, StoreError>
where
    T: Serialize + DeserializeOwned + Default,
{
    let key = key.as_ref();
    for _ in 0..CAS_RETRIES {
        let old = tree.get(key)?;
        let mut record: T = match &old {
            Some(bytes) => serde_json::from_slice(bytes)?,
            None => T::default(),
        };
        let result = change(&mut record);
        let new = serde_json::to_vec(&record)?;
        if tree.compare_and_swap(key, old, Some(new))?.is_ok() {
            return Ok(result);
        }
    }
    Err(StoreError::Contended)
}

/// Removes the record under `key` if it still holds `old`; `false` if it changed.
pub(crate) fn remove_if_unchanged(
    tree: &sled::Tree,
    key: impl AsRef<[u8]>,
    old: &sled::IVec,
) -> Result<bool, StoreError> {
    Ok(tree
        .compare_and_swap(key.as_ref(), Some(old), None::<&[u8]>)?
        .is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_refuses_a_taken_key_and_update_applies() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        assert!(create(&store.emails, "a@b.cd", &"alice").unwrap());
        assert!(!create(&store.emails, "a@b.cd", &"mallory").unwrap());
        let got: Option<String> = get(&store.emails, "a@b.cd").unwrap();
        assert_eq!(got.as_deref(), Some("alice"));
        let result = update(&store.emails, "a@b.cd", |name: String| {
            Update::Write(format!("{name}!"), 7)
        })
        .unwrap();
        assert_eq!(result, Some(7));
        let got: Option<String> = get(&store.emails, "a@b.cd").unwrap();
        assert_eq!(got.as_deref(), Some("alice!"));
        assert_eq!(
            update(&store.emails, "none", |_: String| Update::Keep(())).unwrap(),
            None
        );
    }
}
