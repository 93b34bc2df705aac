//! The reference insurer spoken to in raw HTTPS, as any client of its API
//! would: JSON in, status and JSON out, with members registered and phones
//! enrolled by hand rather than through the core.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use carnet_core::clock::FixedClock;
use carnet_core::device::{DeviceSigner, SoftwareDeviceKey};
use carnet_core::model::{b64, enrolment_message};
use carnet_insurer::{InsurerConfig, RunningInsurer};
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

/// The password of every member that [`RawBackend::register_member`] makes.
pub const MEMBER_PASSWORD: &str = "Clave2024";

/// 2026-03-02T09:30:00Z: where a [`ClockedBackend`]'s clock starts.
pub fn start_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_443_800, 0).unwrap()
}

/// The body of `POST /v1/registrations` for `username`, with
/// [`MEMBER_PASSWORD`].
pub fn registration(username: &str) -> Value {
    json!({
        "affiliate_number": "123456/01",
        "card_number": "6034 9300 0012 3456",
        "birth_date": "1984-03-09",
        "username": username,
        "password": MEMBER_PASSWORD,
        "email": format!("{username}@example.org"),
    })
}

/// A running insurer and a raw HTTPS client that trusts only its CA.
pub struct RawBackend {
    pub insurer: RunningInsurer,
    pub client: reqwest::Client,
}

/// A member registered, confirmed and logged in through the raw API.
pub struct RawMember {
    pub access_token: String,
    pub member_id: String,
}

/// A phone enrolled through the raw API with a software device key.
pub struct RawDevice {
    pub id: String,
    pub key: SoftwareDeviceKey,
    /// The member certificate the insurer issued for the key (DER).
    pub certificate: Vec<u8>,
}

impl RawBackend {
    /// Wraps `insurer` with a client under the core's TLS policy.
    pub fn new(insurer: RunningInsurer) -> Self {
        let client = crate::https_client(insurer.ca_cert_pem());
        Self { insurer, client }
    }

    /// Sends `body` as JSON to `path`, with `token` as the bearer if given.
    /// Returns the status, the headers and the body as JSON (`Value::Null`
    /// when empty); fails the test if a body is not JSON.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.insurer.url()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read_answer(request.send().await.unwrap(), path).await
    }

    /// [`send`](Self::send) without the headers.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, value) = self.send(method, path, token, body).await;
        (status, value)
    }

    /// `GET path` as the holder of `token`.
    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// `PUT path` with a JSON body, as the holder of `token`.
    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    /// `PUT path` with raw bytes (`application/octet-stream`), as the
    /// holder of `token`.
    pub async fn put_bytes(&self, path: &str, token: &str, bytes: &[u8]) -> (StatusCode, Value) {
        let response = self
            .client
            .put(format!("{}{path}", self.insurer.url()))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        let (status, _, value) = read_answer(response, path).await;
        (status, value)
    }

    /// Stops the insurer.
    pub async fn shutdown(self) {
        self.insurer.shutdown().await;
    }

    /// Registers `username` with [`registration`] (201); returns the body.
    pub async fn register(&self, username: &str) -> Value {
        let (status, body) = self
            .post("/v1/registrations", None, registration(username))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Confirms `username` with the code the insurer mailed (204).
    pub async fn confirm(&self, username: &str) {
        let code = self.insurer.confirmation_code(username).unwrap();
        let (status, body) = self
            .post(
                "/v1/registrations/confirm",
                None,
                json!({"username": username, "code": code}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    /// Logs `username` in with [`MEMBER_PASSWORD`] (200); returns the
    /// session tokens as JSON.
    pub async fn log_in(&self, username: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/sessions",
                None,
                json!({"username": username, "password": MEMBER_PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Registers, confirms and logs in `username`, checking each answer;
    /// then reads the member id from the account.
    pub async fn register_member(&self, username: &str) -> RawMember {
        self.register(username).await;
        self.confirm(username).await;
        let session = self.log_in(username).await;
        let access_token = session["access_token"].as_str().unwrap().to_owned();
        let (_, account) = self.get("/v1/account", &access_token).await;
        let member_id = account["member_id"].as_str().unwrap().to_owned();
        RawMember {
            access_token,
            member_id,
        }
    }

    /// Enrols a fresh software device key, named "Pixel 8", for the holder
    /// of `token`: asks a challenge, signs it and checks the insurer's 201.
    pub async fn enrol_device(&self, token: &str) -> RawDevice {
        let (status, body) = self
            .post("/v1/devices/challenge", Some(token), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let challenge = body["challenge"].as_str().unwrap().to_owned();
        let key = SoftwareDeviceKey::generate().unwrap();
        let public_key = b64::encode(&key.public_key().unwrap());
        let signature = key
            .sign(&enrolment_message(&challenge, &public_key))
            .unwrap();
        let (status, body) = self
            .post(
                "/v1/devices",
                Some(token),
                json!({
                    "name": "Pixel 8",
                    "public_key": public_key,
                    "challenge": challenge,
                    "signature": b64::encode(&signature),
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        RawDevice {
            id: body["device"]["id"].as_str().unwrap().to_owned(),
            key,
            certificate: b64::decode(body["certificate"].as_str().unwrap()).unwrap(),
        }
    }
}

/// Reads a response to `path`: the status, the headers and the body as
/// JSON (`Value::Null` when empty). A body must say it is JSON and be JSON.
pub async fn read_answer(
    response: reqwest::Response,
    path: &str,
) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        assert_eq!(
            headers.get("content-type").unwrap(),
            "application/json",
            "{status} {path}"
        );
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: not JSON: {e}"))
    };
    (status, headers, value)
}

/// A [`RawBackend`] in its own temporary directory, on a [`FixedClock`]
/// that starts at [`start_time`] and that the test moves, with sessions
/// that last 30 days (they must outlive the clock moves and restarts).
pub struct ClockedBackend {
    backend: RawBackend,
    pub clock: Arc<FixedClock>,
    pub dir: TempDir,
}

impl ClockedBackend {
    /// Starts the insurer in a fresh temporary directory.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(FixedClock::new(start_time()));
        let backend = RawBackend::new(Self::insurer(&dir, &clock).await);
        Self {
            backend,
            clock,
            dir,
        }
    }

    /// Stops the insurer and starts it again on the same data and clock.
    pub async fn restart(self) -> Self {
        let Self {
            backend: RawBackend { insurer, client },
            clock,
            dir,
        } = self;
        insurer.shutdown().await;
        let insurer = Self::insurer(&dir, &clock).await;
        Self {
            backend: RawBackend { insurer, client },
            clock,
            dir,
        }
    }

    /// Stops the insurer (the directory goes with `self`).
    pub async fn shutdown(self) {
        self.backend.shutdown().await;
    }

    /// Moves the clock `seconds` on.
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(TimeDelta::seconds(seconds));
    }

    async fn insurer(dir: &TempDir, clock: &Arc<FixedClock>) -> RunningInsurer {
        let mut config = InsurerConfig::new(dir.path().join("insurer"));
        config.access_token_ttl = Duration::from_secs(30 * 86_400);
        carnet_insurer::start_with_clock(config, clock.clone())
            .await
            .unwrap()
    }
}

/// Declares `struct $name(ClockedBackend)`, which derefs to the
/// [`ClockedBackend`] and has `start()` and `restart(self)`, for a test
/// file to add its own calls to in an `impl $name` (a type of the library
/// cannot take them).
#[macro_export]
macro_rules! clocked_backend {
    ($name:ident) => {
        /// The backend on its clock, with this file's calls.
        struct $name($crate::backend::ClockedBackend);

        impl ::std::ops::Deref for $name {
            type Target = $crate::backend::ClockedBackend;

            fn deref(&self) -> &$crate::backend::ClockedBackend {
                &self.0
            }
        }

        impl $name {
            /// Starts the backend in a fresh temporary directory.
            async fn start() -> Self {
                Self($crate::backend::ClockedBackend::start().await)
            }

            /// Stops the backend and starts it again on the same data and
            /// clock.
            async fn restart(self) -> Self {
                Self(self.0.restart().await)
            }
        }
    };
}

impl Deref for ClockedBackend {
    type Target = RawBackend;

    fn deref(&self) -> &RawBackend {
        &self.backend
    }
}
