//! Schema versions of the vault's content, and the steps between them.
//!
//! The version lives in clear in the meta tree next to the key header. At
//! open, every step from the stored version to [`SCHEMA_VERSION`] runs in
//! order, and the version is bumped and flushed after each, so a crash
//! between steps resumes where it stopped.

use super::Vault;
use super::error::VaultError;
use super::store::KvStore;

/// The tree that holds the key header and the schema version, in clear.
pub(crate) const META_TREE: &str = "meta";
/// The key header ([`super::key::KeyHeader`], JSON).
pub(crate) const KEY_HEADER: &[u8] = b"key_header";
/// The schema version, a big-endian u32.
pub(crate) const VERSION_KEY: &[u8] = b"schema_version";

/// A step that brings the vault's content from version `n` to `n + 1`.
///
/// It runs on an open vault before the vault is handed out. It must be
/// idempotent: a crash after the step but before the version is bumped runs
/// it again at the next open.
pub type Migration = fn(&Vault) -> Result<(), VaultError>;

/// The steps, in order: `MIGRATIONS[i]` brings version `i + 1` to `i + 2`.
/// Append only; never edit or remove a step that has shipped.
pub(crate) const MIGRATIONS: &[Migration] = &[];

/// The schema version this build writes, and the newest it can read.
pub const SCHEMA_VERSION: u32 = supported(MIGRATIONS);

/// The newest version reachable with `steps`.
pub(crate) const fn supported(steps: &[Migration]) -> u32 {
    1 + steps.len() as u32
}

/// The stored version, if the vault has been initialised.
pub(crate) fn read_version(store: &dyn KvStore) -> Result<Option<u32>, VaultError> {
    let Some(bytes) = store.get(META_TREE, VERSION_KEY)? else {
        return Ok(None);
    };
    let bytes: [u8; 4] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| VaultError::corrupt("the schema version is unreadable"))?;
    match u32::from_be_bytes(bytes) {
        0 => Err(VaultError::corrupt("the schema version is zero")),
        v => Ok(Some(v)),
    }
}

/// Refuses a vault written by a newer build before anything else reads it:
/// its header or records may have a shape this build would misread.
pub(crate) fn check_supported(found: u32, steps: &[Migration]) -> Result<(), VaultError> {
    let supported = supported(steps);
    if found > supported {
        return Err(VaultError::UnsupportedSchema { found, supported });
    }
    Ok(())
}

/// Runs every step from the stored version up to the newest of `steps`.
pub(crate) fn migrate(vault: &Vault, steps: &[Migration]) -> Result<(), VaultError> {
    let store = vault.store();
    let mut version =
        read_version(store)?.ok_or_else(|| VaultError::corrupt("the schema version is missing"))?;
    check_supported(version, steps)?;
    while let Some(step) = steps.get(version.saturating_sub(1) as usize) {
        step(vault)?;
        version += 1;
        store.put(META_TREE, VERSION_KEY, &version.to_be_bytes())?;
        store.flush()?;
    }
    Ok(())
}
