//! Consult tokens and the sync that brings in their use and the pharmacy
//! transactions (and, since the outbox, the requests: see [`crate::sync`]).
//! Thin mirrors of the core; no logic.

use std::sync::Arc;

use carnet_core::token::{Origin, Status, TokenRecord};

use crate::carnet::{Carnet, run};
use crate::error::CarnetError;
use crate::sync::FailedUpload;

/// What became of a token.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum TokenStatus {
    /// Not used, not expired.
    Active,
    /// Used by a provider for `practice` at `at` (Unix seconds).
    Used {
        /// The practice.
        practice: String,
        /// When (Unix seconds).
        at: i64,
    },
    /// Its 12 hours are over.
    Expired,
}

/// A consult token of the member's history.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConsultToken {
    /// The six digits to tell the provider.
    pub code: String,
    /// Made on the phone without network (true) or issued by the insurer.
    pub offline: bool,
    /// The practice named when making it.
    pub practice: Option<String>,
    /// Made or issued at (Unix seconds).
    pub made_at: i64,
    /// No longer valid from (Unix seconds).
    pub expires_at: i64,
    /// Its status now.
    pub status: TokenStatus,
}

impl From<TokenRecord> for ConsultToken {
    fn from(record: TokenRecord) -> Self {
        Self {
            code: record.code,
            offline: matches!(record.origin, Origin::Offline { .. }),
            practice: record.practice,
            made_at: record.made_at.timestamp(),
            expires_at: record.expires_at.timestamp(),
            status: match record.status {
                Status::Active => TokenStatus::Active,
                Status::Used { practice, at } => TokenStatus::Used {
                    practice,
                    at: at.timestamp(),
                },
                Status::Expired => TokenStatus::Expired,
            },
        }
    }
}

/// One line of a pharmacy settlement.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TransactionItem {
    /// What was dispensed.
    pub description: String,
    /// How many.
    pub quantity: u32,
    /// The line's total, in cents.
    pub amount_cents: i64,
}

/// A settled pharmacy transaction: amount, time and place.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Transaction {
    /// Server id.
    pub id: String,
    /// Where.
    pub pharmacy_name: String,
    /// How much, in cents.
    pub amount_cents: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The lines.
    pub items: Vec<TransactionItem>,
    /// When (Unix seconds).
    pub settled_at: i64,
}

impl From<carnet_core::model::Transaction> for Transaction {
    fn from(transaction: carnet_core::model::Transaction) -> Self {
        Self {
            id: transaction.id,
            pharmacy_name: transaction.pharmacy_name,
            amount_cents: transaction.amount_cents,
            currency: transaction.currency,
            items: transaction
                .items
                .into_iter()
                .map(|item| TransactionItem {
                    description: item.description,
                    quantity: item.quantity,
                    amount_cents: item.amount_cents,
                })
                .collect(),
            settled_at: transaction.settled_at,
        }
    }
}

/// What a sync brought in and sent out. The request counters come last and
/// default to zero/empty, so code that builds a report (tests, fakes) with
/// the first three fields keeps compiling.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    /// Tokens newly seen as used.
    pub tokens_used: u32,
    /// New pharmacy transactions.
    pub new_transactions: u32,
    /// Whether tokens are disabled (100 wrong codes in a row).
    pub tokens_disabled: bool,
    /// Requests (revisions) the insurer acknowledged in this sync.
    #[uniffi(default)]
    pub requests_uploaded: u32,
    /// Attachment bytes the insurer newly accepted in this sync.
    #[uniffi(default)]
    pub attachment_bytes_uploaded: u64,
    /// Request status changes that changed a request on this phone.
    #[uniffi(default)]
    pub status_changes_applied: u32,
    /// Status changes read from the insurer, applied or not.
    #[uniffi(default)]
    pub status_changes_pulled: u32,
    /// Requests the insurer refused, each with why; they stay queued.
    #[uniffi(default)]
    pub requests_failed: Vec<FailedUpload>,
    /// Whether this sync renewed the member certificate (due within 30
    /// days, or its signing key withdrawn).
    #[uniffi(default)]
    pub certificate_renewed: bool,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<carnet_core::SyncReport> for SyncReport {
    fn from(report: carnet_core::SyncReport) -> Self {
        Self {
            tokens_used: count(report.tokens_used),
            new_transactions: count(report.new_transactions),
            tokens_disabled: report.tokens_disabled,
            requests_uploaded: count(report.requests_uploaded),
            attachment_bytes_uploaded: report.attachments_uploaded,
            status_changes_applied: count(report.status_changes_applied),
            status_changes_pulled: count(report.status_changes_pulled),
            requests_failed: report
                .requests_failed
                .into_iter()
                .map(FailedUpload::from)
                .collect(),
            certificate_renewed: report.certificate_renewed,
        }
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Carnet {
    /// A consult token from the insurer (online), optionally for `practice`.
    pub async fn request_token(
        self: Arc<Self>,
        practice: Option<String>,
    ) -> Result<ConsultToken, CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.request_token(practice.as_deref()).await })
            .await
            .map(ConsultToken::from)
    }

    /// A consult token made on the phone, without network.
    pub async fn offline_token(
        self: Arc<Self>,
        practice: Option<String>,
    ) -> Result<ConsultToken, CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.offline_token(practice.as_deref()) })
            .await
            .map(ConsultToken::from)
    }

    /// The token history on this phone, newest first, with status now.
    pub fn tokens(&self) -> Result<Vec<ConsultToken>, CarnetError> {
        Ok(self
            .inner
            .tokens()?
            .into_iter()
            .map(ConsultToken::from)
            .collect())
    }

    /// Re-enables consult tokens after 100 wrong codes in a row.
    pub async fn re_enable_tokens(self: Arc<Self>) -> Result<(), CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.re_enable_tokens().await }).await
    }

    /// Pharmacy transactions seen at the last sync, newest first.
    pub fn transactions(&self) -> Result<Vec<Transaction>, CarnetError> {
        Ok(self
            .inner
            .transactions()?
            .into_iter()
            .map(Transaction::from)
            .collect())
    }

    /// The full sync without progress or cancel handle: queued requests up,
    /// request statuses down, then token use and new pharmacy
    /// transactions. See `sync_requests`.
    pub async fn sync(self: Arc<Self>) -> Result<SyncReport, CarnetError> {
        let inner = self.inner.clone();
        run(async move { inner.sync().await })
            .await
            .map(SyncReport::from)
    }
}
