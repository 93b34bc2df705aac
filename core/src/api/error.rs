//! What can go wrong talking to the insurer.

use crate::model::ApiErrorBody;

/// Which part of the connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// Nothing answered at the address (backend down, no network).
    Connect,
    /// The server did not answer in time.
    Timeout,
    /// The TLS handshake failed: the certificate does not match the server or
    /// is not trusted.
    Tls,
    /// The connection broke mid-way.
    Interrupted,
}

/// A failed call to the insurer's API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request never got an HTTP answer.
    #[error("could not reach the insurer ({failure:?}); check the connection and try again")]
    Transport {
        /// What failed.
        failure: TransportFailure,
    },
    /// The server's key is not one of the pinned keys.
    #[error(
        "the insurer's server presented a key that is not pinned; do not continue on this network"
    )]
    PinMismatch,
    /// 401: the credentials or the session are not valid.
    #[error("not authorised ({code}); log in again")]
    Unauthorized {
        /// The server's error code, e.g. `wrong_credentials`, `invalid_token`.
        code: String,
    },
    /// 403: authenticated but not allowed (e.g. e-mail not confirmed).
    #[error("not allowed ({code})")]
    Forbidden {
        /// The server's error code, e.g. `email_not_confirmed`.
        code: String,
    },
    /// 404.
    #[error("not found ({code})")]
    NotFound {
        /// The server's error code.
        code: String,
    },
    /// 409: the resource already exists.
    #[error("conflict ({code})")]
    Conflict {
        /// The server's error code, e.g. `username_taken`.
        code: String,
    },
    /// 422: fields that the server refused.
    #[error("the server refused these fields: {fields:?}")]
    InvalidFields {
        /// Wire names of the refused fields.
        fields: Vec<String>,
    },
    /// 429: too many attempts.
    #[error("too many attempts; wait and try again")]
    RateLimited {
        /// Seconds to wait, from `Retry-After`.
        retry_after_seconds: Option<u64>,
    },
    /// Any other 4xx.
    #[error("the server refused the request ({status}, {code})")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's error code.
        code: String,
    },
    /// 5xx: the server failed; try later.
    #[error("the insurer's server failed ({status}); try again later")]
    Server {
        /// HTTP status.
        status: u16,
    },
    /// The answer was not what the API promises (malformed JSON, wrong shape).
    #[error("the insurer's server sent an answer that could not be read ({what})")]
    MalformedResponse {
        /// What was wrong, without the body.
        what: String,
    },
    /// The client configuration is unusable (bad URL, bad CA file, bad pin).
    #[error("the connection settings are not valid: {0}")]
    Config(String),
}

impl ApiError {
    /// The error for an HTTP error status and its (possibly unreadable) body.
    pub(crate) fn from_status(
        status: u16,
        body: Option<ApiErrorBody>,
        retry_after: Option<u64>,
    ) -> Self {
        let code = body
            .as_ref()
            .map(|b| b.code.clone())
            .unwrap_or_else(|| "unknown".into());
        match status {
            401 => Self::Unauthorized { code },
            403 => Self::Forbidden { code },
            404 => Self::NotFound { code },
            409 => Self::Conflict { code },
            422 => Self::InvalidFields {
                fields: body.map(|b| b.fields).unwrap_or_default(),
            },
            429 => Self::RateLimited {
                retry_after_seconds: retry_after,
            },
            500..=599 => Self::Server { status },
            _ => Self::Rejected { status, code },
        }
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Transport { .. } | Self::Server { .. } | Self::RateLimited { .. }
        )
    }
}
