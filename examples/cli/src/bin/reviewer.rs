//! `reviewer`: the insurer's reviewer going through members' requests
//! (leaves, continuity certificates, remote-care registrations, claims)
//! with the admin API key the insurer wrote to `<data_dir>/admin-key.txt`.
//!
//! ```text
//! reviewer --url URL --ca CA.pem --key-file admin-key.txt list [--status received]
//! reviewer ... review ID under-review|approve
//! reviewer ... return ID --reason "The certificate is not signed" [--reason ...]
//! reviewer ... reject ID --reason "Outside the coverage period"
//! ```
//!
//! Each decision reaches the member's phone through its status feed.

use std::path::PathBuf;
use std::process::ExitCode;

use carnet_core::model::{ReviewQueue, ReviewedRequest};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

#[path = "../partner.rs"]
mod partner;

use partner::{PartnerClient, PartnerError};

/// A reviewer's desk.
#[derive(Parser)]
#[command(name = "reviewer", version)]
struct Cli {
    /// The insurer's base URL (https://...).
    #[arg(long)]
    url: String,
    /// The insurer's CA certificate (PEM).
    #[arg(long)]
    ca: PathBuf,
    /// The file holding the admin API key.
    #[arg(long)]
    key_file: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the requests, oldest first.
    List {
        /// Only those in this status.
        #[arg(long, value_enum)]
        status: Option<Status>,
        /// Print the whole answer (forms included) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start the review of a request, or approve it.
    Review {
        /// The request id (32 hexadecimal digits).
        id: String,
        /// What to do.
        #[arg(value_enum)]
        action: Action,
    },
    /// Send a request back to the member, saying what is needed.
    Return {
        /// The request id.
        id: String,
        /// What the member must fix (at least one).
        #[arg(long = "reason", required = true, num_args = 1.., action = clap::ArgAction::Append)]
        reasons: Vec<String>,
    },
    /// Refuse a request, saying why.
    Reject {
        /// The request id.
        id: String,
        /// Why (at least one).
        #[arg(long = "reason", required = true, num_args = 1.., action = clap::ArgAction::Append)]
        reasons: Vec<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Status {
    Received,
    UnderReview,
    Returned,
    Approved,
    Rejected,
}

impl Status {
    fn wire(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::UnderReview => "under_review",
            Self::Returned => "returned",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Action {
    UnderReview,
    Approve,
}

/// Why the command failed.
#[derive(Debug, thiserror::Error)]
enum ReviewerError {
    #[error(transparent)]
    Partner(#[from] PartnerError),
    #[error("the insurer's answer is not a request list or review")]
    Shape,
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

fn main() -> ExitCode {
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
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("reviewer: {}", ReviewerError::Runtime(error));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("reviewer: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), ReviewerError> {
    let client = PartnerClient::new(&cli.url, &cli.ca, &cli.key_file)?;
    match cli.command {
        Command::List { status, json } => {
            let path = match status {
                Some(status) => format!("/v1/admin/requests?status={}", status.wire()),
                None => "/v1/admin/requests".to_owned(),
            };
            let answer = client.get(&path).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&answer).map_err(|_| ReviewerError::Shape)?
                );
                return Ok(());
            }
            let queue: ReviewQueue =
                serde_json::from_value(answer).map_err(|_| ReviewerError::Shape)?;
            if queue.requests.is_empty() {
                println!("no requests");
            }
            for request in &queue.requests {
                println!("{}", line(request));
            }
        }
        Command::Review { id, action } => {
            let action = match action {
                Action::UnderReview => "under_review",
                Action::Approve => "approve",
            };
            decide(&client, &id, json!({"action": action})).await?;
        }
        Command::Return { id, reasons } => {
            decide(
                &client,
                &id,
                json!({"action": "return", "reasons": reasons}),
            )
            .await?;
        }
        Command::Reject { id, reasons } => {
            decide(
                &client,
                &id,
                json!({"action": "reject", "reasons": reasons}),
            )
            .await?;
        }
    }
    Ok(())
}

async fn decide(
    client: &PartnerClient,
    id: &str,
    body: serde_json::Value,
) -> Result<(), ReviewerError> {
    let answer = client
        .post(&format!("/v1/admin/requests/{id}/review"), &body)
        .await?;
    let request: ReviewedRequest =
        serde_json::from_value(answer).map_err(|_| ReviewerError::Shape)?;
    println!("{}", line(&request));
    Ok(())
}

/// One request on one line: id, kind, status, revision, uploads, member,
/// when it first arrived (UTC).
fn line(request: &ReviewedRequest) -> String {
    let status = request.status.to_state().name();
    let received = chrono::DateTime::from_timestamp(request.received_at, 0).map_or_else(
        || request.received_at.to_string(),
        |at| at.format("%Y-%m-%d %H:%M").to_string(),
    );
    format!(
        "{}  {:<22}  {:<12}  revision {}  uploads {}  member {}  received {received}",
        request.id,
        request.form.kind().as_str(),
        status.as_str(),
        request.revision,
        request.uploads,
        request.member_id,
    )
}
