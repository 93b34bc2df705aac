//! Members' requests (issue 5): resumable attachment uploads, request
//! uploads under the phone-made id, the member's feed of status changes,
//! and the reviewer's queue and decisions.
//!
//! | route | who |
//! | --- | --- |
//! | `GET, PUT /v1/attachments/{sha256}` | member |
//! | `PUT /v1/requests/{id}` | member |
//! | `GET /v1/requests/changes` | member |
//! | `GET /v1/admin/requests` | reviewer (admin key) |
//! | `POST /v1/admin/requests/{id}/review` | reviewer (admin key) |
//!
//! The rules are ADR 0005's: the request id is the idempotency key for the
//! request's whole life (kept for ever, not a day: a phone may stay offline
//! for weeks), the same (id, revision) is a replay, a higher revision
//! replaces a request whose review has not begun or resubmits a returned
//! one. Every answer that reports a change is given after the database
//! flushed it. Storage: [`crate::request_store`]. Nothing here logs a form,
//! a file or a reviewer's reasons.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post, put};

use carnet_core::model::{
    AttachmentUploadState, MAX_ATTACHMENT_CHUNK_BYTES, RequestChanges, RequestReceipt,
    ReviewAction, ReviewBody, ReviewQueue, ReviewedRequest, UploadRequestBody,
};
use carnet_core::requests::{ContentHash, MAX_ATTACHMENT_BYTES, RequestId, StateName, validate};

use crate::error::ApiError;
use crate::extract::{self, ApiJson, ApiPath, bearer_token};
use crate::request_store::{self, Chunk, Decision, Failure, Refusal, RequestRecord, Upload};
use crate::service::{AppState, Authenticated};

/// Largest `PUT /v1/requests/{id}` body: a claim of 100 items with long
/// descriptions and 20 receipts stays well below it.
const REQUEST_BODY_LIMIT_BYTES: usize = 256 * 1024;

/// `limit` of the changes feed when absent.
const DEFAULT_CHANGES_LIMIT: usize = 100;
/// Largest `limit` of the changes feed.
const MAX_CHANGES_LIMIT: usize = 500;

/// Most reasons in one return or rejection.
const MAX_REASONS: usize = 20;
/// Longest reason, in characters.
const MAX_REASON_CHARS: usize = 1000;

/// Longest admin key looked up.
const MAX_KEY_LEN: usize = 512;

/// The routes of this module, merged into the API's router.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/attachments/{sha256}",
            get(attachment_state)
                .put(put_chunk)
                // Raised for this route only: a chunk, not a JSON body.
                .layer(DefaultBodyLimit::max(MAX_ATTACHMENT_CHUNK_BYTES)),
        )
        .route("/v1/requests/changes", get(changes))
        .route(
            "/v1/requests/{id}",
            put(upload).layer(DefaultBodyLimit::max(REQUEST_BODY_LIMIT_BYTES)),
        )
        .route("/v1/admin/requests", get(review_queue))
        .route("/v1/admin/requests/{id}/review", post(review))
}

// ---------------------------------------------------------------------------
// Errors

fn refusal(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::SizeMismatch => ApiError::new(
            StatusCode::CONFLICT,
            "size_mismatch",
            "this file's upload was started with another size; \
             GET /v1/attachments/{sha256} for its state",
        ),
        Refusal::OffsetMismatch => ApiError::new(
            StatusCode::CONFLICT,
            "offset_mismatch",
            "the chunk does not continue the upload: \
             GET /v1/attachments/{sha256} and resume from `received`",
        ),
        Refusal::ChunkPastEnd => ApiError::invalid_fields(
            vec!["offset".to_owned()],
            "the chunk goes past the declared size",
        ),
        Refusal::HashMismatch => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "hash_mismatch",
            "the bytes do not match the SHA-256 in the path; the upload was \
             discarded, upload the file again from offset 0",
        ),
        Refusal::IdTaken => ApiError::new(
            StatusCode::CONFLICT,
            "id_taken",
            "this request id is already in use; make a new id",
        ),
        Refusal::NotEditable(status) => ApiError::new(
            StatusCode::CONFLICT,
            "not_editable",
            format!(
                "the request is {status}: its review has begun, so it can no longer be changed"
            ),
        ),
        Refusal::MissingAttachments(hashes) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_attachments",
            "upload the attachments named in `fields` (their SHA-256) completely first",
        )
        .with_fields(&hashes.iter().map(String::as_str).collect::<Vec<_>>()),
        Refusal::Invalid(fields, message) => ApiError::invalid_fields(fields, message),
        Refusal::NotFound => ApiError::not_found("no such request"),
        Refusal::NotAllowed(status) => ApiError::new(
            StatusCode::CONFLICT,
            "not_allowed",
            format!("the request is {status}; that action does not apply to it"),
        ),
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Refused(why) => refusal(why),
            Failure::Store(error) => error.into(),
        }
    }
}

/// Runs storage work off the async threads (sled blocks; a final chunk
/// hashes up to 20 MiB).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| {
            tracing::error!("a storage task failed");
            ApiError::internal()
        })?
        .map_err(ApiError::from)
}

// ---------------------------------------------------------------------------
// Query strings and paths

/// The `name=value` pairs of a query string (no percent-decoding: every
/// parameter here is a number or a plain word). A name given twice is
/// refused, as its meaning would be a guess.
fn query_pairs(query: Option<&str>) -> Result<Vec<(&str, &str)>, ApiError> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for pair in query.unwrap_or_default().split('&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if pairs.iter().any(|(seen, _)| *seen == name) {
            return Err(ApiError::invalid_fields(
                vec![name.to_owned()],
                "a query parameter is given twice",
            ));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn query_value<'a>(pairs: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find_map(|(key, value)| (*key == name).then_some(*value))
}

/// A decimal number without sign or spaces, at most `i64::MAX`: the API
/// describes every number as a signed 64-bit integer.
fn number(value: &str) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse::<u64>()
        .ok()
        .filter(|number| i64::try_from(*number).is_ok())
}

fn number_param(pairs: &[(&str, &str)], name: &str) -> Result<Option<u64>, ApiError> {
    match query_value(pairs, name) {
        None => Ok(None),
        Some(value) => number(value).map(Some).ok_or_else(|| {
            ApiError::invalid_fields(
                vec![name.to_owned()],
                format!("{name} must be a non-negative whole number"),
            )
        }),
    }
}

fn hash_of(text: &str) -> Result<ContentHash, ApiError> {
    ContentHash::parse(text).map_err(|_| {
        ApiError::bad_request(
            "invalid_field",
            "the path must name the file by its SHA-256 (64 hexadecimal digits)",
        )
        .with_fields(&["sha256"])
    })
}

fn request_id_of(text: &str) -> Result<RequestId, ApiError> {
    RequestId::parse(text).map_err(|_| {
        ApiError::bad_request(
            "invalid_field",
            "the path must name the request by its id (32 hexadecimal digits)",
        )
        .with_fields(&["id"])
    })
}

/// The essence of the `Content-Type` header, lower case, if there is one.
fn content_type(headers: &HeaderMap) -> Option<String> {
    headers.get(header::CONTENT_TYPE).map(|value| {
        value
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

fn unsupported(expected: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("the request body must be {expected}"),
    )
}

// ---------------------------------------------------------------------------
// Attachments

async fn attachment_state(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
    ApiPath(sha256): ApiPath<String>,
) -> Result<Json<AttachmentUploadState>, ApiError> {
    let hash = hash_of(&sha256)?;
    // Per member: another member's upload of the same file is not seen.
    request_store::attachment_state(&state.store.requests, member.member_id(), &hash)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no upload of this file was started"))
}

async fn put_chunk(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
    ApiPath(sha256): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<AttachmentUploadState>, ApiError> {
    let hash = hash_of(&sha256)?;
    let pairs = query_pairs(query.as_deref())?;
    let offset = number_param(&pairs, "offset")?;
    let size = number_param(&pairs, "size")?;
    let (Some(offset), Some(size)) = (offset, size) else {
        let missing = [("offset", offset), ("size", size)]
            .into_iter()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_owned())
            .collect();
        return Err(ApiError::invalid_fields(
            missing,
            "offset and size are required query parameters",
        ));
    };
    if size > MAX_ATTACHMENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "an attachment may be at most 20 MiB",
        ));
    }
    if size == 0 {
        return Err(ApiError::invalid_fields(
            vec!["size".to_owned()],
            "an attachment cannot be empty",
        ));
    }
    if offset >= size {
        return Err(ApiError::invalid_fields(
            vec!["offset".to_owned()],
            "the offset must be below the size",
        ));
    }
    if let Some(kind) = content_type(&headers)
        && kind != "application/octet-stream"
    {
        return Err(unsupported("the file's bytes (application/octet-stream)"));
    }
    if bytes.is_empty() {
        return Err(ApiError::invalid_fields(
            vec!["body".to_owned()],
            "the chunk is empty",
        ));
    }
    let member_id = member.member_id().to_owned();
    let now = state.clock.now().timestamp();
    let worker = Arc::clone(&state);
    let answer = blocking(move || {
        request_store::put_chunk(
            &worker.store.requests,
            &Chunk {
                member_id: &member_id,
                hash: &hash,
                offset,
                size,
                bytes: &bytes,
                now,
            },
        )
    })
    .await;
    // A refused final chunk may have discarded the upload: make that
    // durable too, so that a restart does not bring back a file whose
    // hash was refused.
    state.store.flush_durable().await?;
    Ok(Json(answer?))
}

// ---------------------------------------------------------------------------
// Requests

async fn upload(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<RequestReceipt>, ApiError> {
    let id = request_id_of(&id)?;
    let is_json = content_type(&headers).is_some_and(|kind| {
        kind.split_once('/').is_some_and(|(kind, subtype)| {
            kind == "application" && (subtype == "json" || subtype.ends_with("+json"))
        })
    });
    if !is_json {
        return Err(unsupported("JSON (Content-Type: application/json)"));
    }
    let body: UploadRequestBody = extract::parse_json(&bytes)?;
    if body.revision == 0 {
        return Err(ApiError::invalid_fields(
            vec!["revision".to_owned()],
            "revisions start at 1",
        ));
    }
    let now = state.clock.now();
    // The phone checked the same rules when the member submitted; they run
    // again here on the backend's clock, for new content only.
    let problems = validate(&body.form, now.date_naive())
        .err()
        .map(|problems| {
            let mut fields: Vec<String> = Vec::new();
            for problem in &problems {
                let name = problem.field().wire_name();
                if !fields.contains(&name) {
                    fields.push(name);
                }
            }
            let message = problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            (fields, message)
        });
    let member_id = member.member_id().to_owned();
    let worker = Arc::clone(&state);
    let receipt = blocking(move || {
        request_store::upload_request(
            &worker.store.requests,
            &Upload {
                member_id: &member_id,
                id: &id,
                revision: body.revision,
                form: &body.form,
                problems,
                now: now.timestamp(),
            },
        )
    })
    .await?;
    state.store.flush_durable().await?;
    if !receipt.replay {
        tracing::info!(
            revision = receipt.revision,
            "a request revision was received"
        );
    }
    Ok(Json(receipt))
}

async fn changes(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Json<RequestChanges>, ApiError> {
    let pairs = query_pairs(query.as_deref())?;
    let after = number_param(&pairs, "after")?.unwrap_or(0);
    let limit = match number_param(&pairs, "limit")? {
        None => DEFAULT_CHANGES_LIMIT,
        Some(limit) if (1..=MAX_CHANGES_LIMIT as u64).contains(&limit) => limit as usize,
        Some(_) => {
            return Err(ApiError::invalid_fields(
                vec!["limit".to_owned()],
                "limit must be between 1 and 500",
            ));
        }
    };
    let (changes, next_after, more) =
        request_store::changes_after(&state.store.requests, member.member_id(), after, limit)?;
    Ok(Json(RequestChanges {
        changes,
        next_after,
        more,
    }))
}

// ---------------------------------------------------------------------------
// Review

/// The reviewer, authenticated by the admin API key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reviewer;

impl FromRequestParts<Arc<AppState>> for Reviewer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let refused = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid admin API key is required",
            )
        };
        let key = bearer_token(parts).ok_or_else(refused)?;
        if key.len() > MAX_KEY_LEN {
            return Err(refused());
        }
        if request_store::is_admin_key(&state.store.requests, &key)? {
            Ok(Reviewer)
        } else {
            Err(refused())
        }
    }
}

fn reviewed(record: RequestRecord) -> ReviewedRequest {
    ReviewedRequest {
        id: record.id,
        member_id: record.member_id,
        revision: record.revision,
        uploads: record.uploads,
        received_at: record.received_at,
        form: record.form,
        status: record.status,
    }
}

/// The statuses the queue can be filtered by.
const QUEUE_STATUSES: [StateName; 5] = [
    StateName::Received,
    StateName::UnderReview,
    StateName::Returned,
    StateName::Approved,
    StateName::Rejected,
];

async fn review_queue(
    State(state): State<Arc<AppState>>,
    _reviewer: Reviewer,
    RawQuery(query): RawQuery,
) -> Result<Json<ReviewQueue>, ApiError> {
    let pairs = query_pairs(query.as_deref())?;
    let status = match query_value(&pairs, "status") {
        None => None,
        Some(value) => Some(
            QUEUE_STATUSES
                .into_iter()
                .find(|status| status.as_str() == value)
                .ok_or_else(|| {
                    ApiError::invalid_fields(
                        vec!["status".to_owned()],
                        "status must be received, under_review, returned, approved or rejected",
                    )
                })?,
        ),
    };
    let worker = Arc::clone(&state);
    let records = blocking(move || {
        Ok(request_store::list_requests(
            &worker.store.requests,
            status,
        )?)
    })
    .await?;
    Ok(Json(ReviewQueue {
        requests: records.into_iter().map(reviewed).collect(),
    }))
}

/// The decision in `body`, with its reasons checked and trimmed.
fn decision_of(body: ReviewBody) -> Result<Decision, ApiError> {
    let invalid = |message: &str| ApiError::invalid_fields(vec!["reasons".to_owned()], message);
    let needs_reasons = matches!(body.action, ReviewAction::Return | ReviewAction::Reject);
    if !needs_reasons {
        if !body.reasons.is_empty() {
            return Err(invalid("reasons go only with return or reject"));
        }
        return Ok(match body.action {
            ReviewAction::UnderReview => Decision::UnderReview,
            _ => Decision::Approve,
        });
    }
    let reasons: Vec<String> = body
        .reasons
        .iter()
        .map(|reason| reason.trim().to_owned())
        .collect();
    if reasons.is_empty() || reasons.iter().any(String::is_empty) {
        return Err(invalid(
            "return and reject need at least one reason, none of them empty",
        ));
    }
    if reasons.len() > MAX_REASONS
        || reasons
            .iter()
            .any(|reason| reason.chars().count() > MAX_REASON_CHARS)
    {
        return Err(invalid(
            "at most 20 reasons of at most 1000 characters each",
        ));
    }
    Ok(match body.action {
        ReviewAction::Return => Decision::Return(reasons),
        _ => Decision::Reject(reasons),
    })
}

async fn review(
    State(state): State<Arc<AppState>>,
    _reviewer: Reviewer,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> Result<Json<ReviewedRequest>, ApiError> {
    let id = request_id_of(&id)?;
    let decision = decision_of(body)?;
    let now = state.clock.now().timestamp();
    let worker = Arc::clone(&state);
    let record =
        blocking(move || request_store::review(&worker.store.requests, &id, &decision, now))
            .await?;
    state.store.flush_durable().await?;
    tracing::info!(status = %record.status.to_state().name(), "a request was reviewed");
    Ok(Json(reviewed(record)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_strict_numbers_given_once() {
        let pairs = query_pairs(Some("offset=0&size=10")).unwrap();
        assert_eq!(number_param(&pairs, "offset").unwrap(), Some(0));
        assert_eq!(number_param(&pairs, "size").unwrap(), Some(10));
        assert_eq!(number_param(&pairs, "limit").unwrap(), None);
        for bad in [
            "offset=9223372036854775808",
            "offset=-1",
            "offset=+1",
            "offset=",
            "offset=1e3",
            "offset=99999999999999999999",
        ] {
            let pairs = query_pairs(Some(bad)).unwrap();
            assert!(number_param(&pairs, "offset").is_err(), "{bad}");
        }
        assert!(query_pairs(Some("after=1&after=2")).is_err());
    }

    #[test]
    fn reasons_go_with_return_and_reject_only() {
        let body = |action, reasons: &[&str]| ReviewBody {
            action,
            reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
        };
        assert!(decision_of(body(ReviewAction::Return, &[])).is_err());
        assert!(decision_of(body(ReviewAction::Reject, &["  "])).is_err());
        assert!(decision_of(body(ReviewAction::Approve, &["fine"])).is_err());
        assert_eq!(
            decision_of(body(ReviewAction::Return, &[" Falta la firma "])).unwrap(),
            Decision::Return(vec!["Falta la firma".to_owned()])
        );
        assert_eq!(
            decision_of(body(ReviewAction::UnderReview, &[])).unwrap(),
            Decision::UnderReview
        );
    }
}
