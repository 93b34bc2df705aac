//! Errors: the ones `start` can return, and the JSON error answers of the API.

use std::path::PathBuf;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carnet_core::model::ApiErrorBody;
use serde::Serialize;

use crate::store::StoreError;

/// Why the insurer could not start.
#[derive(Debug, thiserror::Error)]
pub enum InsurerError {
    /// A file or directory under the data directory could not be used.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Storage(#[from] StoreError),
    /// The TLS certificate or key could not be made or loaded.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The insurer signing key could not be made or loaded.
    #[error("the insurer signing key is not usable: {0}")]
    SigningKey(String),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The configuration is inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl InsurerError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// An error answer: a 4xx (or, for internal failures only, a 500) with an
/// [`ApiErrorBody`], plus, for some codes, a `reason` (see [`ErrorBody`]).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    fields: Vec<String>,
    reason: Option<&'static str>,
    retry_after_secs: Option<i64>,
}

/// The error body on the wire: [`ApiErrorBody`] and an optional `reason`,
/// the finer cause of `qr_rejected` (the verifier's rejection code) and of
/// `invalid_code`. Clients that only know [`ApiErrorBody`] ignore it.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    fields: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
            reason: None,
            retry_after_secs: None,
        }
    }

    /// The same error with a finer `reason` in its body.
    pub(crate) fn with_reason(self, reason: &'static str) -> Self {
        Self {
            reason: Some(reason),
            ..self
        }
    }

    /// The same error naming `fields`.
    pub(crate) fn with_fields(self, fields: &[&str]) -> Self {
        Self {
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            ..self
        }
    }

    /// 422 `qr_rejected`: a scanned code was refused; `reason` is the
    /// verifier's stable code and `message` what to tell the clerk.
    pub(crate) fn qr_rejected(reason: &'static str, clerk_message: &'static str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "qr_rejected",
            clerk_message,
        )
        .with_reason(reason)
    }

    /// 422 `invalid_field`, naming the fields (wire names).
    pub(crate) fn invalid_fields(fields: Vec<String>, message: impl Into<String>) -> Self {
        Self {
            fields,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
        }
    }

    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 `unauthorized`: no usable bearer token.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer access token is required",
        )
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub(crate) fn too_many_attempts(retry_after_secs: i64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many wrong attempts; try again later",
        )
        .with_retry_after(retry_after_secs)
    }

    /// The same error with `Retry-After` (at least one second).
    pub(crate) fn with_retry_after(self, retry_after_secs: i64) -> Self {
        Self {
            retry_after_secs: Some(retry_after_secs.max(1)),
            ..self
        }
    }

    /// 500 `internal`: never caused by what the client sent.
    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; try again later",
        )
    }

    #[cfg(test)]
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "storage failure");
        Self::internal()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: self.code,
            message: &self.message,
            fields: &self.fields,
            reason: self.reason,
        };
        let mut response = json_error_response(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after_secs
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// `status` with `body` as JSON.
pub(crate) fn json_error_response(status: StatusCode, body: &impl Serialize) -> Response {
    // Serialising three strings cannot fail; keep a literal just in case.
    let bytes = serde_json::to_vec(body)
        .unwrap_or_else(|_| br#"{"code":"internal","message":"the server failed"}"#.to_vec());
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The code and message for an error status that no handler described
/// (axum's own answers: unknown route, wrong method, body too large...).
pub(crate) fn generic_error(status: StatusCode) -> ApiErrorBody {
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request is malformed"),
        StatusCode::UNAUTHORIZED => ("unauthorized", "a valid bearer access token is required"),
        StatusCode::NOT_FOUND => ("not_found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this method is not allowed on this resource",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request body must be application/json",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_field", "the request body is not valid"),
        StatusCode::TOO_MANY_REQUESTS => ("too_many_attempts", "too many requests"),
        status if status.is_server_error() => ("internal", "the server failed; try again later"),
        _ => ("bad_request", "the request was refused"),
    };
    ApiErrorBody {
        code: code.to_owned(),
        message: message.to_owned(),
        fields: Vec::new(),
    }
}
