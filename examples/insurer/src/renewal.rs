//! Member certificate renewal: `POST /v1/devices/{id}/certificate`.
//!
//! A certificate lives 90 days; the phone's sync renews it for the same
//! device id and the same device key well before it expires (issue 5,
//! item 3). The body is an enrolment body ([`EnrolDeviceRequest`]): a fresh
//! challenge from `POST /v1/devices/challenge`, the device's public key and
//! the key's signature over [`carnet_core::model::enrolment_message`]. The
//! key must be the one the device was enrolled with, so a stolen access
//! token alone cannot renew (nor move the device to an attacker's key): the
//! device key must sign. The challenge is single-use and short-lived, as at
//! enrolment. The device keeps its name (`name` is checked, not applied).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use carnet_core::model::{EnrolDeviceRequest, EnrolDeviceResponse, b64};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::service::{
    AppState, Authenticated, bad_signature, device_key, device_signature_verifies,
    enrolment_fields, is_hex_id, is_short_id, issue_certificate, take_challenge, user_of,
};
use crate::store::{self, DeviceRecord, Update};

/// The routes of this module, merged into the API's router.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/devices/{id}/certificate", post(renew_certificate))
}

fn no_such_device() -> ApiError {
    ApiError::not_found("no such device")
}

fn device_revoked() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "device_revoked",
        "this device was revoked; enrol the phone again",
    )
}

/// What renewing found when it wrote the device record.
enum Renewed {
    Done(carnet_core::model::DeviceInfo),
    Revoked,
}

/// Issues a new member certificate for the caller's device `id`, bound to
/// the key it was enrolled with, valid 90 days from now, and records its
/// expiry on the device.
async fn renew_certificate(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<EnrolDeviceRequest>,
) -> Result<Json<EnrolDeviceResponse>, ApiError> {
    // Devices enrolled before the short ids carry 32 hex digits.
    if !is_short_id(&id) && !is_hex_id(&id) {
        return Err(no_such_device());
    }
    let (_name, public_key) = enrolment_fields(&request)?;
    let key = device_key(member.member_id(), &id);
    // Another member's device is "no such device": ids say nothing about
    // other accounts.
    let Some(device) = store::get::<DeviceRecord>(&state.store.devices, &key)? else {
        return Err(no_such_device());
    };
    if device.info.revoked_at.is_some() {
        return Err(device_revoked());
    }
    // The challenge is used up before the signature is checked: one
    // attempt per challenge, whatever its outcome.
    take_challenge(&state, &member, &request.challenge)?;
    // The signature must verify with the key on record, and the request
    // must name that key: a renewal never moves a device to another key.
    let enrolled_key = b64::decode(&device.public_key);
    if enrolled_key.as_deref() != Some(public_key.as_slice())
        || !device_signature_verifies(&public_key, &request)
    {
        return Err(bad_signature());
    }

    let user = user_of(&state, &member)?;
    let now = state.now_unix();
    let (signed, expires_at) = issue_certificate(&state, &member, user, &id, public_key, now)?;
    // Revocation may have landed since the read above: decide on the
    // record as it is when written.
    let renewed = store::update(&state.store.devices, &key, |mut record: DeviceRecord| {
        if record.info.revoked_at.is_some() {
            return Update::Keep(Renewed::Revoked);
        }
        record.info.certificate_expires_at = expires_at;
        let info = record.info.clone();
        Update::Write(record, Renewed::Done(info))
    })?;
    let info = match renewed {
        None => return Err(no_such_device()),
        Some(Renewed::Revoked) => return Err(device_revoked()),
        Some(Renewed::Done(info)) => info,
    };
    // The phone replaces its certificate once it has this answer: the
    // record must not be lost in a crash after that.
    state.store.flush_durable().await?;
    tracing::info!("renewed a member certificate");
    Ok(Json(EnrolDeviceResponse {
        device: info,
        certificate: b64::encode(&signed),
    }))
}
