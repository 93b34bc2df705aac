//! Durability of the vault under SIGKILL: a child (`vault-writer`) writes
//! numbered records and prints each one's number after `put` returns; the
//! parent kills it at a varying moment, reopens the vault and checks that
//! every acknowledged record reads back intact. Runs accumulate in one
//! directory (many recoveries of the same files) and now and then start on
//! a fresh one (kills during creation).

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use carnet_core::vault::{KeyStore, KeyStoreError, Vault, VaultKey, Zeroizing};

const RUNS: u64 = 60;
const TREE: &str = "crash";

/// Must match `CrashKeyStore` in `tests/src/bin/vault_writer.rs`.
struct CrashKeyStore;

const PAD: u8 = 0x3c;

impl KeyStore for CrashKeyStore {
    fn wrap_key(&self, key: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        Ok(key.iter().map(|b| b ^ PAD).collect())
    }

    fn unwrap_key(&self, wrapped: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        Ok(Zeroizing::new(wrapped.iter().map(|b| b ^ PAD).collect()))
    }
}

/// Must match `record` in the writer.
fn record(n: u64) -> serde_json::Value {
    serde_json::json!({
        "n": n,
        "payload": format!("record {n}: {}", "x".repeat(200)),
    })
}

/// A kill delay in 0..250 ms that differs between runs and between test
/// invocations, without a random crate.
fn delay(run: u64) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mixed = (run.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(nanos))
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    Duration::from_millis((mixed >> 33) % 250)
}

/// Runs one writer in `dir` from `first`, kills it after `wait`, and returns
/// the acknowledged numbers.
fn run_writer(dir: &Path, first: u64, wait: Duration) -> Vec<u64> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vault-writer"))
        .arg(dir)
        .arg(first.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn vault-writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                // A line cut by the kill was not acknowledged.
                Ok(_) if line.last() != Some(&b'\n') => break,
                Ok(_) => {
                    let text = std::str::from_utf8(&line).expect("ascii line");
                    acks.push(text.trim().parse::<u64>().expect("a record number"));
                }
            }
        }
        acks
    });
    std::thread::sleep(wait);
    if let Some(status) = child.try_wait().expect("poll vault-writer") {
        panic!("vault-writer stopped by itself ({status}); see its stderr above");
    }
    child.kill().expect("SIGKILL vault-writer");
    child.wait().expect("reap vault-writer");
    reader.join().expect("stdout reader")
}

#[test]
fn every_acknowledged_record_survives_sigkill() {
    let started = Instant::now();
    let mut dirs = Vec::new();
    let mut acked = BTreeSet::new();
    let (mut total_acks, mut runs_with_acks, mut fresh_dirs) = (0usize, 0u64, 0u64);

    for run in 0..RUNS {
        if run % 5 == 0 {
            dirs.push(tempfile::tempdir().expect("temp dir"));
            acked.clear();
            fresh_dirs += 1;
        }
        let dir = dirs.last().expect("a dir").path();
        let first = run * 1_000_000;
        let acks = run_writer(dir, first, delay(run));
        if !acks.is_empty() {
            runs_with_acks += 1;
        }
        assert!(
            acks.iter().copied().eq(first..first + acks.len() as u64),
            "run {run}: acknowledgements out of order: {acks:?}"
        );
        total_acks += acks.len();
        acked.extend(acks.iter().copied());

        // The lock died with the child: the vault opens at once.
        let vault = Vault::open(dir, VaultKey::KeyStore(&CrashKeyStore))
            .unwrap_or_else(|e| panic!("run {run}: reopen after SIGKILL: {e}"));
        for &n in &acked {
            let value: Option<serde_json::Value> = vault
                .get(TREE, &n.to_be_bytes())
                .unwrap_or_else(|e| panic!("run {run}: record {n}: {e}"));
            assert_eq!(value, Some(record(n)), "run {run}: acknowledged record {n}");
        }
        // The write in flight at the kill may or may not have landed, but
        // never half.
        let in_flight = first + acks.len() as u64;
        let value: Option<serde_json::Value> = vault
            .get(TREE, &in_flight.to_be_bytes())
            .unwrap_or_else(|e| panic!("run {run}: in-flight record {in_flight}: {e}"));
        assert!(value.is_none() || value == Some(record(in_flight)));
        let stored: Vec<serde_json::Value> = vault.values(TREE).expect("every record opens");
        assert!(stored.len() >= acked.len());
    }

    eprintln!(
        "{RUNS} kills over {fresh_dirs} directories, {runs_with_acks} runs with acknowledged \
         writes, {total_acks} acknowledged records, {:?}",
        started.elapsed()
    );
    // Kills must land during writes often enough for the test to mean something.
    assert!(
        runs_with_acks >= RUNS / 2,
        "only {runs_with_acks} runs wrote anything"
    );
}
