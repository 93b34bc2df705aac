//! `pharmacy`: a counter's verifier. It reads the QR from a photo or a
//! screenshot (PNG) with a real QR decoder (rqrr) and verifies it offline
//! with nothing but the insurer's published keys (JWKS), as an integrator's
//! own software would; online, it runs the two scans at the insurer:
//! `identify` (eligibility, opens a settlement) then `settle` (a fresh code
//! made to settle, the amount and the items).

use std::path::PathBuf;
use std::process::ExitCode;

use carnet_core::credential::{CachedTrustList, Purpose, Verifier};
use carnet_core::model::JwkSet;
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

#[path = "../partner.rs"]
mod partner;
#[path = "../scan.rs"]
mod scan;

use partner::PartnerClient;

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
    /// First scan, online: the insurer verifies the code (made to
    /// identify), answers eligibility and opens a settlement.
    Identify {
        #[command(flatten)]
        insurer: Insurer,
        /// The image (PNG) of the member's code.
        #[arg(long)]
        image: PathBuf,
    },
    /// Second scan, online: a fresh code made to settle closes the
    /// settlement with the amount and the items; the member's app shows it
    /// after its next sync.
    Settle {
        #[command(flatten)]
        insurer: Insurer,
        /// The image (PNG) of the member's fresh code.
        #[arg(long)]
        image: PathBuf,
        /// The settlement `identify` opened.
        #[arg(long)]
        settlement: String,
        /// ISO 4217 currency code.
        #[arg(long, default_value = "ARS")]
        currency: String,
        /// A dispensed line as `DESCRIPTION:QUANTITY:AMOUNT_CENTS`
        /// (repeat for several); the total is their sum.
        #[arg(long = "item", required = true)]
        items: Vec<String>,
    },
}

/// Where the insurer is and the pharmacy's credentials.
#[derive(Args)]
struct Insurer {
    /// The insurer's base URL (https://...).
    #[arg(long)]
    url: String,
    /// The insurer's CA certificate (PEM).
    #[arg(long)]
    ca: PathBuf,
    /// The file holding the pharmacy's API key.
    #[arg(long)]
    key_file: PathBuf,
}

impl Insurer {
    fn client(&self) -> Result<PartnerClient, partner::PartnerError> {
        PartnerClient::new(&self.url, &self.ca, &self.key_file)
    }
}

/// One `DESCRIPTION:QUANTITY:AMOUNT_CENTS` line as the API's item.
fn parse_item(text: &str) -> Result<(Value, i64), String> {
    let mut parts = text.rsplitn(3, ':');
    let (Some(cents), Some(quantity), Some(description)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "{text:?}: write an item as DESCRIPTION:QUANTITY:AMOUNT_CENTS"
        ));
    };
    let quantity: u32 = quantity
        .parse()
        .map_err(|_| format!("{text:?}: the quantity is not a whole number"))?;
    let cents: i64 = cents
        .parse()
        .map_err(|_| format!("{text:?}: the amount is not a whole number of cents"))?;
    Ok((
        json!({"description": description, "quantity": quantity, "amount_cents": cents}),
        cents,
    ))
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
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
        Command::Identify { insurer, image } => {
            let text = scan::qr_text_in_png(&std::fs::read(image)?)?;
            let client = insurer.client()?;
            let answer = runtime()?
                .block_on(client.post("/v1/pharmacy/identify", &json!({ "code": text })))?;
            let eligible = answer["eligible"].as_bool().unwrap_or(false);
            let coverage = &answer["coverage"];
            println!(
                "{} ({} {}, until {})",
                if eligible { "ELIGIBLE" } else { "NOT ELIGIBLE" },
                coverage["plan"].as_str().unwrap_or("?"),
                coverage["region"].as_str().unwrap_or("?"),
                coverage["valid_until"].as_str().unwrap_or("?"),
            );
            if let Some(settlement) = answer["settlement_id"].as_str() {
                println!("  settlement: {settlement}");
                println!("  ask the member for a fresh payment code, then run `pharmacy settle`");
            }
            if !eligible {
                return Err("the member's coverage is not in force".into());
            }
        }
        Command::Settle {
            insurer,
            image,
            settlement,
            currency,
            items,
        } => {
            let text = scan::qr_text_in_png(&std::fs::read(image)?)?;
            let mut lines = Vec::with_capacity(items.len());
            let mut total: i64 = 0;
            for item in &items {
                let (line, cents) = parse_item(item)?;
                total = total.checked_add(cents).ok_or("the total is too large")?;
                lines.push(line);
            }
            let client = insurer.client()?;
            let answer = runtime()?.block_on(client.post(
                "/v1/pharmacy/settle",
                &json!({
                    "settlement_id": settlement,
                    "code": text,
                    "amount_cents": total,
                    "currency": currency,
                    "items": lines,
                }),
            ))?;
            println!(
                "SETTLED {} {:.2} {}",
                answer["id"].as_str().unwrap_or("?"),
                total as f64 / 100.0,
                currency
            );
        }
    }
    Ok(())
}
