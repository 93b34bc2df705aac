//! End-to-end test support: the reference insurer over HTTPS on loopback, a
//! raw HTTPS client that trusts it, and a registered, enrolled member; the
//! insurer spoken to in raw HTTPS ([`backend`]), its reviewer
//! ([`reviewer`]), sample requests ([`sample`]), sync listeners
//! ([`progress`]) and a fault-injecting proxy ([`fault_proxy`]). Shared by the tests in `tests/tests` and the
//! example commands' tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod backend;
pub mod fault_proxy;
pub mod progress;
pub mod reviewer;
pub mod sample;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use carnet_core::api::ApiConfig;
use carnet_core::clock::SystemClock;
use carnet_core::model::RegisterRequest;
use carnet_core::{Carnet, CarnetConfig, VaultKeySource};
use carnet_insurer::{InsurerConfig, RunningInsurer};
use fault_proxy::{FaultCounts, FaultPlan, FaultProxy};
use zeroize::Zeroizing;

/// Starts the insurer with its data in `dir/insurer`.
pub async fn start_insurer(dir: &Path) -> RunningInsurer {
    carnet_insurer::start(InsurerConfig::new(dir.join("insurer")))
        .await
        .expect("the insurer starts")
}

/// Starts the insurer with its data in `dir/insurer` and a fault-injecting
/// proxy in front of it on `plan`.
pub async fn insurer_behind_proxy(dir: &Path, plan: FaultPlan) -> (RunningInsurer, FaultProxy) {
    let insurer = start_insurer(dir).await;
    let proxy = FaultProxy::start(
        &insurer.url(),
        insurer.ca_cert_pem(),
        &dir.join("insurer"),
        plan,
    )
    .await;
    (insurer, proxy)
}

/// Fails the test unless every kind of fault in `counts` happened at
/// least once (the plan bit).
#[track_caller]
pub fn assert_every_fault_happened(counts: &FaultCounts) {
    for (what, count) in [
        ("dropped before", counts.dropped_before),
        ("dropped after", counts.dropped_after),
        ("error answers", counts.error_answers),
        ("truncated", counts.truncated),
        ("delayed", counts.delayed),
    ] {
        assert!(count > 0, "no {what}: the plan did not bite ({counts:?})");
    }
}

/// A raw HTTPS client trusting only the insurer's CA, under the core's TLS
/// policy.
pub fn https_client(ca_pem: &str) -> reqwest::Client {
    let tls = carnet_core::api::client_config(Some(ca_pem), false, &[]).expect("a TLS config");
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTPS client")
}

/// The core's API settings for `insurer`.
pub fn api_config(insurer: &RunningInsurer) -> ApiConfig {
    let mut api = ApiConfig::new(insurer.url());
    api.extra_root_ca_pem = Some(insurer.ca_cert_pem().to_owned());
    api.use_public_roots = false;
    api
}

/// A member registered, confirmed, logged in and enrolled on a phone whose
/// vault is `dir/<username>`, with the credential PIN `480213`.
pub async fn enrolled_member(insurer: &RunningInsurer, dir: &Path, username: &str) -> Carnet {
    let carnet = Carnet::open(
        CarnetConfig {
            data_dir: dir.join(username),
            api: api_config(insurer),
        },
        VaultKeySource::Passphrase(Zeroizing::new("test passphrase".into())),
        None,
        Arc::new(SystemClock),
    )
    .await
    .expect("the vault opens");
    // Distinct numbers per username, since the insurer refuses reuse.
    let digits: u64 = username.bytes().fold(17u64, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u64::from(byte))
    }) % 1_000_000;
    let registration = RegisterRequest {
        affiliate_number: format!("{digits:06}"),
        card_number: format!("6034930000{digits:06}"),
        birth_date: chrono::NaiveDate::from_ymd_opt(1990, 1, 15).expect("a date"),
        username: username.into(),
        password: "Receta2026".into(),
        email: format!("{username}@example.org"),
    };
    carnet
        .register(registration.clone())
        .await
        .expect("registers");
    let code = insurer
        .confirmation_code(username)
        .expect("a confirmation code");
    carnet
        .confirm_email(username, &code)
        .await
        .expect("confirms");
    carnet
        .login(username, &registration.password)
        .await
        .expect("logs in");
    carnet.enrol_device("test phone").await.expect("enrols");
    carnet
        .set_credential_pin(None, "480213")
        .expect("sets the PIN");
    carnet
}
