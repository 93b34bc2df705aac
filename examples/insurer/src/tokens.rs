//! Consult tokens at the backend (issue 4): online issue, the per-device
//! secret for offline tokens, provider redemption with throttling, and the
//! member's history. The rules are core's (`carnet_core::token`); this
//! module stores and serves them.
//!
//! Redemption of `(member_id, code, practice)` by a provider:
//!
//! 1. the typed code is normalised ([`normalize_code`]); anything but six
//!    digits is 422 `invalid_code` and counts as nothing;
//! 2. the provider's and the member's [`Throttle`]s are checked, before
//!    the code is compared: 429 `too_many_attempts` with `Retry-After`, or
//!    403 `tokens_disabled` after 100 wrong codes in a row for the member;
//! 3. the member's online token with this code, if any: accepted once
//!    (a compare-and-swap on its record), or refused as issued for another
//!    practice;
//! 4. otherwise, or when that online token is spent (used, expired), each
//!    active device's offline window ([`accept_offline`]), the matched
//!    counter recorded with an insert-if-absent; failing that, the online
//!    token's used or expired stands;
//! 5. every answer but an acceptance counts as a failure on both
//!    throttles; an acceptance ends both runs of failures.
//!
//! Steps 2 to 5 run under a lock of the provider and one of the member
//! (sharded, in that order), so that concurrent guesses cannot all pass the
//! throttle check before any of them is counted. The throttles live in
//! sled, so a restart forgets nothing. A provider's throttle only delays
//! (5 s × failures, growing without bound); it never disables, since
//! issue 4 disables the member's tokens, not a clinic.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use carnet_core::model::{
    IssueTokenRequest, IssuedToken, Redemption, TokenEntry, TokenHistory, TokenOrigin,
    TokenSecretResponse, TokenState, b64,
};
use carnet_core::token::{
    Counter, SECRET_LEN, Throttle, Throttled, TokenInputError, TokenRejection, TokenSecret,
    accept_offline, normalize_code, online_expires_at, random_code,
};

use crate::error::{ApiError, InsurerError};
use crate::extract::{ApiJson, ApiPath, OptionalJson};
use crate::partner::Provider;
use crate::service::{AppState, Authenticated, device_key, is_short_id};
use crate::store::{
    self, DeviceRecord, OfflineUseRecord, OnlineTokenRecord, RedemptionRecord, SealedSecretRecord,
    StoreError, Update,
};
use crate::tls::write_file;

/// The file that holds the key sealing the offline-token secrets.
const SEALING_KEY_FILE: &str = "token-secrets.key";

/// A practice: 1 to 100 characters, not only spaces, no control characters.
pub(crate) const MAX_PRACTICE_CHARS: usize = 100;

/// Longest typed code looked at (digits, spaces, dashes, direction marks).
pub(crate) const MAX_CODE_CHARS: usize = 64;

/// Draws before giving up on finding a code the member does not hold.
const MAX_DRAWS: usize = 32;

/// Most tokens in a history answer (newest first).
pub(crate) const MAX_HISTORY: usize = 500;

/// Lock shards for members and for providers.
const LOCK_SHARDS: usize = 64;

/// Seals device secrets at rest (AES-256-GCM, the member and device ids as
/// associated data), with a key kept in `<data_dir>/token-secrets.key`.
pub(crate) struct SecretSealer {
    key: LessSafeKey,
}

impl SecretSealer {
    /// Loads the sealing key from `data_dir`, making it on first start.
    pub(crate) fn load_or_make(data_dir: &Path, rng: &SystemRandom) -> Result<Self, InsurerError> {
        let path = data_dir.join(SEALING_KEY_FILE);
        let bytes = if path.exists() {
            Zeroizing::new(std::fs::read(&path).map_err(|e| InsurerError::io(&path, e))?)
        } else {
            let mut bytes = Zeroizing::new(vec![0u8; 32]);
            rng.fill(&mut bytes)
                .map_err(|_| InsurerError::Config("the random number generator failed".into()))?;
            write_file(&path, &bytes, true)?;
            bytes
        };
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| InsurerError::Config(format!("{}: not a 32-byte key", path.display())))?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    fn seal(
        &self,
        rng: &SystemRandom,
        owner: &str,
        secret: &TokenSecret,
        now: i64,
    ) -> Result<SealedSecretRecord, ApiError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill(&mut nonce).map_err(|_| ApiError::internal())?;
        let mut in_out = secret.expose_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| ApiError::internal())?;
        Ok(SealedSecretRecord {
            nonce: b64::encode(&nonce),
            sealed: b64::encode(&in_out),
            issued_at: now,
        })
    }

    fn open(&self, owner: &str, record: &SealedSecretRecord) -> Option<TokenSecret> {
        let nonce = <[u8; NONCE_LEN]>::try_from(b64::decode(&record.nonce)?).ok()?;
        let mut in_out = Zeroizing::new(b64::decode(&record.sealed)?);
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut in_out,
            )
            .ok()?;
        (plain.len() == SECRET_LEN)
            .then(|| TokenSecret::from_slice(plain).ok())
            .flatten()
    }
}

/// Per-provider and per-member locks around a redemption.
pub(crate) struct RedeemLocks {
    providers: Vec<tokio::sync::Mutex<()>>,
    members: Vec<tokio::sync::Mutex<()>>,
}

impl RedeemLocks {
    pub(crate) fn new() -> Self {
        let shards = || {
            (0..LOCK_SHARDS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect()
        };
        Self {
            providers: shards(),
            members: shards(),
        }
    }
}

fn shard(id: &str) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut hasher);
    usize::try_from(hasher.finish() % LOCK_SHARDS as u64).unwrap_or(0)
}

/// `POST /v1/provider/redeem`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedeemRequest {
    pub member_id: String,
    /// As typed: digits in ASCII, Arabic-Indic, Persian or full-width
    /// forms; spaces and dashes ignored.
    pub code: String,
    pub practice: String,
}

/// An accepted redemption.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Redeemed {
    /// Always `accepted`.
    pub status: String,
    pub origin: TokenOrigin,
    /// The practice it was redeemed for.
    pub practice: String,
}

fn member_throttle_key(member_id: &str) -> String {
    format!("member/{member_id}")
}

fn provider_throttle_key(provider_id: &str) -> String {
    format!("provider/{provider_id}")
}

fn tokens_disabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "tokens_disabled",
        "consult tokens are disabled after 100 wrong codes in a row; the member must re-enable them in the app",
    )
}

/// A practice as the member or the provider typed it, trimmed; `None` if
/// it breaks the rule.
fn practice_of(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let chars = text.chars().count();
    ((1..=MAX_PRACTICE_CHARS).contains(&chars)
        && !trimmed.is_empty()
        && !text.chars().any(char::is_control))
    .then(|| trimmed.to_owned())
}

fn same_practice(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

fn invalid_practice() -> ApiError {
    ApiError::invalid_fields(
        vec!["practice".to_owned()],
        "the practice must be 1 to 100 characters, not only spaces, without control characters",
    )
}

/// The secrets of the member's devices that are not revoked.
fn device_secrets(
    state: &AppState,
    member_id: &str,
) -> Result<Vec<(String, TokenSecret)>, ApiError> {
    let prefix = format!("{member_id}/");
    let mut secrets = Vec::new();
    for entry in state.store.token_secrets.scan_prefix(prefix.as_bytes()) {
        let (key, bytes) = entry.map_err(StoreError::from)?;
        let owner = String::from_utf8_lossy(&key).into_owned();
        let Some(device_id) = owner.strip_prefix(&prefix) else {
            continue;
        };
        let active =
            store::get::<DeviceRecord>(&state.store.devices, device_key(member_id, device_id))?
                .is_some_and(|device| device.info.revoked_at.is_none());
        if !active {
            continue;
        }
        let record: SealedSecretRecord =
            serde_json::from_slice(&bytes).map_err(StoreError::from)?;
        let Some(secret) = state.sealer.open(&owner, &record) else {
            tracing::error!("a sealed token secret does not open");
            return Err(ApiError::internal());
        };
        secrets.push((device_id.to_owned(), secret));
    }
    Ok(secrets)
}

/// The optional body of `POST /v1/tokens`: nothing, or an object with at
/// most `practice` (core's type alone would let unknown fields through).
fn issue_request_of(body: serde_json::Value) -> Result<IssueTokenRequest, ApiError> {
    match body {
        serde_json::Value::Null => Ok(IssueTokenRequest { practice: None }),
        serde_json::Value::Object(fields) if fields.keys().all(|key| key == "practice") => {
            crate::extract::from_value(serde_json::Value::Object(fields))
        }
        _ => Err(ApiError::invalid_fields(
            Vec::new(),
            "the body has a field this request does not take",
        )),
    }
}

fn member_disabled(state: &AppState, member_id: &str) -> Result<bool, ApiError> {
    Ok(
        store::get::<Throttle>(&state.store.throttles, member_throttle_key(member_id))?
            .is_some_and(|throttle| throttle.is_disabled()),
    )
}

pub(crate) async fn issue(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
    OptionalJson(body): OptionalJson<serde_json::Value>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    let request = issue_request_of(body)?;
    let practice = match request.practice.as_deref() {
        Some(text) => Some(practice_of(text).ok_or_else(invalid_practice)?),
        None => None,
    };
    let member_id = member.member_id();
    if member_disabled(&state, member_id)? {
        return Err(tokens_disabled());
    }
    let now = state.clock.now();
    let secrets = device_secrets(&state, member_id)?;
    let never = |_: Counter| false;
    for _ in 0..MAX_DRAWS {
        let code = random_code(&state.core_rng).map_err(|_| ApiError::internal())?;
        // A code one of the member's devices may show offline right now
        // would shadow it: draw again.
        if secrets
            .iter()
            .any(|(_, secret)| accept_offline(secret, &code, now, &never).is_ok())
        {
            continue;
        }
        let record = OnlineTokenRecord {
            code: code.clone(),
            practice: practice.clone(),
            issued_at: now.timestamp(),
            expires_at: online_expires_at(now).timestamp(),
            redemption: None,
        };
        // A member's online codes are never reused, so that an old one
        // answers "used" or "expired", never a new token's status.
        if store::create(
            &state.store.online_tokens,
            format!("{member_id}/{code}"),
            &record,
        )? {
            state.store.flush_durable().await?;
            tracing::info!("issued an online consult token");
            return Ok((
                StatusCode::CREATED,
                Json(IssuedToken {
                    code,
                    practice,
                    issued_at: record.issued_at,
                    expires_at: record.expires_at,
                }),
            ));
        }
    }
    tracing::error!("no free token code after {MAX_DRAWS} draws");
    Err(ApiError::internal())
}

pub(crate) async fn history(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
) -> Result<Json<TokenHistory>, ApiError> {
    let member_id = member.member_id();
    let now = state.clock.now().timestamp();
    let prefix = format!("{member_id}/");
    let mut tokens = Vec::new();
    for entry in state.store.online_tokens.scan_prefix(prefix.as_bytes()) {
        let (_, bytes) = entry.map_err(StoreError::from)?;
        let record: OnlineTokenRecord = serde_json::from_slice(&bytes).map_err(StoreError::from)?;
        let status = match &record.redemption {
            Some(_) => TokenState::Used,
            None if now >= record.expires_at => TokenState::Expired,
            None => TokenState::Active,
        };
        tokens.push(TokenEntry {
            code: record.code,
            origin: TokenOrigin::Online,
            slot: None,
            sequence: None,
            practice: record.practice,
            issued_at: record.issued_at,
            expires_at: record.expires_at,
            status,
            redemption: record.redemption.map(|r| Redemption {
                practice: r.practice,
                redeemed_at: r.at,
            }),
        });
    }
    for entry in state.store.offline_used.scan_prefix(prefix.as_bytes()) {
        let (_, bytes) = entry.map_err(StoreError::from)?;
        let record: OfflineUseRecord = serde_json::from_slice(&bytes).map_err(StoreError::from)?;
        let issued_at = Counter::new(record.slot, record.sequence)
            .map(|counter| counter.slot_start().timestamp())
            .unwrap_or_default();
        tokens.push(TokenEntry {
            code: record.code,
            origin: TokenOrigin::Offline,
            slot: Some(record.slot),
            sequence: Some(record.sequence),
            practice: None,
            issued_at,
            expires_at: record.expires_at,
            status: TokenState::Used,
            redemption: Some(Redemption {
                practice: record.redemption.practice,
                redeemed_at: record.redemption.at,
            }),
        });
    }
    tokens.sort_by(|a, b| (b.issued_at, &b.code).cmp(&(a.issued_at, &a.code)));
    tokens.truncate(MAX_HISTORY);
    Ok(Json(TokenHistory {
        tokens,
        disabled: member_disabled(&state, member_id)?,
    }))
}

pub(crate) async fn re_enable(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
) -> Result<StatusCode, ApiError> {
    store::upsert(
        &state.store.throttles,
        member_throttle_key(member.member_id()),
        |throttle: &mut Throttle| throttle.re_enable(),
    )?;
    tracing::info!("a member re-enabled consult tokens");
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn token_secret(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<TokenSecretResponse>), ApiError> {
    if !is_short_id(&id) {
        return Err(ApiError::not_found("no such device"));
    }
    let member_id = member.member_id();
    let owner = device_key(member_id, &id);
    let Some(device) = store::get::<DeviceRecord>(&state.store.devices, &owner)? else {
        return Err(ApiError::not_found("no such device"));
    };
    if device.info.revoked_at.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "device_revoked",
            "this device was revoked; enrol the phone again",
        ));
    }
    let secret = TokenSecret::generate(&state.core_rng).map_err(|_| ApiError::internal())?;
    let sealed = state
        .sealer
        .seal(&state.rng, &owner, &secret, state.clock.now().timestamp())?;
    if !store::create(&state.store.token_secrets, &owner, &sealed)? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "secret_already_issued",
            "this device already received its token secret; enrol the phone again for a new one",
        ));
    }
    state.store.flush_durable().await?;
    tracing::info!("issued a device token secret");
    Ok((
        StatusCode::CREATED,
        Json(TokenSecretResponse {
            secret: b64::encode(secret.expose_bytes()),
        }),
    ))
}

/// What a redemption came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted(TokenOrigin),
    Used,
    Expired,
    Unknown,
    PracticeMismatch,
}

fn invalid_code(error: &TokenInputError) -> ApiError {
    // Own words rather than the error's text: the text would echo input.
    let (reason, message) = match error {
        TokenInputError::Empty => ("empty", "no digits were entered; a token has 6"),
        TokenInputError::UnexpectedCharacter { .. } => (
            "unexpected_character",
            "the code holds a character that is not a digit, a space or a dash",
        ),
        TokenInputError::TooFewDigits { .. } => {
            ("too_few_digits", "a token has 6 digits; fewer were entered")
        }
        TokenInputError::TooManyDigits { .. } => {
            ("too_many_digits", "a token has 6 digits; more were entered")
        }
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_code", message)
        .with_fields(&["code"])
        .with_reason(reason)
}

/// When a provider may try again: its delay only (see the module notes).
fn provider_wait(throttle: &Throttle, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match throttle.check(now) {
        Ok(()) => None,
        Err(Throttled::Wait { retry_after }) => Some(retry_after),
        Err(Throttled::Disabled) => throttle.retry_after().filter(|at| now < *at),
    }
}

pub(crate) async fn redeem(
    State(state): State<Arc<AppState>>,
    Provider(provider): Provider,
    ApiJson(request): ApiJson<RedeemRequest>,
) -> Result<Json<Redeemed>, ApiError> {
    if !is_short_id(&request.member_id) {
        return Err(ApiError::invalid_fields(
            vec!["member_id".to_owned()],
            "the member id is 16 lower-case hexadecimal digits",
        ));
    }
    let practice = practice_of(&request.practice).ok_or_else(invalid_practice)?;
    if request.code.chars().count() > MAX_CODE_CHARS {
        return Err(invalid_code(&TokenInputError::TooManyDigits {
            found: MAX_CODE_CHARS,
        }));
    }
    let code = normalize_code(&request.code).map_err(|error| invalid_code(&error))?;

    let provider_lock = state.redeem_locks.providers[shard(&provider.id)]
        .lock()
        .await;
    let member_lock = state.redeem_locks.members[shard(&request.member_id)]
        .lock()
        .await;

    let now = state.clock.now();
    let provider_key = provider_throttle_key(&provider.id);
    let member_key = member_throttle_key(&request.member_id);
    let member_exists = state
        .store
        .members
        .contains_key(&request.member_id)
        .map_err(StoreError::from)?;
    let provider_throttle =
        store::get::<Throttle>(&state.store.throttles, &provider_key)?.unwrap_or_default();
    let member_throttle = if member_exists {
        store::get::<Throttle>(&state.store.throttles, &member_key)?.unwrap_or_default()
    } else {
        Throttle::new()
    };
    let mut wait = provider_wait(&provider_throttle, now);
    match member_throttle.check(now) {
        Ok(()) => {}
        Err(Throttled::Disabled) => return Err(tokens_disabled()),
        Err(Throttled::Wait { retry_after }) => wait = wait.max(Some(retry_after)),
    }
    if let Some(retry_after) = wait {
        let seconds = (retry_after - now).num_milliseconds().saturating_add(999) / 1_000;
        return Err(ApiError::too_many_attempts(seconds));
    }

    let outcome = if member_exists {
        find(
            &state,
            &request.member_id,
            &code,
            &practice,
            &provider.id,
            now,
        )?
    } else {
        Outcome::Unknown
    };

    let accepted = matches!(outcome, Outcome::Accepted(_));
    store::upsert(
        &state.store.throttles,
        &provider_key,
        |throttle: &mut Throttle| {
            if !accepted {
                throttle.record_failure(now);
            } else if throttle.is_disabled() {
                throttle.re_enable();
            } else {
                throttle.record_success();
            }
        },
    )?;
    if member_exists {
        store::upsert(
            &state.store.throttles,
            &member_key,
            |throttle: &mut Throttle| {
                if accepted {
                    throttle.record_success();
                } else {
                    throttle.record_failure(now);
                }
            },
        )?;
    }

    drop(member_lock);
    drop(provider_lock);

    match outcome {
        Outcome::Accepted(origin) => {
            // Durable before the provider hears "accepted": after a crash a
            // token is never redeemed twice. (Failure counts are not
            // flushed: a crash may forget the last half second of them.)
            state.store.flush_durable().await?;
            tracing::info!(origin = ?origin, "redeemed a consult token");
            Ok(Json(Redeemed {
                status: "accepted".to_owned(),
                origin,
                practice,
            }))
        }
        Outcome::Used => Err(ApiError::new(
            StatusCode::CONFLICT,
            "token_used",
            "this token was already redeemed; the member must make a new one",
        )),
        Outcome::Expired => Err(ApiError::new(
            StatusCode::GONE,
            "token_expired",
            "this token expired; the member must make a new one",
        )),
        Outcome::Unknown => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "token_unknown",
            "no token of this member has this code; check the digits and the member id",
        )),
        Outcome::PracticeMismatch => Err(ApiError::new(
            StatusCode::CONFLICT,
            "practice_mismatch",
            "this token was made for another practice; the member must make one for this practice",
        )),
    }
}

/// Looks `code` up among the member's online tokens, then their devices'
/// offline windows, and records an acceptance exactly once.
fn find(
    state: &AppState,
    member_id: &str,
    code: &str,
    practice: &str,
    provider_id: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, ApiError> {
    let now_unix = now.timestamp();
    let redemption = || RedemptionRecord {
        practice: practice.to_owned(),
        provider_id: provider_id.to_owned(),
        at: now_unix,
    };
    let online = store::update(
        &state.store.online_tokens,
        format!("{member_id}/{code}"),
        |mut record: OnlineTokenRecord| {
            if record.redemption.is_some() {
                return Update::Keep(Outcome::Used);
            }
            if now_unix >= record.expires_at {
                return Update::Keep(Outcome::Expired);
            }
            if record
                .practice
                .as_deref()
                .is_some_and(|named| !same_practice(named, practice))
            {
                return Update::Keep(Outcome::PracticeMismatch);
            }
            record.redemption = Some(redemption());
            Update::Write(record, Outcome::Accepted(TokenOrigin::Online))
        },
    )?;
    let offline = match online {
        Some(outcome @ (Outcome::Accepted(_) | Outcome::PracticeMismatch)) => return Ok(outcome),
        // A spent online code must not shadow a live offline token that
        // happens to share its digits (online codes are never reused, so
        // the odds grow with the member's history): search the devices too.
        _ => find_offline(state, member_id, code, now, &redemption)?,
    };
    Ok(match (online, offline) {
        (_, Outcome::Accepted(origin)) => Outcome::Accepted(origin),
        (Some(Outcome::Used), _) => Outcome::Used,
        (Some(online), Outcome::Unknown) => online,
        (_, offline) => offline,
    })
}

/// Searches the windows of the member's active devices for `code`, and
/// records the matched counter exactly once.
fn find_offline(
    state: &AppState,
    member_id: &str,
    code: &str,
    now: DateTime<Utc>,
    redemption: &dyn Fn() -> RedemptionRecord,
) -> Result<Outcome, ApiError> {
    let mut outcome = Outcome::Unknown;
    let storage_failed = std::cell::Cell::new(false);
    for (device_id, secret) in device_secrets(state, member_id)? {
        let used_key = |counter: Counter| {
            format!("{member_id}/{device_id}/{:016x}", counter.value()).into_bytes()
        };
        // A storage failure counts as "used": never accept twice.
        let used = |counter: Counter| {
            state
                .store
                .offline_used
                .contains_key(used_key(counter))
                .unwrap_or_else(|_| {
                    storage_failed.set(true);
                    true
                })
        };
        match accept_offline(&secret, code, now, &used) {
            Ok(accepted) => {
                let record = OfflineUseRecord {
                    device_id: device_id.clone(),
                    slot: accepted.counter.slot(),
                    sequence: accepted.counter.sequence(),
                    code: code.to_owned(),
                    expires_at: accepted.expires_at.timestamp(),
                    redemption: redemption(),
                };
                if store::create(
                    &state.store.offline_used,
                    used_key(accepted.counter),
                    &record,
                )? {
                    return Ok(Outcome::Accepted(TokenOrigin::Offline));
                }
                outcome = Outcome::Used;
            }
            Err(TokenRejection::Used { .. }) => outcome = Outcome::Used,
            Err(TokenRejection::Expired { .. }) if outcome == Outcome::Unknown => {
                outcome = Outcome::Expired;
            }
            Err(TokenRejection::ClockOutOfRange { .. }) => {
                tracing::error!("the server clock is before 1970");
                return Err(ApiError::internal());
            }
            Err(_) => {}
        }
    }
    if storage_failed.get() {
        tracing::error!("storage failed during an offline token search");
        return Err(ApiError::internal());
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practices_are_trimmed_and_compared_without_case() {
        assert_eq!(
            practice_of("  Cardiología ").as_deref(),
            Some("Cardiología")
        );
        assert_eq!(practice_of("   "), None);
        assert_eq!(practice_of(""), None);
        assert_eq!(practice_of("a\u{0}b"), None);
        assert_eq!(practice_of(&"x".repeat(101)), None);
        assert!(same_practice("Cardiología", " CARDIOLOGÍA"));
        assert!(!same_practice("Cardiología", "Traumatología"));
    }

    #[test]
    fn sealed_secrets_open_only_for_their_owner() {
        let dir = tempfile::tempdir().unwrap();
        let rng = SystemRandom::new();
        let sealer = SecretSealer::load_or_make(dir.path(), &rng).unwrap();
        let secret = TokenSecret::from_bytes([7; SECRET_LEN]);
        let record = sealer.seal(&rng, "m/d1", &secret, 0).unwrap();
        let opened = sealer.open("m/d1", &record).unwrap();
        assert_eq!(opened.expose_bytes(), secret.expose_bytes());
        assert!(sealer.open("m/d2", &record).is_none());
        // The same key after a restart.
        let again = SecretSealer::load_or_make(dir.path(), &rng).unwrap();
        assert!(again.open("m/d1", &record).is_some());
    }

    #[test]
    fn a_disabled_provider_only_waits() {
        let now = DateTime::from_timestamp(1_772_443_800, 0).unwrap();
        let mut throttle = Throttle::new();
        for _ in 0..100 {
            throttle.record_failure(now);
        }
        assert!(throttle.is_disabled());
        assert_eq!(
            provider_wait(&throttle, now),
            Some(now + chrono::TimeDelta::seconds(500))
        );
        assert_eq!(
            provider_wait(&throttle, now + chrono::TimeDelta::seconds(500)),
            None
        );
    }
}
