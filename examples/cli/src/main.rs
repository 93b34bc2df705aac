//! `carnet`: the member CLI over carnet-core.
//!
//! The vault passphrase comes from `CARNET_PASSPHRASE`, or is read from
//! standard input when that is not set. Passwords likewise come from
//! `CARNET_PASSWORD` or standard input, never from the command line (which
//! other users of the machine can see).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use carnet_core::api::ApiConfig;
use carnet_core::clock::SystemClock;
use carnet_core::credential::Purpose;
use carnet_core::model::RegisterRequest;
use carnet_core::{Carnet, CarnetConfig, VaultKeySource};
use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

mod terminal;

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
    /// Bring in token use and pharmacy transactions.
    Sync,
    /// The pharmacy transactions seen at the last sync.
    Transactions,
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("carnet: {error}");
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
        Command::Sync => {
            let report = carnet.sync().await?;
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
        }
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
        Command::Logout => {
            carnet.logout().await?;
            println!("logged out; the vault was wiped");
        }
    }
    Ok(())
}
