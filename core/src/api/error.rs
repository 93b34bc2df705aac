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
    /// 5xx with `Retry-After` (typically 503 during maintenance or
    /// overload): the server said when to come back. Without the header a
    /// 5xx stays [`ApiError::Server`].
    #[error("the insurer's server is unavailable ({status}); try again in {retry_after_seconds} s")]
    Unavailable {
        /// HTTP status.
        status: u16,
        /// Seconds to wait, from `Retry-After` (seconds or an HTTP-date).
        retry_after_seconds: u64,
    },
    /// 422 from the request-sync endpoints, with the server's code, because
    /// the sync engine acts on it: `missing_attachments` (the hashes are in
    /// `fields`: upload them and retry), `invalid_field` (the wire names of
    /// the refused fields), `hash_mismatch` (an attachment's bytes did not
    /// match its address; the partial upload was discarded). The older
    /// endpoints keep answering [`ApiError::InvalidFields`].
    #[error("the server could not accept the request ({code}); {} field(s) named", fields.len())]
    Unprocessable {
        /// The server's error code.
        code: String,
        /// Field wire names, or attachment hashes for `missing_attachments`.
        fields: Vec<String>,
    },
}

impl ApiError {
    /// The error for an HTTP error status and its (possibly unreadable) body.
    /// `coded_422`: the request-sync endpoints keep the code of a 422
    /// ([`ApiError::Unprocessable`]); the older ones answer
    /// [`ApiError::InvalidFields`] as they always did.
    pub(crate) fn from_status(
        status: u16,
        body: Option<ApiErrorBody>,
        retry_after: Option<u64>,
        coded_422: bool,
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
            422 if coded_422 => Self::Unprocessable {
                code,
                fields: body.map(|b| b.fields).unwrap_or_default(),
            },
            422 => Self::InvalidFields {
                fields: body.map(|b| b.fields).unwrap_or_default(),
            },
            429 => Self::RateLimited {
                retry_after_seconds: retry_after,
            },
            500..=599 => match retry_after {
                Some(retry_after_seconds) => Self::Unavailable {
                    status,
                    retry_after_seconds,
                },
                None => Self::Server { status },
            },
            _ => Self::Rejected { status, code },
        }
    }

    /// Whether retrying the same request later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Transport { .. }
                | Self::Server { .. }
                | Self::RateLimited { .. }
                | Self::Unavailable { .. }
        )
    }

    /// Whether the failure is transient, so that the same request may be
    /// retried at once after a backoff: no connection, a timeout, a
    /// connection reset or a truncated answer, 429, and the 5xx statuses
    /// that proxies and overloaded servers give (500, 502, 503, 504).
    ///
    /// Narrower than [`ApiError::is_retryable`]: a TLS failure (wrong
    /// certificate) or another 5xx (501 not implemented, 505...) will not
    /// heal within a sync, and retrying them only drains the battery.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { failure } => !matches!(failure, TransportFailure::Tls),
            Self::Server { status } => matches!(status, 500 | 502 | 503 | 504),
            Self::RateLimited { .. } | Self::Unavailable { .. } => true,
            _ => false,
        }
    }

    /// How long the server asked to wait (`Retry-After` on a 429 or 5xx).
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::RateLimited {
                retry_after_seconds: Some(seconds),
            }
            | Self::Unavailable {
                retry_after_seconds: seconds,
                ..
            } => Some(std::time::Duration::from_secs(*seconds)),
            _ => None,
        }
    }
}

/// How much a `Retry-After` value asks to wait: either delay-seconds or an
/// HTTP-date (RFC 9110 §10.2.3). A date is measured against `now`, the
/// server's own `Date` header when it sent one (so a phone whose clock is
/// off still waits the right time), else the phone's clock. A date in the
/// past means no wait. `None` when the value is neither.
pub(crate) fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than u64 holds is still "a very long time".
        return Some(value.parse().unwrap_or(u64::MAX));
    }
    let at = parse_http_date(value)?;
    Some(u64::try_from((at - now).num_seconds()).unwrap_or(0))
}

/// An HTTP-date in its preferred form (IMF-fixdate, `Sun, 06 Nov 1994
/// 08:49:37 GMT`) or the obsolete RFC 850 and asctime forms that
/// recipients must still accept.
pub(crate) fn parse_http_date(value: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let value = value.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value) {
        return Some(at.with_timezone(&chrono::Utc));
    }
    // RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
    // (`Sun Nov  6 08:49:37 1994`).
    ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(value, format).ok())
        .map(|naive| naive.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap()
    }

    #[test]
    fn retry_after_reads_seconds_and_every_http_date_form() {
        let now = at("1994-11-06T08:49:00Z");
        assert_eq!(parse_retry_after("120", now), Some(120));
        assert_eq!(parse_retry_after(" 0 ", now), Some(0));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(u64::MAX)
        );
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_retry_after(date, now), Some(37), "{date}");
        }
        // In the past: no wait. Garbage: no value.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(0)
        );
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn transient_failures_are_told_from_permanent_ones() {
        let transient = [
            ApiError::Transport {
                failure: TransportFailure::Connect,
            },
            ApiError::Transport {
                failure: TransportFailure::Timeout,
            },
            ApiError::Transport {
                failure: TransportFailure::Interrupted,
            },
            ApiError::Server { status: 500 },
            ApiError::Server { status: 502 },
            ApiError::Server { status: 503 },
            ApiError::Server { status: 504 },
            ApiError::RateLimited {
                retry_after_seconds: None,
            },
            ApiError::Unavailable {
                status: 503,
                retry_after_seconds: 7,
            },
        ];
        for error in &transient {
            assert!(error.is_transient(), "{error:?}");
        }
        let permanent = [
            ApiError::Transport {
                failure: TransportFailure::Tls,
            },
            ApiError::PinMismatch,
            ApiError::Server { status: 501 },
            ApiError::Unauthorized { code: "x".into() },
            ApiError::Conflict {
                code: "id_taken".into(),
            },
            ApiError::Unprocessable {
                code: "invalid_field".into(),
                fields: vec![],
            },
            ApiError::MalformedResponse { what: "x".into() },
        ];
        for error in &permanent {
            assert!(!error.is_transient(), "{error:?}");
        }
        assert_eq!(
            transient[8].retry_after(),
            Some(std::time::Duration::from_secs(7))
        );
        assert_eq!(transient[7].retry_after(), None);
    }
}
