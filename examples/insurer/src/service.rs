//! The API: shared state, authentication and the handlers.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{Days, Months, NaiveDate};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use zeroize::Zeroizing;

use carnet_core::account::validate_registration;
use carnet_core::certificate::{InsurerKey, MemberCertificate, P256_PUBLIC_KEY_LEN};
use carnet_core::clock::Clock;
use carnet_core::model::{
    Account, ConfirmEmailRequest, Coverage, DeviceInfo, DeviceList, EnrolDeviceRequest,
    EnrolDeviceResponse, EnrolmentChallenge, JwkSet, LoginRequest, RefreshRequest, RegisterRequest,
    RegisterResponse, SessionTokens, b64, enrolment_message,
};

use crate::error::ApiError;
use crate::extract::{self, ApiJson, ApiPath};
use crate::password;
use crate::pharmacy::{self, Desk};
use crate::store::{
    self, ChallengeRecord, DeviceRecord, LoginRecord, Store, TokenKind, TokenRecord, Update,
    UserRecord,
};
use crate::tokens::{self, RedeemLocks, SecretSealer};

/// Who issues member certificates.
pub(crate) const ISSUER: &str = "carnet-insurer";
/// The plan every member of the reference insurer gets.
const PLAN: &str = "Integral";
/// Its short code, which the member certificate carries instead of the
/// name: every byte counts in the QR (docs/formats/credential.md).
const PLAN_CODE: &str = "INT";
/// Member and device ids: 8 random bytes (16 hex digits), enough to be
/// unique among an insurer's members and devices, checked on creation, and
/// 16 bytes fewer in every QR than 16-byte ids (docs/formats/credential.md).
const ID_BYTES: usize = 8;
/// Fresh ids drawn before giving up on finding an unused one (with 64-bit
/// ids a second draw is already rare).
const ID_ATTEMPTS: usize = 8;
/// Their home region.
const REGION: &str = "AR-M";
/// Refresh tokens live 30 days.
const REFRESH_TTL_SECS: i64 = 30 * 86_400;
/// Enrolment challenges live 5 minutes.
const CHALLENGE_TTL_SECS: i64 = 5 * 60;
/// Member certificates live 90 days.
const CERTIFICATE_TTL_SECS: i64 = 90 * 86_400;
/// Wrong confirmation codes allowed before a pause.
const MAX_WRONG_CODES: u32 = 5;
/// The pause after too many wrong codes.
const CONFIRMATION_LOCK_SECS: i64 = 15 * 60;
/// A device name: 1 to 64 characters.
const MAX_DEVICE_NAME_CHARS: usize = 64;
/// Largest request body.
pub(crate) const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// What every handler shares.
pub(crate) struct AppState {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub rng: SystemRandom,
    pub insurer_key: InsurerKey,
    pub jwks: JwkSet,
    pub access_ttl_secs: i64,
    /// Bounds concurrent PBKDF2 work to the number of cores, so that a
    /// flood of logins queues instead of piling threads on the CPU.
    pub password_work: tokio::sync::Semaphore,
    /// The QR verifier every pharmacy scan goes through.
    pub desk: Desk,
    /// Seals the offline-token secrets at rest.
    pub sealer: SecretSealer,
    /// The same system source, as core's token functions take it.
    pub core_rng: carnet_core::rng::SystemRng,
    /// Serialises redemptions per provider and per member.
    pub redeem_locks: RedeemLocks,
}

/// The member behind a valid bearer access token.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated {
    username: String,
    member_id: String,
    login_id: String,
    token_hash: Vec<u8>,
}

impl Authenticated {
    /// The member's pseudonymous id.
    pub(crate) fn member_id(&self) -> &str {
        &self.member_id
    }
}

fn token_hash(token: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

impl AppState {
    pub(crate) fn now_unix(&self) -> i64 {
        self.clock.now().timestamp()
    }

    fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }

    fn random_bytes(&self, len: usize) -> Result<Vec<u8>, ApiError> {
        let mut bytes = vec![0u8; len];
        self.rng.fill(&mut bytes).map_err(|_| {
            tracing::error!("the system random number generator failed");
            ApiError::internal()
        })?;
        Ok(bytes)
    }

    pub(crate) fn random_id(&self) -> Result<String, ApiError> {
        Ok(hex::encode(self.random_bytes(16)?))
    }

    /// A short id (see [`ID_BYTES`]) that nobody holds yet in `index`,
    /// claimed there for `owner` with an insert-if-absent, so two
    /// registrations or enrolments at once can never get the same id.
    fn unique_short_id(&self, index: &sled::Tree, owner: &str) -> Result<String, ApiError> {
        for _ in 0..ID_ATTEMPTS {
            let id = hex::encode(self.random_bytes(ID_BYTES)?);
            if store::create(index, &id, &owner)? {
                return Ok(id);
            }
        }
        tracing::error!("could not find an unused id");
        Err(ApiError::internal())
    }

    /// A uniformly random 6-digit code.
    fn confirmation_code(&self) -> Result<String, ApiError> {
        const LIMIT: u32 = 4_294_000_000; // a multiple of 10^6 below 2^32
        loop {
            let bytes = self.random_bytes(4)?;
            let value = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if value < LIMIT {
                return Ok(format!("{:06}", value % 1_000_000));
            }
        }
    }

    /// The member behind `token`, if it is a live access token.
    pub(crate) fn authenticate(&self, token: &str) -> Result<Authenticated, ApiError> {
        if token.len() > 512 {
            return Err(ApiError::unauthorized());
        }
        let hash = token_hash(token);
        let Some(record) = store::get::<TokenRecord>(&self.store.sessions, &hash)? else {
            return Err(ApiError::unauthorized());
        };
        if record.kind != TokenKind::Access {
            return Err(ApiError::unauthorized());
        }
        if record.expires_at <= self.now_unix() {
            self.store
                .sessions
                .remove(&hash)
                .map_err(store::StoreError::from)?;
            return Err(ApiError::unauthorized());
        }
        if !self
            .store
            .logins
            .contains_key(&record.login_id)
            .map_err(store::StoreError::from)?
        {
            // Logged out: the token died with its login.
            self.store
                .sessions
                .remove(&hash)
                .map_err(store::StoreError::from)?;
            return Err(ApiError::unauthorized());
        }
        Ok(Authenticated {
            username: record.username,
            member_id: record.member_id,
            login_id: record.login_id,
            token_hash: hash,
        })
    }

    /// A new access and refresh token for a login.
    fn issue_tokens(
        &self,
        login_id: &str,
        username: &str,
        member_id: &str,
    ) -> Result<SessionTokens, ApiError> {
        let now = self.clock.now();
        let access_token = b64::encode(&self.random_bytes(32)?);
        let refresh_token = b64::encode(&self.random_bytes(32)?);
        let access_expires_at = now.timestamp() + self.access_ttl_secs;
        let refresh_expires_at = now.timestamp() + REFRESH_TTL_SECS;
        for (token, kind, expires_at) in [
            (&access_token, TokenKind::Access, access_expires_at),
            (&refresh_token, TokenKind::Refresh, refresh_expires_at),
        ] {
            let record = TokenRecord {
                kind,
                login_id: login_id.to_owned(),
                username: username.to_owned(),
                member_id: member_id.to_owned(),
                expires_at,
            };
            store::put(&self.store.sessions, token_hash(token), &record)?;
        }
        Ok(SessionTokens {
            access_token,
            access_expires_at,
            refresh_token,
            refresh_expires_at,
            server_time_ms: now.timestamp_millis(),
        })
    }

    /// The confirmation code made for `username`, if there is such a user.
    pub(crate) fn stored_confirmation_code(&self, username: &str) -> Option<String> {
        store::get::<UserRecord>(&self.store.users, username)
            .ok()
            .flatten()
            .map(|user| user.confirmation_code)
    }
}

/// The routes, with JSON answers for everything that is refused.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/registrations", post(register))
        .route("/v1/registrations/confirm", post(confirm_email))
        .route("/v1/sessions", post(login))
        .route("/v1/sessions/refresh", post(refresh))
        .route("/v1/sessions/current", delete(logout))
        .route("/v1/account", get(account))
        .route("/v1/devices/challenge", post(challenge))
        .route("/v1/devices", post(enrol_device).get(list_devices))
        .route("/v1/devices/{id}", delete(revoke_device))
        .route("/v1/devices/{id}/token-secret", post(tokens::token_secret))
        .route("/v1/tokens", post(tokens::issue).get(tokens::history))
        .route("/v1/tokens/re-enable", post(tokens::re_enable))
        .route("/v1/provider/redeem", post(tokens::redeem))
        .route("/v1/pharmacy/identify", post(pharmacy::identify))
        .route("/v1/pharmacy/settle", post(pharmacy::settle))
        .route("/v1/transactions", get(pharmacy::list_transactions))
        .route("/.well-known/jwks.json", get(jwks))
        .merge(crate::requests::routes())
        .merge(crate::renewal::routes())
        .fallback(extract::route_not_found)
        .method_not_allowed_fallback(extract::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(axum::middleware::map_response(extract::ensure_json_errors))
        .layer(axum::middleware::from_fn(extract::log_requests))
        .with_state(state)
}

/// Runs password hashing or checking off the async threads, a bounded
/// number at a time.
async fn password_work<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = state
        .password_work
        .acquire()
        .await
        .map_err(|_| ApiError::internal())?;
    tokio::task::spawn_blocking(work).await.map_err(|_| {
        tracing::error!("a password task failed");
        ApiError::internal()
    })
}

/// `YYYY-MM-DD` exactly (RFC 3339 `full-date`): chrono alone would also take
/// `1984-3-9` or surrounding spaces, which the API does not promise.
fn is_full_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

/// The registration in `body`, with its birth date in the strict format.
fn registration_of(body: serde_json::Value) -> Result<RegisterRequest, ApiError> {
    if let Some(date) = body.get("birth_date").and_then(serde_json::Value::as_str)
        && !is_full_date(date)
    {
        return Err(ApiError::invalid_fields(
            vec!["birth_date".to_owned()],
            "the birth date must be an ISO 8601 date (YYYY-MM-DD)",
        ));
    }
    extract::from_value(body)
}

async fn register(
    State(state): State<Arc<AppState>>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    let request = registration_of(body)?;
    let today = state.today();
    let request = validate_registration(&request, today).map_err(|problems| {
        let mut fields: Vec<String> = Vec::new();
        for problem in &problems {
            let name = problem.field().wire_name().to_owned();
            if !fields.contains(&name) {
                fields.push(name);
            }
        }
        let message = problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        ApiError::invalid_fields(fields, message)
    })?;
    let email_key = request.email.to_lowercase();
    let taken = || {
        ApiError::new(
            StatusCode::CONFLICT,
            "username_taken",
            "that username or e-mail address is already registered",
        )
    };
    // Cheap checks before the costly hash; the compare-and-swaps below decide.
    if state
        .store
        .users
        .contains_key(&request.username)
        .map_err(store::StoreError::from)?
        || state
            .store
            .emails
            .contains_key(&email_key)
            .map_err(store::StoreError::from)?
    {
        return Err(taken());
    }
    let secret = Zeroizing::new(request.password.clone());
    let hashing_state = Arc::clone(&state);
    let password = password_work(&state, move || password::hash(&secret, &hashing_state.rng))
        .await?
        .ok_or_else(ApiError::internal)?;
    let now = state.now_unix();
    let code = state.confirmation_code()?;
    let member_id = state.unique_short_id(&state.store.members, &request.username)?;
    let valid_until = today
        .checked_add_months(Months::new(12))
        .or_else(|| today.checked_add_days(Days::new(365)))
        .unwrap_or(today);
    let card_last4 = request
        .card_number
        .get(request.card_number.len().saturating_sub(4)..)
        .unwrap_or_default()
        .to_owned();
    let user = UserRecord {
        username: request.username.clone(),
        member_id: member_id.clone(),
        email: request.email.clone(),
        affiliate_number: request.affiliate_number.clone(),
        card_last4,
        birth_date: request.birth_date,
        coverage: Coverage {
            plan: PLAN.to_owned(),
            region: REGION.to_owned(),
            valid_until,
        },
        password,
        confirmed: false,
        confirmation_code: code.clone(),
        failed_confirmations: 0,
        confirmation_locked_until: None,
        created_at: now,
    };
    if !store::create(&state.store.users, &request.username, &user)? {
        release_member_id(&state, &member_id)?;
        return Err(taken());
    }
    if !store::create(&state.store.emails, &email_key, &request.username)? {
        // Another registration took the e-mail address meanwhile: undo ours.
        state
            .store
            .users
            .remove(&request.username)
            .map_err(store::StoreError::from)?;
        release_member_id(&state, &member_id)?;
        return Err(taken());
    }
    tracing::info!("confirmation code for '{}': {}", request.username, code);
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            username: request.username,
            confirmation_required: true,
        }),
    ))
}

fn codes_match(expected: &str, given: &str) -> bool {
    // Compare digests, so that the time taken says nothing about the code.
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    digest(expected).as_ref() == digest(given).as_ref()
}

enum Confirmation {
    Confirmed,
    WrongCode,
    Locked { retry_after_secs: i64 },
}

async fn confirm_email(
    State(state): State<Arc<AppState>>,
    ApiJson(request): ApiJson<ConfirmEmailRequest>,
) -> Result<StatusCode, ApiError> {
    let now = state.now_unix();
    let outcome = store::update(
        &state.store.users,
        &request.username,
        |mut user: UserRecord| {
            if let Some(until) = user.confirmation_locked_until {
                if now < until {
                    return Update::Keep(Confirmation::Locked {
                        retry_after_secs: until - now,
                    });
                }
                user.confirmation_locked_until = None;
                user.failed_confirmations = 0;
            }
            if codes_match(&user.confirmation_code, &request.code) {
                user.confirmed = true;
                user.failed_confirmations = 0;
                Update::Write(user, Confirmation::Confirmed)
            } else {
                user.failed_confirmations += 1;
                if user.failed_confirmations >= MAX_WRONG_CODES {
                    user.confirmation_locked_until = Some(now + CONFIRMATION_LOCK_SECS);
                }
                Update::Write(user, Confirmation::WrongCode)
            }
        },
    )?;
    match outcome {
        None => Err(ApiError::not_found("no such registration")),
        Some(Confirmation::Confirmed) => Ok(StatusCode::NO_CONTENT),
        Some(Confirmation::WrongCode) => Err(ApiError::bad_request(
            "wrong_code",
            "the confirmation code is not the one sent",
        )),
        Some(Confirmation::Locked { retry_after_secs }) => {
            Err(ApiError::too_many_attempts(retry_after_secs))
        }
    }
}

async fn login(
    State(state): State<Arc<AppState>>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<SessionTokens>, ApiError> {
    let user = store::get::<UserRecord>(&state.store.users, &request.username)?;
    let secret = Zeroizing::new(request.password);
    let (user, matches) = password_work(&state, move || {
        let matches = match &user {
            Some(user) => password::verify(&secret, &user.password),
            None => password::verify_dummy(&secret),
        };
        (user, matches)
    })
    .await?;
    let user = match user {
        Some(user) if matches => user,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "wrong_credentials",
                "the username or the password is wrong",
            ));
        }
    };
    if !user.confirmed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "email_not_confirmed",
            "confirm the e-mail address first",
        ));
    }
    let login_id = state.random_id()?;
    store::put(
        &state.store.logins,
        &login_id,
        &LoginRecord {
            username: user.username.clone(),
            created_at: state.now_unix(),
        },
    )?;
    Ok(Json(state.issue_tokens(
        &login_id,
        &user.username,
        &user.member_id,
    )?))
}

async fn refresh(
    State(state): State<Arc<AppState>>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Json<SessionTokens>, ApiError> {
    let invalid = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the refresh token is not valid; log in again",
        )
    };
    if request.refresh_token.len() > 512 {
        return Err(invalid());
    }
    let hash = token_hash(&request.refresh_token);
    let Some((record, raw)) = store::get_raw::<TokenRecord>(&state.store.sessions, &hash)? else {
        return Err(invalid());
    };
    if record.kind != TokenKind::Refresh {
        return Err(invalid());
    }
    // Single use: whoever removes it first gets the new pair.
    if !store::remove_if_unchanged(&state.store.sessions, &hash, &raw)? {
        return Err(invalid());
    }
    if record.expires_at <= state.now_unix()
        || !state
            .store
            .logins
            .contains_key(&record.login_id)
            .map_err(store::StoreError::from)?
    {
        return Err(invalid());
    }
    Ok(Json(state.issue_tokens(
        &record.login_id,
        &record.username,
        &record.member_id,
    )?))
}

async fn logout(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .logins
        .remove(&member.login_id)
        .map_err(store::StoreError::from)?;
    state
        .store
        .sessions
        .remove(&member.token_hash)
        .map_err(store::StoreError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account behind `member`'s token.
pub(crate) fn user_of(state: &AppState, member: &Authenticated) -> Result<UserRecord, ApiError> {
    store::get::<UserRecord>(&state.store.users, &member.username)?
        .filter(|user| user.member_id == member.member_id)
        .ok_or_else(ApiError::unauthorized)
}

async fn account(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
) -> Result<Json<Account>, ApiError> {
    let user = user_of(&state, &member)?;
    Ok(Json(Account {
        member_id: user.member_id,
        username: user.username,
        email: user.email,
        affiliate_number: user.affiliate_number,
        card_last4: user.card_last4,
        birth_date: user.birth_date,
        coverage: user.coverage,
    }))
}

async fn challenge(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
) -> Result<Json<EnrolmentChallenge>, ApiError> {
    let challenge = b64::encode(&state.random_bytes(32)?);
    let expires_at = state.now_unix() + CHALLENGE_TTL_SECS;
    store::put(
        &state.store.challenges,
        &challenge,
        &ChallengeRecord {
            member_id: member.member_id,
            expires_at,
        },
    )?;
    Ok(Json(EnrolmentChallenge {
        challenge,
        expires_at,
    }))
}

/// The `devices` key of a member's device.
/// Frees a member id claimed by a registration that then failed.
fn release_member_id(state: &AppState, member_id: &str) -> Result<(), ApiError> {
    state
        .store
        .members
        .remove(member_id)
        .map_err(store::StoreError::from)?;
    Ok(())
}

/// The short code the certificate carries for a plan's name.
fn plan_code(plan: &str) -> &str {
    if plan == PLAN { PLAN_CODE } else { plan }
}

pub(crate) fn device_key(member_id: &str, device_id: &str) -> String {
    format!("{member_id}/{device_id}")
}

/// Whether `id` looks like a server-made 16-byte id (32 lower-case hex).
pub(crate) fn is_hex_id(id: &str) -> bool {
    id.len() == 32 && is_lower_hex(id)
}

/// Whether `id` looks like a member or device id ([`ID_BYTES`] bytes, hex).
pub(crate) fn is_short_id(id: &str) -> bool {
    id.len() == 2 * ID_BYTES && is_lower_hex(id)
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The checked fields of an enrolment (or renewal) body: the device name,
/// trimmed, and the public key's SEC1 bytes; 422 `invalid_field` naming the
/// fields that break the rules.
pub(crate) fn enrolment_fields(
    request: &EnrolDeviceRequest,
) -> Result<(String, Vec<u8>), ApiError> {
    // 1 to 64 characters, no control characters, not only spaces; stored trimmed.
    let name = request.name.trim();
    let mut fields = Vec::new();
    let name_chars = request.name.chars().count();
    if name.is_empty()
        || name_chars > MAX_DEVICE_NAME_CHARS
        || request.name.chars().any(char::is_control)
    {
        fields.push("name".to_owned());
    }
    let public_key = b64::decode(&request.public_key)
        .filter(|key| key.len() == P256_PUBLIC_KEY_LEN && key.first() == Some(&4));
    if public_key.is_none() {
        fields.push("public_key".to_owned());
    }
    let Some(public_key) = public_key.filter(|_| fields.is_empty()) else {
        return Err(ApiError::invalid_fields(
            fields,
            "the device name must be 1 to 64 characters and the key an uncompressed P-256 point",
        ));
    };
    Ok((name.to_owned(), public_key))
}

/// Uses up `challenge`: it must have been issued to `member`, not used yet
/// and not expired. One attempt per challenge, whatever its outcome, so a
/// failed signature cannot be retried on the same challenge.
pub(crate) fn take_challenge(
    state: &AppState,
    member: &Authenticated,
    challenge: &str,
) -> Result<(), ApiError> {
    let bad_challenge = |message: &'static str| ApiError::bad_request("invalid_challenge", message);
    let unknown = || bad_challenge("the challenge was not issued or was already used");
    let Some((issued, raw)) =
        store::get_raw::<ChallengeRecord>(&state.store.challenges, challenge)?
    else {
        return Err(unknown());
    };
    if issued.member_id != member.member_id {
        return Err(unknown());
    }
    if !store::remove_if_unchanged(&state.store.challenges, challenge, &raw)? {
        return Err(unknown());
    }
    if issued.expires_at <= state.now_unix() {
        return Err(bad_challenge("the challenge expired; ask for a new one"));
    }
    Ok(())
}

/// Whether `request.signature` is `public_key`'s signature over the
/// [`enrolment_message`] of the request's challenge and public key text.
pub(crate) fn device_signature_verifies(public_key: &[u8], request: &EnrolDeviceRequest) -> bool {
    b64::decode(&request.signature).is_some_and(|signature| {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key)
            .verify(
                &enrolment_message(&request.challenge, &request.public_key),
                &signature,
            )
            .is_ok()
    })
}

/// The refusal of a signature that does not verify with the device key.
pub(crate) fn bad_signature() -> ApiError {
    ApiError::bad_request(
        "bad_signature",
        "the signature does not verify with the enrolled key",
    )
}

/// Signs a member certificate for `member`'s device `device_id` binding
/// `public_key` (SEC1 uncompressed), valid [`CERTIFICATE_TTL_SECS`] from
/// `now`, with `user`'s coverage as it is today. Shared by enrolment
/// and renewal so that both issue exactly the same claims.
/// Returns the COSE bytes and the expiry (Unix seconds).
pub(crate) fn issue_certificate(
    state: &AppState,
    member: &Authenticated,
    user: UserRecord,
    device_id: &str,
    public_key: Vec<u8>,
    now: i64,
) -> Result<(Vec<u8>, i64), ApiError> {
    let expires_at = now + CERTIFICATE_TTL_SECS;
    let certificate = MemberCertificate {
        issuer: ISSUER.to_owned(),
        member_id: member.member_id.clone(),
        device_id: device_id.to_owned(),
        device_public_key: public_key,
        coverage: Coverage {
            plan: plan_code(&user.coverage.plan).to_owned(),
            ..user.coverage
        },
        issued_at: now,
        expires_at,
    };
    let signed = state.insurer_key.issue(&certificate).map_err(|error| {
        tracing::error!(%error, "could not sign a member certificate");
        ApiError::internal()
    })?;
    Ok((signed, expires_at))
}

async fn enrol_device(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
    ApiJson(request): ApiJson<EnrolDeviceRequest>,
) -> Result<(StatusCode, Json<EnrolDeviceResponse>), ApiError> {
    let (name, public_key) = enrolment_fields(&request)?;
    take_challenge(&state, &member, &request.challenge)?;
    if !device_signature_verifies(&public_key, &request) {
        return Err(bad_signature());
    }

    let user = user_of(&state, &member)?;
    let now = state.now_unix();
    let device_id = state.unique_short_id(&state.store.device_ids, &member.member_id)?;
    let (signed, expires_at) =
        issue_certificate(&state, &member, user, &device_id, public_key, now)?;
    let info = DeviceInfo {
        id: device_id.clone(),
        name,
        enrolled_at: now,
        certificate_expires_at: expires_at,
        revoked_at: None,
    };
    store::put(
        &state.store.devices,
        device_key(&member.member_id, &device_id),
        &DeviceRecord {
            member_id: member.member_id.clone(),
            info: info.clone(),
            public_key: request.public_key,
        },
    )?;
    tracing::info!("enrolled a device");
    Ok((
        StatusCode::CREATED,
        Json(EnrolDeviceResponse {
            device: info,
            certificate: b64::encode(&signed),
        }),
    ))
}

async fn list_devices(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
) -> Result<Json<DeviceList>, ApiError> {
    let mut devices = Vec::new();
    for entry in state
        .store
        .devices
        .scan_prefix(device_key(&member.member_id, ""))
    {
        let (_, bytes) = entry.map_err(store::StoreError::from)?;
        let record: DeviceRecord =
            serde_json::from_slice(&bytes).map_err(store::StoreError::from)?;
        devices.push(record.info);
    }
    devices.sort_by(|a, b| (a.enrolled_at, &a.id).cmp(&(b.enrolled_at, &b.id)));
    Ok(Json(DeviceList { devices }))
}

async fn revoke_device(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let not_found = || ApiError::not_found("no such device");
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let now = state.now_unix();
    let revoked = store::update(
        &state.store.devices,
        device_key(&member.member_id, &id),
        |mut record: DeviceRecord| {
            if record.info.revoked_at.is_some() {
                return Update::Keep(());
            }
            record.info.revoked_at = Some(now);
            Update::Write(record, ())
        },
    )?;
    match revoked {
        Some(()) => {
            state.desk.revoke(&id, state.clock.now());
            tracing::info!("revoked a device");
            Ok(StatusCode::NO_CONTENT)
        }
        None => Err(not_found()),
    }
}

async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let mut response = Json(state.jwks.clone()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_dates_must_be_full_dates() {
        assert!(is_full_date("1984-03-09"));
        for loose in [
            "1984-3-9",
            " 1984-03-09",
            "1984-03-09 ",
            "+1984-03-09",
            "1984/03/09",
            "",
        ] {
            assert!(!is_full_date(loose), "{loose:?}");
        }
        let body = serde_json::json!({
            "affiliate_number": "1234", "card_number": "1234567812345678",
            "birth_date": "1984-3-9", "username": "abcde", "password": "abcdefg1",
            "email": "a@b.cd"
        });
        let error = registration_of(body).unwrap_err();
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(format!("{error:?}").contains("birth_date"));
    }
}
