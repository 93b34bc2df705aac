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
//!
//! Tokens are never stored, only their SHA-256. A login groups the tokens of
//! one session: logging out removes it, and every token of it stops working.

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

/// The database.
pub(crate) struct Store {
    db: sled::Db,
    pub users: sled::Tree,
    pub emails: sled::Tree,
    pub members: sled::Tree,
    pub sessions: sled::Tree,
    pub logins: sled::Tree,
    pub devices: sled::Tree,
    pub challenges: sled::Tree,
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
            challenges: db.open_tree("challenges")?,
            db,
        })
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
