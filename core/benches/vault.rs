//! The vault's cost over plain sled, with the same sled configuration, for
//! 256-byte values: `put` (which flushes) against sled's insert + flush, and
//! `get` against sled's get. Run:
//! `cargo bench -p carnet-core --bench vault -- --warm-up-time 1 --measurement-time 3`.

// Setup failures in a benchmark should stop it loudly; `criterion_group!`
// generates undocumented public items.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use carnet_core::vault::{Vault, VaultKey};
use criterion::{Criterion, criterion_group, criterion_main};

/// Records in each store; benchmarks cycle over them.
const RECORDS: u64 = 1_000;
const VALUE_LEN: usize = 256;
const TREE: &str = "bench";

fn key(i: u64) -> [u8; 8] {
    (i % RECORDS).to_be_bytes()
}

fn vault_against_sled(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    // The configuration the vault uses (core/src/vault/store.rs).
    let db = sled::Config::new()
        .path(dir.path().join("plain-sled"))
        .cache_capacity(8 * 1024 * 1024)
        .open()
        .expect("open sled");
    let tree = db.open_tree(TREE).expect("open tree");
    let vault = Vault::open(
        &dir.path().join("vault"),
        VaultKey::Passphrase("bench passphrase"),
    )
    .expect("open vault");

    // The same 256 bytes: raw for sled and put_bytes, a 256-character string
    // (258 bytes of JSON) for the serde path.
    let text: String = (0..VALUE_LEN)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let raw = text.as_bytes();
    for i in 0..RECORDS {
        tree.insert(key(i), raw).unwrap();
        vault.put(TREE, &key(i), &text).unwrap();
        vault.put_bytes("bench-bytes", &key(i), raw).unwrap();
    }
    db.flush().unwrap();

    let mut put = c.benchmark_group("put_256B");
    let mut i = 0u64;
    // sled skips an insert of the value already stored (nothing to flush),
    // and the vault never writes the same bytes twice (fresh nonce): so the
    // plain sled value changes on every write, like the vault's ciphertext.
    let mut fresh = raw.to_vec();
    put.bench_function("sled_insert_flush", |b| {
        b.iter(|| {
            i += 1;
            fresh[..8].copy_from_slice(&i.to_be_bytes());
            tree.insert(key(i), fresh.as_slice()).unwrap();
            db.flush().unwrap();
        })
    });
    put.bench_function("vault_put", |b| {
        b.iter(|| {
            i += 1;
            vault.put(TREE, &key(i), black_box(&text)).unwrap();
        })
    });
    put.bench_function("vault_put_bytes", |b| {
        b.iter(|| {
            i += 1;
            vault
                .put_bytes("bench-bytes", &key(i), black_box(raw))
                .unwrap();
        })
    });
    put.finish();

    let mut get = c.benchmark_group("get_256B");
    get.bench_function("sled_get", |b| {
        b.iter(|| {
            i += 1;
            black_box(tree.get(key(i)).unwrap().unwrap());
        })
    });
    get.bench_function("vault_get", |b| {
        b.iter(|| {
            i += 1;
            black_box(vault.get::<String>(TREE, &key(i)).unwrap().unwrap());
        })
    });
    get.bench_function("vault_get_bytes", |b| {
        b.iter(|| {
            i += 1;
            black_box(vault.get_bytes("bench-bytes", &key(i)).unwrap().unwrap());
        })
    });
    get.finish();
}

criterion_group!(benches, vault_against_sled);
criterion_main!(benches);
