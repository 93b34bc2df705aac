//! Two scans at the pharmacy counter, verified online (issue 3, item 4).
//!
//! 1. `POST /v1/pharmacy/identify {code}`: a code made to identify is
//!    verified with the insurer's own keys, its revoked devices and one
//!    shared [`Verifier`] (so that its nonce cache sees every scan); the
//!    answer says whether the member is covered and, if so, opens a
//!    settlement for this pharmacy, valid [`SETTLEMENT_TTL_SECS`].
//! 2. `POST /v1/pharmacy/settle {settlement_id, code, amount, items}`: a
//!    fresh code made to settle, by the same member, closes the settlement
//!    and records the transaction, exactly once (one sled transaction over
//!    the settlement and the member's transactions).
//! 3. `GET /v1/transactions?since=CURSOR`: the member's transactions, for
//!    the phone's sync.
//!
//! The pharmacy learns the member's coverage and, at settlement, the
//! transaction record, which carries the pseudonymous member id (the code
//! it scanned carries it too, inside the member certificate). It never
//! learns a name, an affiliate number or a card number.
//!
//! Beyond the in-memory nonce cache of the [`Verifier`], every accepted
//! code's nonce is also kept in sled until the code could no longer pass
//! the time check, so that a replay is refused across a restart too.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use carnet_core::credential::{
    CLOCK_SKEW_SECONDS, CachedTrustList, Purpose, Rejection, RevocationList, Verified, Verifier,
};
use carnet_core::model::{Coverage, JwkSet, Transaction, TransactionItem, TransactionPage};

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::partner::Pharmacy;
use crate::service::{AppState, Authenticated, device_key, is_hex_id};
use crate::store::{self, DeviceRecord, SettlementRecord, StoreError, UserRecord};

/// How long a settlement stays open after the identify scan: 5 minutes.
pub(crate) const SETTLEMENT_TTL_SECS: i64 = 5 * 60;

/// How often the verifier's revocation and trust lists are stamped fresh
/// (they are kept current on every change; this only resets their age).
const LIST_REFRESH_SECS: i64 = 3_600;

/// How often remembered nonces are pruned, at most.
const NONCE_PRUNE_SECS: i64 = 60;

/// The largest amount of a transaction or a line, in cents.
pub(crate) const MAX_AMOUNT_CENTS: i64 = 100_000_000_000;
/// Lines in one transaction.
pub(crate) const MAX_ITEMS: usize = 100;
/// The largest quantity of a line.
pub(crate) const MAX_QUANTITY: u32 = 10_000;
/// A line's description: 1 to 200 characters.
pub(crate) const MAX_DESCRIPTION_CHARS: usize = 200;
/// Transactions per page of `GET /v1/transactions`.
pub(crate) const TRANSACTIONS_PAGE: usize = 50;

/// What the clerk is told when the settle code is another member's.
const OTHER_MEMBER_MESSAGE: &str = "This payment code belongs to another member than the one identified: ask the member to show a payment code from their own app, or identify again.";

/// `POST /v1/pharmacy/identify`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IdentifyRequest {
    /// The scanned QR text (`CN1:` and Base45).
    pub code: String,
}

/// Answer to an identify scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IdentifyResponse {
    /// The settlement opened for this pharmacy; null when not eligible.
    pub settlement_id: Option<String>,
    /// Whether the member's coverage is in force today.
    pub eligible: bool,
    /// The member's coverage.
    pub coverage: Coverage,
    /// When the settlement closes (Unix seconds); null when not eligible.
    pub expires_at: Option<i64>,
}

/// `POST /v1/pharmacy/settle`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettleRequest {
    pub settlement_id: String,
    /// A fresh QR text made to settle, by the identified member.
    pub code: String,
    /// The total, in cents: the sum of the lines.
    pub amount_cents: i64,
    /// ISO 4217 code, e.g. `ARS`.
    pub currency: String,
    pub items: Vec<SettleItem>,
}

/// One line of a dispensation, as the pharmacy sends it (core's
/// [`TransactionItem`], refusing unknown fields).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettleItem {
    /// What was dispensed, 1 to 200 characters (stored trimmed).
    pub description: String,
    /// How many, 1 to 10,000.
    pub quantity: u32,
    /// The line's total, in cents.
    pub amount_cents: i64,
}

impl From<SettleItem> for TransactionItem {
    fn from(item: SettleItem) -> Self {
        Self {
            description: item.description,
            quantity: item.quantity,
            amount_cents: item.amount_cents,
        }
    }
}

struct Lists {
    revoked: HashSet<String>,
    revocations_at: DateTime<Utc>,
    jwks: JwkSet,
    trust_at: DateTime<Utc>,
}

/// The backend's counter: one [`Verifier`] for every scan, with the
/// insurer's keys and the revoked devices kept current.
pub(crate) struct Desk {
    verifier: Verifier,
    lists: Mutex<Lists>,
    next_prune: AtomicI64,
}

impl Desk {
    /// A desk trusting `jwks`, with `revoked` devices, at `now`.
    pub(crate) fn new(jwks: JwkSet, revoked: HashSet<String>, now: DateTime<Utc>) -> Self {
        let verifier = Verifier::new(CachedTrustList::new(jwks.clone(), now));
        verifier.update_revocations(RevocationList::new(revoked.iter().cloned(), now));
        Self {
            verifier,
            lists: Mutex::new(Lists {
                revoked,
                revocations_at: now,
                jwks,
                trust_at: now,
            }),
            next_prune: AtomicI64::new(i64::MIN),
        }
    }

    /// A device was revoked: its codes are refused from now on.
    pub(crate) fn revoke(&self, device_id: &str, now: DateTime<Utc>) {
        let mut lists = self.lists.lock();
        lists.revoked.insert(device_id.to_owned());
        self.verifier
            .update_revocations(RevocationList::new(lists.revoked.iter().cloned(), now));
        lists.revocations_at = now;
    }

    /// The lists are the backend's own and always current; stamp them
    /// fresh now and then so that the verifier never counts them stale.
    fn refresh(&self, now: DateTime<Utc>) {
        let mut lists = self.lists.lock();
        let stale = |at: DateTime<Utc>| (now - at).num_seconds().abs() > LIST_REFRESH_SECS;
        if stale(lists.revocations_at) {
            self.verifier
                .update_revocations(RevocationList::new(lists.revoked.iter().cloned(), now));
            lists.revocations_at = now;
        }
        if stale(lists.trust_at) {
            self.verifier
                .update_trust_list(CachedTrustList::new(lists.jwks.clone(), now));
            lists.trust_at = now;
        }
    }
}

fn rejected(rejection: &Rejection) -> ApiError {
    ApiError::qr_rejected(rejection.code(), rejection.clerk_message())
}

/// Verifies a scanned code for `purpose` at `now`: the shared verifier
/// (signatures, window, revocation, purpose, replay in this process), then
/// the replay record that survives restarts, then the device's record.
fn verify_code(
    state: &AppState,
    text: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Verified, ApiError> {
    state.desk.refresh(now);
    let verified = state
        .desk
        .verifier
        .verify(text, purpose, now)
        .map_err(|rejection| rejected(&rejection))?;
    let forget_at = verified.expires_at.saturating_add(CLOCK_SKEW_SECONDS);
    if !remember_code(
        state,
        &verified.certificate.device_id,
        &verified.nonce,
        forget_at,
        now.timestamp(),
    )? {
        return Err(rejected(&Rejection::Replayed));
    }
    let device = store::get::<DeviceRecord>(
        &state.store.devices,
        device_key(
            &verified.certificate.member_id,
            &verified.certificate.device_id,
        ),
    )?;
    match device {
        Some(record) if record.info.revoked_at.is_none() => Ok(verified),
        // Revoked, or a device this insurer never enrolled.
        _ => Err(rejected(&Rejection::DeviceRevoked)),
    }
}

/// Records the nonce of an accepted code until `forget_at`; false if it
/// was already recorded and is not forgettable yet (a replay).
fn remember_code(
    state: &AppState,
    device_id: &str,
    nonce: &[u8],
    forget_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let tree = &state.store.seen_codes;
    let next = state.desk.next_prune.load(Ordering::Relaxed);
    if now >= next
        && state
            .desk
            .next_prune
            .compare_exchange(
                next,
                now + NONCE_PRUNE_SECS,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    {
        for entry in tree.iter() {
            let (key, value) = entry?;
            if forget_at_of(&value) <= now {
                tree.compare_and_swap(key, Some(value), None::<&[u8]>)?.ok();
            }
        }
    }
    let key = format!("{device_id}/{}", hex::encode(nonce));
    let value = forget_at.to_be_bytes();
    match tree.compare_and_swap(key.as_bytes(), None::<&[u8]>, Some(&value[..]))? {
        Ok(()) => Ok(true),
        Err(conflict) => match conflict.current {
            Some(current) if forget_at_of(&current) <= now => Ok(tree
                .compare_and_swap(key.as_bytes(), Some(current), Some(&value[..]))?
                .is_ok()),
            _ => Ok(false),
        },
    }
}

fn forget_at_of(value: &[u8]) -> i64 {
    <[u8; 8]>::try_from(value).map_or(i64::MAX, i64::from_be_bytes)
}

/// The account of `member_id`, if it still exists.
fn member_user(state: &AppState, member_id: &str) -> Result<Option<UserRecord>, ApiError> {
    let Some(username) = store::get::<String>(&state.store.members, member_id)? else {
        return Ok(None);
    };
    Ok(store::get::<UserRecord>(&state.store.users, &username)?
        .filter(|user| user.member_id == member_id))
}

pub(crate) async fn identify(
    State(state): State<Arc<AppState>>,
    Pharmacy(pharmacy): Pharmacy,
    ApiJson(request): ApiJson<IdentifyRequest>,
) -> Result<Json<IdentifyResponse>, ApiError> {
    let now = state.clock.now();
    let verified = verify_code(&state, &request.code, Purpose::Identify, now)?;
    let member_id = verified.certificate.member_id;
    let user =
        member_user(&state, &member_id)?.ok_or_else(|| rejected(&Rejection::DeviceRevoked))?;
    let eligible = user.coverage.valid_until >= now.date_naive();
    let (settlement_id, expires_at) = if eligible {
        let id = state.random_id()?;
        let expires_at = now.timestamp() + SETTLEMENT_TTL_SECS;
        store::put(
            &state.store.settlements,
            &id,
            &SettlementRecord {
                pharmacy_id: pharmacy.id,
                member_id,
                opened_at: now.timestamp(),
                expires_at,
                transaction_id: None,
            },
        )?;
        (Some(id), Some(expires_at))
    } else {
        (None, None)
    };
    tracing::info!(eligible, "identified a member at a pharmacy");
    Ok(Json(IdentifyResponse {
        settlement_id,
        eligible,
        coverage: user.coverage,
        expires_at,
    }))
}

/// A line's description: 1 to 200 characters, not only spaces, no control
/// characters.
fn description_ok(text: &str) -> bool {
    let chars = text.chars().count();
    (1..=MAX_DESCRIPTION_CHARS).contains(&chars)
        && !text.trim().is_empty()
        && !text.chars().any(char::is_control)
}

/// The fields of `request` that break a rule, or the checked request with
/// trimmed descriptions.
fn validated(mut request: SettleRequest) -> Result<SettleRequest, ApiError> {
    let mut fields = Vec::new();
    if !is_hex_id(&request.settlement_id) {
        fields.push("settlement_id");
    }
    if !(1..=MAX_AMOUNT_CENTS).contains(&request.amount_cents) {
        fields.push("amount_cents");
    }
    if !(request.currency.len() == 3 && request.currency.bytes().all(|b| b.is_ascii_uppercase())) {
        fields.push("currency");
    }
    let items_ok = (1..=MAX_ITEMS).contains(&request.items.len())
        && request.items.iter().all(|item| {
            description_ok(&item.description)
                && (1..=MAX_QUANTITY).contains(&item.quantity)
                && (0..=MAX_AMOUNT_CENTS).contains(&item.amount_cents)
        });
    if !items_ok {
        fields.push("items");
    }
    if !fields.is_empty() {
        return Err(ApiError::invalid_fields(
            fields.into_iter().map(str::to_owned).collect(),
            "the settlement id must be one from identify, the amount 1 to 10^11 cents, the currency an ISO 4217 code, and 1 to 100 lines of a description (1 to 200 characters), a quantity (1 to 10,000) and an amount (0 to 10^11 cents)",
        ));
    }
    let total = request
        .items
        .iter()
        .try_fold(0i64, |sum, item| sum.checked_add(item.amount_cents));
    if total != Some(request.amount_cents) {
        return Err(ApiError::invalid_fields(
            vec!["amount_cents".to_owned()],
            "the amount must be the sum of the lines' amounts",
        ));
    }
    for item in &mut request.items {
        item.description = item.description.trim().to_owned();
    }
    Ok(request)
}

enum SettleAbort {
    AlreadySettled,
    Corrupt,
}

fn already_settled() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "already_settled",
        "this settlement was already settled; identify the member again for a new one",
    )
}

/// Key of a member's transaction: `member_id/` and the sequence, 8 bytes
/// big-endian, so that a prefix scan reads them in order.
fn transaction_key(member_id: &str, sequence: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(member_id.len() + 9);
    key.extend_from_slice(member_id.as_bytes());
    key.push(b'/');
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

pub(crate) async fn settle(
    State(state): State<Arc<AppState>>,
    Pharmacy(pharmacy): Pharmacy,
    ApiJson(request): ApiJson<SettleRequest>,
) -> Result<(StatusCode, Json<Transaction>), ApiError> {
    let request = validated(request)?;
    let now = state.clock.now();
    let not_found = || ApiError::not_found("no such settlement at this pharmacy");
    let Some(settlement) =
        store::get::<SettlementRecord>(&state.store.settlements, &request.settlement_id)?
    else {
        return Err(not_found());
    };
    if settlement.pharmacy_id != pharmacy.id {
        return Err(not_found());
    }
    if settlement.transaction_id.is_some() {
        return Err(already_settled());
    }
    if now.timestamp() >= settlement.expires_at {
        return Err(ApiError::new(
            StatusCode::GONE,
            "settlement_expired",
            "this settlement expired; identify the member again",
        ));
    }
    let verified = verify_code(&state, &request.code, Purpose::Settle, now)?;
    if verified.certificate.member_id != settlement.member_id {
        return Err(ApiError::qr_rejected("other_member", OTHER_MEMBER_MESSAGE));
    }

    let transaction = Transaction {
        id: state.random_id()?,
        member_id: settlement.member_id.clone(),
        pharmacy_name: pharmacy.name,
        amount_cents: request.amount_cents,
        currency: request.currency,
        items: request
            .items
            .into_iter()
            .map(TransactionItem::from)
            .collect(),
        settled_at: now.timestamp(),
    };
    let sequence = state.store.generate_id()?;
    let key = transaction_key(&transaction.member_id, sequence);
    let bytes = serde_json::to_vec(&transaction).map_err(StoreError::from)?;
    let settlement_key = request.settlement_id.as_bytes();
    let outcome = (&state.store.settlements, &state.store.transactions).transaction(
        |(settlements, transactions)| {
            let abort = |why| Err(ConflictableTransactionError::Abort(why));
            let Some(current) = settlements.get(settlement_key)? else {
                return abort(SettleAbort::Corrupt);
            };
            let Ok(mut record) = serde_json::from_slice::<SettlementRecord>(&current) else {
                return abort(SettleAbort::Corrupt);
            };
            if record.transaction_id.is_some() {
                return abort(SettleAbort::AlreadySettled);
            }
            record.transaction_id = Some(transaction.id.clone());
            let Ok(updated) = serde_json::to_vec(&record) else {
                return abort(SettleAbort::Corrupt);
            };
            settlements.insert(settlement_key, updated)?;
            transactions.insert(key.as_slice(), bytes.as_slice())?;
            Ok(())
        },
    );
    match outcome {
        Ok(()) => {
            // Durable before the pharmacy hears "settled".
            state.store.flush_durable().await?;
            tracing::info!("settled a dispensation");
            Ok((StatusCode::CREATED, Json(transaction)))
        }
        Err(TransactionError::Abort(SettleAbort::AlreadySettled)) => Err(already_settled()),
        Err(TransactionError::Abort(SettleAbort::Corrupt)) => {
            tracing::error!("a settlement record is corrupt");
            Err(ApiError::internal())
        }
        Err(TransactionError::Storage(error)) => Err(StoreError::from(error).into()),
    }
}

/// The `since` cursor of a query string: 16 lower-case hex digits, the
/// next sequence to read; absent means from the start.
fn since_of(query: Option<&str>) -> Result<u64, ApiError> {
    let invalid = || {
        ApiError::invalid_fields(
            vec!["since".to_owned()],
            "since must be a cursor from an earlier answer (16 hexadecimal digits)",
        )
    };
    let mut since = 0;
    for pair in query.unwrap_or_default().split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "since" {
            continue;
        }
        if value.len() != 16
            || !value
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid());
        }
        since = u64::from_str_radix(value, 16).map_err(|_| invalid())?;
    }
    Ok(since)
}

pub(crate) async fn list_transactions(
    State(state): State<Arc<AppState>>,
    member: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Json<TransactionPage>, ApiError> {
    let since = since_of(query.as_deref())?;
    let prefix = transaction_key(member.member_id(), 0);
    let prefix = &prefix[..prefix.len() - 8];
    let start = transaction_key(member.member_id(), since);
    let mut transactions = Vec::new();
    let mut cursor = since;
    let mut more = false;
    for entry in state.store.transactions.range(start..) {
        let (key, bytes) = entry.map_err(StoreError::from)?;
        let Some(sequence) = key
            .strip_prefix(prefix)
            .and_then(|rest| <[u8; 8]>::try_from(rest).ok())
        else {
            break;
        };
        if transactions.len() == TRANSACTIONS_PAGE {
            more = true;
            break;
        }
        transactions.push(serde_json::from_slice::<Transaction>(&bytes).map_err(StoreError::from)?);
        cursor = u64::from_be_bytes(sequence).saturating_add(1);
    }
    transactions.reverse();
    Ok(Json(TransactionPage {
        transactions,
        cursor: format!("{cursor:016x}"),
        more,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(items: Vec<SettleItem>, amount_cents: i64) -> SettleRequest {
        SettleRequest {
            settlement_id: "0123456789abcdef0123456789abcdef".into(),
            code: String::new(),
            amount_cents,
            currency: "ARS".into(),
            items,
        }
    }

    fn item(amount_cents: i64) -> SettleItem {
        SettleItem {
            description: " Ibuprofeno 400 mg ".into(),
            quantity: 2,
            amount_cents,
        }
    }

    #[test]
    fn a_settlement_must_add_up_and_name_what_is_wrong() {
        let ok = validated(request(vec![item(1_000), item(250)], 1_250)).unwrap();
        assert_eq!(ok.items[0].description, "Ibuprofeno 400 mg");
        let error = validated(request(vec![item(1_000)], 1_250)).unwrap_err();
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(format!("{error:?}").contains("amount_cents"));
        let error = validated(request(vec![], 0)).unwrap_err();
        let shown = format!("{error:?}");
        assert!(
            shown.contains("items") && shown.contains("amount_cents"),
            "{shown}"
        );
        let mut bad = request(vec![item(5)], 5);
        bad.currency = "ars".into();
        bad.items[0].description = "\u{7}".into();
        let shown = format!("{:?}", validated(bad).unwrap_err());
        assert!(
            shown.contains("currency") && shown.contains("items"),
            "{shown}"
        );
        // Sums that overflow are refused, not wrapped.
        assert!(validated(request(vec![item(MAX_AMOUNT_CENTS); 3], 1)).is_err());
    }

    #[test]
    fn cursors_are_sixteen_hex_digits() {
        assert_eq!(since_of(None).unwrap(), 0);
        assert_eq!(since_of(Some("since=00000000000000ff")).unwrap(), 255);
        assert_eq!(since_of(Some("other=1&since=0000000000000001")).unwrap(), 1);
        for bad in [
            "since=",
            "since=ff",
            "since=00000000000000FF",
            "since=-000000000000001",
        ] {
            assert!(since_of(Some(bad)).is_err(), "{bad}");
        }
    }
}
