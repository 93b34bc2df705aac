//! `pharmacy`: a counter's verifier. It reads the QR from a photo or a
//! screenshot (PNG) with a real QR decoder (rqrr) and verifies it offline
//! with nothing but the insurer's published keys (JWKS), as an integrator's
//! own software would.

use std::path::PathBuf;
use std::process::ExitCode;

use carnet_core::credential::{CachedTrustList, Purpose, Verifier};
use carnet_core::model::JwkSet;
use clap::{Parser, Subcommand};

#[path = "../scan.rs"]
mod scan;

/// A pharmacy or clinic counter.
#[derive(Parser)]
#[command(name = "pharmacy", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the text of the QR in a PNG.
    Scan {
        /// The image (PNG).
        #[arg(long)]
        image: PathBuf,
    },
    /// Verify the QR in a PNG offline against the insurer's JWKS.
    Verify {
        /// The image (PNG).
        #[arg(long)]
        image: PathBuf,
        /// The insurer's `/.well-known/jwks.json`, saved to a file.
        #[arg(long)]
        jwks: PathBuf,
        /// What the code must be for: `identify` or `settle`.
        #[arg(long, default_value = "identify")]
        purpose: String,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pharmacy: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Scan { image } => {
            println!("{}", scan::qr_text_in_png(&std::fs::read(image)?)?);
        }
        Command::Verify {
            image,
            jwks,
            purpose,
        } => {
            let purpose = match purpose.as_str() {
                "identify" => Purpose::Identify,
                "settle" => Purpose::Settle,
                other => return Err(format!("unknown purpose {other:?}").into()),
            };
            let text = scan::qr_text_in_png(&std::fs::read(image)?)?;
            let jwks_file = std::fs::metadata(&jwks)?;
            let jwks_set: JwkSet = serde_json::from_slice(&std::fs::read(&jwks)?)?;
            // The list's age is the file's: a stale list is reported.
            let fetched_at = jwks_file
                .modified()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or_else(|_| chrono::Utc::now());
            let verifier = Verifier::new(CachedTrustList::new(jwks_set, fetched_at));
            match verifier.verify(&text, purpose, chrono::Utc::now()) {
                Ok(verified) => {
                    println!("ACCEPTED ({})", verified.purpose.as_str());
                    println!(
                        "  member (pseudonymous): {}",
                        verified.certificate.member_id
                    );
                    println!(
                        "  coverage:              {} ({}), until {}",
                        verified.certificate.coverage.plan,
                        verified.certificate.coverage.region,
                        verified.certificate.coverage.valid_until
                    );
                    for warning in verified.warnings {
                        println!("  note: {}", warning.clerk_message());
                    }
                }
                Err(rejection) => {
                    println!(
                        "REJECTED ({}): {}",
                        rejection.code(),
                        rejection.clerk_message()
                    );
                    return Err("the code was rejected".into());
                }
            }
        }
    }
    Ok(())
}
