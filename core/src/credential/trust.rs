//! What a verifier keeps for offline use: the insurer's published keys with
//! the time they were fetched, and the list of revoked devices with its own.
//! Both are plain serde records so that an integrator can save them to disk
//! and load them back when the counter has no network.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::certificate::TrustList;
use crate::model::JwkSet;

/// How old the trust list may be before a verifier reports it as stale:
/// 7 days. Insurer keys change rarely and are announced ahead; a week lets a
/// counter work through a long weekend offline, and beyond it every accepted
/// code carries [`super::Warning::TrustListStale`].
pub const TRUST_LIST_MAX_AGE_SECONDS: i64 = 7 * 86_400;

/// How old the revocation list may be before revocation counts as
/// unchecked: 24 hours (a stolen phone is reported within the day).
pub const REVOCATION_LIST_MAX_AGE_SECONDS: i64 = 86_400;

/// The insurer's JWKS as fetched from `/.well-known/jwks.json`, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedTrustList {
    /// The keys, exactly as published.
    pub jwks: JwkSet,
    /// When they were fetched (the verifier's clock).
    pub fetched_at: DateTime<Utc>,
}

impl CachedTrustList {
    /// Keys fetched at `fetched_at`.
    pub fn new(jwks: JwkSet, fetched_at: DateTime<Utc>) -> Self {
        Self { jwks, fetched_at }
    }

    /// The trust list these keys make.
    pub fn trust_list(&self) -> TrustList {
        TrustList::from_jwks(&self.jwks)
    }

    /// Its age at `now`, in seconds (negative if fetched "in the future",
    /// which counts as fresh).
    pub fn age_seconds(&self, now: DateTime<Utc>) -> i64 {
        (now - self.fetched_at).num_seconds()
    }

    /// Whether it is older than `max_age_seconds` at `now`.
    pub fn is_stale(&self, now: DateTime<Utc>, max_age_seconds: i64) -> bool {
        self.age_seconds(now) > max_age_seconds
    }
}

/// Devices the insurer has revoked (lost or replaced phones), by device id,
/// as fetched when online, and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationList {
    /// Revoked device ids.
    pub revoked_device_ids: HashSet<String>,
    /// When the list was fetched (the verifier's clock).
    pub fetched_at: DateTime<Utc>,
}

impl RevocationList {
    /// A list of revoked device ids fetched at `fetched_at`.
    pub fn new(
        revoked_device_ids: impl IntoIterator<Item = String>,
        fetched_at: DateTime<Utc>,
    ) -> Self {
        Self {
            revoked_device_ids: revoked_device_ids.into_iter().collect(),
            fetched_at,
        }
    }

    /// Whether `device_id` is revoked.
    pub fn is_revoked(&self, device_id: &str) -> bool {
        self.revoked_device_ids.contains(device_id)
    }

    /// Whether it is older than `max_age_seconds` at `now`.
    pub fn is_stale(&self, now: DateTime<Utc>, max_age_seconds: i64) -> bool {
        (now - self.fetched_at).num_seconds() > max_age_seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn age_and_staleness_follow_the_verifiers_clock() {
        let fetched = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let cached = CachedTrustList::new(JwkSet { keys: vec![] }, fetched);
        assert_eq!(cached.age_seconds(fetched + Duration::hours(1)), 3_600);
        assert!(!cached.is_stale(fetched + Duration::days(7), TRUST_LIST_MAX_AGE_SECONDS));
        assert!(cached.is_stale(
            fetched + Duration::days(7) + Duration::seconds(1),
            TRUST_LIST_MAX_AGE_SECONDS
        ));
        // It survives a trip through JSON (what an integrator saves).
        let json = serde_json::to_string(&cached).unwrap();
        assert_eq!(
            serde_json::from_str::<CachedTrustList>(&json).unwrap(),
            cached
        );
        let revoked = RevocationList::new(["d1".to_owned()], fetched);
        assert!(revoked.is_revoked("d1") && !revoked.is_revoked("d2"));
        assert!(revoked.is_stale(fetched + Duration::days(2), REVOCATION_LIST_MAX_AGE_SECONDS));
    }
}
