//! What can go wrong with the vault, worded for the person who has to act.
//!
//! Messages never carry record keys or values: keys may be member ids, and
//! values are health data. Tree names are program constants and are safe.

/// Why a vault operation failed.
///
/// No variant ever leads the vault to delete data by itself; see
/// `docs/adr/0001-vault.md` for what the app does with each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The passphrase or platform key is not the one this vault was made
    /// with. Nothing was changed.
    #[error("the passphrase or key does not open this vault; check it and try again")]
    WrongKey,

    /// The platform keystore refused to unwrap the data key because the phone
    /// has not been unlocked since it started. Nothing was changed, and the
    /// vault must not be wiped for this.
    #[error(
        "the platform keystore is locked (the phone has not been unlocked since it started); \
         unlock the phone, then try again"
    )]
    KeyStoreLocked,

    /// The platform key that wraps the data key is gone (for example the
    /// screen lock was removed), so the vault cannot be decrypted any more.
    /// The files are kept; the app decides whether to log out.
    #[error(
        "the platform key protecting this vault is gone (e.g. the screen lock changed); \
         its content cannot be decrypted: sign in again to refetch account data"
    )]
    KeyLost,

    /// The platform keystore failed for another reason.
    #[error("the platform keystore failed ({0}); try again, and report it if it persists")]
    KeyStore(String),

    /// Another handle (in this or another process) has the vault open.
    #[error("the vault is already open elsewhere; close the other handle or app, then try again")]
    InUse,

    /// Stored bytes failed their integrity check, or the storage engine
    /// found its files damaged. For a single record, other records are still
    /// readable. Nothing was deleted.
    #[error(
        "the vault is damaged ({what}); nothing was deleted: report it, and sign in again \
         to refetch account data"
    )]
    Corrupt {
        /// What was found damaged (never a key or a value).
        what: String,
    },

    /// The vault was written by a newer version of the app.
    #[error(
        "this vault has schema version {found}, newer than the {supported} this app knows; \
         update the app"
    )]
    UnsupportedSchema {
        /// The version found on disk.
        found: u32,
        /// The newest version this build can read.
        supported: u32,
    },

    /// The file system or storage engine failed (disk full, permissions).
    #[error(
        "the vault's storage failed ({0}); check free space and storage permissions, then try again"
    )]
    Storage(String),

    /// A value could not be turned into or back from JSON: a type that does
    /// not match what was stored, i.e. a bug or a missing schema migration.
    #[error("a vault value could not be encoded or decoded ({0}); this is a bug: report it")]
    Encoding(String),

    /// The operating system did not provide random bytes.
    #[error("the system random number generator failed; try again")]
    Random,
}

impl VaultError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt { what: what.into() }
    }
}

impl From<std::io::Error> for VaultError {
    fn from(e: std::io::Error) -> Self {
        Self::Storage(e.to_string())
    }
}
