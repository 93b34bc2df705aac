//! The test vectors of `docs/formats/token.md`: the RFC 6238 HMAC-SHA-256
//! vectors for the bare primitive, then Carnet's offline tokens for a fixed
//! secret and clock, the backend's answers around expiry, the online
//! random code from a seeded source, and the normalisation examples. Each
//! expected value must also appear in the document, so that the two cannot
//! drift apart. If this test fails, the format changed: change the
//! document with it.

// A test's helpers stop it loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use carnet_core::rng::SeededRng;
use carnet_core::token::{
    self, Counter, MAX_CANDIDATES, TokenBook, TokenRejection, TokenSecret, Window,
};
use chrono::{DateTime, Utc};
use ring::hmac;

const DOC: &str = include_str!("../../docs/formats/token.md");

/// 2026-03-02T09:30:00Z.
const NOW: i64 = 1_772_443_800;

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Secret bytes 00 01 02 … 1f.
fn secret() -> TokenSecret {
    TokenSecret::from_bytes(core::array::from_fn(|i| i as u8))
}

fn in_doc(text: &str) {
    assert!(DOC.contains(text), "docs/formats/token.md lacks {text:?}");
}

#[test]
fn rfc_6238_sha256_vectors_truncated_to_six_digits() {
    // RFC 6238 Appendix B, SHA-256 column: the 32-byte ASCII seed, T = unix
    // time / 30. Our codes are the last 6 of its 8 digits.
    let seed = TokenSecret::from_slice(b"12345678901234567890123456789012").unwrap();
    for (time, eight) in [
        (59u64, "46119246"),
        (1_111_111_109, "68084774"),
        (1_111_111_111, "67062674"),
        (1_234_567_890, "91819424"),
        (2_000_000_000, "90698825"),
        (20_000_000_000, "77737706"),
    ] {
        let six = &eight[2..];
        assert_eq!(token::hotp_sha256(&seed, time / 30), six, "T = {time}");
        in_doc(&format!("| {time} | `{eight}` | `{six}` |"));
    }
}

#[test]
fn offline_codes_for_the_fixed_secret_and_clock() {
    let slot = token::slot_of(at(NOW)).unwrap();
    assert_eq!(slot, 492_345);
    in_doc("slot `492345`");
    let expected = [
        "864705", "488353", "391616", "415406", "390349", "568260", "725107", "177817",
    ];
    for (sequence, code) in (0u8..).zip(expected) {
        let counter = Counter::new(slot, sequence).unwrap();
        let bytes = hex::encode(counter.to_bytes());
        assert_eq!(token::derive_offline_code(&secret(), counter), code);
        in_doc(&format!("| {sequence} | `{bytes}` | `{code}` |"));
    }
    // The first one step by step, with ring's HMAC directly.
    let counter = Counter::new(slot, 0).unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret().expose_bytes());
    let mac = hmac::sign(&key, &counter.to_bytes());
    let mac_hex = hex::encode(mac.as_ref());
    assert_eq!(
        mac_hex,
        "b161dcc2659223e0964790862a8fd8c60185bff8e9e8ced2f8584fc292d50c2d"
    );
    in_doc(&mac_hex);
    in_doc("offset 13");
    in_doc("`0x0fd8c601` = 265864705");
    // Validity: the end of the slot plus 12 hours.
    assert_eq!(rfc3339(counter.slot_start()), "2026-03-02T09:00:00Z");
    assert_eq!(rfc3339(counter.expires_at()), "2026-03-02T22:00:00Z");
    in_doc("2026-03-02T22:00:00Z");
}

#[test]
fn the_phone_makes_the_vectors_in_order() {
    let mut book = TokenBook::new();
    let first = book.make_offline(&secret(), None, at(NOW)).unwrap();
    let second = book.make_offline(&secret(), None, at(NOW + 60)).unwrap();
    assert_eq!(first.code, "864705");
    assert_eq!(second.code, "488353");
}

#[test]
fn the_backend_answers_around_expiry() {
    let never = |_: Counter| false;
    let counter = Counter::new(492_345, 0).unwrap();
    for (time, answer) in [
        ("2026-03-02T09:30:00Z", "accepted"),
        ("2026-03-02T21:59:59Z", "accepted"),
        ("2026-03-02T22:00:00Z", "expired"),
        ("2026-03-03T09:59:59Z", "expired"),
        ("2026-03-03T10:00:00Z", "unknown"),
    ] {
        let now = DateTime::parse_from_rfc3339(time).unwrap().to_utc();
        let got = match token::accept_offline(&secret(), "864705", now, &never) {
            Ok(accepted) => {
                assert_eq!(accepted.counter, counter);
                "accepted"
            }
            Err(TokenRejection::Expired { counter: c, .. }) => {
                assert_eq!(c, counter);
                "expired"
            }
            Err(other) => other.code(),
        };
        assert_eq!(got, answer, "at {time}");
        in_doc(&format!("| {time} | {answer} |"));
    }
    // Once recorded: used.
    let used = |c: Counter| c == counter;
    assert_eq!(
        token::accept_offline(&secret(), "864 705", at(NOW), &used),
        Err(TokenRejection::Used { counter })
    );
}

#[test]
fn window_sizes_and_false_accept_odds() {
    let window = Window::at(at(NOW)).unwrap();
    assert_eq!(window.candidate_count(), 104);
    assert_eq!(window.search_count(), 200);
    // 09:56: within 5 minutes of the next slot.
    let window = Window::at(at(NOW + 26 * 60)).unwrap();
    assert_eq!(window.candidate_count(), 112);
    assert_eq!(window.search_count(), 208);
    assert_eq!(MAX_CANDIDATES, 112);
    in_doc("104 / 10^6");
    in_doc("112 / 10^6");
}

#[test]
fn online_codes_from_the_seeded_source() {
    let rng = SeededRng::new([0x42; 32]);
    let codes: Vec<String> = (0..3).map(|_| token::random_code(&rng).unwrap()).collect();
    assert_eq!(codes, ["129712", "234937", "922294"]);
    in_doc("`129712`, `234937`, `922294`");
}

#[test]
fn normalisation_examples() {
    for (input, shown) in [
        ("۸۶۴ ۷۰۵", "`۸۶۴ ۷۰۵`"),
        ("٨٦٤-٧٠٥", "`٨٦٤-٧٠٥`"),
        ("８６４－７０５", "`８６４－７０５`"),
        ("864\u{00A0}705", "`864` U+00A0 `705`"),
        ("864\u{2013}705", "`864–705`"),
    ] {
        assert_eq!(token::normalize_code(input).unwrap(), "864705", "{input:?}");
        in_doc(shown);
    }
    for (input, error) in [
        ("86470", "only 5 digits were entered; a token has 6"),
        (
            "8647051",
            "7 digits were entered; a token has 6, check for an extra digit",
        ),
        (
            "864.705",
            "character 4 ('.', U+002E) is not a digit; type only the 6 digits of the token",
        ),
    ] {
        assert_eq!(token::normalize_code(input).unwrap_err().to_string(), error);
        in_doc(error);
    }
}
