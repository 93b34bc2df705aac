//! HTTPS calls a partner (a pharmacy, a provider, a reviewer) makes to the
//! insurer with its API key, under the core's TLS policy
//! ([`carnet_core::api::client_config`]: rustls on ring, TLS 1.3, the
//! insurer's CA). Shared by the `pharmacy`, `provider` and `reviewer` tools.

use std::path::Path;
use std::time::Duration;

use carnet_core::model::ApiErrorBody;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use zeroize::Zeroizing;

/// Why a partner call failed.
#[derive(Debug, thiserror::Error)]
pub enum PartnerError {
    /// A file given on the command line could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// Which file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The CA file or the URL is unusable.
    #[error("cannot set up HTTPS: {0}")]
    Setup(String),
    /// The insurer could not be reached, or the answer was cut.
    #[error("the insurer could not be reached: {0}")]
    Network(String),
    /// The insurer answered with an error.
    #[error("the insurer refused ({status}, {code}): {message}")]
    Refused {
        /// The HTTP status.
        status: StatusCode,
        /// The stable error code.
        code: String,
        /// What the insurer says happened and what to do.
        message: String,
    },
    /// The answer was not the JSON the API describes.
    #[error("the insurer's answer is not what the API describes ({status})")]
    Malformed {
        /// The HTTP status.
        status: StatusCode,
    },
}

/// A partner's client: the insurer's URL, its CA, and the partner's key.
pub struct PartnerClient {
    http: reqwest::Client,
    base_url: String,
    key: Zeroizing<String>,
}

impl PartnerClient {
    /// Reads the CA (PEM) and the key file (first line) and builds the client.
    pub fn new(base_url: &str, ca_pem: &Path, key_file: &Path) -> Result<Self, PartnerError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| PartnerError::File {
                path: path.display().to_string(),
                source,
            })
        };
        let ca = read(ca_pem)?;
        let key = Zeroizing::new(read(key_file)?.trim().to_owned());
        let tls = carnet_core::api::client_config(Some(&ca), false, &[])
            .map_err(|error| PartnerError::Setup(error.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|error| PartnerError::Setup(error.to_string()))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    /// `POST path` with a JSON body; the answer's JSON on success.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, PartnerError> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `GET path`; the answer's JSON on success.
    // Each tool includes this file with `#[path]` and uses part of it.
    #[allow(dead_code)]
    pub async fn get(&self, path: &str) -> Result<Value, PartnerError> {
        self.call(Method::GET, path, None).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, PartnerError> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(self.key.as_str());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| PartnerError::Network(error.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| PartnerError::Network(error.to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| PartnerError::Malformed { status });
        }
        let error: ApiErrorBody =
            serde_json::from_slice(&bytes).map_err(|_| PartnerError::Malformed { status })?;
        // The insurer adds a clerk-facing `reason` to some refusals.
        let reason = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|value| {
                value
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        Err(PartnerError::Refused {
            status,
            code: error.code,
            message: match reason {
                Some(reason) => format!("{} ({reason})", error.message),
                None => error.message,
            },
        })
    }
}
