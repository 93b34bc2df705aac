//! The child of `tests/tests/vault_crash.rs`: opens a sled vault and writes
//! numbered records until it is killed, printing each record's number on
//! stdout once `put` has returned, i.e. once the vault acknowledged it.
//!
//! Usage: `vault-writer <dir> <first-number>`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use carnet_core::vault::{KeyStore, KeyStoreError, Vault, VaultKey, Zeroizing};

/// The tree the records go to; the test reads it back.
const TREE: &str = "crash";

/// Stands in for the platform keystore so that each of the many opens skips
/// PBKDF2; the keystore path through the vault is production code. Must
/// match `CrashKeyStore` in `tests/tests/vault_crash.rs`.
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

/// The value of record `n`; the test recomputes it to check what it reads.
fn record(n: u64) -> serde_json::Value {
    serde_json::json!({
        "n": n,
        "payload": format!("record {n}: {}", "x".repeat(200)),
    })
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(first)) = (args.next(), args.next().and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("usage: vault-writer <dir> <first-number>");
        return ExitCode::from(2);
    };
    let vault = match Vault::open(&PathBuf::from(dir), VaultKey::KeyStore(&CrashKeyStore)) {
        Ok(vault) => vault,
        Err(e) => {
            eprintln!("vault-writer: open: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    for n in first.. {
        if let Err(e) = vault.put(TREE, &n.to_be_bytes(), &record(n)) {
            eprintln!("vault-writer: put {n}: {e}");
            return ExitCode::FAILURE;
        }
        // One line per acknowledged record; the parent counts only whole lines.
        if writeln!(stdout, "{n}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
