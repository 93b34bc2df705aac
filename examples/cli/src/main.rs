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
use carnet_core::model::RegisterRequest;
use carnet_core::{Carnet, CarnetConfig, VaultKeySource};
use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

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
    /// Log out and wipe this vault.
    Logout,
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
        Command::Logout => {
            carnet.logout().await?;
            println!("logged out; the vault was wiped");
        }
    }
    Ok(())
}
