//! What the vault promises, on both stores. Passphrase opens cost a real
//! 600,000-iteration PBKDF2 each, so most tests use a fake keystore and the
//! passphrase path is exercised by a few.

use std::path::Path;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Leave {
    id: u32,
    reason: String,
}

fn leave(id: u32) -> Leave {
    Leave {
        id,
        reason: format!("sick leave number {id}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Working,
    Locked,
    Invalidated,
    /// Unwraps to a key of the right length that is not the vault's.
    OtherKey,
}

/// A stand-in for Android Keystore / iOS Keychain.
struct FakeKeyStore {
    mode: Mutex<Mode>,
}

impl FakeKeyStore {
    fn new() -> Self {
        Self {
            mode: Mutex::new(Mode::Working),
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock() = mode;
    }

    fn xor(bytes: &[u8], pad: u8) -> Vec<u8> {
        bytes.iter().map(|b| b ^ pad).collect()
    }
}

impl KeyStore for FakeKeyStore {
    fn wrap_key(&self, key: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        match *self.mode.lock() {
            Mode::Locked => Err(KeyStoreError::Locked),
            Mode::Invalidated => Err(KeyStoreError::KeyInvalidated),
            _ => Ok(Self::xor(key, 0x5a)),
        }
    }

    fn unwrap_key(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        match *self.mode.lock() {
            Mode::Working => Ok(Zeroizing::new(Self::xor(wrapped, 0x5a))),
            Mode::OtherKey => Ok(Zeroizing::new(Self::xor(wrapped, 0xa5))),
            Mode::Locked => Err(KeyStoreError::Locked),
            Mode::Invalidated => Err(KeyStoreError::KeyInvalidated),
        }
    }
}

fn hashed_key(vault: &Vault, tree: &str, key: &[u8]) -> Vec<u8> {
    hmac::sign(&vault.tree(tree).mac, key).as_ref().to_vec()
}

fn store_tree(tree: &str) -> String {
    format!("{DATA_TREE_PREFIX}{tree}")
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn round_trip(vault: &Vault) {
    assert_eq!(vault.get::<Leave>("leaves", b"1").unwrap(), None);
    vault.put("leaves", b"1", &leave(1)).unwrap();
    vault.put("leaves", b"2", &leave(2)).unwrap();
    vault.put("other", b"1", &"same key, other tree").unwrap();
    assert_eq!(vault.get("leaves", b"1").unwrap(), Some(leave(1)));
    assert_eq!(
        vault.get::<String>("other", b"1").unwrap().as_deref(),
        Some("same key, other tree")
    );

    vault.put("leaves", b"1", &leave(11)).unwrap();
    assert_eq!(vault.get("leaves", b"1").unwrap(), Some(leave(11)));

    let mut all: Vec<Leave> = vault.values("leaves").unwrap();
    all.sort_by_key(|l| l.id);
    assert_eq!(all, vec![leave(2), leave(11)]);

    vault
        .put_bytes("photos", b"receipt", &[0, 1, 2, 255])
        .unwrap();
    assert_eq!(
        vault
            .get_bytes("photos", b"receipt")
            .unwrap()
            .as_deref()
            .map(Vec::as_slice),
        Some(&[0u8, 1, 2, 255][..])
    );

    assert!(
        !vault
            .compare_and_swap("leaves", b"2", Some(&leave(3)), Some(&leave(4)))
            .unwrap()
    );
    assert!(
        vault
            .compare_and_swap("leaves", b"2", Some(&leave(2)), Some(&leave(4)))
            .unwrap()
    );
    assert!(
        vault
            .compare_and_swap("leaves", b"5", None, Some(&leave(5)))
            .unwrap()
    );
    assert!(
        vault
            .compare_and_swap("leaves", b"5", Some(&leave(5)), None)
            .unwrap()
    );
    assert_eq!(vault.get("leaves", b"2").unwrap(), Some(leave(4)));
    assert_eq!(vault.get::<Leave>("leaves", b"5").unwrap(), None);

    vault.remove("leaves", b"1").unwrap();
    vault.remove("leaves", b"never there").unwrap();
    assert_eq!(vault.get::<Leave>("leaves", b"1").unwrap(), None);
    assert_eq!(vault.values::<Leave>("leaves").unwrap(), vec![leave(4)]);

    // A type that does not match what was stored is a typed error.
    assert!(matches!(
        vault.get::<u32>("leaves", b"2"),
        Err(VaultError::Encoding(_))
    ));
}

#[test]
fn round_trip_in_memory() {
    let ks = FakeKeyStore::new();
    let vault = Vault::open_in_memory(VaultKey::KeyStore(&ks)).unwrap();
    assert_eq!(vault.location(), None);
    round_trip(&vault);
}

#[test]
fn round_trip_on_sled() {
    let dir = tempfile::tempdir().unwrap();
    let ks = FakeKeyStore::new();
    let vault = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
    assert_eq!(vault.location().as_deref(), Some(dir.path()));
    round_trip(&vault);
}

#[test]
fn a_passphrase_vault_reopens_with_its_passphrase_and_refuses_another() {
    let dir = tempfile::tempdir().unwrap();
    {
        let vault = Vault::open(dir.path(), VaultKey::Passphrase("correct horse")).unwrap();
        vault.put("leaves", b"1", &leave(1)).unwrap();
    }
    assert_eq!(
        Vault::open(dir.path(), VaultKey::Passphrase("battery staple")).unwrap_err(),
        VaultError::WrongKey
    );
    let vault = Vault::open(dir.path(), VaultKey::Passphrase("correct horse")).unwrap();
    assert_eq!(vault.get("leaves", b"1").unwrap(), Some(leave(1)));
}

#[test]
fn the_keystore_errors_map_to_what_the_app_must_do_and_never_lose_data() {
    let dir = tempfile::tempdir().unwrap();
    let ks = FakeKeyStore::new();
    {
        let vault = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
        vault.put("leaves", b"1", &leave(1)).unwrap();
    }
    let open = || Vault::open(dir.path(), VaultKey::KeyStore(&ks)).map(|_| ());

    ks.set(Mode::Locked);
    assert_eq!(open().unwrap_err(), VaultError::KeyStoreLocked);
    ks.set(Mode::Invalidated);
    assert_eq!(open().unwrap_err(), VaultError::KeyLost);
    ks.set(Mode::OtherKey);
    assert_eq!(open().unwrap_err(), VaultError::WrongKey);
    assert_eq!(
        Vault::open(dir.path(), VaultKey::Passphrase("not a keystore vault")).unwrap_err(),
        VaultError::WrongKey
    );

    ks.set(Mode::Working);
    let vault = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
    assert_eq!(vault.get("leaves", b"1").unwrap(), Some(leave(1)));
}

#[test]
fn a_locked_keystore_at_creation_leaves_nothing_half_made() {
    let dir = tempfile::tempdir().unwrap();
    let ks = FakeKeyStore::new();
    ks.set(Mode::Locked);
    assert_eq!(
        Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap_err(),
        VaultError::KeyStoreLocked
    );
    ks.set(Mode::Working);
    let vault = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
    vault.put("t", b"k", &1).unwrap();
}

/// Flips one byte of the sealed value of `key`, through the store itself.
fn flip_a_byte(vault: &Vault, tree: &str, key: &[u8]) {
    let hashed = hashed_key(vault, tree, key);
    let mut sealed = vault
        .store
        .get(&store_tree(tree), &hashed)
        .unwrap()
        .unwrap();
    let middle = sealed.len() / 2;
    sealed[middle] ^= 0x01;
    vault
        .store
        .put(&store_tree(tree), &hashed, &sealed)
        .unwrap();
    vault.store.flush().unwrap();
}

fn a_flipped_byte_damages_that_record_only(vault: &Vault) {
    vault.put("leaves", b"1", &leave(1)).unwrap();
    vault.put("leaves", b"2", &leave(2)).unwrap();
    flip_a_byte(vault, "leaves", b"1");

    assert!(matches!(
        vault.get::<Leave>("leaves", b"1"),
        Err(VaultError::Corrupt { .. })
    ));
    assert_eq!(vault.get("leaves", b"2").unwrap(), Some(leave(2)));
    assert!(matches!(
        vault.values::<Leave>("leaves"),
        Err(VaultError::Corrupt { .. })
    ));
    let records = vault.records::<Leave>("leaves").unwrap();
    assert_eq!(records.len(), 2, "the damaged record is kept");
    assert_eq!(records.iter().filter(|r| r.is_err()).count(), 1);
    assert!(records.contains(&Ok(leave(2))));
}

#[test]
fn a_flipped_byte_damages_that_record_only_in_memory() {
    let ks = FakeKeyStore::new();
    a_flipped_byte_damages_that_record_only(
        &Vault::open_in_memory(VaultKey::KeyStore(&ks)).unwrap(),
    );
}

#[test]
fn a_flipped_byte_damages_that_record_only_on_sled_also_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let ks = FakeKeyStore::new();
    a_flipped_byte_damages_that_record_only(
        &Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap(),
    );
    let vault = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
    assert!(matches!(
        vault.get::<Leave>("leaves", b"1"),
        Err(VaultError::Corrupt { .. })
    ));
    assert_eq!(vault.get("leaves", b"2").unwrap(), Some(leave(2)));
}

#[test]
fn a_value_copied_under_another_key_or_tree_does_not_open() {
    let ks = FakeKeyStore::new();
    let vault = Vault::open_in_memory(VaultKey::KeyStore(&ks)).unwrap();
    vault.put("leaves", b"mine", &leave(1)).unwrap();
    let sealed = vault
        .store
        .get(
            &store_tree("leaves"),
            &hashed_key(&vault, "leaves", b"mine"),
        )
        .unwrap()
        .unwrap();

    vault
        .store
        .put(
            &store_tree("leaves"),
            &hashed_key(&vault, "leaves", b"yours"),
            &sealed,
        )
        .unwrap();
    assert!(matches!(
        vault.get::<Leave>("leaves", b"yours"),
        Err(VaultError::Corrupt { .. })
    ));

    // Same hashed key, another tree: the tree name is in the associated data.
    vault
        .store
        .put(
            &store_tree("claims"),
            &hashed_key(&vault, "leaves", b"mine"),
            &sealed,
        )
        .unwrap();
    assert_eq!(vault.records::<Leave>("claims").unwrap().len(), 1);
    assert!(vault.records::<Leave>("claims").unwrap()[0].is_err());
    assert_eq!(vault.get("leaves", b"mine").unwrap(), Some(leave(1)));
}

#[test]
fn keys_are_stored_hashed() {
    let ks = FakeKeyStore::new();
    let store = Arc::new(MemoryStore::new());
    let vault = Vault::open_store(
        store.clone(),
        VaultKey::KeyStore(&ks),
        None,
        None,
        schema::MIGRATIONS,
    )
    .unwrap();
    let key = b"member-4711-leave-2025-001";
    vault.put("leaves", key, &leave(1)).unwrap();
    vault.put("claims", key, &leave(2)).unwrap();

    let mut hashes = Vec::new();
    for tree in store.tree_names().unwrap() {
        for (k, v) in store.scan_prefix(&tree, b"").unwrap() {
            assert!(
                !contains(&k, key) && !contains(&v, key),
                "raw key in tree {tree}"
            );
            if tree != schema::META_TREE {
                assert_eq!(k.len(), 32);
                hashes.push(k);
            }
        }
    }
    assert_eq!(hashes.len(), 2);
    assert_ne!(hashes[0], hashes[1], "one key hashes differently per tree");
}

#[test]
fn a_second_open_of_an_open_vault_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ks = FakeKeyStore::new();
    let vault = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
    assert_eq!(
        Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap_err(),
        VaultError::InUse
    );
    assert_eq!(Vault::wipe_dir(dir.path()).unwrap_err(), VaultError::InUse);
    drop(vault);
    Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
}

#[test]
fn wipe_removes_the_files() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("vault");
    let ks = FakeKeyStore::new();
    let vault = Vault::open(&dir, VaultKey::KeyStore(&ks)).unwrap();
    vault.put("leaves", b"1", &leave(1)).unwrap();
    assert!(!files_under(&dir).is_empty());
    vault.wipe().unwrap();
    assert!(!dir.exists(), "left behind: {:?}", files_under(&dir));

    let vault = Vault::open(&dir, VaultKey::KeyStore(&ks)).unwrap();
    assert_eq!(vault.get::<Leave>("leaves", b"1").unwrap(), None);
}

#[test]
fn wipe_keeps_what_is_not_the_vaults_and_wipe_dir_needs_no_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shell-preferences.xml"), b"theirs").unwrap();
    let ks = FakeKeyStore::new();
    let vault = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
    vault.put("leaves", b"1", &leave(1)).unwrap();
    vault.wipe().unwrap();
    assert_eq!(
        files_under(dir.path()),
        vec![dir.path().join("shell-preferences.xml")]
    );

    // The key is lost: logout must still be able to remove the vault.
    drop(Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap());
    ks.set(Mode::Invalidated);
    assert_eq!(
        Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap_err(),
        VaultError::KeyLost
    );
    Vault::wipe_dir(dir.path()).unwrap();
    assert_eq!(files_under(dir.path()).len(), 1);
}

#[test]
fn nothing_is_written_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = "passphrase-MARKER-8d1c";
    let value = "diagnosis-MARKER-3f9a: influenza";
    let key = b"member-MARKER-77e2";
    {
        let vault = Vault::open(dir.path(), VaultKey::Passphrase(passphrase)).unwrap();
        for i in 0..50u32 {
            vault
                .put("leaves", &[&key[..], &i.to_be_bytes()].concat(), &value)
                .unwrap();
        }
        vault.put_bytes("photos", key, value.as_bytes()).unwrap();
    }
    let files = files_under(dir.path());
    assert!(files.len() >= 2, "{files:?}");
    let mut bytes_read = 0;
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        bytes_read += bytes.len();
        for needle in [value.as_bytes(), b"MARKER", key, passphrase.as_bytes()] {
            assert!(
                !contains(&bytes, needle),
                "{} in clear in {file:?}",
                String::from_utf8_lossy(needle)
            );
        }
    }
    assert!(
        bytes_read > 50 * value.len(),
        "the records are on disk somewhere"
    );
}

#[test]
fn no_key_material_in_debug_output() {
    let vault = Vault::open_in_memory(VaultKey::Passphrase("hunter2")).unwrap();
    let debug = format!(
        "{vault:?} {:?} {:?}",
        vault.cipher,
        VaultKey::Passphrase("hunter2")
    );
    assert!(!debug.contains("hunter2"));
    let key = vault.cipher.data_key().as_bytes();
    assert!(!debug.contains(&format!("{key:?}")) && !debug.contains(&hex::encode(key)));
}

#[test]
fn change_key_moves_from_passphrase_to_keystore() {
    let dir = tempfile::tempdir().unwrap();
    let ks = FakeKeyStore::new();
    {
        let vault = Vault::open(dir.path(), VaultKey::Passphrase("old pin")).unwrap();
        vault.put("leaves", b"1", &leave(1)).unwrap();
        vault.change_key(VaultKey::KeyStore(&ks)).unwrap();
    }
    assert_eq!(
        Vault::open(dir.path(), VaultKey::Passphrase("old pin")).unwrap_err(),
        VaultError::WrongKey
    );
    let vault = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
    assert_eq!(vault.get("leaves", b"1").unwrap(), Some(leave(1)));
}

fn add_marker(vault: &Vault) -> Result<(), VaultError> {
    let runs: u32 = vault.get("migrations", b"runs")?.unwrap_or(0);
    vault.put("migrations", b"runs", &(runs + 1))
}

#[test]
fn migrations_run_once_at_open_and_newer_schemas_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ks = FakeKeyStore::new();
    let key = || VaultKey::KeyStore(&ks);
    drop(Vault::open_dir(dir.path(), key(), &[]).unwrap());

    let steps: &[Migration] = &[add_marker];
    let vault = Vault::open_dir(dir.path(), key(), steps).unwrap();
    assert_eq!(vault.get::<u32>("migrations", b"runs").unwrap(), Some(1));
    assert_eq!(schema::read_version(vault.store()).unwrap(), Some(2));
    drop(vault);

    let vault = Vault::open_dir(dir.path(), key(), steps).unwrap();
    assert_eq!(
        vault.get::<u32>("migrations", b"runs").unwrap(),
        Some(1),
        "not run again"
    );
    drop(vault);

    assert_eq!(
        Vault::open_dir(dir.path(), key(), &[]).unwrap_err(),
        VaultError::UnsupportedSchema {
            found: 2,
            supported: 1
        }
    );
    // Refusing changed nothing.
    let vault = Vault::open_dir(dir.path(), key(), steps).unwrap();
    assert_eq!(vault.get::<u32>("migrations", b"runs").unwrap(), Some(1));
}

#[test]
fn a_lost_key_header_is_reported_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let ks = FakeKeyStore::new();
    {
        let vault = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
        vault.put("leaves", b"1", &leave(1)).unwrap();
        let mut batch = Batch::default();
        batch.remove(schema::KEY_HEADER);
        batch.remove(schema::VERSION_KEY);
        vault.store.apply_batch(schema::META_TREE, batch).unwrap();
        vault.store.flush().unwrap();
    }
    assert!(matches!(
        Vault::open(dir.path(), VaultKey::KeyStore(&ks)),
        Err(VaultError::Corrupt { .. })
    ));
    assert!(matches!(
        Vault::open(dir.path(), VaultKey::KeyStore(&ks)),
        Err(VaultError::Corrupt { .. })
    ));
}

#[test]
fn damaged_storage_files_are_an_error_and_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ks = FakeKeyStore::new();
    {
        let vault = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap();
        vault.put("leaves", b"1", &leave(1)).unwrap();
    }
    let conf = dir.path().join(SLED_DIR).join("conf");
    std::fs::write(&conf, b"not a sled configuration").unwrap();
    let err = Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap_err();
    assert!(
        matches!(err, VaultError::Corrupt { .. } | VaultError::Storage(_)),
        "{err:?}"
    );
    assert!(!err.to_string().is_empty());
    assert_eq!(std::fs::read(&conf).unwrap(), b"not a sled configuration");
    assert!(dir.path().join(SLED_DIR).join("db").exists());
}

#[test]
fn concurrent_writers_on_one_vault_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ks = FakeKeyStore::new();
    let vault = Arc::new(Vault::open(dir.path(), VaultKey::KeyStore(&ks)).unwrap());
    std::thread::scope(|s| {
        for t in 0..4u32 {
            let vault = Arc::clone(&vault);
            s.spawn(move || {
                for i in 0..10u32 {
                    vault
                        .put("leaves", &(t * 100 + i).to_be_bytes(), &leave(t * 100 + i))
                        .unwrap();
                    loop {
                        let current: Option<u32> = vault.get("counter", b"c").unwrap();
                        let next = current.unwrap_or(0) + 1;
                        if vault
                            .compare_and_swap("counter", b"c", current.as_ref(), Some(&next))
                            .unwrap()
                        {
                            break;
                        }
                    }
                }
            });
        }
    });
    assert_eq!(vault.values::<Leave>("leaves").unwrap().len(), 40);
    assert_eq!(vault.get::<u32>("counter", b"c").unwrap(), Some(40));
}
