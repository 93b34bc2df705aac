//! The end-to-end demo: starts the reference insurer on loopback over HTTPS,
//! then walks a member through registration, e-mail confirmation, login and
//! device enrolment with the real core, and prints what the member sees.
//! Then a request's round trip: an absenteeism leave filed on the phone
//! before any sync, sent, returned by the reviewer with a reason, answered
//! with a signed certificate, approved.
//!
//! `demo --out DIR` keeps everything under DIR (the member's vault under
//! `DIR/member`, the insurer's data under `DIR/insurer`); without `--out` a
//! fresh temporary folder is used and removed at the end.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use carnet_core::api::ApiConfig;
use carnet_core::clock::SystemClock;
use carnet_core::credential::{CachedTrustList, Purpose, Verifier};
use carnet_core::model::RegisterRequest;
use carnet_core::requests::{
    AbsenteeismLeave, AttachmentRef, FamilyRelation, LeaveReason, MediaType, RequestForm,
    RequestId, RequestState,
};
use carnet_core::{Carnet, CarnetConfig, VaultKeySource};
use carnet_insurer::{InsurerConfig, RunningInsurer};
use clap::Parser;
use zeroize::Zeroizing;

/// Runs the whole member story against a fresh reference insurer.
#[derive(Parser)]
#[command(name = "demo")]
struct Args {
    /// Keep everything under this folder instead of a temporary one.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// What the demo's reviewer asks for (fictitious).
const RETURN_REASON: &str = "El certificado no tiene la firma del médico";

/// Why the demo reviewer's call failed.
#[derive(Debug, thiserror::Error)]
enum ReviewError {
    #[error("the reviewer could not reach the insurer: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the reviewer's HTTPS set-up failed: {0}")]
    Tls(#[from] carnet_core::api::ApiError),
    #[error("the insurer refused the review ({0})")]
    Refused(reqwest::StatusCode),
}

/// The demo member's credential PIN (fictitious).
const DEMO_PIN: &str = "274018";

/// The demo member (fictitious).
fn demo_member() -> RegisterRequest {
    RegisterRequest {
        affiliate_number: "482913/00".into(),
        card_number: "6034 9300 0048 2913".into(),
        birth_date: chrono::NaiveDate::from_ymd_opt(1986, 5, 14).unwrap_or_default(),
        username: "maria.demo".into(),
        password: "Docente2026".into(),
        email: "maria.demo@example.org".into(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The temporary folder lives until the end of `run`.
    let (root, temporary) = match args.out {
        Some(out) => (out, None),
        None => {
            let dir = tempfile::tempdir()?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    std::fs::create_dir_all(&root)?;
    let member_dir = root.join("member");
    let insurer_dir = root.join("insurer");

    println!("== starting the reference insurer (HTTPS on loopback)");
    let insurer = carnet_insurer::start(InsurerConfig::new(insurer_dir.clone())).await?;
    println!("   url:            {}", insurer.url());
    println!("   CA certificate: {}", insurer.ca_cert_path().display());

    let result = member_story(&insurer, member_dir, &root).await;
    insurer.shutdown().await;
    result?;
    if temporary.is_some() {
        println!(
            "\n(everything was in a temporary folder, now removed; pass --out DIR to keep it)"
        );
    } else {
        println!("\nkept under {}", root.display());
    }
    Ok(())
}

async fn member_story(
    insurer: &RunningInsurer,
    member_dir: PathBuf,
    out: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut api = ApiConfig::new(insurer.url());
    api.extra_root_ca_pem = Some(insurer.ca_cert_pem().to_owned());
    api.use_public_roots = false;
    let config = CarnetConfig {
        data_dir: member_dir,
        api,
    };
    let passphrase = VaultKeySource::Passphrase(Zeroizing::new("demo vault passphrase".into()));
    let carnet = Carnet::open(config, passphrase, None, Arc::new(SystemClock)).await?;

    let member = demo_member();
    println!("\n== registering {}", member.username);
    let username = match carnet.register(member.clone()).await {
        Ok(username) => username,
        Err(carnet_core::Error::Api(carnet_core::api::ApiError::Conflict { .. })) => {
            println!("   (already registered in this folder)");
            member.username.clone()
        }
        Err(error) => return Err(error.into()),
    };
    if let Some(code) = insurer.confirmation_code(&username) {
        println!("== confirming the e-mail with the code the insurer sent");
        carnet.confirm_email(&username, &code).await?;
    }
    println!("== logging in");
    carnet.login(&username, &member.password).await?;
    println!("== enrolling this device");
    let enrolment = carnet.enrol_device("demo phone").await?;

    let account = carnet.account().await?;
    println!("\nAccount");
    println!("   member id (pseudonymous): {}", account.member_id);
    println!("   username:                 {}", account.username);
    println!("   e-mail:                   {}", account.email);
    println!("   affiliate number:         {}", account.affiliate_number);
    println!(
        "   card:                     **** **** **** {}",
        account.card_last4
    );
    println!("   birth date:               {}", account.birth_date);
    println!(
        "   coverage:                 {} ({}), until {}",
        account.coverage.plan, account.coverage.region, account.coverage.valid_until
    );
    println!("\nThis device");
    println!("   device id:                {}", enrolment.device_id);
    println!(
        "   certificate expires:      {}",
        format_unix(enrolment.certificate.expires_at)
    );
    println!("\nDevices on the account");
    for device in carnet.devices().await? {
        let state = match device.revoked_at {
            Some(at) => format!("revoked {}", format_unix(at)),
            None => "active".to_owned(),
        };
        println!("   {}  {:<12} {}", device.id, device.name, state);
    }
    if let Some(location) = carnet.vault_location() {
        println!("\nEncrypted vault: {}", location.display());
    }

    println!("\n== the pharmacy QR (made offline, valid 60 s)");
    if !carnet.credential_pin_is_set()? {
        carnet.set_credential_pin(None, DEMO_PIN)?;
    }
    carnet.unlock_credential(DEMO_PIN)?;
    let code = carnet.current_qr(Purpose::Identify)?;
    std::fs::write(out.join("qr.png"), code.png()?)?;
    std::fs::write(out.join("qr.txt"), &code.text)?;
    std::fs::write(
        out.join("jwks.json"),
        serde_json::to_string_pretty(&insurer.jwks())?,
    )?;
    println!(
        "   {} characters, QR version {}, expires {}",
        code.text.len(),
        code.matrix.version,
        code.expires_at.format("%H:%M:%S UTC")
    );
    println!("   written: qr.png, qr.txt, jwks.json (try your own scanner and COSE library)");
    let verifier = Verifier::new(CachedTrustList::new(insurer.jwks(), chrono::Utc::now()));
    let verified = verifier.verify(&code.text, Purpose::Identify, chrono::Utc::now())?;
    println!(
        "   verified offline with the JWKS alone: member {}, {} until {}",
        verified.certificate.member_id,
        verified.certificate.coverage.plan,
        verified.certificate.coverage.valid_until
    );

    request_story(insurer, &carnet).await
}

/// An absenteeism leave's round trip: filed on the phone, synced, returned
/// by the reviewer (through the admin API, as the `reviewer` tool does),
/// answered with a signed certificate, approved.
async fn request_story(
    insurer: &RunningInsurer,
    carnet: &Carnet,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== an absenteeism leave, filed on the phone before any sync");
    let today = chrono::Utc::now().date_naive();
    let certificate = carnet.add_attachment(&scan(1)?, MediaType::Png, "certificado.png")?;
    let leave = |certificate: AttachmentRef| {
        RequestForm::AbsenteeismLeave(AbsenteeismLeave {
            reason: Some(LeaveReason::FamilyCare {
                relation: FamilyRelation::Child,
            }),
            start: Some(today),
            end: Some(today + chrono::Days::new(4)),
            workplace: "Escuela N.º 12 D.E. 5".into(),
            medical_certificate: Some(certificate),
        })
    };
    let draft = carnet.save_request_draft(leave(certificate))?;
    let id = draft.id.clone();
    let queued = carnet.submit_request(&id)?;
    println!(
        "   request {id}: {} (saved on this phone; it will be sent at the next sync)",
        queued.state.name().as_str()
    );

    sync_and_show(carnet, &id).await?;
    println!("\n== the reviewer returns it, saying why");
    review(insurer, &id, "return", &[RETURN_REASON]).await?;
    sync_and_show(carnet, &id).await?;

    println!("\n== the member attaches the signed certificate and resubmits");
    let signed = carnet.add_attachment(&scan(2)?, MediaType::Png, "certificado-firmado.png")?;
    carnet.update_request_draft(&id, leave(signed))?;
    let resubmitted = carnet.submit_request(&id)?;
    println!(
        "   {} as revision {}",
        resubmitted.state.name().as_str(),
        resubmitted.revision
    );
    sync_and_show(carnet, &id).await?;
    println!("\n== the reviewer approves it");
    review(insurer, &id, "approve", &[]).await?;
    sync_and_show(carnet, &id).await?;
    Ok(())
}

/// Syncs and prints the summary and the request's state.
async fn sync_and_show(carnet: &Carnet, id: &RequestId) -> Result<(), Box<dyn std::error::Error>> {
    let report = carnet.sync().await?;
    println!(
        "   synced: {} request(s) sent, {} bytes of files, {} status change(s) applied, {} failed",
        report.requests_uploaded,
        report.attachments_uploaded,
        report.status_changes_applied,
        report.requests_failed.len()
    );
    let state = carnet
        .request(id)?
        .map(|request| request.state)
        .ok_or("the request is no longer on this phone")?;
    match &state {
        RequestState::Returned { reasons } | RequestState::Rejected { reasons } => {
            println!("   {}: {}", state.name().as_str(), reasons.join("; "));
        }
        _ => println!("   the leave is {}", state.name().as_str()),
    }
    Ok(())
}

/// `POST /v1/admin/requests/{id}/review` with the insurer's admin key.
async fn review(
    insurer: &RunningInsurer,
    id: &RequestId,
    action: &str,
    reasons: &[&str],
) -> Result<(), ReviewError> {
    let tls = carnet_core::api::client_config(Some(insurer.ca_cert_pem()), false, &[])?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let response = client
        .post(format!("{}/v1/admin/requests/{id}/review", insurer.url()))
        .bearer_auth(insurer.admin_key())
        .json(&serde_json::json!({ "action": action, "reasons": reasons }))
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(ReviewError::Refused(response.status()));
    }
    Ok(())
}

/// A small grey PNG standing in for a photographed certificate; `seed`
/// makes each one different (a different file, a different hash).
fn scan(seed: u8) -> Result<Vec<u8>, png::EncodingError> {
    const SIDE: u32 = 48;
    let pixels: Vec<u8> = (0..SIDE * SIDE)
        .map(|i| ((i % SIDE) as u8).wrapping_mul(5) ^ ((i / SIDE) as u8).wrapping_add(seed))
        .collect();
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, SIDE, SIDE);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
    }
    Ok(bytes)
}

fn format_unix(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| seconds.to_string())
}
