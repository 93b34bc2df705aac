//! The server's TLS identity and the insurer's signing key, made on first
//! start and reused afterwards.
//!
//! Without PEM files in the configuration, the first start makes a private CA
//! and a server certificate for `localhost`, `127.0.0.1` and `::1` signed by
//! it. Files under the data directory:
//!
//! | file              | what                               | mode |
//! | ----------------- | ---------------------------------- | ---- |
//! | `ca.pem`          | the CA certificate clients trust   | 0644 |
//! | `ca-key.pem`      | the CA key                         | 0600 |
//! | `server.pem`      | the server certificate             | 0644 |
//! | `server-key.pem`  | the server key                     | 0600 |
//! | `insurer-key.p8`  | the insurer signing key (PKCS#8)   | 0600 |
//!
//! For tests of clients, [`make_ca`] makes a CA that signed nothing here,
//! and [`leaf_certificate_der`] gives the certificate the server presents
//! (to pin its key).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use carnet_core::certificate::InsurerKey;

use crate::RunningInsurer;
use crate::error::InsurerError;

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca-key.pem";
const SERVER_CERT: &str = "server.pem";
const SERVER_KEY: &str = "server-key.pem";
const INSURER_KEY: &str = "insurer-key.p8";

/// How long the generated certificates are valid, in years.
const VALIDITY_YEARS: i32 = 10;

/// The TLS identity the server presents.
pub(crate) struct TlsIdentity {
    pub server_config: Arc<ServerConfig>,
    /// The server's own certificate, DER.
    pub server_cert_der: Vec<u8>,
    /// The certificate clients should trust, PEM.
    pub ca_pem: String,
    /// Where that certificate is on disk.
    pub ca_path: PathBuf,
}

/// Loads the server's TLS identity: from the given PEM files, or the one
/// in `data_dir` (made on first start).
pub(crate) fn load_or_make_identity(
    data_dir: &Path,
    cert_pem: Option<&Path>,
    key_pem: Option<&Path>,
) -> Result<TlsIdentity, InsurerError> {
    let (cert_path, key_path, ca_path) = match (cert_pem, key_pem) {
        (Some(cert), Some(key)) => {
            // A certificate of the operator's own: clients trust the last
            // certificate of the chain it holds (its CA, or itself when
            // self-signed).
            let cert = fs::canonicalize(cert).map_err(|e| InsurerError::io(cert, e))?;
            (cert.clone(), key.to_path_buf(), cert)
        }
        (None, None) => {
            let paths = [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY].map(|f| data_dir.join(f));
            if !paths.iter().all(|p| p.exists()) {
                make_ca_and_server_certificate(data_dir)?;
            }
            (
                data_dir.join(SERVER_CERT),
                data_dir.join(SERVER_KEY),
                data_dir.join(CA_CERT),
            )
        }
        _ => {
            return Err(InsurerError::Config(
                "give both a TLS certificate and its key, or neither".into(),
            ));
        }
    };
    let cert_bytes = fs::read(&cert_path).map_err(|e| InsurerError::io(&cert_path, e))?;
    let key_bytes = fs::read(&key_path).map_err(|e| InsurerError::io(&key_path, e))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| InsurerError::Tls(format!("{}: {e}", cert_path.display())))?;
    let (Some(leaf), Some(trusted)) = (certs.first(), certs.last()) else {
        return Err(InsurerError::Tls(format!(
            "{}: no certificate in it",
            cert_path.display()
        )));
    };
    let server_cert_der = leaf.as_ref().to_vec();
    let ca_pem = if ca_path == cert_path {
        pem_of_certificate(trusted)
    } else {
        fs::read_to_string(&ca_path).map_err(|e| InsurerError::io(&ca_path, e))?
    };
    let key = PrivateKeyDer::from_pem_slice(&key_bytes)
        .map_err(|e| InsurerError::Tls(format!("{}: {e}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server_config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| InsurerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| InsurerError::Tls(e.to_string()))?;
    server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsIdentity {
        server_config: Arc::new(server_config),
        server_cert_der,
        ca_pem,
        ca_path,
    })
}

fn pem_of_certificate(der: &CertificateDer<'_>) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Generated certificates are valid from last new year to [`VALIDITY_YEARS`]
/// ahead.
fn set_validity(params: &mut CertificateParams) {
    let this_year = Utc::now().year();
    params.not_before = rcgen::date_time_ymd(this_year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(this_year + VALIDITY_YEARS, 1, 1);
}

/// A new CA: its certificate (PEM), its key (PEM) and the issuer to sign with.
fn new_ca() -> Result<(String, String, Issuer<'static, KeyPair>), rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Carnet reference insurer local CA");
    ca_params
        .distinguished_name
        .push(DnType::OrganizationName, "Carnet");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut ca_params);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let ca_key_pem = ca_key.serialize_pem();
    Ok((ca_cert.pem(), ca_key_pem, Issuer::new(ca_params, ca_key)))
}

/// A new CA certificate (PEM) that signed nothing: for tests that a client
/// refuses a server its trust store does not vouch for. The key is discarded.
pub fn make_ca() -> Result<String, InsurerError> {
    let (pem, _, _) = new_ca().map_err(|e| InsurerError::Tls(e.to_string()))?;
    Ok(pem)
}

/// The certificate `insurer` presents (DER), e.g. to pin its public key.
pub fn leaf_certificate_der(insurer: &RunningInsurer) -> Vec<u8> {
    insurer.server_certificate_der().to_vec()
}

fn make_ca_and_server_certificate(data_dir: &Path) -> Result<(), InsurerError> {
    let tls = |e: rcgen::Error| InsurerError::Tls(e.to_string());
    let (ca_cert_pem, ca_key_pem, issuer) = new_ca().map_err(tls)?;

    let server_key = KeyPair::generate().map_err(tls)?;
    let mut server_params = CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(tls)?;
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server_params.use_authority_key_identifier_extension = true;
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    set_validity(&mut server_params);
    let server_cert = server_params.signed_by(&server_key, &issuer).map_err(tls)?;

    // Keys first, certificates last: a crash in between leaves a set that is
    // incomplete, which the next start replaces whole.
    write_file(&data_dir.join(CA_KEY), ca_key_pem.as_bytes(), true)?;
    write_file(
        &data_dir.join(SERVER_KEY),
        server_key.serialize_pem().as_bytes(),
        true,
    )?;
    write_file(
        &data_dir.join(SERVER_CERT),
        server_cert.pem().as_bytes(),
        false,
    )?;
    write_file(&data_dir.join(CA_CERT), ca_cert_pem.as_bytes(), false)?;
    tracing::info!("made a new local CA and server certificate");
    Ok(())
}

/// Loads the insurer signing key from `data_dir`, making it on first start.
pub(crate) fn load_or_make_insurer_key(data_dir: &Path) -> Result<InsurerKey, InsurerError> {
    let path = data_dir.join(INSURER_KEY);
    if path.exists() {
        let pkcs8 =
            zeroize::Zeroizing::new(fs::read(&path).map_err(|e| InsurerError::io(&path, e))?);
        return InsurerKey::from_pkcs8(&pkcs8)
            .map_err(|e| InsurerError::SigningKey(format!("{}: {e}", path.display())));
    }
    let (key, pkcs8) =
        InsurerKey::generate().map_err(|e| InsurerError::SigningKey(e.to_string()))?;
    write_file(&path, &pkcs8, true)?;
    tracing::info!(kid = key.kid(), "made a new insurer signing key");
    Ok(key)
}

/// Writes `bytes` to `path` through a temporary file and a rename, so that
/// a crash never leaves half a file; `secret` files are readable by the
/// owner only.
pub(crate) fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), InsurerError> {
    let io = |e| InsurerError::io(path, e);
    let temporary = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(&temporary).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&temporary, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_make_identity(dir.path(), None, None).unwrap();
        let second = load_or_make_identity(dir.path(), None, None).unwrap();
        assert_eq!(first.ca_pem, second.ca_pem);
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for secret in [CA_KEY, SERVER_KEY] {
                let mode = fs::metadata(dir.path().join(secret))
                    .unwrap()
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o777, 0o600, "{secret}");
            }
        }
    }

    #[test]
    fn given_pem_files_are_used_and_their_last_certificate_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        make_ca_and_server_certificate(dir.path()).unwrap();
        let other = tempfile::tempdir().unwrap();
        let identity = load_or_make_identity(
            other.path(),
            Some(&dir.path().join(SERVER_CERT)),
            Some(&dir.path().join(SERVER_KEY)),
        )
        .unwrap();
        let server_pem = fs::read_to_string(dir.path().join(SERVER_CERT)).unwrap();
        assert_eq!(
            identity.ca_pem.replace('\n', ""),
            server_pem.replace(['\n', '\r'], "")
        );
        assert!(!other.path().join(CA_CERT).exists());
        assert!(matches!(
            load_or_make_identity(other.path(), Some(&dir.path().join(SERVER_CERT)), None),
            Err(InsurerError::Config(_))
        ));
    }

    #[test]
    fn the_insurer_key_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_make_insurer_key(dir.path()).unwrap();
        let second = load_or_make_insurer_key(dir.path()).unwrap();
        assert_eq!(first.kid(), second.kid());
    }
}
