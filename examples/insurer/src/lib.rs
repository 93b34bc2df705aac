//! The reference insurer backend: what the member app talks to, for
//! development, the demo and the end-to-end tests. axum over HTTPS (rustls on
//! ring), sled storage, the wire types of [`carnet_core::model`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), carnet_insurer::InsurerError> {
//! let insurer = carnet_insurer::start(carnet_insurer::InsurerConfig::new("insurer-data")).await?;
//! println!("{} (trust {})", insurer.url(), insurer.ca_cert_path().display());
//! insurer.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The endpoints are described in `docs/api/openapi.yaml`. It listens on
//! loopback by default, and prints each e-mail confirmation code to the log
//! (`confirmation code for 'USERNAME': 123456`), as there is no mail server.
//!
//! On first start it also makes one demo pharmacy ("Farmacia Central") and
//! one demo provider ("Clínica del Parque"), each with a random API key
//! written to `<data_dir>/pharmacy-key.txt` and `<data_dir>/provider-key.txt`
//! (mode 0600; the log names the files, never the keys); see
//! [`RunningInsurer::pharmacy_key`] and [`RunningInsurer::provider_key`].
//! Likewise the reviewer's admin key (`<data_dir>/admin-key.txt`,
//! [`RunningInsurer::admin_key`]) for `/v1/admin/*`.

mod error;
mod extract;
mod partner;
mod password;
mod pharmacy;
mod renewal;
mod request_store;
mod requests;
mod service;
mod store;
pub mod tls;
mod tokens;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use carnet_core::clock::{Clock, SystemClock};
use carnet_core::model::JwkSet;
use ring::rand::SystemRandom;
use zeroize::Zeroizing;

pub use error::InsurerError;
pub use store::StoreError;

use service::AppState;
use store::Store;

/// How long [`RunningInsurer::shutdown`] lets requests in flight finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long `start` waits for a database still held by an instance that is
/// shutting down in the same process.
const DB_LOCK_WAIT: Duration = Duration::from_secs(10);

/// How the insurer runs.
#[derive(Debug, Clone)]
pub struct InsurerConfig {
    /// Where the database, keys and certificates live (created if missing).
    pub data_dir: PathBuf,
    /// Where to listen; port 0 picks a free port. Default `127.0.0.1:0`.
    pub bind: SocketAddr,
    /// A TLS certificate chain (PEM) to serve instead of the generated one.
    pub tls_cert_pem: Option<PathBuf>,
    /// The key (PEM) of `tls_cert_pem`.
    pub tls_key_pem: Option<PathBuf>,
    /// How long access tokens live. Default 15 minutes.
    pub access_token_ttl: Duration,
}

impl InsurerConfig {
    /// The defaults, with data in `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            ..Self::default()
        }
    }
}

impl Default for InsurerConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("insurer-data"),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls_cert_pem: None,
            tls_key_pem: None,
            access_token_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// A running insurer; stop it with [`RunningInsurer::shutdown`].
pub struct RunningInsurer {
    addr: SocketAddr,
    ca_cert_pem: String,
    ca_cert_path: PathBuf,
    server_cert_der: Vec<u8>,
    state: Arc<AppState>,
    pharmacy_key: Zeroizing<String>,
    provider_key: Zeroizing<String>,
    admin_key: Zeroizing<String>,
    handle: axum_server::Handle<SocketAddr>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for RunningInsurer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningInsurer")
            .field("addr", &self.addr)
            .field("ca_cert_path", &self.ca_cert_path)
            .finish_non_exhaustive()
    }
}

/// Starts the insurer with the system clock.
pub async fn start(config: InsurerConfig) -> Result<RunningInsurer, InsurerError> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// Starts the insurer with `clock` as its time (tokens, challenges,
/// certificates, registration rules).
pub async fn start_with_clock(
    config: InsurerConfig,
    clock: Arc<dyn Clock>,
) -> Result<RunningInsurer, InsurerError> {
    // The server config carries ring explicitly; the process default is for
    // anything else that builds a rustls config without naming a provider.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();

    make_private_dir(&config.data_dir)?;
    // Absolute, so that the CA path it reports works from any directory.
    let data_dir = std::fs::canonicalize(&config.data_dir)
        .map_err(|e| InsurerError::io(&config.data_dir, e))?;
    let identity = tls::load_or_make_identity(
        &data_dir,
        config.tls_cert_pem.as_deref(),
        config.tls_key_pem.as_deref(),
    )?;
    let insurer_key = tls::load_or_make_insurer_key(&data_dir)?;
    let store = open_store(&data_dir.join("db")).await?;
    let access_ttl_secs = i64::try_from(config.access_token_ttl.as_secs())
        .map_err(|_| InsurerError::Config("access_token_ttl is too long".into()))?;
    if access_ttl_secs == 0 {
        return Err(InsurerError::Config(
            "access_token_ttl must be at least one second".into(),
        ));
    }
    let jwks = JwkSet {
        keys: vec![insurer_key.jwk()],
    };
    let rng = SystemRandom::new();
    let now = clock.now();
    let partner_keys = partner::ensure_demo_partners(&store, &data_dir, &rng, now.timestamp())?;
    let sealer = tokens::SecretSealer::load_or_make(&data_dir, &rng)?;
    let admin_key = request_store::ensure_admin_key(&store.requests, &data_dir, &rng)?;
    let desk = pharmacy::Desk::new(jwks.clone(), store.revoked_device_ids()?, now);
    let state = Arc::new(AppState {
        store,
        clock,
        rng,
        insurer_key,
        jwks,
        access_ttl_secs,
        password_work: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
        ),
        desk,
        sealer,
        core_rng: carnet_core::rng::SystemRng::new(),
        redeem_locks: tokens::RedeemLocks::new(),
    });

    let listener =
        std::net::TcpListener::bind(config.bind).map_err(|source| InsurerError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| InsurerError::Bind {
        addr: config.bind,
        source,
    })?;
    let handle = axum_server::Handle::new();
    let server =
        axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(identity.server_config))
            .map_err(|source| InsurerError::Bind {
                addr: config.bind,
                source,
            })?
            .handle(handle.clone());
    let app = service::router(Arc::clone(&state));
    let server = tokio::spawn(server.serve(app.into_make_service()));
    tracing::info!(%addr, kid = state.insurer_key.kid(), "insurer listening");
    Ok(RunningInsurer {
        addr,
        ca_cert_pem: identity.ca_pem,
        ca_cert_path: identity.ca_path,
        server_cert_der: identity.server_cert_der,
        state,
        pharmacy_key: partner_keys.pharmacy,
        provider_key: partner_keys.provider,
        admin_key,
        handle,
        server,
    })
}

/// Creates `dir` readable by its owner only; an existing directory is left
/// as it is (the secret files in it are 0600 anyway).
fn make_private_dir(dir: &Path) -> Result<(), InsurerError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| InsurerError::io(dir, e))
}

/// Opens the database, waiting a little while an instance in this process
/// that is shutting down still holds its lock.
async fn open_store(path: &Path) -> Result<Store, InsurerError> {
    let started = tokio::time::Instant::now();
    loop {
        let opening = path.to_path_buf();
        let result = tokio::task::spawn_blocking(move || Store::open(&opening))
            .await
            .map_err(|_| InsurerError::Config("the database opener failed".into()))?;
        match result {
            Ok(store) => return Ok(store),
            Err(StoreError::Sled(sled::Error::Io(error)))
                if error.kind() == std::io::ErrorKind::WouldBlock
                    || error.to_string().contains("lock") =>
            {
                if started.elapsed() > DB_LOCK_WAIT {
                    return Err(StoreError::Sled(sled::Error::Io(error)).into());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

impl RunningInsurer {
    /// The base URL, `https://localhost:PORT` (the certificate's name).
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The certificate clients should trust, PEM: the generated CA, or, when
    /// a certificate was configured, the last certificate of its chain file
    /// (its root, or itself when self-signed).
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// Where that certificate is on disk, absolute: `<data_dir>/ca.pem`, or
    /// the configured chain file.
    pub fn ca_cert_path(&self) -> &Path {
        &self.ca_cert_path
    }

    /// The certificate the server presents, DER (to pin its key).
    pub fn server_certificate_der(&self) -> &[u8] {
        &self.server_cert_der
    }

    /// The e-mail confirmation code made for `username`, as the log shows it.
    pub fn confirmation_code(&self, username: &str) -> Option<String> {
        self.state.stored_confirmation_code(username)
    }

    /// The API key of the demo pharmacy "Farmacia Central" (also in
    /// `<data_dir>/pharmacy-key.txt`), for `/v1/pharmacy/*`.
    pub fn pharmacy_key(&self) -> String {
        self.pharmacy_key.as_str().to_owned()
    }

    /// The API key of the demo provider "Clínica del Parque" (also in
    /// `<data_dir>/provider-key.txt`), for `/v1/provider/*`.
    pub fn provider_key(&self) -> String {
        self.provider_key.as_str().to_owned()
    }

    /// The reviewer's admin API key (also in `<data_dir>/admin-key.txt`),
    /// for `/v1/admin/*`.
    pub fn admin_key(&self) -> String {
        self.admin_key.as_str().to_owned()
    }

    /// The insurer's published keys, as at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> JwkSet {
        self.state.jwks.clone()
    }

    /// Stops accepting connections, lets requests in flight finish (a few
    /// seconds at most), flushes the database and releases it, so that the
    /// same data directory can be started again.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "the server stopped with an error"),
            Err(error) => tracing::warn!(%error, "the server task failed"),
        }
        if let Err(error) = self.state.store.flush().await {
            tracing::error!(%error, "could not flush the database");
        }
        // Connections that outlived the grace period may still hold the
        // state for a moment; wait for them so the database lock is released.
        let state = self.state;
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        while Arc::strong_count(&state) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(state);
        tracing::info!("insurer stopped");
    }
}
