//! A server that speaks HTTPS but answers garbage: the core reports a typed
//! error and keeps what it had saved.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum_server::tls_rustls::RustlsConfig;
use carnet_core::api::{ApiConfig, ApiError};
use carnet_core::clock::SystemClock;
use carnet_core::{Carnet, CarnetConfig, Error, VaultKeySource};
use zeroize::Zeroizing;

/// Starts an HTTPS server for `localhost` with `app`; returns its URL and CA.
async fn serve(app: Router) -> (String, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server = server_params.signed_by(&server_key, &issuer).unwrap();
    let tls = RustlsConfig::from_pem(
        server.pem().into_bytes(),
        server_key.serialize_pem().into_bytes(),
    )
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = axum_server::from_tcp_rustls(listener, tls).unwrap();
    tokio::spawn(server.serve(app.into_make_service()));
    (format!("https://localhost:{}", addr.port()), ca.pem())
}

async fn client(dir: &std::path::Path, url: String, ca: String) -> Carnet {
    let mut api = ApiConfig::new(url);
    api.extra_root_ca_pem = Some(ca);
    api.use_public_roots = false;
    Carnet::open(
        CarnetConfig {
            data_dir: dir.to_path_buf(),
            api,
        },
        VaultKeySource::Passphrase(Zeroizing::new("passphrase".into())),
        None,
        Arc::new(SystemClock),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn garbage_answers_are_typed_errors_and_lose_nothing() {
    let tokens = serde_json::json!({
        "access_token": "access",
        "access_expires_at": chrono::Utc::now().timestamp() + 900,
        "refresh_token": "refresh",
        "refresh_expires_at": chrono::Utc::now().timestamp() + 86_400,
        "server_time_ms": chrono::Utc::now().timestamp_millis(),
    })
    .to_string();
    let app = Router::new()
        .route("/v1/sessions", post(move || async move { tokens }))
        .route("/v1/account", get(|| async { "{\"member_id\": tru" }))
        .route(
            "/v1/registrations/confirm",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "<html>oops</html>") }),
        )
        .route("/v1/devices/challenge", post(|| async { "[1, 2, 3]" }));
    let (url, ca) = serve(app).await;
    let dir = tempfile::tempdir().unwrap();
    let carnet = client(dir.path(), url, ca).await;

    carnet.login("someone", "Password1").await.unwrap();
    assert!(matches!(
        carnet.account().await,
        Err(Error::Api(ApiError::MalformedResponse { .. }))
    ));
    assert!(matches!(
        carnet.confirm_email("someone", "123456").await,
        Err(Error::Api(ApiError::Server { status: 500 }))
    ));
    assert!(matches!(
        carnet.enrol_device("phone").await,
        Err(Error::Api(ApiError::MalformedResponse { .. }))
    ));
    // The session saved before the garbage is still there: the next call
    // gets as far as the server (a 404 without our JSON body), not
    // "not logged in".
    assert!(matches!(
        carnet.devices().await,
        Err(Error::Api(ApiError::NotFound { .. }))
    ));
}
