//! The vault's own exclusive lock.
//!
//! sled 0.34 locks its files only on Linux, macOS and Windows; on Android and
//! iOS two handles (an app and its extension, or a leaked handle) could open
//! the same files and corrupt them. So the vault takes its own lock first.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::error::VaultError;

/// The lock file's name inside the vault directory.
pub(crate) const LOCK_FILE: &str = "carnet.lock";

/// An exclusive, advisory lock on `<dir>/carnet.lock`, held until drop.
///
/// The operating system releases it when the process dies, so a crash never
/// leaves the vault locked.
#[derive(Debug)]
pub(crate) struct DirLock {
    // Held for its lock; closing the file releases it.
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Creates `dir` if needed and takes the lock, or fails with
    /// [`VaultError::InUse`] without waiting.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, VaultError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(VaultError::InUse),
            Err(TryLockError::Error(e)) => Err(e.into()),
        }
    }

    /// The lock file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        assert_eq!(DirLock::acquire(dir.path()).unwrap_err(), VaultError::InUse);
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
