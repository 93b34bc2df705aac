//! Consult tokens against their targets (docs/PERFORMANCE.md, "Consult
//! tokens (issue 4)"):
//! - the phone's offline derivation of one code (target: at most 50 µs
//!   median), and making one through the book at the outstanding cap's
//!   edge (14 held, with the twin check);
//! - the backend's window search for a code that matches nothing, the
//!   worst case (every candidate computed, expired slots included, in the
//!   last 5 minutes of an hour when the window holds the next slot too);
//! - a matching search, an online random code and input normalisation.
//!
//! Run: `cargo bench -p carnet-core --bench token -- --warm-up-time 1 --measurement-time 3`.

// Setup failures in a benchmark should stop it loudly; `criterion_group!`
// generates undocumented public items.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use carnet_core::rng::SystemRng;
use carnet_core::token::{self, Counter, TokenBook, TokenRejection, TokenSecret, Window};
use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// 2026-03-02T09:56:00Z: 4 minutes before the hour, so the window also
/// holds the next slot (the largest window).
const NOW: i64 = 1_772_445_360;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn secret() -> TokenSecret {
    TokenSecret::from_bytes(core::array::from_fn(|i| i as u8))
}

/// A code that no candidate of the search range produces.
fn non_matching_code(secret: &TokenSecret) -> String {
    (0..1_000_000u32)
        .map(|n| format!("{n:06}"))
        .find(|code| {
            token::accept_offline(secret, code, at(NOW), &|_| false) == Err(TokenRejection::Unknown)
        })
        .unwrap()
}

fn phone(c: &mut Criterion) {
    let secret = secret();
    let counter = Counter::new(token::slot_of(at(NOW)).unwrap(), 3).unwrap();
    let mut group = c.benchmark_group("token phone");
    group.bench_function("derive one offline code (HMAC-SHA-256 + truncation)", |b| {
        b.iter(|| token::derive_offline_code(black_box(&secret), black_box(counter)))
    });
    // 14 outstanding over the last 7 hours, so the next is the 15th: the
    // cap count, the twin check against 14 codes and one derivation.
    let mut book = TokenBook::new();
    for i in 0..14 {
        book.make_offline(&secret, None, at(NOW - 7 * 3_600 + (i / 2) * 3_600))
            .unwrap();
    }
    assert_eq!(book.outstanding_offline(at(NOW)), 14);
    group.bench_function("make the 15th offline token through the book", |b| {
        b.iter_batched_ref(
            || book.clone(),
            |book| {
                book.make_offline(&secret, None, black_box(at(NOW)))
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    let rng = SystemRng::new();
    group.bench_function("online random code (system source)", |b| {
        b.iter(|| token::random_code(&rng).unwrap())
    });
    group.bench_function("normalise a Persian code with a space", |b| {
        b.iter(|| token::normalize_code(black_box("۱۲۳ ۴۵۶")).unwrap())
    });
    group.finish();
}

fn backend(c: &mut Criterion) {
    let secret = secret();
    let window = Window::at(at(NOW)).unwrap();
    println!(
        "window at {}: {} candidates can accept, {} codes computed per search",
        at(NOW),
        window.candidate_count(),
        window.search_count()
    );
    let miss = non_matching_code(&secret);
    let hit = token::derive_offline_code(
        &secret,
        Counter::new(token::slot_of(at(NOW)).unwrap(), 0).unwrap(),
    );
    let mut group = c.benchmark_group("token backend");
    group.bench_function("window search, no match (worst case)", |b| {
        b.iter(|| {
            token::accept_offline(&secret, black_box(&miss), black_box(at(NOW)), &|_| false)
                .unwrap_err()
        })
    });
    group.bench_function("window search, match", |b| {
        b.iter(|| {
            token::accept_offline(&secret, black_box(&hit), black_box(at(NOW)), &|_| false).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, phone, backend);
criterion_main!(benches);
