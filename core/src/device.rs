//! The device key: an ECDSA P-256 key that the member certificate binds and
//! that signs every QR presentation. By default the core makes it in
//! software (ring) and keeps it in the vault; a shell can supply a
//! hardware-backed key (Android Keystore, Secure Enclave) through
//! [`DeviceSigner`], and then the private key never enters Rust.

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use zeroize::Zeroizing;

/// Why the device key could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The key exists but cannot be used now (phone locked, user
    /// authentication required); try again after unlocking.
    #[error("the device key is locked; unlock the phone and try again")]
    Locked,
    /// The key is gone (biometrics changed, app data cleared): enrol again.
    #[error("the device key is gone; enrol this device again")]
    KeyLost,
    /// Any other failure of the platform.
    #[error("the device key failed: {0}")]
    Failed(String),
}

/// A P-256 signing key held by this device.
pub trait DeviceSigner: Send + Sync {
    /// The public key, SEC1 uncompressed (65 bytes).
    fn public_key(&self) -> Result<Vec<u8>, SignerError>;
    /// An ECDSA P-256 / SHA-256 signature over `message`, ASN.1 DER encoded
    /// (what both Android Keystore and the Secure Enclave produce).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError>;
}

/// A device key made and held in software.
pub struct SoftwareDeviceKey {
    key_pair: EcdsaKeyPair,
    pkcs8: Zeroizing<Vec<u8>>,
    rng: SystemRandom,
}

impl std::fmt::Debug for SoftwareDeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareDeviceKey").finish_non_exhaustive()
    }
}

impl SoftwareDeviceKey {
    /// Makes a fresh key.
    pub fn generate() -> Result<Self, SignerError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| SignerError::Failed("key generation failed".into()))?;
        Self::from_pkcs8(pkcs8.as_ref())
    }

    /// Loads a key from its PKCS#8 document (as kept in the vault).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, SignerError> {
        let rng = SystemRandom::new();
        let key_pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &rng)
            .map_err(|_| SignerError::KeyLost)?;
        Ok(Self {
            key_pair,
            pkcs8: Zeroizing::new(pkcs8.to_vec()),
            rng,
        })
    }

    /// The PKCS#8 document, to keep in the vault.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }
}

impl DeviceSigner for SoftwareDeviceKey {
    fn public_key(&self) -> Result<Vec<u8>, SignerError> {
        Ok(self.key_pair.public_key().as_ref().to_vec())
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.key_pair
            .sign(&self.rng, message)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| SignerError::Failed("signing failed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};

    #[test]
    fn a_software_key_survives_its_pkcs8_and_signs_verifiably() {
        let key = SoftwareDeviceKey::generate().unwrap();
        let reloaded = SoftwareDeviceKey::from_pkcs8(key.pkcs8()).unwrap();
        let public_key = key.public_key().unwrap();
        assert_eq!(public_key, reloaded.public_key().unwrap());
        assert_eq!(public_key.len(), 65);
        let signature = reloaded.sign(b"challenge").unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public_key)
            .verify(b"challenge", &signature)
            .unwrap();
        assert_eq!(
            SoftwareDeviceKey::from_pkcs8(b"not a key").unwrap_err(),
            SignerError::KeyLost
        );
    }
}
