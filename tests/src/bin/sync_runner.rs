//! The child of `tests/tests/sync_faults.rs` (SIGKILL runs): opens a
//! member's vault exactly as the app does (`Carnet::open`, passphrase),
//! prints `start` once the sync begins, one `progress ...` line per
//! progress report, and `done ...` when the sync returned, then exits.
//! The parent kills it at a random moment after `start` and reads the last
//! line to tell in which phase the kill landed.
//!
//! Usage: `sync-runner <data-dir> <api-url> <ca-pem-file> <passphrase>
//! <backoff-base-ms> <backoff-cap-ms> <max-attempts>`.
//!
//! Lines carry counts only (like the progress reports themselves): no id,
//! form or file name.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use carnet_core::api::ApiConfig;
use carnet_core::clock::SystemClock;
use carnet_core::sync::{Backoff, SyncPhase, SyncPolicy, SyncProgress, SyncProgressReport};
use carnet_core::{Carnet, CarnetConfig, Error, VaultKeySource};
use zeroize::Zeroizing;

/// Writes one line and flushes it, so that what the parent reads is what
/// the child had done before the kill (a line cut by the kill is ignored).
fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    // The parent may have stopped reading; nothing useful to do then.
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

struct Lines;

impl SyncProgress for Lines {
    fn on_progress(&self, p: SyncProgressReport) {
        let phase = match p.phase {
            SyncPhase::Attachments => "attachments",
            SyncPhase::Requests => "requests",
            SyncPhase::Statuses => "statuses",
        };
        say(&format!(
            "progress {phase} {} {} {} {} {}",
            p.bytes_done, p.bytes_total, p.requests_done, p.requests_total, p.statuses_applied
        ));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, url, ca_file, passphrase, base, cap, attempts] = args.as_slice() else {
        eprintln!(
            "usage: sync-runner <data-dir> <api-url> <ca-pem-file> <passphrase> \
             <backoff-base-ms> <backoff-cap-ms> <max-attempts>"
        );
        return ExitCode::from(2);
    };
    let (Ok(base), Ok(cap), Ok(attempts)) = (
        base.parse::<u64>(),
        cap.parse::<u64>(),
        attempts.parse::<u32>(),
    ) else {
        eprintln!("sync-runner: the policy arguments must be whole numbers");
        return ExitCode::from(2);
    };
    let ca_pem = match std::fs::read_to_string(ca_file) {
        Ok(pem) => pem,
        Err(error) => {
            eprintln!("sync-runner: CA file: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sync-runner: runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut api = ApiConfig::new(url.clone());
    api.extra_root_ca_pem = Some(ca_pem);
    api.use_public_roots = false;
    let policy = SyncPolicy {
        backoff: Backoff {
            base: Duration::from_millis(base),
            cap: Duration::from_millis(cap),
        },
        max_attempts: attempts,
        ..SyncPolicy::default()
    };
    let outcome = runtime.block_on(async {
        let carnet = Carnet::open(
            CarnetConfig {
                data_dir: PathBuf::from(dir),
                api,
            },
            VaultKeySource::Passphrase(Zeroizing::new(passphrase.clone())),
            None,
            Arc::new(SystemClock),
        )
        .await?
        .with_sync_policy(policy);
        say("start");
        carnet.sync_with(Some(Arc::new(Lines)), None).await
    });
    match outcome {
        Ok(report) => {
            say(&format!(
                "done ok {} {} {}",
                report.requests_uploaded,
                report.attachments_uploaded,
                report.status_changes_applied
            ));
            ExitCode::SUCCESS
        }
        // A hostile line may exhaust the retry budget: a normal end.
        Err(Error::SyncOffline { .. }) => {
            say("done offline");
            ExitCode::SUCCESS
        }
        Err(error) => {
            // The vault failing to open is reported here too; the parent
            // fails the test on it.
            say(&format!("done error {error}"));
            ExitCode::FAILURE
        }
    }
}
