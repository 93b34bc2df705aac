//! The member's tokens on the phone: what was made or issued, for which
//! practice, and what became of it. The vault stores a [`TokenBook`]; sync
//! marks tokens used from the backend's answers.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::derive::{
    Counter, SEQUENCES_PER_SLOT, add_seconds, derive_offline_code, slot_of, slot_start,
};
use super::error::TokenError;
use super::online::online_expires_at;
use super::secret::TokenSecret;
use super::window::CLOCK_SKEW_SECONDS;

/// Offline tokens a device may hold unused and unexpired at once: 15, as
/// payment apps cap their cached offline codes. The cap bounds what a
/// stolen unlocked phone yields; the backend's window does not depend on it.
pub const MAX_OUTSTANDING: usize = 15;

/// Where a token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Issued by the backend (random digits).
    Online,
    /// Derived on the phone.
    Offline {
        /// The hour slot ([`Counter::slot`]).
        slot: u64,
        /// The sequence within the slot ([`Counter::sequence`]).
        sequence: u8,
    },
}

/// What became of a token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// Not redeemed and not expired (as far as the phone knows).
    Active,
    /// Redeemed by a provider.
    Used {
        /// The practice the provider redeemed it for.
        practice: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// Its 12 hours are over, unredeemed.
    Expired,
}

// Manual: a practice can reveal a diagnosis, and Debug output ends up in
// logs.
impl std::fmt::Debug for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Active => f.write_str("Active"),
            Self::Used { at, .. } => f
                .debug_struct("Used")
                .field("practice", &"<redacted>")
                .field("at", at)
                .finish(),
            Self::Expired => f.write_str("Expired"),
        }
    }
}

/// One token in the member's history.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The 6 ASCII digits.
    pub code: String,
    /// Online or offline (with its counter).
    pub origin: Origin,
    /// The practice the member named when making it, if any.
    pub practice: Option<String>,
    /// When it was made (offline) or issued (online).
    pub made_at: DateTime<Utc>,
    /// The first instant at which it is no longer valid.
    pub expires_at: DateTime<Utc>,
    /// As last stored; read it through [`TokenRecord::status_at`].
    pub status: Status,
}

// Manual: the code is a bearer credential for 12 hours and the practice
// is health data; neither belongs in a log.
impl std::fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRecord")
            .field("code", &"<redacted>")
            .field("origin", &self.origin)
            .field("practice", &self.practice.as_ref().map(|_| "<redacted>"))
            .field("made_at", &self.made_at)
            .field("expires_at", &self.expires_at)
            .field("status", &self.status)
            .finish()
    }
}

impl TokenRecord {
    /// An online token as the backend issued it at `issued_at`: valid 12
    /// hours, active.
    pub fn online(code: String, practice: Option<String>, issued_at: DateTime<Utc>) -> Self {
        Self {
            code,
            origin: Origin::Online,
            practice,
            made_at: issued_at,
            expires_at: online_expires_at(issued_at),
            status: Status::Active,
        }
    }

    /// The status at `now`: an active token at or past `expires_at` is
    /// expired (validity is `made_at <= now < expires_at`); used and
    /// expired stay what they are.
    pub fn status_at(&self, now: DateTime<Utc>) -> Status {
        match &self.status {
            Status::Active if now >= self.expires_at => Status::Expired,
            status => status.clone(),
        }
    }

    /// Whether it is active at `now`.
    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        matches!(self.status_at(now), Status::Active)
    }

    /// The offline counter, if it is an offline token.
    pub fn counter(&self) -> Option<Counter> {
        match self.origin {
            Origin::Offline { slot, sequence } => Counter::new(slot, sequence).ok(),
            Origin::Online => None,
        }
    }
}

/// The member's tokens, newest last, with the rules for making the next
/// offline one.
///
/// Persist the book (vault) after [`TokenBook::make_offline`] and before
/// showing the code: if the app died between the two, the next call would
/// make the same counter again, hence the same code, which is harmless
/// (the backend redeems a code once) but confusing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenBook {
    records: Vec<TokenRecord>,
}

impl TokenBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// A book of stored records.
    pub fn from_records(records: Vec<TokenRecord>) -> Self {
        Self { records }
    }

    /// The records, oldest first.
    pub fn records(&self) -> &[TokenRecord] {
        &self.records
    }

    /// The records, to store them.
    pub fn into_records(self) -> Vec<TokenRecord> {
        self.records
    }

    /// Adds a record (an online token the backend issued).
    pub fn insert(&mut self, record: TokenRecord) {
        self.records.push(record);
    }

    /// Offline tokens active at `now`: what [`MAX_OUTSTANDING`] caps.
    pub fn outstanding_offline(&self, now: DateTime<Utc>) -> usize {
        self.outstanding(now).count()
    }

    fn outstanding(&self, now: DateTime<Utc>) -> impl Iterator<Item = &TokenRecord> {
        self.records
            .iter()
            .filter(move |r| matches!(r.origin, Origin::Offline { .. }) && r.is_active_at(now))
    }

    /// The counter and code the next offline token at `now` would get,
    /// without recording it.
    ///
    /// Refuses with [`TokenError::TooManyOutstanding`] at the cap, and with
    /// [`TokenError::SlotFull`] when every sequence of the hour is taken.
    /// Takes the lowest sequence of the current slot that no record holds
    /// and whose code differs from every token that the backend may still
    /// match (any not yet expired, give or take the clock skew): the
    /// backend redeems a code once, so a twin of a live code would be
    /// refused as used.
    pub fn next_offline(
        &self,
        secret: &TokenSecret,
        now: DateTime<Utc>,
    ) -> Result<(Counter, String), TokenError> {
        let outstanding = self.outstanding_offline(now);
        if outstanding >= MAX_OUTSTANDING {
            let next_expiry = self
                .outstanding(now)
                .map(|r| r.expires_at)
                .min()
                .unwrap_or(now);
            return Err(TokenError::TooManyOutstanding {
                max: MAX_OUTSTANDING,
                next_expiry,
            });
        }
        let slot = slot_of(now)?;
        let mut taken = [false; SEQUENCES_PER_SLOT as usize];
        for record in &self.records {
            if let Origin::Offline { slot: s, sequence } = record.origin
                && s == slot
                && let Some(flag) = taken.get_mut(usize::from(sequence))
            {
                *flag = true;
            }
        }
        let horizon = add_seconds(now, -CLOCK_SKEW_SECONDS);
        let live: Vec<&str> = self
            .records
            .iter()
            .filter(|r| r.expires_at > horizon)
            .map(|r| r.code.as_str())
            .collect();
        for (sequence, taken) in (0..SEQUENCES_PER_SLOT).zip(taken) {
            if taken {
                continue;
            }
            let counter = Counter::new(slot, sequence)?;
            let code = derive_offline_code(secret, counter);
            if !live.contains(&code.as_str()) {
                return Ok((counter, code));
            }
        }
        Err(TokenError::SlotFull {
            per_slot: SEQUENCES_PER_SLOT,
            next_slot_at: slot_start(slot.saturating_add(1)),
        })
    }

    /// Makes the next offline token at `now` for `practice`, records it and
    /// returns it. See [`TokenBook::next_offline`] for the rules.
    pub fn make_offline(
        &mut self,
        secret: &TokenSecret,
        practice: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<TokenRecord, TokenError> {
        let (counter, code) = self.next_offline(secret, now)?;
        let record = TokenRecord {
            code,
            origin: Origin::Offline {
                slot: counter.slot(),
                sequence: counter.sequence(),
            },
            practice,
            made_at: now,
            expires_at: counter.expires_at(),
            status: Status::Active,
        };
        self.records.push(record.clone());
        Ok(record)
    }

    /// Marks the token with this origin and code as used (from sync).
    /// Returns whether it was found.
    pub fn mark_used(
        &mut self,
        origin: Origin,
        code: &str,
        practice: String,
        at: DateTime<Utc>,
    ) -> bool {
        match self
            .records
            .iter_mut()
            .find(|r| r.origin == origin && r.code == code)
        {
            Some(record) => {
                record.status = Status::Used { practice, at };
                true
            }
            None => false,
        }
    }

    /// Stores [`Status::Expired`] on every active record past its expiry,
    /// so that the stored book reads the same as [`TokenRecord::status_at`].
    pub fn expire(&mut self, now: DateTime<Utc>) {
        for record in &mut self.records {
            record.status = record.status_at(now);
        }
    }

    /// Forgets records that expired more than `keep` before `now` (the
    /// history's retention). Never forgets one still valid, so the next
    /// sequence and the twin check stay right.
    pub fn prune(&mut self, now: DateTime<Utc>, keep: TimeDelta) {
        let keep = keep.max(TimeDelta::zero());
        self.records.retain(|r| {
            r.expires_at
                .checked_add_signed(keep)
                .is_none_or(|until| until > now)
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::token::accept_offline;
    use crate::token::derive::SLOT_SECONDS;

    /// 2026-03-02T09:30:00Z.
    const NOW: i64 = 1_772_443_800;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn secret() -> TokenSecret {
        TokenSecret::from_bytes(core::array::from_fn(|i| i as u8))
    }

    #[test]
    fn online_token_is_active_until_12_hours_then_expired() {
        let made = at(NOW);
        let record = TokenRecord::online("123456".into(), Some("consulta".into()), made);
        assert_eq!(record.expires_at, at(NOW + 43_200));
        assert_eq!(record.status_at(at(NOW + 43_200 - 1)), Status::Active);
        assert_eq!(record.status_at(at(NOW + 43_200)), Status::Expired);
        assert_eq!(record.status_at(at(NOW + 43_200 + 1)), Status::Expired);
    }

    #[test]
    fn offline_token_made_at_the_end_of_its_slot_lasts_12_hours_exactly() {
        // The last second of a slot: expiry is 12 h and 1 s after making.
        let slot_end = (NOW / SLOT_SECONDS + 1) * SLOT_SECONDS;
        let made = at(slot_end - 1);
        let mut book = TokenBook::new();
        let record = book.make_offline(&secret(), None, made).unwrap();
        assert_eq!(
            record.status_at(at(slot_end - 1 + 43_200 - 1)),
            Status::Active
        );
        assert_eq!(record.status_at(at(slot_end - 1 + 43_200)), Status::Active);
        assert_eq!(
            record.status_at(at(slot_end - 1 + 43_200 + 1)),
            Status::Expired
        );
        // Made at the start of the slot, it lasts 13 h.
        let mut book = TokenBook::new();
        let early = book
            .make_offline(&secret(), None, at(slot_end - 3_600))
            .unwrap();
        assert_eq!(early.expires_at, at(slot_end - 3_600 + 13 * 3_600));
    }

    #[test]
    fn used_and_expired_stay_as_they_are() {
        let mut record = TokenRecord::online("123456".into(), None, at(NOW));
        record.status = Status::Used {
            practice: "lab".into(),
            at: at(NOW + 60),
        };
        assert!(matches!(
            record.status_at(at(NOW + 100_000)),
            Status::Used { .. }
        ));
    }

    #[test]
    fn sequences_count_up_within_a_slot_and_restart_in_the_next() {
        let mut book = TokenBook::new();
        let slot = slot_of(at(NOW)).unwrap();
        let a = book
            .make_offline(&secret(), Some("a".into()), at(NOW))
            .unwrap();
        let b = book
            .make_offline(&secret(), Some("b".into()), at(NOW + 60))
            .unwrap();
        assert_eq!(a.origin, Origin::Offline { slot, sequence: 0 });
        assert_eq!(b.origin, Origin::Offline { slot, sequence: 1 });
        assert_ne!(a.code, b.code);
        let c = book.make_offline(&secret(), None, at(NOW + 3_600)).unwrap();
        assert_eq!(
            c.origin,
            Origin::Offline {
                slot: slot + 1,
                sequence: 0
            }
        );
        assert_eq!(book.records().len(), 3);
    }

    #[test]
    fn what_the_phone_makes_the_backend_accepts() {
        let mut book = TokenBook::new();
        for i in 0..3 {
            let record = book.make_offline(&secret(), None, at(NOW + i)).unwrap();
            let accepted =
                accept_offline(&secret(), &record.code, at(NOW + 600), &|_| false).unwrap();
            assert_eq!(Some(accepted.counter), record.counter());
            assert_eq!(accepted.expires_at, record.expires_at);
        }
    }

    #[test]
    fn a_ninth_token_in_one_hour_waits_for_the_next_slot() {
        let mut book = TokenBook::new();
        for _ in 0..SEQUENCES_PER_SLOT {
            book.make_offline(&secret(), None, at(NOW)).unwrap();
        }
        let next_slot_at = slot_start(slot_of(at(NOW)).unwrap() + 1);
        let err = book.make_offline(&secret(), None, at(NOW)).unwrap_err();
        assert_eq!(
            err,
            TokenError::SlotFull {
                per_slot: SEQUENCES_PER_SLOT,
                next_slot_at
            }
        );
        assert!(book.make_offline(&secret(), None, next_slot_at).is_ok());
        // Used tokens still hold their sequence: reusing one would repeat
        // a redeemed code.
        let mut book = TokenBook::new();
        for _ in 0..SEQUENCES_PER_SLOT {
            let r = book.make_offline(&secret(), None, at(NOW)).unwrap();
            assert!(book.mark_used(r.origin, &r.code, "x".into(), at(NOW)));
        }
        assert!(matches!(
            book.make_offline(&secret(), None, at(NOW)),
            Err(TokenError::SlotFull { .. })
        ));
    }

    #[test]
    fn the_sixteenth_outstanding_token_is_refused_until_one_is_used_or_expires() {
        let mut book = TokenBook::new();
        // Two per hour over 8 hours: 15 made, the 16th refused.
        let mut made = Vec::new();
        for i in 0..MAX_OUTSTANDING as i64 {
            let now = at(NOW + (i / 2) * 3_600);
            made.push(book.make_offline(&secret(), None, now).unwrap());
        }
        let now = at(NOW + 8 * 3_600);
        assert_eq!(book.outstanding_offline(now), MAX_OUTSTANDING);
        let first_expiry = made[0].expires_at;
        assert_eq!(
            book.make_offline(&secret(), None, now),
            Err(TokenError::TooManyOutstanding {
                max: MAX_OUTSTANDING,
                next_expiry: first_expiry
            })
        );
        // Online tokens do not count.
        book.insert(TokenRecord::online("000001".into(), None, now));
        assert_eq!(book.outstanding_offline(now), MAX_OUTSTANDING);
        // One used: room for one more.
        let r = &made[3];
        assert!(book.mark_used(r.origin, &r.code, "lab".into(), now));
        assert!(book.make_offline(&secret(), None, now).is_ok());
        assert!(book.make_offline(&secret(), None, now).is_err());
        // The oldest expires: room again.
        assert!(book.make_offline(&secret(), None, first_expiry).is_ok());
    }

    #[test]
    fn a_sequence_whose_code_twins_a_live_token_is_skipped() {
        let slot = slot_of(at(NOW)).unwrap();
        let twin = derive_offline_code(&secret(), Counter::new(slot, 0).unwrap());
        let mut book = TokenBook::new();
        book.insert(TokenRecord::online(twin.clone(), None, at(NOW - 60)));
        let record = book.make_offline(&secret(), None, at(NOW)).unwrap();
        assert_eq!(record.origin, Origin::Offline { slot, sequence: 1 });
        assert_ne!(record.code, twin);
    }

    #[test]
    fn mark_used_finds_by_origin_and_code() {
        let mut book = TokenBook::new();
        let r = book
            .make_offline(&secret(), Some("rx".into()), at(NOW))
            .unwrap();
        assert!(!book.mark_used(Origin::Online, &r.code, "rx".into(), at(NOW)));
        assert!(book.mark_used(r.origin, &r.code, "radiografía".into(), at(NOW + 5)));
        assert_eq!(
            book.records()[0].status,
            Status::Used {
                practice: "radiografía".into(),
                at: at(NOW + 5)
            }
        );
    }

    #[test]
    fn expire_and_prune() {
        let mut book = TokenBook::new();
        book.insert(TokenRecord::online("111111".into(), None, at(NOW)));
        book.insert(TokenRecord::online("222222".into(), None, at(NOW + 86_400)));
        let later = at(NOW + 86_400 + 60);
        book.expire(later);
        assert_eq!(book.records()[0].status, Status::Expired);
        assert_eq!(book.records()[1].status, Status::Active);
        book.prune(later, TimeDelta::hours(1));
        assert_eq!(book.records().len(), 1);
        assert_eq!(book.records()[0].code, "222222");
    }

    #[test]
    fn debug_hides_codes_and_practices() {
        let mut book = TokenBook::new();
        let r = book
            .make_offline(&secret(), Some("VIH test".into()), at(NOW))
            .unwrap();
        book.mark_used(r.origin, &r.code, "VIH test".into(), at(NOW));
        let shown = format!("{book:?}");
        assert!(!shown.contains(&r.code), "{shown}");
        assert!(!shown.contains("VIH"), "{shown}");
    }

    #[test]
    fn the_book_round_trips_through_serde() {
        let mut book = TokenBook::new();
        book.make_offline(&secret(), Some("a".into()), at(NOW))
            .unwrap();
        let r = TokenRecord::online("654321".into(), None, at(NOW));
        book.insert(r.clone());
        book.mark_used(r.origin, &r.code, "b".into(), at(NOW + 1));
        let json = serde_json::to_string(&book).unwrap();
        assert!(json.contains(r#""kind":"offline""#), "{json}");
        assert!(json.contains(r#""state":"used""#), "{json}");
        let back: TokenBook = serde_json::from_str(&json).unwrap();
        assert_eq!(back, book);
    }

    #[test]
    fn a_clock_before_1970_is_refused() {
        let mut book = TokenBook::new();
        assert!(matches!(
            book.make_offline(&secret(), None, at(-10)),
            Err(TokenError::ClockOutOfRange { .. })
        ));
    }
}
