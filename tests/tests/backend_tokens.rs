//! Consult tokens at the reference insurer, over real HTTPS on loopback
//! (issue 4, items 1 and 3): online tokens issued to the member, offline
//! tokens derived on the phone with core's functions from the device secret
//! the backend handed out, redeemed once by a provider, with distinct
//! answers for used, expired and unknown, and failed attempts throttled per
//! member and per provider.
//!
//! The backend runs on a [`FixedClock`](carnet_core::clock::FixedClock)
//! that the tests move.

use std::sync::Arc;

use carnet_core::clock::Clock;
use carnet_core::model::b64;
use carnet_core::token::{Counter, TokenBook, TokenSecret, derive_offline_code, slot_of};
use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

carnet_e2e::clocked_backend!(Backend);

/// A member of the insurer with an enrolled phone (its key is not needed
/// here: tokens rest on the device secret).
struct Member {
    token: String,
    member_id: String,
    device_id: String,
}

impl Backend {
    /// Registers, confirms and logs in `username`, and enrols a phone.
    async fn member(&self, username: &str) -> Member {
        let member = self.register_member(username).await;
        Member {
            device_id: self.enrol_device(&member.access_token).await.id,
            token: member.access_token,
            member_id: member.member_id,
        }
    }

    async fn issue(&self, member: &Member, practice: Option<&str>) -> Value {
        let (status, body) = self
            .post(
                "/v1/tokens",
                Some(&member.token),
                json!({"practice": practice}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn redeem_full(
        &self,
        member_id: &str,
        code: &str,
        practice: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let key = self.insurer.provider_key();
        self.send(
            Method::POST,
            "/v1/provider/redeem",
            Some(&key),
            Some(json!({"member_id": member_id, "code": code, "practice": practice})),
        )
        .await
    }

    async fn redeem(&self, member: &Member, code: &str) -> (StatusCode, Value) {
        let (status, _, body) = self
            .redeem_full(&member.member_id, code, "Consulta clínica")
            .await;
        (status, body)
    }

    /// The device's offline-token secret, asked once after enrolment.
    async fn token_secret(&self, member: &Member) -> TokenSecret {
        let (status, body) = self
            .post(
                &format!("/v1/devices/{}/token-secret", member.device_id),
                Some(&member.token),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let bytes = b64::decode(body["secret"].as_str().unwrap()).unwrap();
        TokenSecret::from_slice(&bytes).unwrap()
    }
}

#[track_caller]
fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["code"], code, "{body}");
}

/// A six-digit code that differs from `code` (and so, for a member with a
/// single online token and no device secret, is no token at all).
fn other_than(code: &str) -> String {
    let last = code.as_bytes()[5];
    let changed = if last == b'9' {
        '0'
    } else {
        char::from(last + 1)
    };
    format!("{}{changed}", &code[..5])
}

/// `code` with its ASCII digits moved to the block whose zero is `zero`.
fn in_script(code: &str, zero: char) -> String {
    code.chars()
        .map(|c| char::from_u32(zero as u32 + c.to_digit(10).unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn an_online_token_is_issued_for_twelve_hours_and_redeemed_once() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let now = backend.clock.now().timestamp();
    let token = backend.issue(&maria, Some("  Cardiología ")).await;
    let code = token["code"].as_str().unwrap().to_owned();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{token}"
    );
    assert_eq!(token["practice"], "Cardiología");
    assert_eq!(token["issued_at"], now);
    assert_eq!(token["expires_at"], now + 12 * 3_600);

    // A token made for a practice is not redeemed for another.
    let (status, _, body) = backend
        .redeem_full(&maria.member_id, &code, "Traumatología")
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "practice_mismatch");

    backend.advance(600);
    let (status, _, body) = backend
        .redeem_full(&maria.member_id, &code, "cardiología")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"status": "accepted", "origin": "online", "practice": "cardiología"})
    );
    let (status, _, body) = backend
        .redeem_full(&maria.member_id, &code, "cardiología")
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "token_used");

    // The member's history: used, for which practice, and when.
    let without_practice = backend.issue(&maria, None).await;
    assert_eq!(without_practice["practice"], Value::Null);
    let (status, history) = backend.get("/v1/tokens", &maria.token).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["disabled"], false);
    let tokens = history["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    let used = tokens.iter().find(|t| t["code"] == code.as_str()).unwrap();
    assert_eq!(used["status"], "used");
    assert_eq!(used["origin"], "online");
    assert_eq!(used["practice"], "Cardiología");
    assert_eq!(used["redemption"]["practice"], "cardiología");
    assert_eq!(used["redemption"]["redeemed_at"], now + 600);
    let active = tokens
        .iter()
        .find(|t| t["code"] == without_practice["code"])
        .unwrap();
    assert_eq!(active["status"], "active");
    assert_eq!(active["redemption"], Value::Null);
    backend.advance(12 * 3_600);
    let (_, history) = backend.get("/v1/tokens", &maria.token).await;
    let expired = history["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == without_practice["code"])
        .unwrap()
        .clone();
    assert_eq!(expired["status"], "expired");
}

#[tokio::test]
async fn fifty_concurrent_redemptions_of_one_token_accept_exactly_one() {
    let backend = Arc::new(Backend::start().await);
    let maria = backend.member("maria.lopez").await;
    let secret = backend.token_secret(&maria).await;
    let online = backend.issue(&maria, None).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut book = TokenBook::new();
    let offline = book
        .make_offline(&secret, None, backend.clock.now())
        .unwrap()
        .code;
    for (round, code) in [online, offline].into_iter().enumerate() {
        if round > 0 {
            // The first round's refusals throttle the member and the
            // provider; wait them out.
            backend.advance(3_600);
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (backend, barrier) = (backend.clone(), barrier.clone());
                let member_id = maria.member_id.clone();
                let code = code.clone();
                tokio::spawn(async move {
                    barrier.wait().await;
                    let (status, _, body) = backend
                        .redeem_full(&member_id, &code, "Consulta clínica")
                        .await;
                    (status, body)
                })
            })
            .collect();
        let mut accepted = 0;
        for task in tasks {
            let (status, body) = task.await.unwrap();
            match status {
                StatusCode::OK => accepted += 1,
                // The losers: already used, or slowed down by their own
                // failures counted on the member's throttle.
                StatusCode::CONFLICT => assert_eq!(body["code"], "token_used", "{body}"),
                StatusCode::TOO_MANY_REQUESTS => {
                    assert_eq!(body["code"], "too_many_attempts", "{body}");
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        assert_eq!(accepted, 1, "round {round}");
    }
}

#[tokio::test]
async fn twelve_hours_plus_one_second_is_expired() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let first = backend.issue(&maria, None).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = backend.issue(&maria, None).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    backend.advance(12 * 3_600 - 1);
    let (status, body) = backend.redeem(&maria, &first).await;
    assert_eq!(status, StatusCode::OK, "valid at 12 h - 1 s: {body}");
    backend.advance(2);
    let (status, body) = backend.redeem(&maria, &second).await;
    assert_error(status, &body, StatusCode::GONE, "token_expired");
}

#[tokio::test]
async fn unknown_codes_and_members_are_404() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let code = backend.issue(&maria, None).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = backend.redeem(&maria, &other_than(&code)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "token_unknown");
    let (status, _, body) = backend
        .redeem_full("0123456789abcdef", &code, "Consulta")
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "token_unknown");
    // Malformed member ids and practices are named.
    let (status, _, body) = backend.redeem_full("maria", &code, "Consulta").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["fields"], json!(["member_id"]));
    let (status, _, body) = backend.redeem_full(&maria.member_id, &code, " ").await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    );
    assert_eq!(body["fields"], json!(["practice"]));
    // The token itself is untouched.
    let (status, body) = backend.redeem(&maria, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn after_five_failures_even_the_right_code_waits_and_the_wait_survives_a_restart() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let code = backend.issue(&maria, None).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = other_than(&code);
    for _ in 0..5 {
        let (status, body) = backend.redeem(&maria, &wrong).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "token_unknown");
    }
    // 5 failures: 5 s × 5 = 25 s before the next attempt, right code or not.
    let (status, headers, body) = backend
        .redeem_full(&maria.member_id, &code, "Consulta clínica")
        .await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    );
    assert_eq!(headers["retry-after"], "25");

    let backend = backend.restart().await;
    backend.advance(24);
    let (status, headers, body) = backend
        .redeem_full(&maria.member_id, &code, "Consulta clínica")
        .await;
    assert_error(
        status,
        &body,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
    );
    assert_eq!(headers["retry-after"], "1");
    backend.advance(1);
    let (status, body) = backend.redeem(&maria, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The success ended the run: a wrong code is an ordinary 404 again.
    let (status, body) = backend.redeem(&maria, &wrong).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "token_unknown");
}

#[tokio::test]
async fn a_hundred_failures_disable_tokens_until_the_member_re_enables_them() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let wrong = {
        let code = backend.issue(&maria, None).await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        other_than(&code)
    };
    for failures in 0..100 {
        let (status, body) = backend.redeem(&maria, &wrong).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "attempt {}: {body}",
            failures + 1
        );
        // Wait out the delay the failure just imposed (5 s × failures).
        backend.advance(5 * (failures + 1));
    }
    backend.advance(86_400);
    let (status, body) = backend.redeem(&maria, &wrong).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "tokens_disabled");
    let (_, history) = backend.get("/v1/tokens", &maria.token).await;
    assert_eq!(history["disabled"], true);
    let (status, body) = backend
        .post("/v1/tokens", Some(&maria.token), json!({}))
        .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "tokens_disabled");

    let (status, _, body) = backend
        .send(
            Method::POST,
            "/v1/tokens/re-enable",
            Some(&maria.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, history) = backend.get("/v1/tokens", &maria.token).await;
    assert_eq!(history["disabled"], false);
    let code = backend.issue(&maria, None).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = backend.redeem(&maria, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_offline_code_derived_from_the_device_secret_is_accepted_once() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let secret = backend.token_secret(&maria).await;
    // Once per device.
    let (status, body) = backend
        .post(
            &format!("/v1/devices/{}/token-secret", maria.device_id),
            Some(&maria.token),
            json!({}),
        )
        .await;
    assert_error(status, &body, StatusCode::CONFLICT, "secret_already_issued");
    // Only the caller's own devices.
    let jose = backend.member("jose.perez").await;
    let (status, body) = backend
        .post(
            &format!("/v1/devices/{}/token-secret", maria.device_id),
            Some(&jose.token),
            json!({}),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // The phone, offline, makes two tokens with core's book.
    let mut book = TokenBook::new();
    let now = backend.clock.now();
    let first = book.make_offline(&secret, None, now).unwrap();
    let second = book.make_offline(&secret, None, now).unwrap();
    assert_eq!(
        first.code,
        derive_offline_code(&secret, Counter::new(slot_of(now).unwrap(), 0).unwrap())
    );

    backend.advance(2 * 3_600);
    let (status, body) = backend.redeem(&maria, &first.code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["origin"], "offline");
    let (status, body) = backend.redeem(&maria, &first.code).await;
    assert_error(status, &body, StatusCode::CONFLICT, "token_used");

    // In the member's history, with its counter, so the phone can mark it.
    let (_, history) = backend.get("/v1/tokens", &maria.token).await;
    let entry = &history["tokens"][0];
    assert_eq!(entry["origin"], "offline");
    assert_eq!(entry["code"], first.code.as_str());
    assert_eq!(entry["slot"], slot_of(now).unwrap());
    assert_eq!(entry["sequence"], 0);
    assert_eq!(entry["status"], "used");
    assert_eq!(entry["expires_at"], first.expires_at.timestamp());
    assert_eq!(entry["redemption"]["practice"], "Consulta clínica");

    // The second one expires at the end of its slot plus 12 hours.
    backend.clock.set(second.expires_at);
    let (status, body) = backend.redeem(&maria, &second.code).await;
    assert_error(status, &body, StatusCode::GONE, "token_expired");

    // A revoked phone's codes are no longer anyone's.
    let later = backend.clock.now() + TimeDelta::seconds(3_600);
    backend.clock.set(later);
    let third = book.make_offline(&secret, None, later).unwrap();
    let (status, _, _) = backend
        .send(
            Method::DELETE,
            &format!("/v1/devices/{}", maria.device_id),
            Some(&maria.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    backend.advance(3_600);
    let (status, body) = backend.redeem(&maria, &third.code).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "token_unknown");
}

#[tokio::test]
async fn digits_typed_in_persian_arabic_indic_or_full_width_are_accepted() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    for (zero, separator) in [
        ('\u{06F0}', " "),
        ('\u{0660}', "-"),
        ('\u{FF10}', "\u{3000}"),
    ] {
        let code = backend.issue(&maria, None).await["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let typed = in_script(&code, zero);
        let split = typed.char_indices().nth(3).unwrap().0;
        let typed = format!("{}{separator}{}", &typed[..split], &typed[split..]);
        let (status, body) = backend.redeem(&maria, &typed).await;
        assert_eq!(status, StatusCode::OK, "{typed:?}: {body}");
    }
    for (typed, reason) in [
        ("12a456", "unexpected_character"),
        ("12345", "too_few_digits"),
        ("1234567", "too_many_digits"),
        (" - ", "empty"),
    ] {
        let (status, body) = backend.redeem(&maria, typed).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_code",
        );
        assert_eq!(body["reason"], reason, "{typed:?}");
        assert_eq!(body["fields"], json!(["code"]));
    }
    // Malformed input is not a guess: no throttle after many of them.
    for _ in 0..6 {
        backend.redeem(&maria, "abc").await;
    }
    let code = backend.issue(&maria, None).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = backend.redeem(&maria, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn provider_endpoints_need_the_provider_key_and_only_it() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let code = backend.issue(&maria, None).await["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let pharmacy_key = backend.insurer.pharmacy_key();
    for key in [
        None,
        Some(maria.token.as_str()),
        Some(pharmacy_key.as_str()),
    ] {
        let (status, headers, body) = backend
            .send(
                Method::POST,
                "/v1/provider/redeem",
                key,
                Some(json!({"member_id": maria.member_id, "code": code, "practice": "Consulta"})),
            )
            .await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(headers["www-authenticate"], "Bearer");
    }
    let (status, body) = backend
        .get("/v1/tokens", &backend.insurer.provider_key())
        .await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    // None of that counted against the member or used the token.
    let (status, body) = backend.redeem(&maria, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
