//! Feeds arbitrary input to the offline verifier, both as scanned text and
//! as the bytes behind a well-formed `CN1:` prefix (so that the fuzzer
//! reaches the CBOR and COSE parsers rather than stopping at Base45). The
//! verifier must return a rejection, never panic, and never accept.
#![no_main]

use std::sync::OnceLock;

use carnet_core::certificate::InsurerKey;
use carnet_core::credential::{CachedTrustList, Purpose, Verifier};
use carnet_core::model::JwkSet;
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let (insurer, _) = InsurerKey::generate().expect("an insurer key");
        let fetched = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
        Verifier::new(CachedTrustList::new(
            JwkSet {
                keys: vec![insurer.jwk()],
            },
            fetched,
        ))
    })
}

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
    if let Ok(text) = std::str::from_utf8(data) {
        assert!(verifier().verify(text, Purpose::Identify, now).is_err());
    }
    let text = format!("CN1:{}", base45::encode(data));
    assert!(verifier().verify(&text, Purpose::Settle, now).is_err());
});
