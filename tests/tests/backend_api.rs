//! The reference insurer's HTTP API, over real HTTPS on loopback: what the
//! app (and any other client) relies on, status by status and field by field.
//!
//! The client is reqwest on a rustls config built with ring that trusts only
//! the backend's own CA, as the app does in development.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use carnet_core::certificate::{TrustList, verify};
use carnet_core::clock::FixedClock;
use carnet_core::model::{
    Account, ApiErrorBody, DeviceList, EnrolDeviceResponse, EnrolmentChallenge, JwkSet,
    RegisterResponse, SessionTokens, b64, enrolment_message,
};
use carnet_e2e::backend::{MEMBER_PASSWORD, RawBackend, registration};
use carnet_insurer::InsurerConfig;
use reqwest::{Method, StatusCode};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// A backend in a temporary directory and a client that trusts its CA.
struct Backend {
    raw: RawBackend,
    _dir: Option<tempfile::TempDir>,
}

impl Deref for Backend {
    type Target = RawBackend;

    fn deref(&self) -> &RawBackend {
        &self.raw
    }
}

impl Backend {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut backend = Self::start_in(dir.path(), None).await;
        backend._dir = Some(dir);
        backend
    }

    async fn start_in(dir: &Path, clock: Option<Arc<FixedClock>>) -> Self {
        let config = InsurerConfig::new(dir.join("insurer"));
        let insurer = match clock {
            Some(clock) => carnet_insurer::start_with_clock(config, clock).await,
            None => carnet_insurer::start(config).await,
        }
        .unwrap();
        Self {
            raw: RawBackend::new(insurer),
            _dir: None,
        }
    }

    async fn shutdown(self) {
        self.raw.shutdown().await;
    }

    async fn jwks(&self) -> JwkSet {
        let (status, _, body) = self
            .send(Method::GET, "/.well-known/jwks.json", None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        serde_json::from_value(body).unwrap()
    }

    /// Registers `username` (201) and confirms it (204).
    async fn register_and_confirm(&self, username: &str) {
        let registered: RegisterResponse =
            serde_json::from_value(self.register(username).await).unwrap();
        assert_eq!(registered.username, username);
        assert!(registered.confirmation_required);
        self.confirm(username).await;
    }

    async fn login(&self, username: &str) -> SessionTokens {
        serde_json::from_value(self.log_in(username).await).unwrap()
    }

    async fn member(&self, username: &str) -> SessionTokens {
        self.register_and_confirm(username).await;
        self.login(username).await
    }
}

fn error_of(body: &Value) -> ApiErrorBody {
    serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("not an error body: {body}: {e}"))
}

#[track_caller]
fn assert_error(status: StatusCode, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status.as_u16(), expected_status, "{body}");
    assert_eq!(error_of(body).code, code, "{body}");
}

/// A software P-256 device key, as the core makes one.
struct DeviceKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl DeviceKey {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Self { pair, rng }
    }

    fn public_b64(&self) -> String {
        b64::encode(self.pair.public_key().as_ref())
    }

    fn enrolment(&self, name: &str, challenge: &str) -> Value {
        let public_key = self.public_b64();
        let signature = self
            .pair
            .sign(&self.rng, &enrolment_message(challenge, &public_key))
            .unwrap();
        json!({
            "name": name,
            "public_key": public_key,
            "challenge": challenge,
            "signature": b64::encode(signature.as_ref()),
        })
    }
}

async fn challenge(backend: &Backend, token: &str) -> EnrolmentChallenge {
    let (status, body) = backend
        .post("/v1/devices/challenge", Some(token), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).unwrap()
}

#[tokio::test]
async fn each_invalid_registration_field_is_named_in_a_422() {
    let backend = Backend::start().await;
    let cases: &[(&str, Value)] = &[
        ("affiliate_number", json!("12a")),
        ("affiliate_number", json!("1234/123")),
        ("card_number", json!("6034 9300 0012 345")),
        ("card_number", json!("6034-9300-0012-345X")),
        ("birth_date", json!("2999-01-01")),
        ("birth_date", json!("1850-01-01")),
        ("birth_date", json!("09/03/1984")),
        ("username", json!("abcd")),
        ("username", json!("a".repeat(26))),
        ("username", json!("maria lopez")),
        ("password", json!("Clave12")),
        ("password", json!("Clave1234567890x")),
        ("password", json!("clavesinnumero")),
        ("password", json!("12345678")),
        ("password", json!("Clave_2024")),
        ("email", json!("maria.example.org")),
        ("email", json!("maria@localhost")),
        ("username", json!(42)),
    ];
    for (field, value) in cases {
        let mut body = registration("valid.name");
        body[*field] = value.clone();
        let (status, answer) = backend.post("/v1/registrations", None, body).await;
        assert_error(status, &answer, 422, "invalid_field");
        assert_eq!(
            error_of(&answer).fields,
            vec![field.to_string()],
            "{field}={value}"
        );
        // The message explains the rule without echoing the value.
        if let Some(text) = value.as_str() {
            assert!(!error_of(&answer).message.contains(text), "{answer}");
        }
    }

    // A missing field is named too; an unknown one is refused.
    let mut body = registration("valid.name");
    body.as_object_mut().unwrap().remove("email");
    let (status, answer) = backend.post("/v1/registrations", None, body).await;
    assert_error(status, &answer, 422, "invalid_field");
    assert_eq!(error_of(&answer).fields, vec!["email".to_owned()]);
    let mut body = registration("valid.name");
    body["is_admin"] = json!(true);
    let (status, answer) = backend.post("/v1/registrations", None, body).await;
    assert_error(status, &answer, 422, "invalid_field");

    // Everything wrong at once: every field, in form order.
    let (status, answer) = backend
        .post(
            "/v1/registrations",
            None,
            json!({"affiliate_number": "", "card_number": "", "birth_date": "2999-01-01",
                   "username": "", "password": "", "email": ""}),
        )
        .await;
    assert_error(status, &answer, 422, "invalid_field");
    assert_eq!(
        error_of(&answer).fields,
        [
            "affiliate_number",
            "card_number",
            "birth_date",
            "username",
            "password",
            "email"
        ]
    );

    // None of those created an account.
    assert_eq!(backend.insurer.confirmation_code("valid.name"), None);
    backend.shutdown().await;
}

#[tokio::test]
async fn register_confirm_login_refresh_and_logout() {
    let backend = Backend::start().await;
    let (status, body) = backend
        .post("/v1/registrations", None, registration("maria.lopez"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Taken username, or taken e-mail under another username: 409.
    let (status, body) = backend
        .post("/v1/registrations", None, registration("maria.lopez"))
        .await;
    assert_error(status, &body, 409, "username_taken");
    let mut same_email = registration("other.name");
    same_email["email"] = json!("Maria.Lopez@example.org");
    let (status, body) = backend.post("/v1/registrations", None, same_email).await;
    assert_error(status, &body, 409, "username_taken");

    // Not confirmed yet: the right password gets 403, a wrong one 401.
    let login = json!({"username": "maria.lopez", "password": MEMBER_PASSWORD});
    let (status, body) = backend.post("/v1/sessions", None, login.clone()).await;
    assert_error(status, &body, 403, "email_not_confirmed");

    // Confirmation: wrong code 400, unknown user 404, right code 204.
    let code = backend.insurer.confirmation_code("maria.lopez").unwrap();
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let (status, body) = backend
        .post(
            "/v1/registrations/confirm",
            None,
            json!({"username": "maria.lopez", "code": wrong}),
        )
        .await;
    assert_error(status, &body, 400, "wrong_code");
    let (status, body) = backend
        .post(
            "/v1/registrations/confirm",
            None,
            json!({"username": "nobody.here", "code": code}),
        )
        .await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = backend
        .post(
            "/v1/registrations/confirm",
            None,
            json!({"username": "maria.lopez", "code": code}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // Wrong password and unknown username get the same answer.
    let (status, wrong_password) = backend
        .post(
            "/v1/sessions",
            None,
            json!({"username": "maria.lopez", "password": "Clave2025"}),
        )
        .await;
    assert_error(status, &wrong_password, 401, "wrong_credentials");
    let (status, unknown_user) = backend
        .post(
            "/v1/sessions",
            None,
            json!({"username": "nobody.here", "password": MEMBER_PASSWORD}),
        )
        .await;
    assert_error(status, &unknown_user, 401, "wrong_credentials");
    assert_eq!(wrong_password, unknown_user);

    // Login.
    let before_ms = chrono::Utc::now().timestamp_millis();
    let tokens = backend.login("maria.lopez").await;
    let after_ms = chrono::Utc::now().timestamp_millis();
    assert!((before_ms - 1000..=after_ms + 1000).contains(&tokens.server_time_ms));
    let now = tokens.server_time_ms / 1000;
    assert!((now + 14 * 60..=now + 15 * 60 + 1).contains(&tokens.access_expires_at));
    assert!((now + 29 * 86_400..=now + 30 * 86_400 + 1).contains(&tokens.refresh_expires_at));
    assert_ne!(tokens.access_token, tokens.refresh_token);
    assert_eq!(b64::decode(&tokens.access_token).unwrap().len(), 32);

    // The account: the card's last four digits only.
    let (status, body) = backend.get("/v1/account", &tokens.access_token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let account: Account = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(account.username, "maria.lopez");
    assert_eq!(account.email, "maria.lopez@example.org");
    assert_eq!(account.affiliate_number, "123456/01");
    assert_eq!(account.card_last4, "3456");
    assert!(!body.to_string().contains("6034"));
    // 8-byte ids keep the QR at version 12 (docs/formats/credential.md).
    assert_eq!(account.member_id.len(), 16);
    assert!(account.member_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(account.coverage.plan, "Integral");
    assert_eq!(account.coverage.region, "AR-M");
    let today = chrono::Utc::now().date_naive();
    let in_a_year = today.checked_add_months(chrono::Months::new(12)).unwrap();
    assert!(
        (in_a_year - chrono::Days::new(1)..=in_a_year + chrono::Days::new(1))
            .contains(&account.coverage.valid_until)
    );

    // The refresh token is not an access token, and vice versa.
    let (status, body) = backend.get("/v1/account", &tokens.refresh_token).await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, body) = backend
        .post(
            "/v1/sessions/refresh",
            None,
            json!({"refresh_token": tokens.access_token}),
        )
        .await;
    assert_error(status, &body, 401, "invalid_token");

    // Refresh rotates: a new pair, and the old refresh token is dead.
    let (status, body) = backend
        .post(
            "/v1/sessions/refresh",
            None,
            json!({"refresh_token": tokens.refresh_token}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rotated: SessionTokens = serde_json::from_value(body).unwrap();
    assert_ne!(rotated.access_token, tokens.access_token);
    assert_ne!(rotated.refresh_token, tokens.refresh_token);
    let (status, body) = backend
        .post(
            "/v1/sessions/refresh",
            None,
            json!({"refresh_token": tokens.refresh_token}),
        )
        .await;
    assert_error(status, &body, 401, "invalid_token");
    let (status, _) = backend.get("/v1/account", &rotated.access_token).await;
    assert_eq!(status, StatusCode::OK);

    // A second login is a separate session.
    let other_session = backend.login("maria.lopez").await;

    // Logout revokes this session: its access and refresh tokens die.
    let (status, _, body) = backend
        .send(
            Method::DELETE,
            "/v1/sessions/current",
            Some(&rotated.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, headers, body) = backend
        .send(
            Method::GET,
            "/v1/account",
            Some(&rotated.access_token),
            None,
        )
        .await;
    assert_error(status, &body, 401, "unauthorized");
    assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
    let (status, body) = backend
        .post(
            "/v1/sessions/refresh",
            None,
            json!({"refresh_token": rotated.refresh_token}),
        )
        .await;
    assert_error(status, &body, 401, "invalid_token");
    // ...but not the other session.
    let (status, _) = backend
        .get("/v1/account", &other_session.access_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    backend.shutdown().await;
}

#[tokio::test]
async fn five_wrong_confirmation_codes_lock_confirmation() {
    let backend = Backend::start().await;
    let (status, _) = backend
        .post("/v1/registrations", None, registration("guessed.user"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let code = backend.insurer.confirmation_code("guessed.user").unwrap();
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for _ in 0..5 {
        let (status, body) = backend
            .post(
                "/v1/registrations/confirm",
                None,
                json!({"username": "guessed.user", "code": wrong}),
            )
            .await;
        assert_error(status, &body, 400, "wrong_code");
    }
    // Now even the right code is refused for a while, with Retry-After.
    let (status, headers, body) = backend
        .send(
            Method::POST,
            "/v1/registrations/confirm",
            None,
            Some(json!({"username": "guessed.user", "code": code})),
        )
        .await;
    assert_error(status, &body, 429, "too_many_attempts");
    let retry_after: u64 = headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry_after));
    backend.shutdown().await;
}

#[tokio::test]
async fn concurrent_registrations_of_one_username_make_one_account() {
    let backend = Arc::new(Backend::start().await);
    let mut tasks = Vec::new();
    for i in 0..4 {
        let backend = Arc::clone(&backend);
        tasks.push(tokio::spawn(async move {
            let mut body = registration("racing.user");
            body["email"] = json!(format!("racer{i}@example.org"));
            backend.post("/v1/registrations", None, body).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            _ => assert_error(status, &body, 409, "username_taken"),
        }
    }
    assert_eq!(created, 1);
    let backend = Arc::into_inner(backend).unwrap();
    backend.shutdown().await;
}

#[tokio::test]
async fn an_enrolled_device_gets_a_certificate_that_verifies_against_the_jwks() {
    let backend = Backend::start().await;
    let tokens = backend.member("device.owner").await;
    let token = tokens.access_token.as_str();
    let (_, account) = backend.get("/v1/account", token).await;
    let account: Account = serde_json::from_value(account).unwrap();

    let key = DeviceKey::new();
    let issued = challenge(&backend, token).await;
    assert_eq!(b64::decode(&issued.challenge).unwrap().len(), 32);
    let now = chrono::Utc::now().timestamp();
    assert!((now + 4 * 60..=now + 5 * 60 + 1).contains(&issued.expires_at));
    let (status, body) = backend
        .post(
            "/v1/devices",
            Some(token),
            key.enrolment("Pixel 8", &issued.challenge),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let enrolled: EnrolDeviceResponse = serde_json::from_value(body).unwrap();
    assert_eq!(enrolled.device.name, "Pixel 8");
    assert_eq!(enrolled.device.revoked_at, None);

    // The certificate verifies with the published key, and says what we expect.
    let jwks = backend.jwks().await;
    assert_eq!(jwks, backend.insurer.jwks());
    let trust = TrustList::from_jwks(&jwks);
    let bytes = b64::decode(&enrolled.certificate).unwrap();
    let certificate = verify(&bytes, &trust, chrono::Utc::now().timestamp()).unwrap();
    assert_eq!(certificate.issuer, "carnet-insurer");
    assert_eq!(certificate.member_id, account.member_id);
    assert_eq!(certificate.device_id, enrolled.device.id);
    assert_eq!(
        certificate.device_public_key,
        key.pair.public_key().as_ref()
    );
    // The certificate carries the plan's short code, the account its name.
    assert_eq!(account.coverage.plan, "Integral");
    assert_eq!(certificate.coverage.plan, "INT");
    assert_eq!(certificate.coverage.region, account.coverage.region);
    assert_eq!(
        certificate.coverage.valid_until,
        account.coverage.valid_until
    );
    assert_eq!(enrolled.device.id.len(), 16);
    assert_eq!(certificate.expires_at - certificate.issued_at, 90 * 86_400);
    assert_eq!(
        certificate.expires_at,
        enrolled.device.certificate_expires_at
    );
    assert_eq!(certificate.issued_at, enrolled.device.enrolled_at);
    // ...and not with some other insurer's key.
    let (stranger, _) = carnet_core::certificate::InsurerKey::generate().unwrap();
    let strangers = TrustList::from_jwks(&JwkSet {
        keys: vec![stranger.jwk()],
    });
    assert!(verify(&bytes, &strangers, now).is_err());

    // A challenge is single-use.
    let (status, body) = backend
        .post(
            "/v1/devices",
            Some(token),
            key.enrolment("Pixel 8", &issued.challenge),
        )
        .await;
    assert_error(status, &body, 400, "invalid_challenge");
    // A challenge the server never issued.
    let made_up = b64::encode(&[7u8; 32]);
    let (status, body) = backend
        .post(
            "/v1/devices",
            Some(token),
            key.enrolment("Pixel 8", &made_up),
        )
        .await;
    assert_error(status, &body, 400, "invalid_challenge");

    // A signature by another key than the one enrolled.
    let fresh = challenge(&backend, token).await;
    let mut forged = key.enrolment("Pixel 8", &fresh.challenge);
    forged["public_key"] = json!(DeviceKey::new().public_b64());
    let (status, body) = backend.post("/v1/devices", Some(token), forged).await;
    assert_error(status, &body, 400, "bad_signature");
    // A signature over something else.
    let fresh = challenge(&backend, token).await;
    let mut tampered = key.enrolment("Pixel 8", &fresh.challenge);
    tampered["signature"] = key.enrolment("Pixel 8", "other")["signature"].clone();
    let (status, body) = backend.post("/v1/devices", Some(token), tampered).await;
    assert_error(status, &body, 400, "bad_signature");
    // A key that is not a P-256 point, and an empty name.
    let fresh = challenge(&backend, token).await;
    let mut bad = key.enrolment("", &fresh.challenge);
    bad["public_key"] = json!(b64::encode(&[4u8; 12]));
    let (status, body) = backend.post("/v1/devices", Some(token), bad).await;
    assert_error(status, &body, 422, "invalid_field");
    assert_eq!(error_of(&body).fields, ["name", "public_key"]);

    // Another member cannot use my challenge.
    let intruder = backend.member("intruder.user").await;
    let mine = challenge(&backend, token).await;
    let (status, body) = backend
        .post(
            "/v1/devices",
            Some(&intruder.access_token),
            key.enrolment("Evil", &mine.challenge),
        )
        .await;
    assert_error(status, &body, 400, "invalid_challenge");
    // ...and the challenge is still mine.
    let (status, body) = backend
        .post(
            "/v1/devices",
            Some(token),
            DeviceKey::new().enrolment("iPhone", &mine.challenge),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let second: EnrolDeviceResponse = serde_json::from_value(body).unwrap();

    // The list holds both devices, oldest first.
    let (status, body) = backend.get("/v1/devices", token).await;
    assert_eq!(status, StatusCode::OK);
    let list: DeviceList = serde_json::from_value(body).unwrap();
    let ids: Vec<_> = list.devices.iter().map(|d| d.id.clone()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&enrolled.device.id) && ids.contains(&second.device.id));
    let (_, body) = backend.get("/v1/devices", &intruder.access_token).await;
    assert_eq!(
        serde_json::from_value::<DeviceList>(body).unwrap().devices,
        vec![]
    );

    // Another member cannot revoke it: 404, as for an unknown device.
    let path = format!("/v1/devices/{}", enrolled.device.id);
    let (status, _, body) = backend
        .send(Method::DELETE, &path, Some(&intruder.access_token), None)
        .await;
    assert_error(status, &body, 404, "not_found");
    let (status, _, body) = backend
        .send(
            Method::DELETE,
            "/v1/devices/00112233445566778899aabbccddeeff",
            Some(token),
            None,
        )
        .await;
    assert_error(status, &body, 404, "not_found");

    // Revoking sets revoked_at; revoking again changes nothing.
    let (status, _, body) = backend.send(Method::DELETE, &path, Some(token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, body) = backend.get("/v1/devices", token).await;
    let list: DeviceList = serde_json::from_value(body).unwrap();
    let revoked = list
        .devices
        .iter()
        .find(|d| d.id == enrolled.device.id)
        .unwrap();
    let revoked_at = revoked.revoked_at.unwrap();
    assert!((now..=now + 60).contains(&revoked_at));
    let still = list
        .devices
        .iter()
        .find(|d| d.id == second.device.id)
        .unwrap();
    assert_eq!(still.revoked_at, None);
    let (status, _, _) = backend.send(Method::DELETE, &path, Some(token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = backend.get("/v1/devices", token).await;
    let list: DeviceList = serde_json::from_value(body).unwrap();
    let revoked = list
        .devices
        .iter()
        .find(|d| d.id == enrolled.device.id)
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(revoked_at));
    backend.shutdown().await;
}

#[tokio::test]
async fn every_refusal_is_a_json_error_body() {
    let backend = Backend::start().await;
    let url = backend.insurer.url();
    let client = &backend.client;

    let check = |response: reqwest::Response, expected: u16, code: &'static str| async move {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, expected, "{body}");
        assert_eq!(error_of(&body).code, code, "{body}");
        headers
    };

    // Garbage, truncated, or not-an-object JSON.
    for garbage in ["{\"username\":", "not json at all", "\u{0}\u{1}", "{} {}"] {
        let response = client
            .post(format!("{url}/v1/sessions"))
            .header("content-type", "application/json")
            .body(garbage)
            .send()
            .await
            .unwrap();
        check(response, 400, "malformed_json").await;
    }
    for shape in ["[]", "42", "null", "{\"username\": [1], \"password\": {}}"] {
        let response = client
            .post(format!("{url}/v1/sessions"))
            .header("content-type", "application/json")
            .body(shape)
            .send()
            .await
            .unwrap();
        check(response, 422, "invalid_field").await;
    }
    // Not JSON at all, or no content type.
    let response = client
        .post(format!("{url}/v1/registrations"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    check(response, 415, "unsupported_media_type").await;
    let response = client
        .post(format!("{url}/v1/sessions/refresh"))
        .body("{}")
        .send()
        .await
        .unwrap();
    check(response, 415, "unsupported_media_type").await;
    // Too large.
    let huge = format!("{{\"refresh_token\":\"{}\"}}", "a".repeat(200_000));
    let response = client
        .post(format!("{url}/v1/sessions/refresh"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    check(response, 413, "payload_too_large").await;
    // Unknown route, and wrong method (with Allow).
    let response = client
        .get(format!("{url}/v1/nothing/here"))
        .send()
        .await
        .unwrap();
    check(response, 404, "not_found").await;
    let response = client.get(format!("{url}/")).send().await.unwrap();
    check(response, 404, "not_found").await;
    let response = client
        .put(format!("{url}/v1/account"))
        .send()
        .await
        .unwrap();
    let headers = check(response, 405, "method_not_allowed").await;
    assert!(
        headers
            .get("allow")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("GET")
    );
    let response = client
        .get(format!("{url}/v1/registrations"))
        .send()
        .await
        .unwrap();
    check(response, 405, "method_not_allowed").await;
    // No token, a malformed header, a made-up token.
    for authorization in [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer"),
        Some("Bearer nope"),
    ] {
        let mut request = client.get(format!("{url}/v1/devices"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let headers = check(request.send().await.unwrap(), 401, "unauthorized").await;
        assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
    }
    // The bearer check comes before the body is looked at.
    let response = client
        .post(format!("{url}/v1/devices"))
        .header("content-type", "application/json")
        .body("garbage")
        .send()
        .await
        .unwrap();
    check(response, 401, "unauthorized").await;
    // A device id that does not decode.
    let tokens = backend.member("json.errors").await;
    let response = client
        .delete(format!("{url}/v1/devices/%FF%FE"))
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap();
    check(response, 404, "not_found").await;
    backend.shutdown().await;
}

#[tokio::test]
async fn access_tokens_expire_and_refresh_tokens_renew_them() {
    let dir = tempfile::tempdir().unwrap();
    let start = chrono::Utc::now();
    let clock = Arc::new(FixedClock::new(start));
    let backend = Backend::start_in(dir.path(), Some(Arc::clone(&clock))).await;
    let tokens = backend.member("clock.watcher").await;
    assert_eq!(tokens.server_time_ms, start.timestamp_millis());
    assert_eq!(tokens.access_expires_at, start.timestamp() + 15 * 60);

    clock.advance(chrono::Duration::minutes(14));
    let (status, _) = backend.get("/v1/account", &tokens.access_token).await;
    assert_eq!(status, StatusCode::OK);
    clock.advance(chrono::Duration::minutes(2));
    let (status, body) = backend.get("/v1/account", &tokens.access_token).await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, body) = backend
        .post(
            "/v1/sessions/refresh",
            None,
            json!({"refresh_token": tokens.refresh_token}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let renewed: SessionTokens = serde_json::from_value(body).unwrap();
    let (status, _) = backend.get("/v1/account", &renewed.access_token).await;
    assert_eq!(status, StatusCode::OK);

    // Challenges last five minutes.
    let issued = challenge(&backend, &renewed.access_token).await;
    clock.advance(chrono::Duration::minutes(6));
    let (status, body) = backend
        .post(
            "/v1/sessions/refresh",
            None,
            json!({"refresh_token": renewed.refresh_token}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let latest: SessionTokens = serde_json::from_value(body).unwrap();
    let (status, body) = backend
        .post(
            "/v1/devices",
            Some(&latest.access_token),
            DeviceKey::new().enrolment("Late phone", &issued.challenge),
        )
        .await;
    assert_error(status, &body, 400, "invalid_challenge");

    // Refresh tokens last thirty days.
    clock.advance(chrono::Duration::days(31));
    let (status, body) = backend
        .post(
            "/v1/sessions/refresh",
            None,
            json!({"refresh_token": latest.refresh_token}),
        )
        .await;
    assert_error(status, &body, 401, "invalid_token");
    backend.shutdown().await;
}

#[tokio::test]
async fn a_restart_on_the_same_data_dir_keeps_users_ca_and_insurer_key() {
    let dir = tempfile::tempdir().unwrap();
    let first = Backend::start_in(dir.path(), None).await;
    let tokens = first.member("long.lived").await;
    let key = DeviceKey::new();
    let issued = challenge(&first, &tokens.access_token).await;
    let (status, body) = first
        .post(
            "/v1/devices",
            Some(&tokens.access_token),
            key.enrolment("Old phone", &issued.challenge),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let enrolled: EnrolDeviceResponse = serde_json::from_value(body).unwrap();
    let ca_pem = first.insurer.ca_cert_pem().to_owned();
    let ca_path = first.insurer.ca_cert_path().to_owned();
    assert_eq!(
        ca_path,
        dir.path().canonicalize().unwrap().join("insurer/ca.pem")
    );
    assert_eq!(std::fs::read_to_string(&ca_path).unwrap(), ca_pem);
    let jwks = first.insurer.jwks();
    first.shutdown().await;

    let second = Backend::start_in(dir.path(), None).await;
    assert_eq!(second.insurer.ca_cert_pem(), ca_pem);
    assert_eq!(second.insurer.jwks(), jwks);
    // A client that trusted the old CA still connects (the same client type,
    // built from the PEM saved before the restart).
    let old_client = carnet_e2e::https_client(&ca_pem);
    let response = old_client
        .get(format!("{}/.well-known/jwks.json", second.insurer.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<JwkSet>().await.unwrap(), jwks);
    // The certificate issued before the restart still verifies.
    let bytes = b64::decode(&enrolled.certificate).unwrap();
    assert!(
        verify(
            &bytes,
            &TrustList::from_jwks(&second.jwks().await),
            chrono::Utc::now().timestamp()
        )
        .is_ok()
    );
    // The user, the session and the device are still there.
    let (status, _) = second.get("/v1/account", &tokens.access_token).await;
    assert_eq!(status, StatusCode::OK);
    let fresh = second.login("long.lived").await;
    let (_, body) = second.get("/v1/devices", &fresh.access_token).await;
    let list: DeviceList = serde_json::from_value(body).unwrap();
    assert_eq!(list.devices, vec![enrolled.device]);
    let (status, body) = second
        .post("/v1/registrations", None, registration("long.lived"))
        .await;
    assert_error(status, &body, 409, "username_taken");
    second.shutdown().await;
}
