//! Feeds arbitrary bytes to the member-certificate decoder: it must return
//! an error or a certificate, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = carnet_core::certificate::decode_unverified(data);
});
