//! The member story end to end: carnet-core against the reference insurer
//! over real HTTPS on loopback, with the vault in real sled files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use carnet_core::api::{ApiConfig, ApiError, TransportFailure, spki_sha256_pin};
use carnet_core::clock::{Clock, FixedClock, SystemClock};
use carnet_core::model::RegisterRequest;
use carnet_core::vault::VaultError;
use carnet_core::{Carnet, CarnetConfig, Error, VaultKeySource};
use carnet_insurer::{InsurerConfig, RunningInsurer};
use zeroize::Zeroizing;

const PASSPHRASE: &str = "correct horse battery staple";

fn member(username: &str) -> RegisterRequest {
    RegisterRequest {
        affiliate_number: "777123/02".into(),
        card_number: "6034 9300 0077 7123".into(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1979, 8, 21).unwrap(),
        username: username.into(),
        password: "Maestra1979".into(),
        email: format!("{username}@escuela.example"),
    }
}

async fn insurer(dir: &Path) -> RunningInsurer {
    carnet_insurer::start(InsurerConfig::new(dir.join("insurer")))
        .await
        .unwrap()
}

fn api_for(insurer: &RunningInsurer) -> ApiConfig {
    let mut api = ApiConfig::new(insurer.url());
    api.extra_root_ca_pem = Some(insurer.ca_cert_pem().to_owned());
    api.use_public_roots = false;
    api
}

async fn open(dir: PathBuf, api: ApiConfig, clock: Arc<dyn Clock>) -> Result<Carnet, Error> {
    let key = VaultKeySource::Passphrase(Zeroizing::new(PASSPHRASE.into()));
    Carnet::open(CarnetConfig { data_dir: dir, api }, key, None, clock).await
}

/// Registers, confirms and logs in `username`; returns the handle.
async fn logged_in(insurer: &RunningInsurer, dir: PathBuf, username: &str) -> Carnet {
    let carnet = open(dir, api_for(insurer), Arc::new(SystemClock))
        .await
        .unwrap();
    let registration = member(username);
    carnet.register(registration.clone()).await.unwrap();
    let code = insurer.confirmation_code(username).unwrap();
    carnet.confirm_email(username, &code).await.unwrap();
    carnet
        .login(username, &registration.password)
        .await
        .unwrap();
    carnet
}

fn every_file_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn the_whole_story_runs_and_leaves_nothing_readable_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = insurer(dir.path()).await;
    let member_dir = dir.path().join("member");
    let carnet = logged_in(&insurer, member_dir.clone(), "ana.docente").await;

    let enrolment = carnet.enrol_device("Pixel de Ana").await.unwrap();
    let account = carnet.account().await.unwrap();
    assert_eq!(account.username, "ana.docente");
    assert_eq!(account.card_last4, "7123");
    assert_eq!(account.member_id, enrolment.certificate.member_id);
    assert_eq!(carnet.enrolment().unwrap().device_id, enrolment.device_id);

    // A second phone of the same member, then revoked from the first.
    let second = open(
        dir.path().join("second"),
        api_for(&insurer),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    second.login("ana.docente", "Maestra1979").await.unwrap();
    let other = second.enrol_device("Tablet").await.unwrap();
    assert_ne!(other.device_id, enrolment.device_id);
    assert_eq!(carnet.devices().await.unwrap().len(), 2);
    carnet.revoke_device(&other.device_id).await.unwrap();
    let devices = carnet.devices().await.unwrap();
    let revoked = devices.iter().find(|d| d.id == other.device_id).unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(
        devices
            .iter()
            .find(|d| d.id == enrolment.device_id)
            .unwrap()
            .revoked_at
            .is_none()
    );

    // Nothing personal or secret in plaintext in any file of the vault.
    let secrets: [&[u8]; 7] = [
        b"ana.docente",
        b"escuela.example",
        b"777123",
        b"6034930000777123",
        b"Maestra1979",
        PASSPHRASE.as_bytes(),
        account.member_id.as_bytes(),
    ];
    let files = every_file_under(&member_dir);
    assert!(!files.is_empty());
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for secret in secrets {
            assert!(
                !contains(&bytes, secret),
                "{} holds {:?} in plaintext",
                file.display(),
                String::from_utf8_lossy(secret)
            );
        }
    }

    // Logout wipes the vault and closes the handle.
    carnet.logout().await.unwrap();
    assert!(!member_dir.exists() || every_file_under(&member_dir).is_empty());
    assert!(matches!(carnet.account().await, Err(Error::Closed)));
    insurer.shutdown().await;
}

#[tokio::test]
async fn the_vault_survives_a_restart_and_refuses_a_wrong_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = insurer(dir.path()).await;
    let member_dir = dir.path().join("member");
    let carnet = logged_in(&insurer, member_dir.clone(), "beto.suplente").await;
    let enrolment = carnet.enrol_device("phone").await.unwrap();
    drop(carnet);

    let wrong = Carnet::open(
        CarnetConfig {
            data_dir: member_dir.clone(),
            api: api_for(&insurer),
        },
        VaultKeySource::Passphrase(Zeroizing::new("not the passphrase".into())),
        None,
        Arc::new(SystemClock),
    )
    .await;
    assert!(matches!(wrong, Err(Error::Vault(VaultError::WrongKey))));

    let reopened = open(member_dir, api_for(&insurer), Arc::new(SystemClock))
        .await
        .unwrap();
    assert_eq!(reopened.enrolment().unwrap(), enrolment);
    assert_eq!(reopened.account().await.unwrap().username, "beto.suplente");
    insurer.shutdown().await;
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = insurer(dir.path()).await;
    let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
    let carnet = open(dir.path().join("member"), api_for(&insurer), clock.clone())
        .await
        .unwrap();
    let registration = member("carla.refresh");
    carnet.register(registration.clone()).await.unwrap();
    let code = insurer.confirmation_code("carla.refresh").unwrap();
    carnet.confirm_email("carla.refresh", &code).await.unwrap();
    carnet
        .login("carla.refresh", &registration.password)
        .await
        .unwrap();
    // Past the access token's life (15 min) but inside the refresh token's.
    clock.advance(chrono::Duration::hours(1));
    assert_eq!(carnet.account().await.unwrap().username, "carla.refresh");
    // Past the refresh token's life: the member must log in again.
    clock.advance(chrono::Duration::days(31));
    assert!(matches!(carnet.account().await, Err(Error::SessionExpired)));
    insurer.shutdown().await;
}

#[tokio::test]
async fn bad_input_and_faults_get_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = insurer(dir.path()).await;
    let carnet = open(
        dir.path().join("member"),
        api_for(&insurer),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();

    // Invalid fields are refused before anything is sent.
    let mut bad = member("dora.prueba");
    bad.card_number = "1234".into();
    bad.password = "short".into();
    match carnet.register(bad).await {
        Err(Error::InvalidRegistration(problems)) => assert_eq!(problems.len(), 2),
        other => panic!("expected invalid fields, got {other:?}"),
    }

    // Log in before confirming, then with a wrong password.
    carnet.register(member("dora.prueba")).await.unwrap();
    assert!(matches!(
        carnet.login("dora.prueba", "Maestra1979").await,
        Err(Error::Api(ApiError::Forbidden { code })) if code == "email_not_confirmed"
    ));
    assert!(matches!(
        carnet.confirm_email("dora.prueba", "000000x").await,
        Err(Error::Api(_))
    ));
    let code = insurer.confirmation_code("dora.prueba").unwrap();
    carnet.confirm_email("dora.prueba", &code).await.unwrap();
    assert!(matches!(
        carnet.login("dora.prueba", "Wrong12345").await,
        Err(Error::Api(ApiError::Unauthorized { code })) if code == "wrong_credentials"
    ));
    assert!(matches!(carnet.account().await, Err(Error::NotLoggedIn)));
    assert!(matches!(
        carnet.register(member("dora.prueba")).await,
        Err(Error::Api(ApiError::Conflict { .. }))
    ));

    // A CA that did not sign the server's certificate.
    let stranger = carnet_insurer::tls::make_ca().unwrap();
    let mut untrusted = api_for(&insurer);
    untrusted.extra_root_ca_pem = Some(stranger);
    let client = open(
        dir.path().join("untrusted"),
        untrusted,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    assert!(matches!(
        client.login("dora.prueba", "Maestra1979").await,
        Err(Error::Api(ApiError::Transport {
            failure: TransportFailure::Tls
        }))
    ));
    drop(client);

    // Pinning: the server's own key passes, another pin fails.
    let server_certificate = carnet_insurer::tls::leaf_certificate_der(&insurer);
    let mut pinned = api_for(&insurer);
    pinned.spki_pins = vec![
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
        spki_sha256_pin(&server_certificate).unwrap(),
    ];
    let client = open(dir.path().join("pinned"), pinned, Arc::new(SystemClock))
        .await
        .unwrap();
    client.login("dora.prueba", "Maestra1979").await.unwrap();
    drop(client);
    let mut wrong_pin = api_for(&insurer);
    wrong_pin.spki_pins = vec!["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()];
    let client = open(
        dir.path().join("wrong-pin"),
        wrong_pin,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    assert!(matches!(
        client.login("dora.prueba", "Maestra1979").await,
        Err(Error::Api(ApiError::PinMismatch))
    ));
    drop(client);

    // The backend is down: its port no longer answers.
    let url = insurer.url();
    let ca = insurer.ca_cert_pem().to_owned();
    insurer.shutdown().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut down = ApiConfig::new(url);
    down.extra_root_ca_pem = Some(ca);
    down.use_public_roots = false;
    let client = open(dir.path().join("down"), down, Arc::new(SystemClock))
        .await
        .unwrap();
    assert!(matches!(
        client.login("dora.prueba", "Maestra1979").await,
        Err(Error::Api(ApiError::Transport {
            failure: TransportFailure::Connect
        }))
    ));
}
