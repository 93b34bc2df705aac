//! Sample requests and files, the same in every test that files them.

use carnet_core::requests::{
    AbsenteeismLeave, AttachmentRef, ClaimItem, ClaimKind, LeaveReason, ReimbursementClaim,
    RequestForm,
};
use chrono::NaiveDate;

/// `len` deterministic bytes, varied by `seed`, that look like nothing in
/// particular (and do not compress to nothing).
pub fn file(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

/// A date written `YYYY-MM-DD`.
pub fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A leave for the member's own illness, 2026-02-23 to 2026-02-27, at
/// `workplace`, with `certificate`.
pub fn leave(certificate: &AttachmentRef, workplace: &str) -> RequestForm {
    RequestForm::AbsenteeismLeave(AbsenteeismLeave {
        reason: Some(LeaveReason::OwnIllness),
        start: Some(date("2026-02-23")),
        end: Some(date("2026-02-27")),
        workplace: workplace.to_owned(),
        medical_certificate: Some(certificate.clone()),
    })
}

/// An outpatient claim for one cardiology visit (ARS 45,000.00) with
/// `receipts`.
pub fn claim(receipts: &[AttachmentRef]) -> RequestForm {
    RequestForm::ReimbursementClaim(ReimbursementClaim {
        claim_kind: Some(ClaimKind::Outpatient),
        items: vec![ClaimItem {
            description: "Consulta de cardiología".to_owned(),
            amount_cents: 4_500_000,
            currency: "ARS".to_owned(),
        }],
        receipts: receipts.to_vec(),
    })
}
