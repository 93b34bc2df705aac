//! The rustls configuration: ring provider, TLS 1.3 only, the roots to trust
//! and optional SPKI pinning. Platform pinning settings (Android network
//! security config, iOS ATS pins) do not reach rustls, so pinning lives here.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::ApiError;

/// The pin of a certificate: base64 of the SHA-256 of its
/// SubjectPublicKeyInfo (the form HPKP and OkHttp use).
pub fn spki_sha256_pin(certificate_der: &[u8]) -> Result<String, ApiError> {
    let spki = subject_public_key_info(certificate_der)
        .ok_or_else(|| ApiError::Config("not an X.509 certificate".into()))?;
    let digest = ring::digest::digest(&ring::digest::SHA256, spki);
    Ok(STANDARD.encode(digest.as_ref()))
}

fn subject_public_key_info(certificate_der: &[u8]) -> Option<&[u8]> {
    let (_, certificate) = x509_parser::parse_x509_certificate(certificate_der).ok()?;
    Some(certificate.tbs_certificate.subject_pki.raw)
}

/// The TLS configuration the core's client uses (rustls on ring, TLS 1.3,
/// optional private root CA and SPKI pins): public so that partner tools
/// (the pharmacy and provider examples) and tests talk to the insurer under
/// the same policy, through `reqwest::ClientBuilder::use_preconfigured_tls`.
pub fn client_config(
    extra_root_ca_pem: Option<&str>,
    use_public_roots: bool,
    spki_pins: &[String],
) -> Result<ClientConfig, ApiError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    if use_public_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(pem) = extra_root_ca_pem {
        let mut added = 0;
        for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let certificate =
                certificate.map_err(|_| ApiError::Config("the CA file is not PEM".into()))?;
            roots
                .add(certificate)
                .map_err(|_| ApiError::Config("the CA certificate is not usable".into()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ApiError::Config("the CA file holds no certificate".into()));
        }
    }
    if roots.is_empty() {
        return Err(ApiError::Config("no root certificate to trust".into()));
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|_| ApiError::Config("TLS 1.3 is not available".into()))?;
    let roots = Arc::new(roots);
    let mut config = if spki_pins.is_empty() {
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        let verifier = PinningVerifier::new(roots, provider, spki_pins)?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Standard WebPKI verification, then the leaf's SPKI must match a pin (a
/// current pin and a backup pin, so that a key rotation does not lock members
/// out).
#[derive(Debug)]
struct PinningVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
}

impl PinningVerifier {
    fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
        pins: &[String],
    ) -> Result<Self, ApiError> {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|_| ApiError::Config("the root certificates are not usable".into()))?;
        let pins = pins
            .iter()
            .map(|pin| {
                STANDARD
                    .decode(pin)
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                    .ok_or_else(|| ApiError::Config("a pin is not base64 of 32 bytes".into()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { inner, pins })
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        let spki = subject_public_key_info(end_entity.as_ref()).ok_or(
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding),
        )?;
        let digest = ring::digest::digest(&ring::digest::SHA256, spki);
        if self.pins.iter().any(|pin| pin[..] == *digest.as_ref()) {
            Ok(verified)
        } else {
            Err(rustls::Error::General(PIN_MISMATCH.into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The marker the client looks for in a failed handshake's error chain.
pub(crate) const PIN_MISMATCH: &str = "carnet: server key does not match any pin";
