//! The member's side of the counter and of consult tokens, end to end over
//! HTTPS: the phone makes codes offline, the pharmacy identifies then
//! settles at the insurer, and after a sync the phone shows the amount, time
//! and place; a provider redeems an offline consult token and the phone's
//! history shows it used.

use carnet_core::Carnet;
use carnet_core::credential::Purpose;
use carnet_core::token::Status;
use carnet_insurer::{InsurerConfig, RunningInsurer};
use serde_json::{Value, json};

async fn post(
    http: &reqwest::Client,
    insurer: &RunningInsurer,
    path: &str,
    key: &str,
    body: Value,
) -> (u16, Value) {
    let response = http
        .post(format!("{}{path}", insurer.url()))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn enrolled_member(insurer: &RunningInsurer, dir: &std::path::Path) -> Carnet {
    carnet_e2e::enrolled_member(insurer, dir, "lucia.farmacia").await
}

#[tokio::test]
async fn identify_then_settle_and_the_phone_shows_the_transaction_after_sync() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = carnet_insurer::start(InsurerConfig::new(dir.path().join("insurer")))
        .await
        .unwrap();
    let carnet = enrolled_member(&insurer, dir.path()).await;
    let http = carnet_e2e::https_client(insurer.ca_cert_pem());
    let pharmacy = insurer.pharmacy_key();

    let identify = carnet.current_qr(Purpose::Identify).unwrap();
    let (status, opened) = post(
        &http,
        &insurer,
        "/v1/pharmacy/identify",
        &pharmacy,
        json!({ "code": identify.text }),
    )
    .await;
    assert_eq!(status, 200, "{opened}");
    assert_eq!(opened["eligible"], true);
    let settlement_id = opened["settlement_id"].as_str().unwrap().to_owned();

    // The identify code cannot settle; a fresh settle code does.
    let items =
        json!([{ "description": "Amoxicilina 500 mg", "quantity": 1, "amount_cents": 45_250 }]);
    let (status, refused) = post(
        &http,
        &insurer,
        "/v1/pharmacy/settle",
        &pharmacy,
        json!({ "settlement_id": settlement_id, "code": identify.text,
                "amount_cents": 45_250, "currency": "ARS", "items": items }),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    let settle = carnet.current_qr(Purpose::Settle).unwrap();
    let (status, settled) = post(
        &http,
        &insurer,
        "/v1/pharmacy/settle",
        &pharmacy,
        json!({ "settlement_id": settlement_id, "code": settle.text,
                "amount_cents": 45_250, "currency": "ARS", "items": items }),
    )
    .await;
    assert_eq!(status, 201, "{settled}");

    assert!(carnet.transactions().unwrap().is_empty());
    let report = carnet.sync().await.unwrap();
    assert_eq!(report.new_transactions, 1);
    let transactions = carnet.transactions().unwrap();
    assert_eq!(transactions.len(), 1);
    assert_eq!(transactions[0].amount_cents, 45_250);
    assert_eq!(transactions[0].currency, "ARS");
    assert_eq!(transactions[0].pharmacy_name, "Farmacia Central");
    // A second sync brings nothing new and loses nothing.
    assert_eq!(carnet.sync().await.unwrap().new_transactions, 0);
    assert_eq!(carnet.transactions().unwrap().len(), 1);
    insurer.shutdown().await;
}

#[tokio::test]
async fn an_offline_token_redeemed_by_a_provider_shows_as_used_after_sync() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = carnet_insurer::start(InsurerConfig::new(dir.path().join("insurer")))
        .await
        .unwrap();
    let carnet = enrolled_member(&insurer, dir.path()).await;
    let http = carnet_e2e::https_client(insurer.ca_cert_pem());
    let member_id = carnet.enrolment().unwrap().certificate.member_id;

    let token = carnet.offline_token(Some("consulta")).unwrap();
    let other = carnet.offline_token(None).unwrap();
    assert_ne!(token.origin, other.origin);
    // Typed in Persian digits with a space, as a provider might receive it.
    let persian: String = token
        .code
        .chars()
        .map(|c| char::from_u32(0x06F0 + c.to_digit(10).unwrap()).unwrap())
        .collect();
    let typed = format!("{} {}", &persian[..6], &persian[6..]);
    let body = json!({ "member_id": member_id, "code": typed, "practice": "consulta clínica" });
    let (status, accepted) = post(
        &http,
        &insurer,
        "/v1/provider/redeem",
        &insurer.provider_key(),
        body.clone(),
    )
    .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["origin"], "offline");
    let (status, again) = post(
        &http,
        &insurer,
        "/v1/provider/redeem",
        &insurer.provider_key(),
        body,
    )
    .await;
    assert_eq!(status, 409, "{again}");

    assert_eq!(carnet.sync().await.unwrap().tokens_used, 1);
    let tokens = carnet.tokens().unwrap();
    let used = tokens.iter().find(|t| t.origin == token.origin).unwrap();
    assert!(
        matches!(&used.status, Status::Used { practice, .. } if practice == "consulta clínica"),
        "{:?}",
        used.status
    );
    let untouched = tokens.iter().find(|t| t.origin == other.origin).unwrap();
    assert_eq!(untouched.status, Status::Active);
    insurer.shutdown().await;
}
