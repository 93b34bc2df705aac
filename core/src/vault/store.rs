//! Where the sealed bytes live: a small key/value trait, over sled on the
//! phone and over a map in memory for tests and ephemeral sessions.
//!
//! The stores see only what the vault hands them (hashed keys, sealed
//! values, the plain meta tree); they know nothing of keys or encryption.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use parking_lot::Mutex;

use super::error::VaultError;

/// sled's default cache is 1 GB; a phone app has a small fraction of that,
/// and the vault's working set is a few hundred records.
pub(crate) const SLED_CACHE_CAPACITY: u64 = 8 * 1024 * 1024;

/// Key/value pairs, in key order.
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Writes to one tree, applied all or nothing.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    /// Sets `key` to `value`.
    pub(crate) fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.ops.push((key.to_vec(), Some(value.to_vec())));
    }

    /// Removes `key`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.ops.push((key.to_vec(), None));
    }
}

/// The result of a compare-and-swap that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CasOutcome {
    /// The value was as expected and has been replaced.
    Swapped,
    /// The value was not as expected; nothing was written.
    Conflict {
        /// What the value is now.
        current: Option<Vec<u8>>,
    },
}

/// A store of byte trees. Writes are visible at once and durable after
/// [`KvStore::flush`].
pub(crate) trait KvStore: Send + Sync {
    /// The value under `key` in `tree`.
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, VaultError>;
    /// Sets `key` to `value` in `tree`.
    fn put(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), VaultError>;
    /// Removes `key` from `tree`; absent keys are not an error.
    fn remove(&self, tree: &str, key: &[u8]) -> Result<(), VaultError>;
    /// Replaces `expected` (None: absent) by `new` (None: remove) atomically.
    fn compare_and_swap(
        &self,
        tree: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome, VaultError>;
    /// Applies every write of `batch` to `tree`, or none.
    fn apply_batch(&self, tree: &str, batch: Batch) -> Result<(), VaultError>;
    /// Every pair of `tree` whose key starts with `prefix`, in key order.
    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Pairs, VaultError>;
    /// The trees that exist, in no particular order.
    fn tree_names(&self) -> Result<Vec<String>, VaultError>;
    /// Returns once every earlier write is on stable storage.
    fn flush(&self) -> Result<(), VaultError>;
    /// Removes every tree and every pair.
    fn clear(&self) -> Result<(), VaultError>;
}

/// The store on the phone: sled 0.34 (docs/adr/0001-vault.md).
pub(crate) struct SledStore {
    db: sled::Db,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

fn from_sled(e: sled::Error) -> VaultError {
    match e {
        sled::Error::Corruption { .. } => {
            VaultError::corrupt("the storage engine found its files damaged")
        }
        other => VaultError::Storage(other.to_string()),
    }
}

/// How long to wait for sled's file lock to be released by a handle of this
/// process that was just closed.
const SLED_LOCK_WAIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);
const SLED_LOCK_WAIT_STEP: std::time::Duration = std::time::Duration::from_millis(10);

impl SledStore {
    /// Opens (or creates) the sled database in `path`. Never deletes or
    /// repairs anything: a damaged database is reported, not replaced.
    pub(crate) fn open(path: &Path) -> Result<Self, VaultError> {
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(SLED_CACHE_CAPACITY);
        // The caller holds our own exclusive lock, so if sled's file lock is
        // taken it is by a handle of this process that was just dropped and
        // whose background flusher has not let go yet: wait for it, briefly.
        let mut waited = std::time::Duration::ZERO;
        loop {
            // sled asserts on some shapes of damaged files; a panic at every
            // app start would lock the member out, an error lets the app
            // explain.
            match std::panic::catch_unwind(AssertUnwindSafe(|| config.open())) {
                Ok(Ok(db)) => return Ok(Self { db }),
                // sled 0.34.7 (pinned exactly) reports this only as text.
                Ok(Err(sled::Error::Io(e)))
                    if e.to_string().starts_with("could not acquire lock")
                        && waited < SLED_LOCK_WAIT_LIMIT =>
                {
                    std::thread::sleep(SLED_LOCK_WAIT_STEP);
                    waited += SLED_LOCK_WAIT_STEP;
                }
                Ok(Err(e)) => return Err(from_sled(e)),
                Err(_) => {
                    return Err(VaultError::corrupt(
                        "the storage engine stopped while reading its files",
                    ));
                }
            }
        }
    }

    fn tree(&self, tree: &str) -> Result<sled::Tree, VaultError> {
        self.db.open_tree(tree).map_err(from_sled)
    }
}

/// sled's own tree, which the vault never uses.
const SLED_DEFAULT_TREE: &[u8] = b"__sled__default";

impl KvStore for SledStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, VaultError> {
        Ok(self
            .tree(tree)?
            .get(key)
            .map_err(from_sled)?
            .map(|v| v.to_vec()))
    }

    fn put(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), VaultError> {
        self.tree(tree)?.insert(key, value).map_err(from_sled)?;
        Ok(())
    }

    fn remove(&self, tree: &str, key: &[u8]) -> Result<(), VaultError> {
        self.tree(tree)?.remove(key).map_err(from_sled)?;
        Ok(())
    }

    fn compare_and_swap(
        &self,
        tree: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome, VaultError> {
        match self
            .tree(tree)?
            .compare_and_swap(key, expected, new)
            .map_err(from_sled)?
        {
            Ok(()) => Ok(CasOutcome::Swapped),
            Err(conflict) => Ok(CasOutcome::Conflict {
                current: conflict.current.map(|v| v.to_vec()),
            }),
        }
    }

    fn apply_batch(&self, tree: &str, batch: Batch) -> Result<(), VaultError> {
        let mut sled_batch = sled::Batch::default();
        for (key, value) in batch.ops {
            match value {
                Some(value) => sled_batch.insert(key, value),
                None => sled_batch.remove(key),
            }
        }
        self.tree(tree)?.apply_batch(sled_batch).map_err(from_sled)
    }

    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Pairs, VaultError> {
        self.tree(tree)?
            .scan_prefix(prefix)
            .map(|pair| {
                pair.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(from_sled)
            })
            .collect()
    }

    fn tree_names(&self) -> Result<Vec<String>, VaultError> {
        Ok(self
            .db
            .tree_names()
            .into_iter()
            .filter(|name| name.as_ref() != SLED_DEFAULT_TREE)
            .map(|name| String::from_utf8_lossy(&name).into_owned())
            .collect())
    }

    fn flush(&self) -> Result<(), VaultError> {
        self.db.flush().map_err(from_sled)?;
        Ok(())
    }

    fn clear(&self) -> Result<(), VaultError> {
        self.db.clear().map_err(from_sled)?;
        for name in self.db.tree_names() {
            if name.as_ref() != SLED_DEFAULT_TREE {
                self.db
                    .open_tree(&name)
                    .map_err(from_sled)?
                    .clear()
                    .map_err(from_sled)?;
                self.db.drop_tree(&name).map_err(from_sled)?;
            }
        }
        Ok(())
    }
}

type Trees = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// A store that lives and dies with the process: tests, and sessions that
/// must leave nothing on the device.
#[derive(Debug, Default)]
pub(crate) struct MemoryStore {
    trees: Mutex<Trees>,
}

impl MemoryStore {
    /// An empty store.
    pub(crate) fn new() -> Self {
        Self::default()
    }
}

impl KvStore for MemoryStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, VaultError> {
        Ok(self
            .trees
            .lock()
            .get(tree)
            .and_then(|t| t.get(key))
            .cloned())
    }

    fn put(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), VaultError> {
        self.trees
            .lock()
            .entry(tree.to_owned())
            .or_default()
            .insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn remove(&self, tree: &str, key: &[u8]) -> Result<(), VaultError> {
        if let Some(t) = self.trees.lock().get_mut(tree) {
            t.remove(key);
        }
        Ok(())
    }

    fn compare_and_swap(
        &self,
        tree: &str,
        key: &[u8],
        expected: Option<&[u8]>,
        new: Option<&[u8]>,
    ) -> Result<CasOutcome, VaultError> {
        let mut trees = self.trees.lock();
        let t = trees.entry(tree.to_owned()).or_default();
        let current = t.get(key);
        if current.map(Vec::as_slice) != expected {
            return Ok(CasOutcome::Conflict {
                current: current.cloned(),
            });
        }
        match new {
            Some(value) => t.insert(key.to_vec(), value.to_vec()),
            None => t.remove(key),
        };
        Ok(CasOutcome::Swapped)
    }

    fn apply_batch(&self, tree: &str, batch: Batch) -> Result<(), VaultError> {
        let mut trees = self.trees.lock();
        let t = trees.entry(tree.to_owned()).or_default();
        for (key, value) in batch.ops {
            match value {
                Some(value) => t.insert(key, value),
                None => t.remove(&key),
            };
        }
        Ok(())
    }

    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Pairs, VaultError> {
        Ok(self
            .trees
            .lock()
            .get(tree)
            .map(|t| {
                t.range(prefix.to_vec()..)
                    .take_while(|(k, _)| k.starts_with(prefix))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }

    fn tree_names(&self) -> Result<Vec<String>, VaultError> {
        Ok(self.trees.lock().keys().cloned().collect())
    }

    fn flush(&self) -> Result<(), VaultError> {
        Ok(())
    }

    fn clear(&self) -> Result<(), VaultError> {
        self.trees.lock().clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The contract every store keeps; run against each implementation.
    fn keeps_the_contract(store: &dyn KvStore) {
        assert_eq!(store.get("t", b"a").unwrap(), None);
        store.put("t", b"a", b"1").unwrap();
        store.put("t", b"ab", b"2").unwrap();
        store.put("t", b"b", b"3").unwrap();
        store.put("u", b"a", b"other tree").unwrap();
        assert_eq!(store.get("t", b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.get("u", b"a").unwrap(), Some(b"other tree".to_vec()));

        assert_eq!(
            store.scan_prefix("t", b"a").unwrap(),
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"ab".to_vec(), b"2".to_vec())
            ]
        );
        assert_eq!(store.scan_prefix("t", b"").unwrap().len(), 3);
        assert!(store.scan_prefix("nothing here", b"").unwrap().is_empty());

        assert_eq!(
            store
                .compare_and_swap("t", b"a", Some(b"wrong"), Some(b"x"))
                .unwrap(),
            CasOutcome::Conflict {
                current: Some(b"1".to_vec())
            }
        );
        assert_eq!(
            store
                .compare_and_swap("t", b"a", Some(b"1"), Some(b"x"))
                .unwrap(),
            CasOutcome::Swapped
        );
        assert_eq!(
            store
                .compare_and_swap("t", b"new", None, Some(b"n"))
                .unwrap(),
            CasOutcome::Swapped
        );
        assert_eq!(
            store
                .compare_and_swap("t", b"new", Some(b"n"), None)
                .unwrap(),
            CasOutcome::Swapped
        );
        assert_eq!(store.get("t", b"a").unwrap(), Some(b"x".to_vec()));
        assert_eq!(store.get("t", b"new").unwrap(), None);

        let mut batch = Batch::default();
        batch.insert(b"c", b"4");
        batch.remove(b"b");
        store.apply_batch("t", batch).unwrap();
        assert_eq!(store.get("t", b"c").unwrap(), Some(b"4".to_vec()));
        assert_eq!(store.get("t", b"b").unwrap(), None);

        store.remove("t", b"c").unwrap();
        store.remove("t", b"never there").unwrap();
        assert_eq!(store.get("t", b"c").unwrap(), None);
        store.flush().unwrap();

        let mut names = store.tree_names().unwrap();
        names.sort();
        assert!(names.contains(&"t".to_owned()) && names.contains(&"u".to_owned()));

        store.clear().unwrap();
        assert_eq!(store.get("t", b"a").unwrap(), None);
        assert_eq!(store.get("u", b"a").unwrap(), None);
    }

    #[test]
    fn memory_store_keeps_the_contract() {
        keeps_the_contract(&MemoryStore::new());
    }

    #[test]
    fn sled_store_keeps_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        keeps_the_contract(&SledStore::open(dir.path()).unwrap());
    }

    #[test]
    fn sled_store_keeps_flushed_writes_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.put("t", b"k", b"v").unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.get("t", b"k").unwrap(), Some(b"v".to_vec()));
    }
}
