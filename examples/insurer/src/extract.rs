//! Extractors and middleware that keep every refusal a JSON [`ApiErrorBody`]
//! with a 4xx status: JSON bodies, bearer tokens, path parameters, unknown
//! routes and methods, and anything axum answers by itself.
//!
//! [`ApiErrorBody`]: carnet_core::model::ApiErrorBody

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, generic_error, json_error_response};
use crate::service::{AppState, Authenticated, BODY_LIMIT_BYTES};

/// A JSON request body, refused with a JSON error:
/// - 415 `unsupported_media_type` when the content type is not JSON;
/// - 413 `payload_too_large` past the body limit;
/// - 400 `malformed_json` when it is not JSON;
/// - 422 `invalid_field` when it does not fit the request type (missing,
///   unknown or mistyped fields), naming the field when it can.
pub(crate) struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be JSON (Content-Type: application/json)",
            ));
        }
        let bytes = read_body(request).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Bodies up to this size are read to the end even when they are over
/// [`BODY_LIMIT_BYTES`], so that the 413 reaches the client: answering
/// before the body is read makes the server close the connection while the
/// client is still sending, and the client then sees a broken connection
/// instead of the answer.
const DRAIN_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// The request body, at most [`BODY_LIMIT_BYTES`]: 413 `payload_too_large`
/// beyond (after reading, and dropping, up to [`DRAIN_LIMIT_BYTES`]).
async fn read_body(request: Request) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > DRAIN_LIMIT_BYTES as u64) {
        return Err(too_large());
    }
    let mut body = request.into_body();
    let mut kept = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| {
            ApiError::bad_request("bad_request", "the request body could not be read")
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > DRAIN_LIMIT_BYTES {
            return Err(too_large());
        }
        if total <= BODY_LIMIT_BYTES {
            kept.extend_from_slice(&data);
        }
    }
    if total > BODY_LIMIT_BYTES {
        return Err(too_large());
    }
    Ok(Bytes::from(kept))
}

/// Whether the content type is `application/json` or `application/*+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some((kind, subtype)) => {
            kind == "application" && (subtype == "json" || subtype.ends_with("+json"))
        }
        None => false,
    }
}

/// Decodes `bytes` as `T`, or says why not without echoing any value.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed =
        || ApiError::bad_request("malformed_json", "the request body is not well-formed JSON");
    // Syntax first (trailing bytes included), then the shape.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| malformed())?;
    // Every request body is an object: serde would also read a struct from
    // an array of its fields in order, which the API does not promise.
    if !value.is_object() {
        return Err(ApiError::invalid_fields(
            Vec::new(),
            "the body must be a JSON object of the documented shape",
        ));
    }
    from_value(value)
}

/// Decodes a parsed JSON `value` as `T`, or says why not (422) without
/// echoing any value.
pub(crate) fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    let error = match serde_path_to_error::deserialize(value) {
        Ok(request) => return Ok(request),
        Err(error) => error,
    };
    let inner = error.inner();
    // The field at fault: the first key of the path, or the field that
    // serde names as missing. Unknown field names are not echoed back.
    let text = inner.to_string();
    let path_field = error.path().iter().find_map(|segment| match segment {
        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
        _ => None,
    });
    let (fields, message) = if let Some(name) = backticked(&text, "missing field `") {
        (vec![name], "a required field is missing".to_owned())
    } else if text.starts_with("unknown field") {
        (
            Vec::new(),
            "the body has a field this request does not take".to_owned(),
        )
    } else if let Some(name) = path_field {
        (
            vec![name],
            "a field has the wrong type or format".to_owned(),
        )
    } else {
        (
            Vec::new(),
            "the body must be a JSON object of the documented shape".to_owned(),
        )
    };
    Err(ApiError::invalid_fields(fields, message))
}

fn backticked(text: &str, prefix: &str) -> Option<String> {
    let rest = text.strip_prefix(prefix)?;
    let end = rest.find('`')?;
    Some(rest[..end].to_owned())
}

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or_else(ApiError::unauthorized)?;
        state.authenticate(&token)
    }
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub(crate) fn bearer_token(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
        .filter(|token| !token.is_empty())
}

/// An optional JSON request body: no body at all gives `T::default()`;
/// a body is read as [`ApiJson`] reads it (JSON content type, size, shape).
pub(crate) struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(request.headers());
        let bytes = read_body(request).await?;
        if bytes.is_empty() {
            return Ok(OptionalJson(T::default()));
        }
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the request body must be JSON (Content-Type: application/json)",
            ));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// A path parameter, refused with a JSON 404 when it does not decode.
pub(crate) struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| ApiPath(value))
            .map_err(|_| ApiError::not_found("no such resource"))
    }
}

/// The answer for a path that no route serves.
pub(crate) async fn route_not_found() -> ApiError {
    ApiError::not_found("no such resource")
}

/// The answer for a method that the route does not serve (axum adds `Allow`).
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed on this resource",
    )
}

/// Last line of defence: any error answer that is not JSON yet (axum's own
/// rejections) gets an [`ApiErrorBody`] for its status, keeping its headers.
///
/// [`ApiErrorBody`]: carnet_core::model::ApiErrorBody
pub(crate) async fn ensure_json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let replacement = json_error_response(status, &generic_error(status));
    let (new_parts, body) = replacement.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &new_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, Body::new(body))
}

/// Logs each request: method, route pattern (never the raw path or query),
/// status and duration. Nothing personal.
pub(crate) async fn log_requests(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unrouted)".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        route,
        status = response.status().as_u16(),
        millis = started.elapsed().as_millis() as u64,
        "request"
    );
    response.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use carnet_core::model::LoginRequest;

    #[test]
    fn json_problems_are_told_apart_and_name_the_field() {
        let malformed = parse_json::<LoginRequest>(b"{\"username\":").unwrap_err();
        assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
        let trailing =
            parse_json::<LoginRequest>(br#"{"username":"a","password":"b"} x"#).unwrap_err();
        assert_eq!(trailing.status(), StatusCode::BAD_REQUEST);
        let missing = parse_json::<LoginRequest>(br#"{"username":"abcde"}"#).unwrap_err();
        assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = format!("{:?}", missing);
        assert!(body.contains("password"), "{body}");
        let mistyped =
            parse_json::<LoginRequest>(br#"{"username":12,"password":"secret123"}"#).unwrap_err();
        assert!(format!("{mistyped:?}").contains("\"username\""));
        assert!(!format!("{mistyped:?}").contains("secret123"));
        let unknown =
            parse_json::<LoginRequest>(br#"{"username":"a","password":"b","zzz":1}"#).unwrap_err();
        assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!format!("{unknown:?}").contains("zzz"));
        let array = parse_json::<LoginRequest>(b"[]").unwrap_err();
        assert_eq!(array.status(), StatusCode::UNPROCESSABLE_ENTITY);
        // Not even an array of the fields in order.
        let positional = parse_json::<LoginRequest>(br#"["abcde","secret123"]"#).unwrap_err();
        assert_eq!(positional.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(parse_json::<LoginRequest>(br#"{"username":"a","password":"b"}"#).is_ok());
    }

    #[test]
    fn content_types() {
        let mut headers = HeaderMap::new();
        assert!(!is_json(&headers));
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
            ("json", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), ok, "{value}");
        }
    }
}
