//! `provider`: a clinic or lab desk redeeming a member's consult token for a
//! practice, online, with the provider's API key. The code may be typed as
//! the member reads it out: spaces and dashes, and Arabic-Indic, Persian or
//! full-width digits, are accepted (the insurer normalises them).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

#[path = "../partner.rs"]
mod partner;

use partner::{PartnerClient, PartnerError};

/// A provider's desk.
#[derive(Parser)]
#[command(name = "provider", version)]
struct Cli {
    /// The insurer's base URL (https://...).
    #[arg(long)]
    url: String,
    /// The insurer's CA certificate (PEM).
    #[arg(long)]
    ca: PathBuf,
    /// The file holding the provider's API key.
    #[arg(long)]
    key_file: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Redeem a consult token once for a practice.
    Redeem {
        /// The member's id (from their card or app).
        #[arg(long)]
        member: String,
        /// The 6-digit code the member shows or reads out.
        #[arg(long)]
        code: String,
        /// The consultation or practice it is redeemed for.
        #[arg(long)]
        practice: String,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("provider: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let client = PartnerClient::new(&cli.url, &cli.ca, &cli.key_file)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Redeem {
            member,
            code,
            practice,
        } => {
            let body = json!({"member_id": member, "code": code, "practice": practice});
            match runtime.block_on(client.post("/v1/provider/redeem", &body)) {
                Ok(answer) => println!(
                    "ACCEPTED: {} token, for {}",
                    answer["origin"].as_str().unwrap_or("?"),
                    answer["practice"].as_str().unwrap_or("?")
                ),
                Err(PartnerError::Refused { code, message, .. }) => {
                    println!("REFUSED ({code}): {message}");
                    return Err("the token was not accepted".into());
                }
                Err(other) => return Err(other.into()),
            }
        }
    }
    Ok(())
}
