//! The member certificate is renewed by the sync (issue 5, item 3): same
//! device id, same device key, 90 more days, once it is within
//! `RENEW_BEFORE` (30 days) of its expiry; and the raw renewal endpoint
//! refuses what a stolen access token alone could send.
//!
//! The insurer runs on a `FixedClock` the tests move, and the member's phone
//! shares that clock, so the phone's server offset (learned at login) is 0
//! and "61 days later" means the same on both sides.

use std::sync::Arc;

use carnet_core::api::{ApiClient, ApiError};
use carnet_core::certificate::{self, CertificateError, TrustList};
use carnet_core::clock::Clock;
use carnet_core::credential::{CachedTrustList, Purpose, Rejection, Verifier};
use carnet_core::device::{DeviceSigner, SoftwareDeviceKey};
use carnet_core::model::{JwkSet, RegisterRequest, b64, enrolment_message};
use carnet_core::{Carnet, CarnetConfig, Error, VaultKeySource};
use carnet_e2e::backend::{ClockedBackend, start_time};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zeroize::Zeroizing;

const DAY: i64 = 86_400;
const PASSWORD: &str = "Receta2026";
const PIN: &str = "480213";

/// A phone on the backend's clock, with its vault in the backend's
/// temporary directory under `name`.
async fn phone(backend: &ClockedBackend, name: &str) -> Carnet {
    let clock: Arc<dyn Clock> = backend.clock.clone();
    Carnet::open(
        CarnetConfig {
            data_dir: backend.dir.path().join(name),
            api: carnet_e2e::api_config(&backend.insurer),
        },
        VaultKeySource::Passphrase(Zeroizing::new("test passphrase".into())),
        None,
        clock,
    )
    .await
    .unwrap()
}

/// A member registered, confirmed, logged in and enrolled on a phone that
/// shares the backend's clock, with the credential PIN [`PIN`].
async fn enrolled_member(backend: &ClockedBackend, username: &str) -> Carnet {
    let carnet = phone(backend, username).await;
    carnet
        .register(RegisterRequest {
            affiliate_number: "654321/02".into(),
            card_number: "6034930000654321".into(),
            birth_date: chrono::NaiveDate::from_ymd_opt(1988, 6, 1).unwrap(),
            username: username.into(),
            password: PASSWORD.into(),
            email: format!("{username}@example.org"),
        })
        .await
        .unwrap();
    let code = backend.insurer.confirmation_code(username).unwrap();
    carnet.confirm_email(username, &code).await.unwrap();
    carnet.login(username, PASSWORD).await.unwrap();
    carnet.enrol_device("test phone").await.unwrap();
    carnet.set_credential_pin(None, PIN).unwrap();
    carnet
}

async fn jwks(backend: &ClockedBackend) -> JwkSet {
    ApiClient::new(&carnet_e2e::api_config(&backend.insurer))
        .unwrap()
        .jwks()
        .await
        .unwrap()
}

/// A code made by `carnet` now, unlocking the QR first (days have passed).
fn qr(carnet: &Carnet) -> String {
    carnet.unlock_credential(PIN).unwrap();
    carnet.current_qr(Purpose::Identify).unwrap().text
}

#[tokio::test]
async fn a_sync_61_days_after_enrolment_renews_the_certificate_for_the_same_device() {
    let backend = ClockedBackend::start().await;
    let carnet = enrolled_member(&backend, "rita.renueva").await;
    let enrolled_at = start_time().timestamp();
    let before = carnet.enrolment().unwrap();
    assert_eq!(before.certificate.expires_at, enrolled_at + 90 * DAY);

    backend.advance(61 * DAY);
    // Both session tokens have lived 30 days: the member logs in again.
    assert!(matches!(carnet.sync().await, Err(Error::SessionExpired)));
    carnet.login("rita.renueva", PASSWORD).await.unwrap();
    // A code made with the old certificate, to show at T+100 days.
    let old_code = qr(&carnet);

    let report = carnet.sync().await.unwrap();
    assert!(report.certificate_renewed, "{report:?}");
    assert_eq!(report.certificate_renewal_failed, None);

    let after = carnet.enrolment().unwrap();
    let renewed_at = enrolled_at + 61 * DAY;
    assert_eq!(after.device_id, before.device_id);
    assert_eq!(after.certificate.device_id, before.device_id);
    assert_eq!(after.certificate.member_id, before.certificate.member_id);
    assert_eq!(
        after.certificate.device_public_key,
        before.certificate.device_public_key
    );
    assert_eq!(after.certificate.expires_at, renewed_at + 90 * DAY);
    // The insurer's record says the same.
    let devices = carnet.devices().await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, before.device_id);
    assert_eq!(devices[0].certificate_expires_at, renewed_at + 90 * DAY);

    // A second sync right after has nothing to renew.
    let again = carnet.sync().await.unwrap();
    assert!(!again.certificate_renewed, "{again:?}");

    // T+100 days: past the old certificate, within the new one; offline.
    backend.advance(39 * DAY);
    let now = backend.clock.now();
    let jwks = jwks(&backend).await;
    let code = qr(&carnet);
    let verifier = Verifier::new(CachedTrustList::new(jwks.clone(), now));
    let verified = verifier.verify(&code, Purpose::Identify, now).unwrap();
    assert_eq!(verified.certificate.device_id, before.device_id);
    assert_eq!(verified.certificate.expires_at, renewed_at + 90 * DAY);
    let refused = verifier.verify(&old_code, Purpose::Identify, now);
    assert!(
        matches!(refused, Err(Rejection::CertificateExpired)),
        "{refused:?}"
    );
    // The insurer's desk agrees with the offline verifier.
    let http = carnet_e2e::https_client(backend.insurer.ca_cert_pem());
    let response = http
        .post(format!("{}/v1/pharmacy/identify", backend.insurer.url()))
        .bearer_auth(backend.insurer.pharmacy_key())
        .json(&json!({ "code": qr(&carnet) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    backend.shutdown().await;
}

#[tokio::test]
async fn a_sync_10_days_after_enrolment_keeps_the_certificate() {
    let backend = ClockedBackend::start().await;
    let carnet = enrolled_member(&backend, "tomas.temprano").await;
    let before = carnet.enrolment().unwrap();

    backend.advance(10 * DAY);
    let report = carnet.sync().await.unwrap();
    assert!(!report.certificate_renewed, "{report:?}");
    assert_eq!(report.certificate_renewal_failed, None);
    assert_eq!(carnet.enrolment().unwrap(), before);

    // An explicit renewal works at any time, and keeps the device.
    let renewed = carnet.renew_certificate().await.unwrap();
    assert_eq!(renewed.device_id, before.device_id);
    assert_eq!(
        renewed.certificate.expires_at,
        start_time().timestamp() + 100 * DAY
    );
    assert_eq!(carnet.enrolment().unwrap(), renewed);

    backend.shutdown().await;
}

#[tokio::test]
async fn a_revoked_device_is_not_renewed_and_the_rest_of_the_sync_still_runs() {
    let backend = ClockedBackend::start().await;
    let carnet = enrolled_member(&backend, "raul.revocado").await;
    let before = carnet.enrolment().unwrap();

    backend.advance(61 * DAY);
    carnet.login("raul.revocado", PASSWORD).await.unwrap();
    // The member revokes the lost phone from another one.
    let other = phone(&backend, "other-phone").await;
    other.login("raul.revocado", PASSWORD).await.unwrap();
    other.revoke_device(&before.device_id).await.unwrap();

    let report = carnet.sync().await.unwrap();
    assert!(!report.certificate_renewed, "{report:?}");
    let failure = report.certificate_renewal_failed.unwrap();
    assert!(failure.contains("device_revoked"), "{failure}");
    assert_eq!(carnet.enrolment().unwrap(), before);

    let error = carnet.renew_certificate().await.unwrap_err();
    assert!(
        matches!(&error, Error::Api(ApiError::Conflict { code }) if code == "device_revoked"),
        "{error:?}"
    );

    backend.shutdown().await;
}

#[tokio::test]
async fn renewing_needs_a_member_session() {
    let backend = ClockedBackend::start().await;
    let carnet = phone(&backend, "nobody").await;
    assert!(matches!(
        carnet.renew_certificate().await,
        Err(Error::NotEnrolled)
    ));
    backend.shutdown().await;
}

/// `POST /v1/devices/{id}/certificate` spoken to in raw HTTPS.
struct Renewal<'a> {
    backend: &'a ClockedBackend,
}

impl Renewal<'_> {
    async fn challenge(&self, token: &str) -> String {
        let (status, body) = self
            .backend
            .post("/v1/devices/challenge", Some(token), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["challenge"].as_str().unwrap().to_owned()
    }

    /// The body naming `public_key` with `signer`'s signature over a
    /// challenge (a fresh one unless given).
    async fn body(
        &self,
        token: &str,
        public_key: &str,
        signer: &SoftwareDeviceKey,
        challenge: Option<String>,
    ) -> Value {
        let challenge = match challenge {
            Some(challenge) => challenge,
            None => self.challenge(token).await,
        };
        let signature = signer
            .sign(&enrolment_message(&challenge, public_key))
            .unwrap();
        json!({
            "name": "Pixel 8",
            "public_key": public_key,
            "challenge": challenge,
            "signature": b64::encode(&signature),
        })
    }

    async fn post(&self, token: &str, device_id: &str, body: Value) -> (StatusCode, Value) {
        self.backend
            .post(
                &format!("/v1/devices/{device_id}/certificate"),
                Some(token),
                body,
            )
            .await
    }
}

#[tokio::test]
async fn the_renewal_endpoint_needs_the_device_key_a_fresh_challenge_and_the_members_device() {
    let backend = ClockedBackend::start().await;
    let renewal = Renewal { backend: &backend };
    let member = backend.register_member("ines.directa").await;
    let token = member.access_token.as_str();
    let device = backend.enrol_device(token).await;
    let public_key = b64::encode(&device.key.public_key().unwrap());
    let thief = SoftwareDeviceKey::generate().unwrap();
    let thief_key = b64::encode(&thief.public_key().unwrap());

    // The enrolled key, signed by another key.
    let body = renewal.body(token, &public_key, &thief, None).await;
    let (status, answer) = renewal.post(token, &device.id, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "bad_signature");
    // Another key, signing for itself: a renewal never changes the key.
    let body = renewal.body(token, &thief_key, &thief, None).await;
    let (status, answer) = renewal.post(token, &device.id, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "bad_signature");

    // The real thing, 25 days on (the raw session lives 30).
    backend.advance(25 * DAY);
    let challenge = renewal.challenge(token).await;
    let body = renewal
        .body(token, &public_key, &device.key, Some(challenge.clone()))
        .await;
    let (status, answer) = renewal.post(token, &device.id, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let expires_at = backend.clock.now().timestamp() + 90 * DAY;
    assert_eq!(answer["device"]["id"], device.id.as_str());
    assert_eq!(answer["device"]["certificate_expires_at"], expires_at);
    let bytes = b64::decode(answer["certificate"].as_str().unwrap()).unwrap();
    let trust = TrustList::from_jwks(&jwks(&backend).await);
    let now = backend.clock.now().timestamp();
    let renewed = certificate::verify(&bytes, &trust, now + 70 * DAY).unwrap();
    assert_eq!(renewed.device_id, device.id);
    assert_eq!(renewed.member_id, member.member_id);
    assert_eq!(renewed.device_public_key, device.key.public_key().unwrap());
    assert_eq!(renewed.expires_at, expires_at);
    // The enrolment certificate would be expired by then.
    assert!(matches!(
        certificate::verify(&device.certificate, &trust, now + 70 * DAY),
        Err(CertificateError::Expired)
    ));

    // The same challenge again.
    let body = renewal
        .body(token, &public_key, &device.key, Some(challenge))
        .await;
    let (status, answer) = renewal.post(token, &device.id, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "invalid_challenge");
    // A challenge past its 5 minutes.
    let stale = renewal.challenge(token).await;
    backend.advance(5 * 60);
    let body = renewal
        .body(token, &public_key, &device.key, Some(stale))
        .await;
    let (status, answer) = renewal.post(token, &device.id, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "invalid_challenge");

    // Another member cannot renew this device, even with the device key.
    let other = backend.register_member("otro.miembro").await;
    let body = renewal
        .body(&other.access_token, &public_key, &device.key, None)
        .await;
    let (status, answer) = renewal.post(&other.access_token, &device.id, body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    // Nor with a challenge issued to the owner.
    let owners = renewal.challenge(token).await;
    let body = renewal
        .body(&other.access_token, &public_key, &device.key, Some(owners))
        .await;
    let (status, answer) = renewal.post(&other.access_token, &device.id, body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");

    // A revoked device is refused.
    let (status, answer) = backend
        .call(
            Method::DELETE,
            &format!("/v1/devices/{}", device.id),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    let body = renewal.body(token, &public_key, &device.key, None).await;
    let (status, answer) = renewal.post(token, &device.id, body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], "device_revoked");
    // And an unknown device is not found.
    let body = renewal.body(token, &public_key, &device.key, None).await;
    let (status, answer) = renewal.post(token, "0123456789abcdef", body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");

    backend.shutdown().await;
}
