//! `carnet-insurer`: the reference insurer backend, for development and tests.
//!
//! ```text
//! carnet-insurer [--data-dir DIR] [--bind 127.0.0.1:8443] [--tls-cert PEM --tls-key PEM]
//! ```
//!
//! Prints `listening on https://localhost:PORT` and `ca certificate: PATH` on
//! standard output once it accepts connections, logs to standard output, and
//! runs until Ctrl-C or SIGTERM.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use carnet_insurer::{InsurerConfig, start};

/// The reference insurer backend for Carnet (HTTPS, loopback by default).
#[derive(Debug, Parser)]
#[command(name = "carnet-insurer", version)]
struct Args {
    /// Where the database, keys and certificates live.
    #[arg(long, default_value = "insurer-data")]
    data_dir: PathBuf,
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8443")]
    bind: SocketAddr,
    /// Serve this certificate chain (PEM) instead of the generated one.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Access token lifetime, in seconds.
    #[arg(long, default_value_t = 15 * 60)]
    access_token_ttl_secs: u64,
    /// Allow listening on an address other than loopback. This is a
    /// reference server: it prints confirmation codes to its log.
    #[arg(long)]
    allow_remote: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .with_writer(std::io::stdout)
        .init();
    if !args.bind.ip().is_loopback() && !args.allow_remote {
        eprintln!(
            "carnet-insurer: refusing to listen on {} (not loopback) without --allow-remote",
            args.bind
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("carnet-insurer: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let config = InsurerConfig {
        data_dir: args.data_dir,
        bind: args.bind,
        tls_cert_pem: args.tls_cert,
        tls_key_pem: args.tls_key,
        access_token_ttl: Duration::from_secs(args.access_token_ttl_secs),
    };
    let insurer = match start(config).await {
        Ok(insurer) => insurer,
        Err(error) => {
            eprintln!("carnet-insurer: {error}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        let printed = writeln!(stdout, "listening on {}", insurer.url())
            .and_then(|()| {
                writeln!(
                    stdout,
                    "ca certificate: {}",
                    insurer.ca_cert_path().display()
                )
            })
            .and_then(|()| stdout.flush());
        if let Err(error) = printed {
            eprintln!("carnet-insurer: cannot write to standard output: {error}");
        }
    }
    wait_for_stop().await;
    insurer.shutdown().await;
    ExitCode::SUCCESS
}

/// Returns on Ctrl-C or, on Unix, SIGTERM.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
