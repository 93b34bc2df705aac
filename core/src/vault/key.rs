//! The key hierarchy: a random data key encrypts the records; a key
//! encryption key (KEK) wraps the data key. The KEK is either derived from
//! the member's passphrase (PBKDF2) or held by the platform keystore, which
//! wraps and unwraps through [`KeyStore`] and never hands its key out.
//!
//! The wrapped data key, the KDF parameters and the checks that tell a wrong
//! key from damage are kept in clear in the meta tree as a [`KeyHeader`].

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hmac, pbkdf2};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::VaultKey;
use super::cipher::{self, StoreCipher};
use super::error::VaultError;

/// PBKDF2-HMAC-SHA256 iterations for a passphrase: OWASP's 2023 figure for
/// this hash. A vault records the count it was made with.
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// Counts read from disk outside this range are damage: a low count would
/// weaken the passphrase, a huge one would hang the app at open.
const PBKDF2_ITERATIONS_RANGE: std::ops::RangeInclusive<u32> =
    PBKDF2_ITERATIONS..=10 * PBKDF2_ITERATIONS;

const PBKDF2_ITERATIONS_NONZERO: NonZeroU32 = match NonZeroU32::new(PBKDF2_ITERATIONS) {
    Some(n) => n,
    None => NonZeroU32::MIN,
};

const SALT_LEN: usize = 16;
const KEY_LEN: usize = 32;

const KDF_NAME: &str = "pbkdf2-hmac-sha256";
const KEK_CHECK_LABEL: &[u8] = b"carnet-kek-check";
const WRAP_AAD: &[u8] = b"carnet-vault-wrap|passphrase";

/// Why the platform keystore could not wrap or unwrap the data key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyStoreError {
    /// The key exists but cannot be used yet: the device has not been
    /// unlocked since boot. The caller waits and retries; never wipe.
    #[error("the keystore is locked until the device is unlocked")]
    Locked,
    /// The key is gone for good (e.g. the screen lock was removed).
    #[error("the keystore key was invalidated")]
    KeyInvalidated,
    /// Any other failure of the platform.
    #[error("the keystore failed: {0}")]
    Failed(String),
}

/// The platform keystore (Android Keystore, iOS Keychain), implemented by
/// the shells: it wraps the vault's data key with a key that never leaves
/// the platform.
pub trait KeyStore: Send + Sync {
    /// Encrypts `key` (the 32-byte data key) for storage.
    fn wrap_key(&self, key: &[u8]) -> Result<Vec<u8>, KeyStoreError>;
    /// Reverses [`KeyStore::wrap_key`].
    fn unwrap_key(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyStoreError>;
}

/// The random key that encrypts the records.
pub(crate) struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// Makes a fresh key from the system's random source.
    pub(crate) fn generate(rng: &SystemRandom) -> Result<Self, VaultError> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill(key.as_mut()).map_err(|_| VaultError::Random)?;
        Ok(Self(key))
    }

    /// Takes an unwrapped key, if it has the right length.
    fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return None;
        }
        key.copy_from_slice(bytes);
        Some(Self(key))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// How the data key is protected, as stored in the meta tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Protection {
    Passphrase {
        kdf: String,
        iterations: u32,
        /// Base64 of 16 random bytes.
        salt: String,
        /// Base64 of HMAC-SHA256(KEK, "carnet-kek-check").
        kek_check: String,
    },
    PlatformKeyStore,
}

/// The clear-text record that lets the right key open the vault.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyHeader {
    protection: Protection,
    /// Base64 of the data key wrapped by the KEK or the platform.
    wrapped_key: String,
    /// Base64 of the canary sealed with the data key.
    canary: String,
}

impl KeyHeader {
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, VaultError> {
        serde_json::to_vec(self).map_err(|e| VaultError::Encoding(format!("key header: {e}")))
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self, VaultError> {
        serde_json::from_slice(bytes)
            .map_err(|_| VaultError::corrupt("the key header is unreadable"))
    }
}

/// The passphrase-derived key encryption key.
struct Kek(Zeroizing<[u8; KEY_LEN]>);

impl Kek {
    fn derive(passphrase: &str, salt: &[u8], iterations: NonZeroU32) -> Self {
        let mut kek = Zeroizing::new([0u8; KEY_LEN]);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            salt,
            passphrase.as_bytes(),
            kek.as_mut(),
        );
        Self(kek)
    }

    fn check_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, self.0.as_ref())
    }
}

fn from_keystore(e: KeyStoreError) -> VaultError {
    match e {
        KeyStoreError::Locked => VaultError::KeyStoreLocked,
        KeyStoreError::KeyInvalidated => VaultError::KeyLost,
        KeyStoreError::Failed(message) => VaultError::KeyStore(message),
    }
}

fn decode(field: &str, value: &str) -> Result<Vec<u8>, VaultError> {
    B64.decode(value)
        .map_err(|_| VaultError::corrupt(format!("the key header's {field} is not base64")))
}

/// Makes a fresh data key and the header that protects it under `key`.
pub(crate) fn create(key: &VaultKey<'_>) -> Result<(StoreCipher, KeyHeader), VaultError> {
    let rng = SystemRandom::new();
    let cipher = StoreCipher::new(DataKey::generate(&rng)?)?;
    let header = protect(&cipher, key)?;
    Ok((cipher, header))
}

/// A header that protects `cipher`'s data key under `key`.
pub(crate) fn protect(cipher: &StoreCipher, key: &VaultKey<'_>) -> Result<KeyHeader, VaultError> {
    let data_key = cipher.data_key().as_bytes();
    let canary = B64.encode(cipher.make_canary()?);
    match key {
        VaultKey::Passphrase(passphrase) => {
            let mut salt = [0u8; SALT_LEN];
            cipher
                .rng()
                .fill(&mut salt)
                .map_err(|_| VaultError::Random)?;
            let iterations = PBKDF2_ITERATIONS_NONZERO;
            let kek = Kek::derive(passphrase, &salt, iterations);
            let kek_check = hmac::sign(&kek.check_key(), KEK_CHECK_LABEL);
            let wrapped =
                cipher::seal(&cipher::aead_key(&kek.0)?, cipher.rng(), WRAP_AAD, data_key)?;
            Ok(KeyHeader {
                protection: Protection::Passphrase {
                    kdf: KDF_NAME.to_owned(),
                    iterations: iterations.get(),
                    salt: B64.encode(salt),
                    kek_check: B64.encode(kek_check.as_ref()),
                },
                wrapped_key: B64.encode(wrapped),
                canary,
            })
        }
        VaultKey::KeyStore(store) => {
            let wrapped = store.wrap_key(data_key).map_err(from_keystore)?;
            Ok(KeyHeader {
                protection: Protection::PlatformKeyStore,
                wrapped_key: B64.encode(wrapped),
                canary,
            })
        }
    }
}

/// Unwraps the data key of `header` with `key` and checks it.
///
/// Passphrase: a KEK check mismatch is [`VaultError::WrongKey`]; a matching
/// KEK that fails to unwrap, or a data key that fails the canary, is damage.
/// Keystore: the platform cannot tell us whether its key is the right one,
/// so a data key that fails the canary is [`VaultError::WrongKey`].
pub(crate) fn unlock(header: &KeyHeader, key: &VaultKey<'_>) -> Result<StoreCipher, VaultError> {
    let wrapped = decode("wrapped key", &header.wrapped_key)?;
    let canary = decode("canary", &header.canary)?;
    match (&header.protection, key) {
        (
            Protection::Passphrase {
                kdf,
                iterations,
                salt,
                kek_check,
            },
            VaultKey::Passphrase(passphrase),
        ) => {
            if kdf != KDF_NAME {
                return Err(VaultError::corrupt(format!(
                    "unknown key derivation `{kdf}`"
                )));
            }
            let iterations = NonZeroU32::new(*iterations)
                .filter(|n| PBKDF2_ITERATIONS_RANGE.contains(&n.get()))
                .ok_or_else(|| {
                    VaultError::corrupt("the key derivation's iteration count is out of range")
                })?;
            let salt = decode("salt", salt)?;
            if salt.len() != SALT_LEN {
                return Err(VaultError::corrupt(
                    "the key derivation's salt has the wrong length",
                ));
            }
            let kek_check = decode("KEK check", kek_check)?;
            let kek = Kek::derive(passphrase, &salt, iterations);
            hmac::verify(&kek.check_key(), KEK_CHECK_LABEL, &kek_check)
                .map_err(|_| VaultError::WrongKey)?;
            let data_key = cipher::open(&cipher::aead_key(&kek.0)?, WRAP_AAD, wrapped)
                .map_err(|e| VaultError::corrupt(e.describe("the wrapped data key")))?;
            let data_key = DataKey::from_slice(&data_key)
                .ok_or_else(|| VaultError::corrupt("the data key has the wrong length"))?;
            let cipher = StoreCipher::new(data_key)?;
            if !cipher.check_canary(&canary) {
                return Err(VaultError::corrupt("the canary failed its integrity check"));
            }
            Ok(cipher)
        }
        (Protection::PlatformKeyStore, VaultKey::KeyStore(store)) => {
            let data_key = store.unwrap_key(&wrapped).map_err(from_keystore)?;
            let data_key = DataKey::from_slice(&data_key).ok_or(VaultError::WrongKey)?;
            let cipher = StoreCipher::new(data_key)?;
            if !cipher.check_canary(&canary) {
                return Err(VaultError::WrongKey);
            }
            Ok(cipher)
        }
        // A keystore offered to a passphrase vault, or the reverse.
        _ => Err(VaultError::WrongKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_at_the_production_count_is_fast_enough_to_open_at_app_start() {
        let start = std::time::Instant::now();
        let kek = Kek::derive("a passphrase", &[7; SALT_LEN], PBKDF2_ITERATIONS_NONZERO);
        let elapsed = start.elapsed();
        assert_ne!(*kek.0, [0; KEY_LEN]);
        // ring is built at opt-level 3 even in dev (workspace Cargo.toml).
        assert!(elapsed.as_secs_f64() < 2.0, "PBKDF2 took {elapsed:?}");
    }

    #[test]
    fn a_header_reveals_neither_the_data_key_nor_the_passphrase() {
        let (cipher, header) = create(&VaultKey::Passphrase("correct horse")).unwrap();
        let json = String::from_utf8(header.to_bytes().unwrap()).unwrap();
        assert!(!json.contains("correct horse"));
        assert!(!json.contains(&B64.encode(cipher.data_key().as_bytes())));
        assert!(json.contains("\"iterations\":600000"));
        assert_eq!(format!("{:?}", cipher.data_key()), "DataKey(..)");
    }

    #[test]
    fn a_header_with_a_lowered_iteration_count_is_damage() {
        let (_, mut header) = create(&VaultKey::Passphrase("pw")).unwrap();
        if let Protection::Passphrase { iterations, .. } = &mut header.protection {
            *iterations = 1000;
        }
        assert!(matches!(
            unlock(&header, &VaultKey::Passphrase("pw")),
            Err(VaultError::Corrupt { .. })
        ));
    }
}
