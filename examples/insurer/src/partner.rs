//! Partners: the pharmacies that settle QR codes and the providers (clinics,
//! labs) that redeem consult tokens. Each calls its endpoints with an API
//! key in `Authorization: Bearer <key>`; the backend stores only the key's
//! SHA-256. A pharmacy key opens `/v1/pharmacy/*` only, a provider key
//! `/v1/provider/*` only, and neither opens a member's endpoints (nor a
//! member's access token theirs).
//!
//! The reference insurer has one demo partner of each kind, made on first
//! start with a random key written to a file readable by its owner only:
//!
//! | partner | id | key file |
//! | --- | --- | --- |
//! | Farmacia Central | `farmacia-central` | `<data_dir>/pharmacy-key.txt` |
//! | Clínica del Parque | `clinica-del-parque` | `<data_dir>/provider-key.txt` |
//!
//! A later start reuses the key in the file; if the file is gone or holds
//! a key the database does not know, a new key replaces the old one.

use std::path::Path;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use carnet_core::model::b64;

use crate::error::{ApiError, InsurerError};
use crate::extract::bearer_token;
use crate::service::AppState;
use crate::store::{self, PartnerKind, PartnerRecord, Store};
use crate::tls::write_file;

/// Where the demo pharmacy's key is written, under the data directory.
pub(crate) const PHARMACY_KEY_FILE: &str = "pharmacy-key.txt";
/// Where the demo provider's key is written, under the data directory.
pub(crate) const PROVIDER_KEY_FILE: &str = "provider-key.txt";

/// Longest `Authorization` token looked up.
const MAX_KEY_LEN: usize = 512;

struct Demo {
    id: &'static str,
    kind: PartnerKind,
    name: &'static str,
    address: &'static str,
    file: &'static str,
    /// Keys start with it, so that a key found in a log or a repository
    /// says what it is.
    prefix: &'static str,
}

const DEMOS: [Demo; 2] = [
    Demo {
        id: "farmacia-central",
        kind: PartnerKind::Pharmacy,
        name: "Farmacia Central",
        address: "Av. San Martín 1200, Mendoza",
        file: PHARMACY_KEY_FILE,
        prefix: "carnet_ph_",
    },
    Demo {
        id: "clinica-del-parque",
        kind: PartnerKind::Provider,
        name: "Clínica del Parque",
        address: "Av. Emilio Civit 350, Mendoza",
        file: PROVIDER_KEY_FILE,
        prefix: "carnet_pr_",
    },
];

/// The demo partners' keys, for the library's callers (tests, demo).
pub(crate) struct DemoKeys {
    pub pharmacy: Zeroizing<String>,
    pub provider: Zeroizing<String>,
}

fn key_hash(key: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, key.as_bytes())
        .as_ref()
        .to_vec()
}

/// Makes the demo partners on first start and returns their keys.
pub(crate) fn ensure_demo_partners(
    store: &Store,
    data_dir: &Path,
    rng: &SystemRandom,
    now: i64,
) -> Result<DemoKeys, InsurerError> {
    let mut keys = Vec::with_capacity(DEMOS.len());
    for demo in &DEMOS {
        keys.push(ensure_partner(store, data_dir, rng, now, demo)?);
    }
    let mut keys = keys.into_iter();
    match (keys.next(), keys.next()) {
        (Some(pharmacy), Some(provider)) => Ok(DemoKeys { pharmacy, provider }),
        _ => Err(InsurerError::Config("the demo partners are missing".into())),
    }
}

fn ensure_partner(
    store: &Store,
    data_dir: &Path,
    rng: &SystemRandom,
    now: i64,
    demo: &Demo,
) -> Result<Zeroizing<String>, InsurerError> {
    let record = PartnerRecord {
        id: demo.id.to_owned(),
        kind: demo.kind,
        name: demo.name.to_owned(),
        address: demo.address.to_owned(),
        created_at: now,
    };
    store::create(&store.partners, demo.id, &record)?;

    let path = data_dir.join(demo.file);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let key = Zeroizing::new(text.trim().to_owned());
        let known: Option<String> = store::get(&store.partner_keys, key_hash(&key))?;
        if known.as_deref() == Some(demo.id) {
            tracing::info!(partner = demo.id, path = %path.display(), "partner API key");
            return Ok(key);
        }
    }

    // A new key: forget the old ones of this partner, then store the hash
    // and write the file.
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill(bytes.as_mut())
        .map_err(|_| InsurerError::Config("the system random number generator failed".into()))?;
    let key = Zeroizing::new(format!("{}{}", demo.prefix, b64::encode(bytes.as_ref())));
    let mut stale = Vec::new();
    for entry in store.partner_keys.iter() {
        let (hash, id) = entry.map_err(store::StoreError::from)?;
        if serde_json::from_slice::<String>(&id).ok().as_deref() == Some(demo.id) {
            stale.push(hash);
        }
    }
    for hash in stale {
        store
            .partner_keys
            .remove(hash)
            .map_err(store::StoreError::from)?;
    }
    store::put(&store.partner_keys, key_hash(&key), &demo.id)?;
    write_file(&path, format!("{}\n", key.as_str()).as_bytes(), true)?;
    tracing::info!(partner = demo.id, path = %path.display(), "made a new partner API key");
    Ok(key)
}

/// The partner behind `key`, if it is a live key of a partner of `kind`.
fn partner_of(state: &AppState, key: &str, kind: PartnerKind) -> Result<PartnerRecord, ApiError> {
    let refused = || {
        let message = match kind {
            PartnerKind::Pharmacy => "a valid pharmacy API key is required",
            PartnerKind::Provider => "a valid provider API key is required",
        };
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    };
    if key.len() > MAX_KEY_LEN {
        return Err(refused());
    }
    let Some(id) = store::get::<String>(&state.store.partner_keys, key_hash(key))? else {
        return Err(refused());
    };
    store::get::<PartnerRecord>(&state.store.partners, &id)?
        .filter(|partner| partner.kind == kind)
        .ok_or_else(refused)
}

/// A pharmacy authenticated by its API key.
#[derive(Debug, Clone)]
pub(crate) struct Pharmacy(pub PartnerRecord);

/// A provider authenticated by its API key.
#[derive(Debug, Clone)]
pub(crate) struct Provider(pub PartnerRecord);

impl FromRequestParts<Arc<AppState>> for Pharmacy {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer_token(parts).unwrap_or_default();
        partner_of(state, &key, PartnerKind::Pharmacy).map(Pharmacy)
    }
}

impl FromRequestParts<Arc<AppState>> for Provider {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let key = bearer_token(parts).unwrap_or_default();
        partner_of(state, &key, PartnerKind::Provider).map(Provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_keys_are_made_once_kept_in_private_files_and_replaced_when_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let rng = SystemRandom::new();
        let first = ensure_demo_partners(&store, dir.path(), &rng, 0).unwrap();
        assert!(first.pharmacy.starts_with("carnet_ph_"));
        assert!(first.provider.starts_with("carnet_pr_"));
        let again = ensure_demo_partners(&store, dir.path(), &rng, 0).unwrap();
        assert_eq!(*first.pharmacy, *again.pharmacy);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(PHARMACY_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only the hash is stored.
        for entry in store.partner_keys.iter() {
            let (hash, _) = entry.unwrap();
            assert_eq!(hash.len(), 32);
        }
        std::fs::remove_file(dir.path().join(PHARMACY_KEY_FILE)).unwrap();
        let replaced = ensure_demo_partners(&store, dir.path(), &rng, 0).unwrap();
        assert_ne!(*replaced.pharmacy, *first.pharmacy);
        assert_eq!(*replaced.provider, *first.provider);
        assert_eq!(store.partner_keys.len(), 2);
    }
}
