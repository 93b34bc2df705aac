//! Traits the apps implement: the platform keystore that wraps the vault's
//! data key, and a hardware-backed device key. Each has an adapter to the
//! core's trait. The core calls them from its own threads (tokio workers and
//! the blocking pool), never from the app's main thread.

use std::sync::Arc;

use carnet_core::device::{DeviceSigner as CoreDeviceSigner, SignerError};
use carnet_core::vault::{KeyStore as CoreKeyStore, KeyStoreError as CoreKeyStoreError, Zeroizing};

use crate::error::{DeviceSignerError, KeyStoreError};

/// The platform keystore (Android Keystore, iOS Keychain/Secure Enclave):
/// wraps the vault's 32-byte data key with a key that never leaves the
/// platform.
#[uniffi::export(foreign)]
pub trait KeyStore: Send + Sync {
    /// Encrypts `key` (the data key) for storage in the vault's header.
    fn wrap_key(&self, key: Vec<u8>) -> Result<Vec<u8>, KeyStoreError>;
    /// Reverses `wrap_key`.
    fn unwrap_key(&self, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyStoreError>;
}

/// A P-256 signing key held by the platform (Android Keystore, Secure
/// Enclave), so that the private key never enters Rust.
#[uniffi::export(foreign)]
pub trait DeviceSigner: Send + Sync {
    /// The public key, SEC1 uncompressed (65 bytes, starting with 0x04).
    fn public_key(&self) -> Result<Vec<u8>, DeviceSignerError>;
    /// An ECDSA P-256 / SHA-256 signature over `message`, ASN.1 DER encoded
    /// (what `SHA256withECDSA` and `SecKeyCreateSignature` produce).
    fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, DeviceSignerError>;
}

/// The app's keystore seen as the core's.
pub(crate) struct KeyStoreAdapter(pub(crate) Arc<dyn KeyStore>);

impl CoreKeyStore for KeyStoreAdapter {
    fn wrap_key(&self, key: &[u8]) -> Result<Vec<u8>, CoreKeyStoreError> {
        // The data key crosses to the platform as a copy; wipe ours after.
        let key = Zeroizing::new(key.to_vec());
        self.0.wrap_key((*key).clone()).map_err(Into::into)
    }

    fn unwrap_key(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, CoreKeyStoreError> {
        self.0
            .unwrap_key(wrapped.to_vec())
            .map(Zeroizing::new)
            .map_err(Into::into)
    }
}

/// The app's device key seen as the core's.
pub(crate) struct DeviceSignerAdapter(pub(crate) Arc<dyn DeviceSigner>);

impl CoreDeviceSigner for DeviceSignerAdapter {
    fn public_key(&self) -> Result<Vec<u8>, SignerError> {
        self.0.public_key().map_err(Into::into)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.0.sign(message.to_vec()).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct XorStore;

    impl KeyStore for XorStore {
        fn wrap_key(&self, key: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
            Ok(key.iter().map(|b| b ^ 0x5a).collect())
        }
        fn unwrap_key(&self, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyStoreError> {
            if wrapped.is_empty() {
                return Err(KeyStoreError::KeyInvalidated);
            }
            Ok(wrapped.iter().map(|b| b ^ 0x5a).collect())
        }
    }

    struct LockedSigner;

    impl DeviceSigner for LockedSigner {
        fn public_key(&self) -> Result<Vec<u8>, DeviceSignerError> {
            Ok(vec![4; 65])
        }
        fn sign(&self, _message: Vec<u8>) -> Result<Vec<u8>, DeviceSignerError> {
            Err(DeviceSignerError::Locked)
        }
    }

    #[test]
    fn the_keystore_adapter_passes_bytes_and_errors_through() {
        let adapter = KeyStoreAdapter(Arc::new(XorStore));
        let wrapped = adapter.wrap_key(&[1, 2, 3]).unwrap();
        assert_eq!(wrapped, [1 ^ 0x5a, 2 ^ 0x5a, 3 ^ 0x5a]);
        assert_eq!(*adapter.unwrap_key(&wrapped).unwrap(), [1, 2, 3]);
        assert_eq!(
            adapter.unwrap_key(&[]).unwrap_err(),
            CoreKeyStoreError::KeyInvalidated
        );
    }

    #[test]
    fn the_signer_adapter_passes_keys_and_errors_through() {
        let adapter = DeviceSignerAdapter(Arc::new(LockedSigner));
        assert_eq!(adapter.public_key().unwrap(), vec![4; 65]);
        assert_eq!(adapter.sign(b"challenge").unwrap_err(), SignerError::Locked);
    }
}
