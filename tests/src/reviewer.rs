//! The insurer's reviewer, through the admin API with the admin key.

use carnet_core::model::{ReviewQueue, ReviewedRequest};
use carnet_core::requests::RequestId;
use carnet_insurer::RunningInsurer;
use reqwest::Method;
use serde_json::{Value, json};

/// Calls the admin API at `path` with the admin key. Returns the status
/// and the body as JSON (`Value::Null` when it is not JSON).
pub async fn admin(
    insurer: &RunningInsurer,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = crate::https_client(insurer.ca_cert_pem())
        .request(method, format!("{}{path}", insurer.url()))
        .bearer_auth(insurer.admin_key());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The reviewer's queue: every request the insurer holds.
pub async fn queue(insurer: &RunningInsurer) -> Vec<ReviewedRequest> {
    let (status, body) = admin(insurer, Method::GET, "/v1/admin/requests", None).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value::<ReviewQueue>(body)
        .unwrap()
        .requests
}

/// Reviews `id` with `action` (`under_review`, `return`, `approve`, ...)
/// and `reasons`; the insurer must accept it.
pub async fn review(insurer: &RunningInsurer, id: &RequestId, action: &str, reasons: &[&str]) {
    let (status, body) = admin(
        insurer,
        Method::POST,
        &format!("/v1/admin/requests/{}/review", id.as_str()),
        Some(json!({ "action": action, "reasons": reasons })),
    )
    .await;
    assert_eq!(status, 200, "{action}: {body}");
}
