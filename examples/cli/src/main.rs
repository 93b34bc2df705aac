//! `carnet`: the member CLI over carnet-core.
//!
//! The vault passphrase comes from `CARNET_PASSPHRASE`, or is read from
//! standard input when that is not set. Passwords likewise come from
//! `CARNET_PASSWORD` or standard input, never from the command line (which
//! other users of the machine can see).
//!
//! Requests (`leave`, `continuity`, `remote-care`, `claim`, `requests`,
//! `request`) are filed on this phone without network and sent by
//! `carnet sync`. Every failure exits with status 1 (usage mistakes too);
//! a sync stopped with Ctrl-C exits with 130, as interrupted commands do.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use carnet_core::api::ApiConfig;
use carnet_core::clock::SystemClock;
use carnet_core::credential::Purpose;
use carnet_core::model::RegisterRequest;
use carnet_core::sync::CancelToken;
use carnet_core::{Carnet, CarnetConfig, VaultKeySource};
use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

mod progress;
mod requests;
mod terminal;

use requests::{
    ClaimCommand, ContinuityCommand, LeaveCommand, RemoteCareCommand, RequestCommand, RequestError,
};

/// The member's command line.
#[derive(Parser)]
#[command(name = "carnet", version)]
struct Cli {
    /// The vault's folder.
    #[arg(long, default_value = "carnet-data", global = true)]
    data_dir: PathBuf,
    /// The insurer's URL.
    #[arg(long, default_value = "https://localhost:8443", global = true)]
    server: String,
    /// A private root CA to trust (PEM), such as the reference insurer's ca.pem.
    #[arg(long, global = true)]
    ca: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign up (the password is read from CARNET_PASSWORD or standard input).
    Register {
        /// Affiliate number.
        #[arg(long)]
        affiliate_number: String,
        /// The 16-digit card number.
        #[arg(long)]
        card_number: String,
        /// Birth date, YYYY-MM-DD.
        #[arg(long)]
        birth_date: chrono::NaiveDate,
        /// Username, 5-25 characters.
        #[arg(long)]
        username: String,
        /// E-mail address.
        #[arg(long)]
        email: String,
    },
    /// Confirm the e-mail with the code the insurer sent.
    Confirm {
        /// Username.
        #[arg(long)]
        username: String,
        /// The 6-digit code.
        #[arg(long)]
        code: String,
    },
    /// Log in (the password is read from CARNET_PASSWORD or standard input).
    Login {
        /// Username.
        #[arg(long)]
        username: String,
    },
    /// Enrol this device.
    Enrol {
        /// A name for this device.
        #[arg(long, default_value = "carnet cli")]
        name: String,
    },
    /// Show the account.
    Account,
    /// List the account's devices.
    Devices,
    /// Revoke a device.
    Revoke {
        /// The device id, from `carnet devices`.
        device_id: String,
    },
    /// Choose (or change) the 6-digit credential PIN that guards the QR;
    /// read from CARNET_PIN or standard input (the current one from
    /// CARNET_CURRENT_PIN when changing).
    SetPin,
    /// Show the QR for the counter, made offline; unlocks with CARNET_PIN or
    /// asks for the PIN.
    Qr {
        /// What the code is for: `identify` (first scan) or `settle`.
        #[arg(long, default_value = "identify")]
        purpose: PurposeArg,
        /// Also write the code as a PNG here.
        #[arg(long)]
        png: Option<PathBuf>,
        /// Also write the code as an SVG here.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// Also write the QR text here.
        #[arg(long)]
        text: Option<PathBuf>,
    },
    /// Make a consult token (6 digits, 12 hours, one consultation or
    /// practice): from the insurer, or with --offline on the phone alone.
    Token {
        /// Make it on the phone, without network.
        #[arg(long)]
        offline: bool,
        /// The consultation or practice it is for.
        #[arg(long)]
        practice: Option<String>,
    },
    /// The consult tokens made on this phone, with their status.
    Tokens,
    /// Send the queued requests and their files, bring in their statuses,
    /// token use and pharmacy transactions; Ctrl-C stops it, losing nothing.
    Sync,
    /// The pharmacy transactions seen at the last sync.
    Transactions,
    /// Absenteeism leave: `carnet leave new`.
    #[command(subcommand)]
    Leave(LeaveCommand),
    /// A substitute's certificate of continuity: `carnet continuity new`.
    #[command(subcommand)]
    Continuity(ContinuityCommand),
    /// Care in another region: `carnet remote-care new`.
    #[command(subcommand)]
    RemoteCare(RemoteCareCommand),
    /// Reimbursement claims: `carnet claim new`.
    #[command(subcommand)]
    Claim(ClaimCommand),
    /// The requests on this phone: state, revision, whether waiting to
    /// send, and the reviewer's reasons.
    Requests,
    /// One request: show, submit, recall, resubmit.
    #[command(subcommand)]
    Request(RequestCommand),
    /// Log out and wipe this vault.
    Logout,
}

/// What a QR code is for.
#[derive(Clone, Copy, clap::ValueEnum)]
enum PurposeArg {
    /// First scan: identity and eligibility.
    Identify,
    /// Second scan: settlement.
    Settle,
}

impl From<PurposeArg> for Purpose {
    fn from(purpose: PurposeArg) -> Self {
        match purpose {
            PurposeArg::Identify => Purpose::Identify,
            PurposeArg::Settle => Purpose::Settle,
        }
    }
}

/// The exit status of a sync the member stopped (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

/// Why `carnet` stopped, beyond what the core and the request commands say.
#[derive(Debug, thiserror::Error)]
enum CliError {
    /// The member stopped the sync with Ctrl-C.
    #[error(
        "sync stopped (Ctrl-C); nothing is lost: what the insurer confirmed is recorded, \
         everything else stays on this phone, and the next `carnet sync` continues from there"
    )]
    Interrupted,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Usage mistakes exit 1 like every other failure; help and
            // version are not failures.
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("carnet: {error}");
            if let Some(error) = error.downcast_ref::<RequestError>() {
                for problem in error.problems() {
                    eprintln!("  {}: {}", problem.field, problem.problem);
                }
                if let RequestError::NotQueued { id, .. } = error {
                    eprintln!(
                        "  it stays as it was: add a missing file with `carnet request resubmit \
                         {id} --file FILE`, or file a new request with every field"
                    );
                }
            }
            if matches!(
                error.downcast_ref::<CliError>(),
                Some(CliError::Interrupted)
            ) {
                return ExitCode::from(EXIT_INTERRUPTED);
            }
            ExitCode::FAILURE
        }
    }
}

fn secret_from_env_or_stdin(variable: &str, prompt: &str) -> std::io::Result<Zeroizing<String>> {
    if let Ok(value) = std::env::var(variable) {
        return Ok(Zeroizing::new(value));
    }
    eprint!("{prompt}: ");
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(Zeroizing::new(
        line.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let mut api = ApiConfig::new(cli.server.clone());
    if let Some(ca) = &cli.ca {
        api.extra_root_ca_pem = Some(std::fs::read_to_string(ca)?);
    }
    let passphrase = secret_from_env_or_stdin("CARNET_PASSPHRASE", "vault passphrase")?;
    let config = CarnetConfig {
        data_dir: cli.data_dir.clone(),
        api,
    };
    let carnet = Carnet::open(
        config,
        VaultKeySource::Passphrase(passphrase),
        None,
        Arc::new(SystemClock),
    )
    .await?;
    match cli.command {
        Command::Register {
            affiliate_number,
            card_number,
            birth_date,
            username,
            email,
        } => {
            let password = secret_from_env_or_stdin("CARNET_PASSWORD", "password")?;
            let request = RegisterRequest {
                affiliate_number,
                card_number,
                birth_date,
                username,
                password: password.to_string(),
                email,
            };
            let username = carnet.register(request).await?;
            println!("registered {username}; confirm the e-mail with `carnet confirm`");
        }
        Command::Confirm { username, code } => {
            carnet.confirm_email(&username, &code).await?;
            println!("e-mail confirmed; you can log in");
        }
        Command::Login { username } => {
            let password = secret_from_env_or_stdin("CARNET_PASSWORD", "password")?;
            carnet.login(&username, &password).await?;
            println!("logged in");
        }
        Command::Enrol { name } => {
            let enrolment = carnet.enrol_device(&name).await?;
            println!(
                "enrolled device {} (certificate until {})",
                enrolment.device_id, enrolment.certificate.expires_at
            );
        }
        Command::Account => {
            let account = carnet.account().await?;
            println!("{}", serde_json::to_string_pretty(&account)?);
        }
        Command::Devices => {
            for device in carnet.devices().await? {
                println!("{}", serde_json::to_string(&device)?);
            }
        }
        Command::Revoke { device_id } => {
            carnet.revoke_device(&device_id).await?;
            println!("revoked {device_id}");
        }
        Command::SetPin => {
            let current = if carnet.credential_pin_is_set()? {
                Some(secret_from_env_or_stdin(
                    "CARNET_CURRENT_PIN",
                    "current PIN",
                )?)
            } else {
                None
            };
            let pin = secret_from_env_or_stdin("CARNET_PIN", "new 6-digit PIN")?;
            carnet.set_credential_pin(current.as_ref().map(|p| p.as_str()), &pin)?;
            println!("credential PIN set");
        }
        Command::Qr {
            purpose,
            png,
            svg,
            text,
        } => {
            let code = match carnet.current_qr(purpose.into()) {
                Err(carnet_core::Error::CredentialLocked) => {
                    let pin = secret_from_env_or_stdin("CARNET_PIN", "credential PIN")?;
                    carnet.unlock_credential(&pin)?;
                    carnet.current_qr(purpose.into())?
                }
                other => other?,
            };
            print!("{}", terminal::render(&code.matrix));
            println!(
                "{} code, version {}, valid until {} (show a new one at {})",
                code.purpose.as_str(),
                code.matrix.version,
                code.expires_at.format("%H:%M:%S UTC"),
                code.refresh_at.format("%H:%M:%S UTC"),
            );
            if let Some(path) = png {
                std::fs::write(path, code.png()?)?;
            }
            if let Some(path) = svg {
                std::fs::write(path, code.svg())?;
            }
            if let Some(path) = text {
                std::fs::write(path, &code.text)?;
            }
        }
        Command::Token { offline, practice } => {
            let token = if offline {
                carnet.offline_token(practice.as_deref())?
            } else {
                carnet.request_token(practice.as_deref()).await?
            };
            println!("{}", token.code);
            println!(
                "valid until {} ({})",
                token.expires_at.format("%Y-%m-%d %H:%M UTC"),
                if offline {
                    "made offline"
                } else {
                    "issued by the insurer"
                }
            );
        }
        Command::Tokens => {
            for token in carnet.tokens()? {
                let status = match &token.status {
                    carnet_core::token::Status::Active => "active".to_owned(),
                    carnet_core::token::Status::Used { practice, at } => {
                        format!("used for {practice} at {}", at.format("%Y-%m-%d %H:%M UTC"))
                    }
                    carnet_core::token::Status::Expired => "expired".to_owned(),
                };
                println!(
                    "{}  until {}  {}",
                    token.code,
                    token.expires_at.format("%Y-%m-%d %H:%M UTC"),
                    status
                );
            }
        }
        Command::Sync => sync(&carnet).await?,
        Command::Transactions => {
            for transaction in carnet.transactions()? {
                println!(
                    "{}  {}.{:02} {}  {}",
                    chrono::DateTime::from_timestamp(transaction.settled_at, 0)
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default(),
                    transaction.amount_cents / 100,
                    (transaction.amount_cents % 100).abs(),
                    transaction.currency,
                    transaction.pharmacy_name
                );
            }
        }
        Command::Leave(LeaveCommand::New(args)) => requests::new_leave(&carnet, args)?,
        Command::Continuity(ContinuityCommand::New(args)) => {
            requests::new_continuity(&carnet, args)?;
        }
        Command::RemoteCare(RemoteCareCommand::New(args)) => {
            requests::new_remote_care(&carnet, args)?;
        }
        Command::Claim(ClaimCommand::New(args)) => requests::new_claim(&carnet, args)?,
        Command::Requests => requests::list(&carnet)?,
        Command::Request(command) => requests::request_command(&carnet, command)?,
        Command::Logout => {
            carnet.logout().await?;
            println!("logged out; the vault was wiped");
        }
    }
    Ok(())
}

/// `carnet sync`: the sync with a progress bar on standard error, stopped
/// through its cancel token on Ctrl-C, then the summary.
async fn sync(carnet: &Carnet) -> Result<(), Box<dyn std::error::Error>> {
    let bar = Arc::new(progress::ProgressBar::for_stderr());
    let cancel = CancelToken::new();
    let sync = carnet.sync_with(
        Some(Arc::clone(&bar) as Arc<dyn carnet_core::sync::SyncProgress>),
        Some(cancel.clone()),
    );
    tokio::pin!(sync);
    let result = tokio::select! {
        result = &mut sync => result,
        _ = tokio::signal::ctrl_c() => {
            // Not dropped: the sync is told to stop and awaited, so it ends
            // at an await point with its last confirmed step on disk.
            cancel.cancel();
            sync.await
        }
    };
    bar.finish();
    let report = match result {
        Ok(report) => report,
        Err(carnet_core::Error::SyncCancelled) => return Err(CliError::Interrupted.into()),
        Err(error @ carnet_core::Error::SyncOffline { .. }) => {
            let waiting = carnet
                .requests()
                .map(|listing| {
                    listing
                        .requests
                        .iter()
                        .filter(|request| request.state.is_pending_upload())
                        .count()
                })
                .unwrap_or(0);
            if waiting > 0 {
                eprintln!(
                    "{waiting} request(s) saved on this phone; they will be sent at the next sync"
                );
            }
            return Err(error.into());
        }
        Err(error) => return Err(error.into()),
    };
    println!(
        "synced: {} request(s) sent ({} of files), {} status change(s) applied",
        report.requests_uploaded,
        progress::human_bytes(report.attachments_uploaded),
        report.status_changes_applied,
    );
    if !report.requests_failed.is_empty() {
        println!(
            "{} request(s) not accepted by the insurer; they stay queued on this phone \
             (recall, correct and submit them again):",
            report.requests_failed.len()
        );
        for failed in &report.requests_failed {
            println!(
                "  {} revision {}: {}",
                failed.id,
                failed.revision,
                upload_problem(&failed.problem)
            );
        }
    }
    println!(
        "synced: {} token(s) newly used, {} new transaction(s){}",
        report.tokens_used,
        report.new_transactions,
        if report.tokens_disabled {
            "; tokens are DISABLED after too many wrong codes"
        } else {
            ""
        }
    );
    Ok(())
}

/// A refused upload's code, with the field names or server code it carries.
fn upload_problem(problem: &carnet_core::sync::UploadProblem) -> String {
    use carnet_core::sync::UploadProblem;
    match problem {
        UploadProblem::InvalidFields { fields } => {
            format!("{} ({})", problem.code(), fields.join(", "))
        }
        UploadProblem::AttachmentRefused { code, .. } => format!("{} ({code})", problem.code()),
        UploadProblem::MissingAttachments { hashes } => {
            format!("{} ({} file(s))", problem.code(), hashes.len())
        }
        UploadProblem::Refused { status, code } => {
            format!("{} ({status} {code})", problem.code())
        }
        UploadProblem::IdTaken => problem.code().to_owned(),
    }
}
