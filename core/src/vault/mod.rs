//! The vault: encrypted key/value storage on the phone.
//!
//! - `store`: where bytes live (sled on disk, a map in memory);
//! - `cipher`: AES-256-GCM sealing of values, HMAC hashing of keys;
//! - `key`: the data key, its wrapping by a passphrase or the platform
//!   keystore ([`KeyStore`]), and the checks that tell a wrong key from damage;
//! - `lock`: the exclusive lock on the vault directory;
//! - `schema`: schema versions and migrations ([`Migration`]);
//! - `error`: what can go wrong ([`VaultError`]).
//!
//! Every value is JSON sealed with a random data key, bound to its tree and
//! key; every key is stored as a keyed hash. A write returns once it is on
//! stable storage. Nothing here ever deletes data except [`Vault::wipe`]
//! and [`Vault::wipe_dir`] (logout). Decisions: `docs/adr/0001-vault.md`.

mod cipher;
mod error;
mod key;
mod lock;
mod schema;
mod store;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;
use ring::hmac;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::VaultError;
pub use key::{KeyStore, KeyStoreError, PBKDF2_ITERATIONS};
pub use schema::{Migration, SCHEMA_VERSION};
/// Re-exported because [`KeyStore::unwrap_key`] returns it.
pub use zeroize::Zeroizing;

use cipher::StoreCipher;
use lock::DirLock;
use store::{Batch, CasOutcome, KvStore, MemoryStore, SledStore};

/// The sled database's directory inside the vault directory; the lock file
/// sits next to it.
const SLED_DIR: &str = "sled";

/// Prefix of the store trees that hold records, keeping them apart from the
/// meta tree whatever names callers choose.
const DATA_TREE_PREFIX: &str = "data:";

/// What opens a vault.
pub enum VaultKey<'a> {
    /// A passphrase or PIN: the key encryption key is derived from it with
    /// PBKDF2-HMAC-SHA256 ([`PBKDF2_ITERATIONS`] iterations), which takes a
    /// noticeable fraction of a second on a phone.
    Passphrase(&'a str),
    /// The platform keystore, which wraps the data key itself.
    KeyStore(&'a dyn KeyStore),
}

impl std::fmt::Debug for VaultKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Passphrase(_) => f.write_str("VaultKey::Passphrase(..)"),
            Self::KeyStore(_) => f.write_str("VaultKey::KeyStore(..)"),
        }
    }
}

/// What the vault keeps per tree: its name in the store and its MAC key.
struct TreeHandle {
    store_name: String,
    mac: hmac::Key,
}

/// Encrypted key/value storage: values are serde types, grouped in named
/// trees, sealed with the vault's data key.
///
/// `Send + Sync`: share it behind an `Arc`. Every method blocks on disk I/O;
/// async callers run it on a blocking thread.
pub struct Vault {
    // Field order is drop order: the store closes before the lock is released.
    store: Arc<dyn KvStore>,
    cipher: StoreCipher,
    trees: RwLock<HashMap<String, Arc<TreeHandle>>>,
    dir: Option<PathBuf>,
    lock: Option<DirLock>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("location", &self.dir)
            .finish_non_exhaustive()
    }
}

// The async façade shares one vault across tasks.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Vault>();
};

impl Vault {
    /// Opens the vault in `dir`, or creates it there if `dir` holds none.
    ///
    /// Fails with [`VaultError::InUse`] if another handle has it open,
    /// [`VaultError::WrongKey`] if `key` does not open it,
    /// [`VaultError::KeyStoreLocked`] if the platform keystore is not
    /// available yet (wait and retry), and never deletes anything.
    pub fn open(dir: &Path, key: VaultKey<'_>) -> Result<Vault, VaultError> {
        Self::open_dir(dir, key, schema::MIGRATIONS)
    }

    /// A vault that lives in memory only and is gone when dropped.
    pub fn open_in_memory(key: VaultKey<'_>) -> Result<Vault, VaultError> {
        Self::open_store(
            Arc::new(MemoryStore::new()),
            key,
            None,
            None,
            schema::MIGRATIONS,
        )
    }

    fn open_dir(dir: &Path, key: VaultKey<'_>, steps: &[Migration]) -> Result<Vault, VaultError> {
        let lock = DirLock::acquire(dir)?;
        let store = SledStore::open(&dir.join(SLED_DIR))?;
        Self::open_store(
            Arc::new(store),
            key,
            Some(dir.to_path_buf()),
            Some(lock),
            steps,
        )
    }

    fn open_store(
        store: Arc<dyn KvStore>,
        key: VaultKey<'_>,
        dir: Option<PathBuf>,
        lock: Option<DirLock>,
        steps: &[Migration],
    ) -> Result<Vault, VaultError> {
        let version = schema::read_version(&*store)?;
        if let Some(found) = version {
            schema::check_supported(found, steps)?;
        }
        let header = store.get(schema::META_TREE, schema::KEY_HEADER)?;
        let cipher = match (version, header) {
            (Some(_), Some(header)) => key::unlock(&key::KeyHeader::from_bytes(&header)?, &key)?,
            (None, None) => Self::initialise(&*store, &key, schema::supported(steps))?,
            (Some(_), None) => return Err(VaultError::corrupt("the key header is missing")),
            (None, Some(_)) => return Err(VaultError::corrupt("the schema version is missing")),
        };
        let vault = Vault {
            store,
            cipher,
            trees: RwLock::new(HashMap::new()),
            dir,
            lock,
        };
        schema::migrate(&vault, steps)?;
        Ok(vault)
    }

    /// Makes the data key and writes the meta tree of a new vault.
    fn initialise(
        store: &dyn KvStore,
        key: &VaultKey<'_>,
        version: u32,
    ) -> Result<StoreCipher, VaultError> {
        // Records without a header mean the header was lost: a fresh key
        // would hide them for good behind a key that cannot open them.
        for name in store.tree_names()? {
            if name.starts_with(DATA_TREE_PREFIX) && !store.scan_prefix(&name, b"")?.is_empty() {
                return Err(VaultError::corrupt(
                    "the key header is missing but records exist",
                ));
            }
        }
        let (cipher, header) = key::create(key)?;
        let mut batch = Batch::default();
        batch.insert(schema::KEY_HEADER, &header.to_bytes()?);
        batch.insert(schema::VERSION_KEY, &version.to_be_bytes());
        store.apply_batch(schema::META_TREE, batch)?;
        store.flush()?;
        Ok(cipher)
    }

    /// The store, for schema migrations.
    pub(crate) fn store(&self) -> &dyn KvStore {
        &*self.store
    }

    fn tree(&self, tree: &str) -> Arc<TreeHandle> {
        if let Some(handle) = self.trees.read().get(tree) {
            return Arc::clone(handle);
        }
        let handle = Arc::new(TreeHandle {
            store_name: format!("{DATA_TREE_PREFIX}{tree}"),
            mac: self.cipher.tree_mac_key(tree),
        });
        Arc::clone(self.trees.write().entry(tree.to_owned()).or_insert(handle))
    }

    fn open_record(
        &self,
        tree: &str,
        hashed: &[u8],
        sealed: Vec<u8>,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        self.cipher
            .open_record(tree, hashed, sealed)
            .map_err(|e| VaultError::corrupt(e.describe(&format!("a record in tree `{tree}`"))))
    }

    /// The value under `key` in `tree`, or `None`.
    ///
    /// A record that fails to decrypt is [`VaultError::Corrupt`]; it is kept,
    /// and the other records stay readable.
    pub fn get<T: DeserializeOwned>(
        &self,
        tree: &str,
        key: &[u8],
    ) -> Result<Option<T>, VaultError> {
        self.get_bytes(tree, key)?
            .map(|plain| decode::<T>(&plain))
            .transpose()
    }

    /// Stores `value` under `key` in `tree`; returns once it is on disk.
    pub fn put<T: Serialize + ?Sized>(
        &self,
        tree: &str,
        key: &[u8],
        value: &T,
    ) -> Result<(), VaultError> {
        self.put_bytes(tree, key, &encode(value)?)
    }

    /// The raw bytes under `key` in `tree` (stored with [`Vault::put_bytes`]),
    /// without a JSON round trip: for attachments such as receipt photos.
    pub fn get_bytes(
        &self,
        tree: &str,
        key: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, VaultError> {
        let handle = self.tree(tree);
        let hashed = hmac::sign(&handle.mac, key);
        self.store
            .get(&handle.store_name, hashed.as_ref())?
            .map(|sealed| self.open_record(tree, hashed.as_ref(), sealed))
            .transpose()
    }

    /// Stores raw bytes under `key` in `tree`; returns once they are on disk.
    pub fn put_bytes(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), VaultError> {
        let handle = self.tree(tree);
        let hashed = hmac::sign(&handle.mac, key);
        let sealed = self.cipher.seal_record(tree, hashed.as_ref(), value)?;
        self.store
            .put(&handle.store_name, hashed.as_ref(), &sealed)?;
        self.store.flush()
    }

    /// Removes `key` from `tree` (absent keys are fine); returns once the
    /// removal is on disk.
    pub fn remove(&self, tree: &str, key: &[u8]) -> Result<(), VaultError> {
        let handle = self.tree(tree);
        let hashed = hmac::sign(&handle.mac, key);
        self.store.remove(&handle.store_name, hashed.as_ref())?;
        self.store.flush()
    }

    /// Replaces the value under `key` by `new` if it currently equals
    /// `expected` (`None`: absent; a `new` of `None` removes it). Returns
    /// whether it swapped; on `true` the change is on disk.
    pub fn compare_and_swap<T>(
        &self,
        tree: &str,
        key: &[u8],
        expected: Option<&T>,
        new: Option<&T>,
    ) -> Result<bool, VaultError>
    where
        T: Serialize + DeserializeOwned + PartialEq,
    {
        let handle = self.tree(tree);
        let hashed = hmac::sign(&handle.mac, key);
        let hashed = hashed.as_ref();
        // Sealing is randomised, so equality is decided on plaintext and the
        // swap is made on the exact bytes that were compared.
        loop {
            let current_sealed = self.store.get(&handle.store_name, hashed)?;
            let current = match &current_sealed {
                Some(sealed) => Some(decode::<T>(&self.open_record(
                    tree,
                    hashed,
                    sealed.clone(),
                )?)?),
                None => None,
            };
            if current.as_ref() != expected {
                return Ok(false);
            }
            let new_sealed = match new {
                Some(value) => Some(self.cipher.seal_record(tree, hashed, &encode(value)?)?),
                None => None,
            };
            match self.store.compare_and_swap(
                &handle.store_name,
                hashed,
                current_sealed.as_deref(),
                new_sealed.as_deref(),
            )? {
                CasOutcome::Swapped => {
                    self.store.flush()?;
                    return Ok(true);
                }
                // Changed between our read and our swap: decide again.
                CasOutcome::Conflict { .. } => continue,
            }
        }
    }

    /// Every value in `tree`, in no meaningful order (keys are hashed).
    ///
    /// Fails on the first record that does not open; use [`Vault::records`]
    /// to read the others and report the damaged ones.
    pub fn values<T: DeserializeOwned>(&self, tree: &str) -> Result<Vec<T>, VaultError> {
        self.records(tree)?.into_iter().collect()
    }

    /// Every record in `tree`, each decoded or with the error that kept it
    /// from opening: a damaged record does not hide the others.
    pub fn records<T: DeserializeOwned>(
        &self,
        tree: &str,
    ) -> Result<Vec<Result<T, VaultError>>, VaultError> {
        let handle = self.tree(tree);
        Ok(self
            .store
            .scan_prefix(&handle.store_name, b"")?
            .into_iter()
            .map(|(hashed, sealed)| {
                self.open_record(tree, &hashed, sealed)
                    .and_then(|plain| decode::<T>(&plain))
            })
            .collect())
    }

    /// Protects the data key under `new` instead (passphrase change, or a
    /// move to the platform keystore). Records are not rewritten; the old
    /// key stops working once this returns.
    pub fn change_key(&self, new: VaultKey<'_>) -> Result<(), VaultError> {
        let header = key::protect(&self.cipher, &new)?;
        self.store
            .put(schema::META_TREE, schema::KEY_HEADER, &header.to_bytes()?)?;
        self.store.flush()
    }

    /// Deletes everything (logout): clears every tree, flushes, closes the
    /// store and removes the vault's files. The directory itself is removed
    /// if nothing else is in it.
    pub fn wipe(self) -> Result<(), VaultError> {
        // Clearing first means that even if a file cannot be removed, what
        // remains of it no longer holds the records or the wrapped key.
        let cleared = self.store.clear().and_then(|()| self.store.flush());
        let Vault {
            store, dir, lock, ..
        } = self;
        drop(store);
        let removed = match &dir {
            Some(dir) => remove_files(dir, lock),
            None => Ok(()),
        };
        cleared.and(removed)
    }

    /// Deletes the vault in `dir` without opening it: the logout of a
    /// vault whose key is lost or whose files are damaged. Fails with
    /// [`VaultError::InUse`] while a handle has it open.
    pub fn wipe_dir(dir: &Path) -> Result<(), VaultError> {
        if !dir.exists() {
            return Ok(());
        }
        let lock = DirLock::acquire(dir)?;
        remove_files(dir, Some(lock))
    }

    /// The vault's directory, or `None` for a vault in memory.
    pub fn location(&self) -> Option<PathBuf> {
        self.dir.clone()
    }
}

/// Removes the sled files, then the lock file while still holding it (so
/// no other opener slips in between), then `dir` if it is empty.
fn remove_files(dir: &Path, lock: Option<DirLock>) -> Result<(), VaultError> {
    let sled = dir.join(SLED_DIR);
    let removed = match std::fs::remove_dir_all(&sled) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(VaultError::from(e)),
        _ => Ok(()),
    };
    if let Some(lock) = lock {
        let _ = std::fs::remove_file(lock.path());
        drop(lock);
    }
    // The caller may have given us a directory that holds other things.
    let _ = std::fs::remove_dir(dir);
    removed
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    serde_json::to_vec(value).map(Zeroizing::new).map_err(|e| {
        VaultError::Encoding(format!(
            "{} could not be encoded: {e}",
            std::any::type_name::<T>()
        ))
    })
}

fn decode<T: DeserializeOwned>(plain: &[u8]) -> Result<T, VaultError> {
    // serde_json's messages quote the offending input, which is member data:
    // keep only where and what kind of error.
    serde_json::from_slice(plain).map_err(|e| {
        VaultError::Encoding(format!(
            "a stored value does not decode as {} ({:?} error at line {}, column {})",
            std::any::type_name::<T>(),
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}
