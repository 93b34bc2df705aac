//! What a member can file: the four kinds of request, as the member fills
//! them in.
//!
//! A draft may be incomplete (a member saves before the certificate is
//! scanned or the end date is known), so what the member has not given yet
//! is an `Option`, an empty string or an empty list; [`super::validate`]
//! says what is missing before a request may be queued. Field names here
//! are the wire names that [`super::RequestField`] reports.
//!
//! Every type here holds health data, so none of them prints its content
//! in `Debug`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::attachment::AttachmentRef;

/// `Debug` that names the type and nothing else: these values are health
/// data, and Debug output ends up in logs and panic messages.
macro_rules! redacted_debug {
    ($($ty:ty),+ $(,)?) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    )+};
}

redacted_debug!(
    AbsenteeismLeave,
    LeaveReason,
    ContinuityCertificate,
    RemoteCareRegistration,
    ReimbursementClaim,
    ClaimItem,
);

/// The kind of a request, without its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// [`AbsenteeismLeave`]
    AbsenteeismLeave,
    /// [`ContinuityCertificate`]
    ContinuityCertificate,
    /// [`RemoteCareRegistration`]
    RemoteCare,
    /// [`ReimbursementClaim`]
    ReimbursementClaim,
}

impl RequestKind {
    /// The wire name, as in [`RequestForm`]'s `kind` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AbsenteeismLeave => "absenteeism_leave",
            Self::ContinuityCertificate => "continuity_certificate",
            Self::RemoteCare => "remote_care",
            Self::ReimbursementClaim => "reimbursement_claim",
        }
    }
}

impl std::fmt::Display for RequestKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request's content, one variant per kind; JSON tagged by `kind`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestForm {
    /// Absence from work for illness or to care for a family member.
    AbsenteeismLeave(AbsenteeismLeave),
    /// A substitute's yearly certificate of continuity.
    ContinuityCertificate(ContinuityCertificate),
    /// Registration for care in another region.
    RemoteCare(RemoteCareRegistration),
    /// Reimbursement of expenses the member paid.
    ReimbursementClaim(ReimbursementClaim),
}

impl std::fmt::Debug for RequestForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RequestForm::{}(..)", self.kind())
    }
}

impl RequestForm {
    /// Which kind of request this is.
    pub fn kind(&self) -> RequestKind {
        match self {
            Self::AbsenteeismLeave(_) => RequestKind::AbsenteeismLeave,
            Self::ContinuityCertificate(_) => RequestKind::ContinuityCertificate,
            Self::RemoteCare(_) => RequestKind::RemoteCare,
            Self::ReimbursementClaim(_) => RequestKind::ReimbursementClaim,
        }
    }

    /// Every attachment the form cites, with the field that cites it, in
    /// form order: what the sync engine uploads before the request.
    pub fn attachments(&self) -> Vec<(super::RequestField, &AttachmentRef)> {
        use super::RequestField as Field;
        match self {
            Self::AbsenteeismLeave(leave) => leave
                .medical_certificate
                .iter()
                .map(|a| (Field::MedicalCertificate, a))
                .collect(),
            Self::ContinuityCertificate(continuity) => continuity
                .certificate
                .iter()
                .map(|a| (Field::Certificate, a))
                .collect(),
            Self::RemoteCare(care) => care
                .attachments
                .iter()
                .enumerate()
                .map(|(i, a)| (Field::Attachment(i), a))
                .collect(),
            Self::ReimbursementClaim(claim) => claim
                .receipts
                .iter()
                .enumerate()
                .map(|(i, a)| (Field::Receipt(i), a))
                .collect(),
        }
    }
}

/// Absenteeism leave: a teacher or other public employee off work for
/// their own illness or to care for a sick family member.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbsenteeismLeave {
    /// Whose illness.
    pub reason: Option<LeaveReason>,
    /// The first day of absence.
    pub start: Option<NaiveDate>,
    /// The last day of absence (inclusive).
    pub end: Option<NaiveDate>,
    /// The school or other workplace the member is absent from.
    pub workplace: String,
    /// The doctor's certificate; required.
    pub medical_certificate: Option<AttachmentRef>,
}

/// Why the member is absent.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum LeaveReason {
    /// The member is ill.
    OwnIllness,
    /// The member cares for an ill family member.
    FamilyCare {
        /// Who that is to the member.
        relation: FamilyRelation,
    },
}

/// A family member's relation to the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FamilyRelation {
    /// Spouse or partner.
    SpouseOrPartner,
    /// Son or daughter.
    Child,
    /// Father or mother.
    Parent,
    /// Brother or sister.
    Sibling,
    /// Grandfather or grandmother.
    Grandparent,
    /// Grandson or granddaughter.
    Grandchild,
    /// Father- or mother-in-law.
    ParentInLaw,
    /// Another relative in the member's care.
    OtherRelative,
}

/// A substitute teacher's or employee's yearly certificate of continuity.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinuityCertificate {
    /// The school year it covers (a calendar year, as in the southern
    /// hemisphere's school calendar).
    pub school_year: Option<i32>,
    /// The school that issued it.
    pub school: String,
    /// The certificate itself; required.
    pub certificate: Option<AttachmentRef>,
}

/// Registration for care in another region (a stay, a move or a referral).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteCareRegistration {
    /// Where the member is insured.
    pub home_region: String,
    /// Where the member will receive care; must differ from `home_region`.
    pub destination_region: String,
    /// The hospital or clinic there.
    pub facility: String,
    /// The first day covered.
    pub start: Option<NaiveDate>,
    /// The last day covered (inclusive).
    pub end: Option<NaiveDate>,
    /// Why care is needed there.
    pub reason: Option<RemoteCareReason>,
    /// Anything the member wants to add; optional.
    pub details: String,
    /// Supporting documents (a referral letter, proof of residence); optional.
    pub attachments: Vec<AttachmentRef>,
}

/// Why the member needs care in another region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteCareReason {
    /// The member lives there now, or for a long period.
    Relocation,
    /// A trip or a temporary stay.
    TemporaryStay,
    /// A doctor referred the member to a facility there.
    Referral,
}

/// A claim for expenses the member paid, with photos of the receipts.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReimbursementClaim {
    /// Outpatient, inpatient or global (package).
    pub claim_kind: Option<ClaimKind>,
    /// What was paid for; at least one.
    pub items: Vec<ClaimItem>,
    /// Photos or scans of the receipts; at least one.
    pub receipts: Vec<AttachmentRef>,
}

/// The file a claim belongs to at the insurer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    /// Care without a hospital stay.
    Outpatient,
    /// A hospital stay.
    Inpatient,
    /// A package price covering a whole treatment.
    Global,
}

/// One expense in a claim.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimItem {
    /// What it was (a consultation, a medicine).
    pub description: String,
    /// The amount paid, in the currency's minor unit (cents); above zero.
    pub amount_cents: i64,
    /// ISO 4217 code, three capital letters (`ARS`).
    pub currency: String,
}
