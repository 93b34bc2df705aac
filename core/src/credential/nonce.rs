//! The verifier's memory of codes it accepted, so that a code cannot be used
//! twice within its window (a photo of the screen, or two counters scanning
//! the same code at once).
//!
//! The check and the record are one step: [`NonceCache::insert_if_absent`]
//! looks up and inserts under a single lock through `HashMap::entry`, so two
//! threads presenting the same code cannot both see it absent.
//! A code is forgotten once it can no longer pass the time check (its
//! expiry plus the clock-skew allowance); pruning runs at most every
//! [`PRUNE_INTERVAL_SECONDS`], on the next insert.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use parking_lot::Mutex;

/// How often expired entries are dropped, at most.
pub const PRUNE_INTERVAL_SECONDS: i64 = 10;

#[derive(Debug, Default)]
struct Entries {
    /// Key: the device id and the nonce; value: when the entry may be
    /// forgotten (unix seconds).
    forget_at: HashMap<Vec<u8>, i64>,
    next_prune: i64,
}

/// Nonces seen, each until its code could no longer be accepted anyway.
#[derive(Debug, Default)]
pub struct NonceCache {
    entries: Mutex<Entries>,
}

impl NonceCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `nonce` of `device_id` until `forget_at` and returns true,
    /// or returns false if it is already recorded and not yet forgettable.
    /// Atomic: of two concurrent calls with the same key, exactly one
    /// returns true.
    pub fn insert_if_absent(
        &self,
        device_id: &str,
        nonce: &[u8],
        forget_at: i64,
        now: i64,
    ) -> bool {
        // Length-prefixed, so that no (device, nonce) pair can collide with
        // another.
        let mut key = Vec::with_capacity(1 + device_id.len() + nonce.len());
        key.push(u8::try_from(nonce.len()).unwrap_or(u8::MAX));
        key.extend_from_slice(nonce);
        key.extend_from_slice(device_id.as_bytes());
        let mut entries = self.entries.lock();
        if now >= entries.next_prune {
            entries.forget_at.retain(|_, until| *until > now);
            entries.next_prune = now + PRUNE_INTERVAL_SECONDS;
        }
        match entries.forget_at.entry(key) {
            Entry::Occupied(mut seen) => {
                if *seen.get() > now {
                    false
                } else {
                    seen.insert(forget_at);
                    true
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(forget_at);
                true
            }
        }
    }

    /// How many nonces are remembered (expired ones may linger until the
    /// next prune).
    pub fn len(&self) -> usize {
        self.entries.lock().forget_at.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_nonce_is_accepted_once_until_forgotten() {
        let cache = NonceCache::new();
        assert!(cache.insert_if_absent("d", b"12345678", 190, 100));
        assert!(!cache.insert_if_absent("d", b"12345678", 190, 150));
        // Another device with the same nonce is another code.
        assert!(cache.insert_if_absent("e", b"12345678", 190, 150));
        // After forget_at, it is pruned.
        assert!(cache.insert_if_absent("x", b"00000000", 400, 200));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn two_threads_racing_with_one_code_accept_it_once() {
        for round in 0..50 {
            let cache = Arc::new(NonceCache::new());
            let accepted = Arc::new(AtomicUsize::new(0));
            let barrier = Arc::new(std::sync::Barrier::new(8));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let (cache, accepted, barrier) =
                        (cache.clone(), accepted.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        if cache.insert_if_absent("device", &[round; 8], 1_000, 10) {
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 1);
        }
    }

    #[test]
    fn pruning_keeps_what_is_still_valid() {
        let cache = NonceCache::new();
        for i in 0..100u8 {
            assert!(cache.insert_if_absent("d", &[i; 8], 100 + i64::from(i), 0));
        }
        assert!(cache.insert_if_absent("d", &[200; 8], 1_000, 150));
        assert_eq!(cache.len(), 50);
        assert!(!cache.insert_if_absent("d", &[99; 8], 1_000, 160));
    }
}
