//! The HTTPS client toward the insurer: reqwest over rustls with the ring
//! provider chosen explicitly (no OpenSSL, no aws-lc), TLS 1.3 only, an
//! optional private root CA and optional SPKI pins, timeouts, and a typed
//! error for every HTTP status class and transport failure.

mod client;
mod error;
mod tls;

pub use client::{ApiClient, ApiConfig};
pub use error::{ApiError, TransportFailure};
pub use tls::{client_config, spki_sha256_pin};
