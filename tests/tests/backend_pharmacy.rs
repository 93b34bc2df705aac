//! Two scans at the pharmacy counter against the reference insurer, over
//! real HTTPS on loopback (issue 3, item 4): a code made to identify opens a
//! settlement, a fresh code made to settle closes it and records the
//! transaction exactly once, and the member then sees it. Every refusal
//! comes with the verifier's reason and a message for the clerk.
//!
//! The backend runs on a [`FixedClock`] that the tests move; the phone side
//! is core's `credential::present` with a software device key enrolled
//! through the API, as the app does it.

use std::sync::Arc;

use carnet_core::clock::Clock;
use carnet_core::credential::{self, Purpose, Rejection};
use carnet_core::rng::SystemRng;
use carnet_e2e::backend::RawDevice;
use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

carnet_e2e::clocked_backend!(Backend);

/// A member of the insurer with an enrolled phone.
struct Member {
    token: String,
    member_id: String,
    device: RawDevice,
}

impl Backend {
    /// Registers, confirms and logs in `username`, and enrols a phone.
    async fn member(&self, username: &str) -> Member {
        let member = self.register_member(username).await;
        Member {
            device: self.enrol_device(&member.access_token).await,
            token: member.access_token,
            member_id: member.member_id,
        }
    }

    /// A fresh QR text of `member` for `purpose`, made at the backend's time.
    fn code(&self, member: &Member, purpose: Purpose) -> String {
        credential::present(
            purpose,
            self.clock.now(),
            &member.device.key,
            &member.device.certificate,
            &SystemRng::new(),
        )
        .unwrap()
        .text
    }

    async fn identify(&self, code: &str) -> (StatusCode, Value) {
        let key = self.insurer.pharmacy_key();
        self.post("/v1/pharmacy/identify", Some(&key), json!({"code": code}))
            .await
    }

    async fn settle(&self, settlement_id: &str, code: &str) -> (StatusCode, Value) {
        let key = self.insurer.pharmacy_key();
        self.post(
            "/v1/pharmacy/settle",
            Some(&key),
            json!({
                "settlement_id": settlement_id,
                "code": code,
                "amount_cents": 4_550,
                "currency": "ARS",
                "items": [
                    {"description": "Ibuprofeno 400 mg x 20", "quantity": 1, "amount_cents": 3_200},
                    {"description": "Gasas estériles", "quantity": 3, "amount_cents": 1_350},
                ],
            }),
        )
        .await
    }

    /// Identifies `member` and returns the settlement id.
    async fn open_settlement(&self, member: &Member) -> String {
        let (status, body) = self.identify(&self.code(member, Purpose::Identify)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["settlement_id"].as_str().unwrap().to_owned()
    }
}

#[track_caller]
fn assert_rejected(status: StatusCode, body: &Value, rejection: &Rejection) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "qr_rejected", "{body}");
    assert_eq!(body["reason"], rejection.code(), "{body}");
    assert_eq!(body["message"], rejection.clerk_message(), "{body}");
}

#[track_caller]
fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
}

#[tokio::test]
async fn identify_then_settle_and_the_member_sees_the_transaction() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;

    let (status, body) = backend
        .identify(&backend.code(&maria, Purpose::Identify))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["eligible"], true);
    assert_eq!(body["coverage"]["plan"], "Integral");
    assert_eq!(body["coverage"]["region"], "AR-M");
    assert_eq!(body["coverage"]["valid_until"], "2027-03-02");
    assert_eq!(
        body["expires_at"],
        backend.clock.now().timestamp() + 5 * 60,
        "open for 5 minutes"
    );
    // Nothing about who the member is beyond what the code itself carries.
    let mut fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["coverage", "eligible", "expires_at", "settlement_id"]
    );
    let settlement_id = body["settlement_id"].as_str().unwrap().to_owned();

    backend.advance(20);
    let (status, transaction) = backend
        .settle(&settlement_id, &backend.code(&maria, Purpose::Settle))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{transaction}");
    assert_eq!(transaction["member_id"], maria.member_id.as_str());
    assert_eq!(transaction["pharmacy_name"], "Farmacia Central");
    assert_eq!(transaction["amount_cents"], 4_550);
    assert_eq!(transaction["currency"], "ARS");
    assert_eq!(transaction["items"][1]["description"], "Gasas estériles");
    assert_eq!(transaction["items"][1]["quantity"], 3);
    assert_eq!(transaction["settled_at"], backend.clock.now().timestamp());

    // A second dispensation an hour later.
    backend.advance(3_600);
    let second = backend.open_settlement(&maria).await;
    let (status, later) = backend
        .settle(&second, &backend.code(&maria, Purpose::Settle))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{later}");

    // The phone's next sync: newest first, with a cursor.
    let (status, page) = backend.get("/v1/transactions", &maria.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["transactions"].as_array().unwrap().len(), 2);
    assert_eq!(page["transactions"][0], later);
    assert_eq!(page["transactions"][1], transaction);
    assert_eq!(page["more"], false);
    let cursor = page["cursor"].as_str().unwrap().to_owned();
    let (_, after) = backend
        .get(&format!("/v1/transactions?since={cursor}"), &maria.token)
        .await;
    assert_eq!(after["transactions"], json!([]));
    assert_eq!(after["cursor"], cursor.as_str());

    // Another member sees none of it.
    let other = backend.member("otro.socio").await;
    let (_, theirs) = backend.get("/v1/transactions", &other.token).await;
    assert_eq!(theirs["transactions"], json!([]));

    // Bad cursors are named.
    let (status, body) = backend
        .get("/v1/transactions?since=yesterday", &maria.token)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["fields"], json!(["since"]));
}

#[tokio::test]
async fn an_identify_code_cannot_settle() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let identify_code = backend.code(&maria, Purpose::Identify);
    let (status, body) = backend.identify(&identify_code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let settlement_id = body["settlement_id"].as_str().unwrap();

    let refused = Rejection::WrongPurpose {
        expected: Purpose::Settle,
        presented: Purpose::Identify,
    };
    // Neither the code that identified nor a fresh identify code.
    for code in [
        identify_code.clone(),
        backend.code(&maria, Purpose::Identify),
    ] {
        let (status, body) = backend.settle(settlement_id, &code).await;
        assert_rejected(status, &body, &refused);
    }
    // Nor does a settle code identify.
    let (status, body) = backend
        .identify(&backend.code(&maria, Purpose::Settle))
        .await;
    assert_rejected(
        status,
        &body,
        &Rejection::WrongPurpose {
            expected: Purpose::Identify,
            presented: Purpose::Settle,
        },
    );
    // The settlement is still open for a proper code.
    let (status, body) = backend
        .settle(settlement_id, &backend.code(&maria, Purpose::Settle))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn replayed_codes_are_refused_even_after_a_restart() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let identify_code = backend.code(&maria, Purpose::Identify);
    let (status, body) = backend.identify(&identify_code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let first = body["settlement_id"].as_str().unwrap().to_owned();
    let (status, body) = backend.identify(&identify_code).await;
    assert_rejected(status, &body, &Rejection::Replayed);

    let settle_code = backend.code(&maria, Purpose::Settle);
    let (status, body) = backend.settle(&first, &settle_code).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let second = backend.open_settlement(&maria).await;
    let (status, body) = backend.settle(&second, &settle_code).await;
    assert_rejected(status, &body, &Rejection::Replayed);

    // A restart forgets the verifier's memory, not the backend's.
    let pharmacy_key = backend.insurer.pharmacy_key();
    let backend = backend.restart().await;
    assert_eq!(backend.insurer.pharmacy_key(), pharmacy_key);
    let (status, body) = backend.settle(&second, &settle_code).await;
    assert_rejected(status, &body, &Rejection::Replayed);
    let (status, body) = backend.identify(&identify_code).await;
    assert_rejected(status, &body, &Rejection::Replayed);
    let (status, body) = backend
        .settle(&second, &backend.code(&maria, Purpose::Settle))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_revoked_device_is_refused() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let settlement_id = backend.open_settlement(&maria).await;
    let settle_code = backend.code(&maria, Purpose::Settle);
    let identify_code = backend.code(&maria, Purpose::Identify);

    let (status, _, body) = backend
        .send(
            Method::DELETE,
            &format!("/v1/devices/{}", maria.device.id),
            Some(&maria.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (status, body) = backend.identify(&identify_code).await;
    assert_rejected(status, &body, &Rejection::DeviceRevoked);
    let (status, body) = backend.settle(&settlement_id, &settle_code).await;
    assert_rejected(status, &body, &Rejection::DeviceRevoked);

    // Still refused after a restart, and a newly enrolled phone works.
    let backend = backend.restart().await;
    let (status, body) = backend
        .identify(&backend.code(&maria, Purpose::Identify))
        .await;
    assert_rejected(status, &body, &Rejection::DeviceRevoked);
    let maria = Member {
        device: backend.enrol_device(&maria.token).await,
        ..maria
    };
    let settlement_id = backend.open_settlement(&maria).await;
    let (status, body) = backend
        .settle(&settlement_id, &backend.code(&maria, Purpose::Settle))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn expired_codes_and_settlements_are_refused() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;

    // A code lives 60 s, plus the verifier's 30 s skew allowance.
    let identify_code = backend.code(&maria, Purpose::Identify);
    backend.advance(90);
    let (status, body) = backend.identify(&identify_code).await;
    assert_rejected(status, &body, &Rejection::Expired);

    // A settlement stays open 5 minutes.
    let settlement_id = backend.open_settlement(&maria).await;
    backend.advance(5 * 60 - 1);
    let late_but_open = backend.code(&maria, Purpose::Settle);
    backend.advance(1);
    let (status, body) = backend.settle(&settlement_id, &late_but_open).await;
    assert_error(status, &body, StatusCode::GONE, "settlement_expired");

    // A code made by a phone whose clock is 31 s behind the backend's
    // allowance is refused too (made 91 s ago).
    let settlement_id = backend.open_settlement(&maria).await;
    let old = credential::present(
        Purpose::Settle,
        backend.clock.now() - TimeDelta::seconds(91),
        &maria.device.key,
        &maria.device.certificate,
        &SystemRng::new(),
    )
    .unwrap()
    .text;
    let (status, body) = backend.settle(&settlement_id, &old).await;
    assert_rejected(status, &body, &Rejection::Expired);
}

#[tokio::test]
async fn a_settlement_is_settled_once_even_under_concurrency() {
    let backend = Arc::new(Backend::start().await);
    let maria = backend.member("maria.lopez").await;
    let settlement_id = backend.open_settlement(&maria).await;
    // Eight counters settle at once, each with its own fresh settle code.
    let codes: Vec<String> = (0..8)
        .map(|_| backend.code(&maria, Purpose::Settle))
        .collect();
    let tasks: Vec<_> = codes
        .into_iter()
        .map(|code| {
            let backend = backend.clone();
            let settlement_id = settlement_id.clone();
            tokio::spawn(async move { backend.settle(&settlement_id, &code).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            _ => assert_error(status, &body, StatusCode::CONFLICT, "already_settled"),
        }
    }
    assert_eq!(created, 1);
    let (status, body) = backend
        .settle(&settlement_id, &backend.code(&maria, Purpose::Settle))
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "already_settled");
    let (_, page) = backend.get("/v1/transactions", &maria.token).await;
    assert_eq!(page["transactions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn another_members_settle_code_is_refused() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let jose = backend.member("jose.perez").await;
    let settlement_id = backend.open_settlement(&maria).await;
    let (status, body) = backend
        .settle(&settlement_id, &backend.code(&jose, Purpose::Settle))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "qr_rejected");
    assert_eq!(body["reason"], "other_member");
    assert!(body["message"].as_str().unwrap().contains("another member"));
    // A settlement of another pharmacy, or none, is not found.
    let (status, body) = backend
        .settle(
            "0123456789abcdef0123456789abcdef",
            &backend.code(&maria, Purpose::Settle),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn pharmacy_endpoints_need_the_pharmacy_key_and_only_it() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let code = backend.code(&maria, Purpose::Identify);
    let provider_key = backend.insurer.provider_key();
    for key in [
        None,
        Some(maria.token.as_str()),
        Some(provider_key.as_str()),
        Some("carnet_ph_not-a-key"),
    ] {
        let (status, headers, body) = backend
            .send(
                Method::POST,
                "/v1/pharmacy/identify",
                key,
                Some(json!({"code": code})),
            )
            .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(headers["www-authenticate"], "Bearer");
    }
    // The pharmacy key opens no member endpoint.
    let (status, body) = backend
        .get("/v1/transactions", &backend.insurer.pharmacy_key())
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    // The code was not used up by the refused attempts.
    let (status, body) = backend.identify(&code).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The key is in a file only its owner reads.
    let path = backend.dir.path().join("insurer").join("pharmacy-key.txt");
    let stored = std::fs::read_to_string(&path).unwrap();
    assert_eq!(stored.trim(), backend.insurer.pharmacy_key());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn garbage_is_refused_with_its_reason() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let (status, body) = backend.identify("https://example.org/menu").await;
    assert_rejected(status, &body, &Rejection::NotACarnetCode);
    let (status, body) = backend.identify("").await;
    assert_rejected(status, &body, &Rejection::NotACarnetCode);
    let (status, body) = backend.identify("CN1:%%%%").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "qr_rejected");
    assert_eq!(body["reason"], "malformed", "{body}");

    // A truncated code, and one with a character changed: each refused,
    // neither accepted, never a 500.
    let code = backend.code(&maria, Purpose::Identify);
    let truncated = &code[..code.len() / 2];
    let (status, body) = backend.identify(truncated).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "qr_rejected");
    let mut changed: Vec<char> = code.chars().collect();
    let middle = changed.len() / 2;
    changed[middle] = if changed[middle] == '5' { '6' } else { '5' };
    let changed: String = changed.into_iter().collect();
    let (status, body) = backend.identify(&changed).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(!body["reason"].as_str().unwrap().is_empty());
    // The unaltered code still identifies.
    let (status, body) = backend.identify(&code).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A malformed settlement body names its fields.
    let key = backend.insurer.pharmacy_key();
    let (status, body) = backend
        .post(
            "/v1/pharmacy/settle",
            Some(&key),
            json!({
                "settlement_id": "nope", "code": "x", "amount_cents": 100,
                "currency": "pesos", "items": [],
            }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(
        body["fields"],
        json!(["settlement_id", "currency", "items"])
    );
}
