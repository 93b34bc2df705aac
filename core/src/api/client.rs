//! Typed calls to the insurer's API (`docs/api/openapi.yaml`).

use std::error::Error as _;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ApiError, TransportFailure, parse_http_date, parse_retry_after};
use super::tls::{PIN_MISMATCH, client_config};
use crate::model::{
    Account, ApiErrorBody, AttachmentUploadState, ConfirmEmailRequest, DeviceList,
    EnrolDeviceRequest, EnrolDeviceResponse, EnrolmentChallenge, IssueTokenRequest, IssuedToken,
    JwkSet, LoginRequest, MAX_ATTACHMENT_CHUNK_BYTES, RefreshRequest, RegisterRequest,
    RegisterResponse, RequestChanges, RequestReceipt, SessionTokens, TokenHistory,
    TokenSecretResponse, TransactionPage, UploadRequestBody,
};
use crate::requests::{ContentHash, RequestId};

/// How an endpoint's answers are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// The account, device, token and pharmacy endpoints, as they always
    /// were.
    Classic,
    /// The request-sync endpoints: a 422 keeps its code
    /// ([`ApiError::Unprocessable`]), since the engine acts on it; and a
    /// 2xx body that ends mid-JSON is a truncated answer (a connection cut
    /// by a proxy), i.e. a transient transport failure, not garbage.
    Sync,
}

/// What a request carries.
enum Body<'a, B> {
    None,
    Json(&'a B),
    Bytes(Vec<u8>),
}

/// Answers larger than this are refused rather than buffered.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Where the insurer is and how to trust it.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Base URL, e.g. `https://api.insurer.example` (no trailing slash needed).
    pub base_url: String,
    /// A private root CA (PEM), for private deployments and tests.
    pub extra_root_ca_pem: Option<String>,
    /// Whether to trust the public WebPKI roots as well.
    pub use_public_roots: bool,
    /// SPKI pins (base64 SHA-256); empty means no pinning. Give a backup pin.
    pub spki_pins: Vec<String>,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request.
    pub request_timeout: Duration,
}

impl ApiConfig {
    /// Defaults for `base_url`: public roots, no pins, 10 s to connect, 30 s a request.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            extra_root_ca_pem: None,
            use_public_roots: true,
            spki_pins: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A client for the insurer's API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
}

impl ApiClient {
    /// Builds a client; fails only on unusable settings.
    pub fn new(config: &ApiConfig) -> Result<Self, ApiError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        if !base_url.starts_with("https://") {
            return Err(ApiError::Config(
                "the server URL must start with https://".into(),
            ));
        }
        let tls = client_config(
            config.extra_root_ca_pem.as_deref(),
            config.use_public_roots,
            &config.spki_pins,
        )?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .https_only(true)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("carnet-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| ApiError::Config("the HTTP client could not be built".into()))?;
        Ok(Self { http, base_url })
    }

    /// `POST /v1/registrations`.
    pub async fn register(&self, request: &RegisterRequest) -> Result<RegisterResponse, ApiError> {
        self.call(Method::POST, "/v1/registrations", None, Some(request))
            .await
    }

    /// `POST /v1/registrations/confirm`.
    pub async fn confirm_email(&self, request: &ConfirmEmailRequest) -> Result<(), ApiError> {
        self.call_no_content(
            Method::POST,
            "/v1/registrations/confirm",
            None,
            Some(request),
        )
        .await
    }

    /// `POST /v1/sessions`.
    pub async fn login(&self, request: &LoginRequest) -> Result<SessionTokens, ApiError> {
        self.call(Method::POST, "/v1/sessions", None, Some(request))
            .await
    }

    /// `POST /v1/sessions/refresh`.
    pub async fn refresh(&self, request: &RefreshRequest) -> Result<SessionTokens, ApiError> {
        self.call(Method::POST, "/v1/sessions/refresh", None, Some(request))
            .await
    }

    /// `DELETE /v1/sessions/current`.
    pub async fn logout(&self, access_token: &str) -> Result<(), ApiError> {
        self.call_no_content::<()>(
            Method::DELETE,
            "/v1/sessions/current",
            Some(access_token),
            None,
        )
        .await
    }

    /// `GET /v1/account`.
    pub async fn account(&self, access_token: &str) -> Result<Account, ApiError> {
        self.call::<(), _>(Method::GET, "/v1/account", Some(access_token), None)
            .await
    }

    /// `POST /v1/devices/challenge`.
    pub async fn enrolment_challenge(
        &self,
        access_token: &str,
    ) -> Result<EnrolmentChallenge, ApiError> {
        self.call::<(), _>(
            Method::POST,
            "/v1/devices/challenge",
            Some(access_token),
            None,
        )
        .await
    }

    /// `POST /v1/devices`.
    pub async fn enrol_device(
        &self,
        access_token: &str,
        request: &EnrolDeviceRequest,
    ) -> Result<EnrolDeviceResponse, ApiError> {
        self.call(
            Method::POST,
            "/v1/devices",
            Some(access_token),
            Some(request),
        )
        .await
    }

    /// `GET /v1/devices`.
    pub async fn devices(&self, access_token: &str) -> Result<DeviceList, ApiError> {
        self.call::<(), _>(Method::GET, "/v1/devices", Some(access_token), None)
            .await
    }

    /// `DELETE /v1/devices/{id}`.
    pub async fn revoke_device(&self, access_token: &str, device_id: &str) -> Result<(), ApiError> {
        let path = format!("/v1/devices/{}", plain_id(device_id)?);
        self.call_no_content::<()>(Method::DELETE, &path, Some(access_token), None)
            .await
    }

    /// `POST /v1/devices/{id}/token-secret`: the offline token secret.
    pub async fn token_secret(
        &self,
        access_token: &str,
        device_id: &str,
    ) -> Result<TokenSecretResponse, ApiError> {
        let path = format!("/v1/devices/{}/token-secret", plain_id(device_id)?);
        self.call::<(), _>(Method::POST, &path, Some(access_token), None)
            .await
    }

    /// `POST /v1/devices/{id}/certificate`: a new member certificate for
    /// this device, same id and same key. `request` is an enrolment body
    /// with a fresh challenge and the enrolled key's signature over
    /// [`crate::model::enrolment_message`]; the answer has the enrolment's
    /// shape, with the new expiry.
    pub async fn renew_certificate(
        &self,
        access_token: &str,
        device_id: &str,
        request: &EnrolDeviceRequest,
    ) -> Result<EnrolDeviceResponse, ApiError> {
        let path = format!("/v1/devices/{}/certificate", plain_id(device_id)?);
        self.call(Method::POST, &path, Some(access_token), Some(request))
            .await
    }

    /// `POST /v1/tokens`: an online consult token.
    pub async fn issue_token(
        &self,
        access_token: &str,
        request: &IssueTokenRequest,
    ) -> Result<IssuedToken, ApiError> {
        self.call(
            Method::POST,
            "/v1/tokens",
            Some(access_token),
            Some(request),
        )
        .await
    }

    /// `GET /v1/tokens`: the member's token history at the insurer.
    pub async fn token_history(&self, access_token: &str) -> Result<TokenHistory, ApiError> {
        self.call::<(), _>(Method::GET, "/v1/tokens", Some(access_token), None)
            .await
    }

    /// `POST /v1/tokens/re-enable`: after 100 wrong codes in a row.
    pub async fn re_enable_tokens(&self, access_token: &str) -> Result<(), ApiError> {
        self.call_no_content::<()>(
            Method::POST,
            "/v1/tokens/re-enable",
            Some(access_token),
            None,
        )
        .await
    }

    /// `GET /v1/transactions?since=CURSOR`.
    pub async fn transactions(
        &self,
        access_token: &str,
        since: Option<&str>,
    ) -> Result<TransactionPage, ApiError> {
        let path = match since {
            Some(cursor) => format!("/v1/transactions?since={}", plain_id(cursor)?),
            None => "/v1/transactions".to_owned(),
        };
        self.call::<(), _>(Method::GET, &path, Some(access_token), None)
            .await
    }

    /// `GET /.well-known/jwks.json`: the insurer's public keys.
    pub async fn jwks(&self) -> Result<JwkSet, ApiError> {
        self.call::<(), _>(Method::GET, "/.well-known/jwks.json", None, None)
            .await
    }

    /// `GET /v1/attachments/{sha256}`: how much of this attachment the
    /// insurer holds for the member, or `None` if nothing yet (404).
    pub async fn attachment_state(
        &self,
        access_token: &str,
        sha256: &ContentHash,
    ) -> Result<Option<AttachmentUploadState>, ApiError> {
        let path = format!("/v1/attachments/{}", plain_id(sha256.as_str())?);
        match self
            .call_styled::<(), _>(
                Style::Sync,
                Method::GET,
                &path,
                Some(access_token),
                Body::None,
            )
            .await
        {
            Ok(state) => Ok(Some(state)),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `PUT /v1/attachments/{sha256}?offset=N&size=S`: one chunk of an
    /// attachment of `size` bytes, starting at `offset`, as raw bytes. A
    /// chunk the insurer already has is a replay and answers the same.
    /// Refusals: 409 `offset_mismatch` (ask [`ApiClient::attachment_state`]
    /// and resume from `received`), 409 `size_mismatch`, 422
    /// `hash_mismatch` ([`ApiError::Unprocessable`]; the partial upload was
    /// discarded), 413 `too_large`.
    pub async fn upload_attachment_chunk(
        &self,
        access_token: &str,
        sha256: &ContentHash,
        offset: u64,
        size: u64,
        chunk: &[u8],
    ) -> Result<AttachmentUploadState, ApiError> {
        if chunk.len() > MAX_ATTACHMENT_CHUNK_BYTES {
            return Err(ApiError::Config(format!(
                "an attachment chunk may hold at most {MAX_ATTACHMENT_CHUNK_BYTES} bytes"
            )));
        }
        let path = format!(
            "/v1/attachments/{}?offset={offset}&size={size}",
            plain_id(sha256.as_str())?
        );
        self.call_styled::<(), _>(
            Style::Sync,
            Method::PUT,
            &path,
            Some(access_token),
            Body::Bytes(chunk.to_vec()),
        )
        .await
    }

    /// `PUT /v1/requests/{id}`: one revision of a request; the id is the
    /// idempotency key, so a retry is answered as a replay. Refusals: 422
    /// `missing_attachments` (the hashes in `fields`), 422 `invalid_field`
    /// (both [`ApiError::Unprocessable`]), 409 `not_editable` (the review
    /// began), 409 `id_taken`.
    pub async fn upload_request(
        &self,
        access_token: &str,
        id: &RequestId,
        body: &UploadRequestBody,
    ) -> Result<RequestReceipt, ApiError> {
        let path = format!("/v1/requests/{}", plain_id(id.as_str())?);
        self.call_styled(
            Style::Sync,
            Method::PUT,
            &path,
            Some(access_token),
            Body::Json(body),
        )
        .await
    }

    /// `GET /v1/requests/changes?after=SEQ&limit=N`: the member's request
    /// status changes recorded after `after`, oldest first.
    pub async fn request_changes(
        &self,
        access_token: &str,
        after: u64,
        limit: u32,
    ) -> Result<RequestChanges, ApiError> {
        let path = format!("/v1/requests/changes?after={after}&limit={limit}");
        self.call_styled::<(), _>(
            Style::Sync,
            Method::GET,
            &path,
            Some(access_token),
            Body::None,
        )
        .await
    }

    fn request<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        access_token: Option<&str>,
        body: Body<'_, B>,
    ) -> RequestBuilder {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(token) = access_token {
            request = request.bearer_auth(token);
        }
        match body {
            Body::None => {}
            Body::Json(body) => request = request.json(body),
            Body::Bytes(bytes) => {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                    .body(bytes);
            }
        }
        request
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        access_token: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let body = body.map_or(Body::None, Body::Json);
        self.call_styled(Style::Classic, method, path, access_token, body)
            .await
    }

    async fn call_styled<B: Serialize, T: DeserializeOwned>(
        &self,
        style: Style,
        method: Method,
        path: &str,
        access_token: Option<&str>,
        body: Body<'_, B>,
    ) -> Result<T, ApiError> {
        let bytes = self
            .send_styled(style, method, path, access_token, body)
            .await?;
        serde_json::from_slice(&bytes).map_err(|error| {
            if style == Style::Sync && error.classify() == serde_json::error::Category::Eof {
                return ApiError::Transport {
                    failure: TransportFailure::Interrupted,
                };
            }
            ApiError::MalformedResponse {
                what: format!("{path}: {}", error.classify_name()),
            }
        })
    }

    async fn call_no_content<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        access_token: Option<&str>,
        body: Option<&B>,
    ) -> Result<(), ApiError> {
        self.send(method, path, access_token, body).await.map(drop)
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        access_token: Option<&str>,
        body: Option<&B>,
    ) -> Result<Vec<u8>, ApiError> {
        let body = body.map_or(Body::None, Body::Json);
        self.send_styled(Style::Classic, method, path, access_token, body)
            .await
    }

    async fn send_styled<B: Serialize>(
        &self,
        style: Style,
        method: Method,
        path: &str,
        access_token: Option<&str>,
        body: Body<'_, B>,
    ) -> Result<Vec<u8>, ApiError> {
        let response = self
            .request(method, path, access_token, body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let bytes = read_capped(response).await?;
        if status.is_success() {
            return Ok(bytes);
        }
        let error_body = serde_json::from_slice::<ApiErrorBody>(&bytes).ok();
        if status.is_redirection() || status.is_informational() || status == StatusCode::OK {
            return Err(ApiError::MalformedResponse {
                what: format!("unexpected status {}", status.as_u16()),
            });
        }
        Err(ApiError::from_status(
            status.as_u16(),
            error_body,
            retry_after,
            style == Style::Sync,
        ))
    }
}

/// The `Retry-After` of an answer in seconds, an HTTP-date being measured
/// against the answer's own `Date` (the server's clock) when present.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
    };
    let value = header(reqwest::header::RETRY_AFTER)?;
    let now = header(reqwest::header::DATE)
        .and_then(parse_http_date)
        .unwrap_or_else(chrono::Utc::now);
    parse_retry_after(value, now)
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(ApiError::MalformedResponse {
                what: "answer too large".into(),
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Ids and cursors are server-made; refusing anything else keeps the path
/// and query intact without escaping.
fn plain_id(id: &str) -> Result<&str, ApiError> {
    let plain = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        Ok(id)
    } else {
        Err(ApiError::NotFound {
            code: "not_found".into(),
        })
    }
}

/// Classifies a reqwest failure by walking its chain of causes. A TLS
/// failure arrives wrapped in nested `io::Error`s, whose `source()` skips the
/// wrapped error, so their `get_ref()` is followed too.
fn transport_error(error: reqwest::Error) -> ApiError {
    let mut pending: Vec<&(dyn std::error::Error + 'static)> = error.source().into_iter().collect();
    while let Some(cause) = pending.pop() {
        if let Some(rustls_error) = cause.downcast_ref::<rustls::Error>() {
            if rustls_error.to_string().contains(PIN_MISMATCH) {
                return ApiError::PinMismatch;
            }
            return ApiError::Transport {
                failure: TransportFailure::Tls,
            };
        }
        if let Some(inner) = cause
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            pending.push(inner);
        }
        pending.extend(cause.source());
    }
    let failure = if error.is_timeout() {
        TransportFailure::Timeout
    } else if error.is_connect() {
        TransportFailure::Connect
    } else {
        TransportFailure::Interrupted
    };
    ApiError::Transport { failure }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    // The category only: the message could quote the body, which may hold
    // personal data.
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "i/o error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}
