//! Sealing of records and hashing of their keys, after matrix-rust-sdk's
//! `StoreCipher`: every value is AES-256-GCM under a key derived from the
//! data key, with a fresh random nonce and a version byte; every lookup key
//! is replaced by its HMAC-SHA256 under a per-tree key, so that neither
//! values nor keys are readable on disk.
//!
//! Sealed format, version 1: `[1][nonce: 12][ciphertext][tag: 16]`.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::error::VaultError;
use super::key::DataKey;

/// The version byte in front of every sealed value.
pub(crate) const FORMAT_VERSION: u8 = 1;

const HEADER_LEN: usize = 1 + NONCE_LEN;

/// Labels that separate the keys derived from one data key.
const RECORD_KEY_LABEL: &[u8] = b"carnet-vault-enc";
const TREE_MAC_LABEL: &[u8] = b"carnet-vault-mac|";

/// What the canary holds, and where it may be opened.
const CANARY_PLAINTEXT: &[u8] = b"carnet vault canary, format 1";
const CANARY_AAD: &[u8] = b"carnet-vault-canary";

/// Why sealed bytes did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// Shorter than a version byte, a nonce and a tag.
    Truncated,
    /// A version byte this build does not know.
    UnknownVersion(u8),
    /// Wrong key, wrong associated data, or altered bytes: GCM cannot tell.
    Rejected,
}

impl OpenError {
    /// Describes the failure of `what` for [`VaultError::Corrupt`].
    pub(crate) fn describe(self, what: &str) -> String {
        match self {
            Self::Truncated => format!("{what} is truncated"),
            Self::UnknownVersion(v) => format!("{what} has unknown format version {v}"),
            Self::Rejected => format!("{what} failed its integrity check"),
        }
    }
}

/// An AES-256-GCM key from 32 bytes.
pub(crate) fn aead_key(bytes: &[u8; 32]) -> Result<LessSafeKey, VaultError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| VaultError::corrupt("an AES key has the wrong length"))
}

/// Seals `plaintext` with a fresh random nonce.
///
/// Random 96-bit nonces are safe for about 2^32 messages per key (NIST SP
/// 800-38D); a phone's vault writes orders of magnitude fewer.
pub(crate) fn seal(
    key: &LessSafeKey,
    rng: &dyn SecureRandom,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill(&mut nonce).map_err(|_| VaultError::Random)?;
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + AES_256_GCM.tag_len());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let (_, in_out) = out.split_at_mut(HEADER_LEN);
    let tag = key
        .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
        .map_err(|_| VaultError::corrupt("a value is too large to seal"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens what [`seal`] made with the same key and associated data,
/// decrypting in place: the plaintext is returned in `sealed`'s buffer.
pub(crate) fn open(
    key: &LessSafeKey,
    aad: &[u8],
    sealed: Vec<u8>,
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    // Wrapped first, so that a buffer holding plaintext is zeroized on every path.
    let mut buf = Zeroizing::new(sealed);
    let version = *buf.first().ok_or(OpenError::Truncated)?;
    if version != FORMAT_VERSION {
        return Err(OpenError::UnknownVersion(version));
    }
    if buf.len() < HEADER_LEN + AES_256_GCM.tag_len() {
        return Err(OpenError::Truncated);
    }
    let nonce = buf
        .get(1..HEADER_LEN)
        .and_then(|n| Nonce::try_assume_unique_for_key(n).ok())
        .ok_or(OpenError::Truncated)?;
    let len = key
        .open_within(nonce, Aad::from(aad), &mut buf, HEADER_LEN..)
        .map_err(|_| OpenError::Rejected)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// The data key and what is derived from it.
///
/// ring does not zeroize its expanded AES and HMAC keys; the raw data key is
/// zeroized when the cipher drops.
pub(crate) struct StoreCipher {
    data_key: DataKey,
    record_key: LessSafeKey,
    mac_root: hmac::Key,
    rng: SystemRandom,
}

impl std::fmt::Debug for StoreCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCipher").finish_non_exhaustive()
    }
}

impl StoreCipher {
    /// Derives the record key and the MAC root from `data_key`.
    pub(crate) fn new(data_key: DataKey) -> Result<Self, VaultError> {
        let mac_root = hmac::Key::new(hmac::HMAC_SHA256, data_key.as_bytes());
        let record_key_bytes = derive(&mac_root, &[RECORD_KEY_LABEL]);
        let record_key = aead_key(&record_key_bytes)?;
        Ok(Self {
            data_key,
            record_key,
            mac_root,
            rng: SystemRandom::new(),
        })
    }

    /// The data key, to wrap it again under a new key.
    pub(crate) fn data_key(&self) -> &DataKey {
        &self.data_key
    }

    /// The system random source, shared by everything that seals.
    pub(crate) fn rng(&self) -> &SystemRandom {
        &self.rng
    }

    /// The key that hashes lookup keys of `tree`: one per tree, so that equal
    /// keys in two trees do not hash alike.
    pub(crate) fn tree_mac_key(&self, tree: &str) -> hmac::Key {
        let bytes = derive(&self.mac_root, &[TREE_MAC_LABEL, tree.as_bytes()]);
        hmac::Key::new(hmac::HMAC_SHA256, bytes.as_ref())
    }

    /// Seals a record's plaintext, bound to its tree and hashed key.
    pub(crate) fn seal_record(
        &self,
        tree: &str,
        hashed_key: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        seal(
            &self.record_key,
            &self.rng,
            &record_aad(tree, hashed_key),
            plaintext,
        )
    }

    /// Opens a record sealed by [`StoreCipher::seal_record`] for the same
    /// tree and hashed key.
    pub(crate) fn open_record(
        &self,
        tree: &str,
        hashed_key: &[u8],
        sealed: Vec<u8>,
    ) -> Result<Zeroizing<Vec<u8>>, OpenError> {
        open(&self.record_key, &record_aad(tree, hashed_key), sealed)
    }

    /// A known plaintext sealed with the record key, kept in the meta tree.
    pub(crate) fn make_canary(&self) -> Result<Vec<u8>, VaultError> {
        seal(&self.record_key, &self.rng, CANARY_AAD, CANARY_PLAINTEXT)
    }

    /// Whether `canary` opens to the known plaintext: the data key is the
    /// one the vault was made with.
    pub(crate) fn check_canary(&self, canary: &[u8]) -> bool {
        // The tag check inside `open` is the constant-time part; the
        // plaintext is public, so comparing it needs no care.
        open(&self.record_key, CANARY_AAD, canary.to_vec())
            .is_ok_and(|plain| *plain == CANARY_PLAINTEXT)
    }
}

/// HMAC-SHA256(root, parts...) as a 32-byte key.
fn derive(root: &hmac::Key, parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut ctx = hmac::Context::with_key(root);
    for part in parts {
        ctx.update(part);
    }
    let tag = ctx.sign();
    let mut out = Zeroizing::new([0u8; 32]);
    for (o, t) in out.iter_mut().zip(tag.as_ref()) {
        *o = *t;
    }
    out
}

/// Binds a record to where it is stored: moving sealed bytes to another
/// key or tree makes them fail to open. The length prefix keeps
/// `("ab", k)` and `("a", "b"‖k)` apart.
fn record_aad(tree: &str, hashed_key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(8 + tree.len() + hashed_key.len());
    aad.extend_from_slice(&(tree.len() as u64).to_be_bytes());
    aad.extend_from_slice(tree.as_bytes());
    aad.extend_from_slice(hashed_key);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> StoreCipher {
        StoreCipher::new(DataKey::generate(&SystemRandom::new()).unwrap()).unwrap()
    }

    #[test]
    fn a_record_opens_only_where_it_was_sealed() {
        let c = cipher();
        let sealed = c.seal_record("t", b"hashed-1", b"hello").unwrap();
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(sealed.len(), 1 + 12 + 5 + 16);
        assert_eq!(
            &**c.open_record("t", b"hashed-1", sealed.clone()).unwrap(),
            b"hello"
        );
        assert_eq!(
            c.open_record("t", b"hashed-2", sealed.clone()),
            Err(OpenError::Rejected)
        );
        assert_eq!(
            c.open_record("u", b"hashed-1", sealed.clone()),
            Err(OpenError::Rejected)
        );
    }

    #[test]
    fn the_same_value_sealed_twice_differs() {
        let c = cipher();
        let a = c.seal_record("t", b"k", b"same").unwrap();
        let b = c.seal_record("t", b"k", b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let c = cipher();
        assert_eq!(c.open_record("t", b"k", vec![]), Err(OpenError::Truncated));
        assert_eq!(
            c.open_record("t", b"k", vec![1; 20]),
            Err(OpenError::Truncated)
        );
        assert_eq!(
            c.open_record("t", b"k", vec![2; 40]),
            Err(OpenError::UnknownVersion(2))
        );
        assert_eq!(
            c.open_record("t", b"k", vec![1; 40]),
            Err(OpenError::Rejected)
        );
    }

    #[test]
    fn the_canary_tells_the_right_data_key() {
        let (a, b) = (cipher(), cipher());
        let canary = a.make_canary().unwrap();
        assert!(a.check_canary(&canary));
        assert!(!b.check_canary(&canary));
    }

    #[test]
    fn tree_mac_keys_differ_per_tree() {
        let c = cipher();
        let a = hmac::sign(&c.tree_mac_key("a"), b"k");
        let b = hmac::sign(&c.tree_mac_key("b"), b"k");
        assert_ne!(a.as_ref(), b.as_ref());
    }
}
