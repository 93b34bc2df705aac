//! The member's requests (absenteeism leave, certificate of continuity,
//! remote-care registration, reimbursement claim) over FFI: records that
//! mirror `carnet_core::requests`, their conversions, and the `Carnet`
//! methods that save, submit, recall, list and attach.
//!
//! Coarse by design (a call costs ~6.6 µs, one with a byte array ~30 µs):
//! each method does one whole job and returns the whole request, so a
//! screen needs one call per user action. Every method here touches the
//! vault (an fsync per write), so each runs on tokio's blocking pool and is
//! `async` (a Kotlin `suspend`/Swift `async` function): never on the app's
//! main thread. Dates travel as `YYYY-MM-DD` strings and instants as Unix
//! seconds (as in [`crate::records`]); media types as MIME strings.
//!
//! Nothing here prints content in `Debug`: forms, file names and
//! reviewers' reasons are health data.

use std::sync::Arc;

use carnet_core::requests as domain;
use chrono::NaiveDate;

use crate::carnet::Carnet;
use crate::error::CarnetError;
use crate::records::{format_date, parse_date};

/// `Debug` that names the type only (health data; Debug ends up in logs).
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
    AttachmentRef,
    AbsenteeismLeave,
    LeaveReason,
    ContinuityCertificate,
    RemoteCareRegistration,
    ReimbursementClaim,
    ClaimItem,
    RequestForm,
    MemberRequest,
    RequestListing,
);

// ---------------------------------------------------------------------------
// Records

/// The kind of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum RequestKind {
    /// Absence from work for illness or family care.
    AbsenteeismLeave,
    /// A substitute's yearly certificate of continuity.
    ContinuityCertificate,
    /// Registration for care in another region.
    RemoteCare,
    /// Reimbursement of expenses.
    ReimbursementClaim,
}

/// Where a request is in its life cycle (docs/adr/0005-outbox.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum RequestStateName {
    /// Being written on the phone; editable; not sent.
    Draft,
    /// Submitted, waiting for the network.
    Queued,
    /// The insurer acknowledged the upload.
    Sent,
    /// The insurer registered it.
    Received,
    /// A reviewer is looking at it.
    UnderReview,
    /// Sent back with reasons: edit and submit again.
    Returned,
    /// Edited after a return and submitted again, waiting for the network.
    Resubmitted,
    /// Accepted. Final.
    Approved,
    /// Refused, with reasons. Final.
    Rejected,
}

/// What the member tried to do to a request, in a refusal (carried by
/// `CarnetError::RequestActionRefused` as its wire name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RequestAction {
    /// Change its form.
    Edit,
    /// Queue it for sending.
    Submit,
    /// Take it back before it is sent.
    Recall,
    /// An update from the insurer (not a member action).
    InsurerUpdate,
}

/// A stored photo or scan, as a form cites it: the bytes are in the vault
/// under their SHA-256. Made by `Carnet.add_attachment`; put it in a form
/// as it is.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentRef {
    /// SHA-256 of the bytes, 64 lowercase hex digits.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// MIME type: `image/jpeg`, `image/png`, `image/heic`, `image/webp`
    /// or `application/pdf`.
    pub media_type: String,
    /// The file's name, shown back to the member.
    pub file_name: String,
}

/// A family member's relation to the member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum FamilyRelation {
    /// Spouse or partner.
    SpouseOrPartner,
    /// Son or daughter.
    Child,
    /// Father or mother.
    Parent,
    /// Brother or sister.
    Sibling,
    /// Grandparent.
    Grandparent,
    /// Grandchild.
    Grandchild,
    /// Father- or mother-in-law.
    ParentInLaw,
    /// Another relative in the member's care.
    OtherRelative,
}

/// Why the member is absent.
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
pub enum LeaveReason {
    /// The member is ill.
    OwnIllness,
    /// The member cares for an ill family member.
    FamilyCare {
        /// Who that is to the member.
        relation: FamilyRelation,
    },
}

/// Absenteeism leave. Anything may be empty in a draft.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct AbsenteeismLeave {
    /// Whose illness.
    pub reason: Option<LeaveReason>,
    /// First day of absence, `YYYY-MM-DD`.
    pub start: Option<String>,
    /// Last day of absence (inclusive), `YYYY-MM-DD`.
    pub end: Option<String>,
    /// The school or workplace.
    pub workplace: String,
    /// The doctor's certificate; required to submit.
    pub medical_certificate: Option<AttachmentRef>,
}

/// A substitute's yearly certificate of continuity.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ContinuityCertificate {
    /// The school year (a calendar year).
    pub school_year: Option<i32>,
    /// The school that issued it.
    pub school: String,
    /// The certificate; required to submit.
    pub certificate: Option<AttachmentRef>,
}

/// Why care is needed in another region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum RemoteCareReason {
    /// The member lives there now, or for a long period.
    Relocation,
    /// A trip or a temporary stay.
    TemporaryStay,
    /// A doctor referred the member there.
    Referral,
}

/// Registration for care in another region.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct RemoteCareRegistration {
    /// Where the member is insured.
    pub home_region: String,
    /// Where care is received; must differ from `home_region`.
    pub destination_region: String,
    /// The hospital or clinic.
    pub facility: String,
    /// First day covered, `YYYY-MM-DD`.
    pub start: Option<String>,
    /// Last day covered (inclusive), `YYYY-MM-DD`.
    pub end: Option<String>,
    /// Why.
    pub reason: Option<RemoteCareReason>,
    /// Free text; optional.
    pub details: String,
    /// Supporting documents; optional.
    pub attachments: Vec<AttachmentRef>,
}

/// The file a claim belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ClaimKind {
    /// Care without a hospital stay.
    Outpatient,
    /// A hospital stay.
    Inpatient,
    /// A package price for a whole treatment.
    Global,
}

/// One expense of a claim.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClaimItem {
    /// What it was.
    pub description: String,
    /// Amount paid in the currency's minor unit (cents); above zero.
    pub amount_cents: i64,
    /// ISO 4217 code (`ARS`).
    pub currency: String,
}

/// A claim for expenses the member paid.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReimbursementClaim {
    /// Outpatient, inpatient or global.
    pub claim_kind: Option<ClaimKind>,
    /// What was paid for; at least one to submit.
    pub items: Vec<ClaimItem>,
    /// Photos or scans of the receipts; at least one to submit.
    pub receipts: Vec<AttachmentRef>,
}

/// A request's content, one variant per kind. (Variants are named apart
/// from the records so that Kotlin's nested classes do not shadow them.)
#[derive(Clone, PartialEq, Eq, uniffi::Enum)]
pub enum RequestForm {
    /// An absenteeism leave.
    Leave {
        /// The form.
        form: AbsenteeismLeave,
    },
    /// A certificate of continuity.
    Continuity {
        /// The form.
        form: ContinuityCertificate,
    },
    /// A remote-care registration.
    RemoteCare {
        /// The form.
        form: RemoteCareRegistration,
    },
    /// A reimbursement claim.
    Claim {
        /// The form.
        form: ReimbursementClaim,
    },
}

/// One field to correct: where, and what is wrong. Never the value.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RequestFieldProblem {
    /// The field's JSON path: `start`, `items[2].amount_cents`, `receipts`.
    pub field: String,
    /// What is wrong, a stable code the apps localise as `problem_<code>`:
    /// `missing`, `too_long`, `too_many`, `end_before_start`,
    /// `period_too_long`, `school_year_out_of_range`, `same_region`,
    /// `amount_not_positive`, `invalid_currency`, `invalid_attachment`,
    /// `attachment_not_stored`, `invalid_date`.
    pub code: String,
    /// The numbers the message needs, in order: `too_long` (max
    /// characters), `too_many` (max entries), `period_too_long` (max days),
    /// `school_year_out_of_range` (earliest, latest); empty otherwise.
    pub limits: Vec<i64>,
}

/// A request on this phone: its summary and its form.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct MemberRequest {
    /// Made on the phone (32 hex digits); the id every call takes.
    pub id: String,
    /// Which kind.
    pub kind: RequestKind,
    /// Starts at 1; grows with every edit and every resubmission.
    pub revision: u64,
    /// The newest revision the insurer acknowledged or reported on.
    pub backend_revision: Option<u64>,
    /// Where it is.
    pub state: RequestStateName,
    /// The reviewer's reasons: for returned and rejected requests, and for
    /// a resubmitted one (the reasons it answers); empty otherwise.
    pub reasons: Vec<String>,
    /// Whether it waits on this phone for the next sync (queued or
    /// resubmitted).
    pub waiting_for_upload: bool,
    /// Whether the member may edit it (draft or returned).
    pub editable: bool,
    /// What the member filled in.
    pub form: RequestForm,
    /// First saved (Unix seconds).
    pub created_at: i64,
    /// Last changed (Unix seconds).
    pub updated_at: i64,
    /// Last submitted (Unix seconds), if ever.
    pub submitted_at: Option<i64>,
}

/// Every request on this phone, in creation order, and how many records
/// could not be read (kept on disk, never dropped: tell the member).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct RequestListing {
    /// The readable requests.
    pub requests: Vec<MemberRequest>,
    /// Records that failed to decrypt or decode.
    pub unreadable: u32,
}

// ---------------------------------------------------------------------------
// Core → FFI

impl From<domain::RequestKind> for RequestKind {
    fn from(kind: domain::RequestKind) -> Self {
        match kind {
            domain::RequestKind::AbsenteeismLeave => Self::AbsenteeismLeave,
            domain::RequestKind::ContinuityCertificate => Self::ContinuityCertificate,
            domain::RequestKind::RemoteCare => Self::RemoteCare,
            domain::RequestKind::ReimbursementClaim => Self::ReimbursementClaim,
        }
    }
}

impl From<domain::StateName> for RequestStateName {
    fn from(state: domain::StateName) -> Self {
        match state {
            domain::StateName::Draft => Self::Draft,
            domain::StateName::Queued => Self::Queued,
            domain::StateName::Sent => Self::Sent,
            domain::StateName::Received => Self::Received,
            domain::StateName::UnderReview => Self::UnderReview,
            domain::StateName::Returned => Self::Returned,
            domain::StateName::Resubmitted => Self::Resubmitted,
            domain::StateName::Approved => Self::Approved,
            domain::StateName::Rejected => Self::Rejected,
        }
    }
}

impl RequestAction {
    /// The wire name, as `CarnetError::RequestActionRefused.action` carries it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Edit => "edit",
            Self::Submit => "submit",
            Self::Recall => "recall",
            Self::InsurerUpdate => "insurer_update",
        }
    }
}

impl From<domain::EventName> for RequestAction {
    fn from(event: domain::EventName) -> Self {
        match event {
            domain::EventName::Edit => Self::Edit,
            domain::EventName::Submit => Self::Submit,
            domain::EventName::Recall => Self::Recall,
            domain::EventName::Uploaded
            | domain::EventName::Received
            | domain::EventName::UnderReview
            | domain::EventName::Returned
            | domain::EventName::Approved
            | domain::EventName::Rejected => Self::InsurerUpdate,
        }
    }
}

impl From<&domain::FieldProblem> for RequestFieldProblem {
    fn from(problem: &domain::FieldProblem) -> Self {
        use domain::FieldProblem as P;
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let (code, limits) = match problem {
            P::Missing { .. } => ("missing", vec![]),
            P::TooLong { max_chars, .. } => ("too_long", vec![count(*max_chars)]),
            P::TooMany { max, .. } => ("too_many", vec![count(*max)]),
            P::EndBeforeStart => ("end_before_start", vec![]),
            P::PeriodTooLong { max_days } => ("period_too_long", vec![*max_days]),
            P::SchoolYearOutOfRange { earliest, latest } => (
                "school_year_out_of_range",
                vec![i64::from(*earliest), i64::from(*latest)],
            ),
            P::SameRegion => ("same_region", vec![]),
            P::AmountNotPositive { .. } => ("amount_not_positive", vec![]),
            P::InvalidCurrency { .. } => ("invalid_currency", vec![]),
            P::InvalidAttachment { .. } => ("invalid_attachment", vec![]),
            P::AttachmentNotStored { .. } => ("attachment_not_stored", vec![]),
        };
        Self {
            field: problem.field().wire_name(),
            code: code.to_owned(),
            limits,
        }
    }
}

impl RequestFieldProblem {
    fn new(field: String, code: &str) -> Self {
        Self {
            field,
            code: code.to_owned(),
            limits: Vec::new(),
        }
    }
}

impl From<domain::AttachmentRef> for AttachmentRef {
    fn from(attachment: domain::AttachmentRef) -> Self {
        Self {
            sha256: attachment.sha256.as_str().to_owned(),
            size: attachment.size,
            media_type: attachment.media_type.as_str().to_owned(),
            file_name: attachment.file_name,
        }
    }
}

impl From<domain::FamilyRelation> for FamilyRelation {
    fn from(relation: domain::FamilyRelation) -> Self {
        use domain::FamilyRelation as R;
        match relation {
            R::SpouseOrPartner => Self::SpouseOrPartner,
            R::Child => Self::Child,
            R::Parent => Self::Parent,
            R::Sibling => Self::Sibling,
            R::Grandparent => Self::Grandparent,
            R::Grandchild => Self::Grandchild,
            R::ParentInLaw => Self::ParentInLaw,
            R::OtherRelative => Self::OtherRelative,
        }
    }
}

impl From<FamilyRelation> for domain::FamilyRelation {
    fn from(relation: FamilyRelation) -> Self {
        use FamilyRelation as R;
        match relation {
            R::SpouseOrPartner => Self::SpouseOrPartner,
            R::Child => Self::Child,
            R::Parent => Self::Parent,
            R::Sibling => Self::Sibling,
            R::Grandparent => Self::Grandparent,
            R::Grandchild => Self::Grandchild,
            R::ParentInLaw => Self::ParentInLaw,
            R::OtherRelative => Self::OtherRelative,
        }
    }
}

impl From<domain::RemoteCareReason> for RemoteCareReason {
    fn from(reason: domain::RemoteCareReason) -> Self {
        match reason {
            domain::RemoteCareReason::Relocation => Self::Relocation,
            domain::RemoteCareReason::TemporaryStay => Self::TemporaryStay,
            domain::RemoteCareReason::Referral => Self::Referral,
        }
    }
}

impl From<RemoteCareReason> for domain::RemoteCareReason {
    fn from(reason: RemoteCareReason) -> Self {
        match reason {
            RemoteCareReason::Relocation => Self::Relocation,
            RemoteCareReason::TemporaryStay => Self::TemporaryStay,
            RemoteCareReason::Referral => Self::Referral,
        }
    }
}

impl From<domain::ClaimKind> for ClaimKind {
    fn from(kind: domain::ClaimKind) -> Self {
        match kind {
            domain::ClaimKind::Outpatient => Self::Outpatient,
            domain::ClaimKind::Inpatient => Self::Inpatient,
            domain::ClaimKind::Global => Self::Global,
        }
    }
}

impl From<ClaimKind> for domain::ClaimKind {
    fn from(kind: ClaimKind) -> Self {
        match kind {
            ClaimKind::Outpatient => Self::Outpatient,
            ClaimKind::Inpatient => Self::Inpatient,
            ClaimKind::Global => Self::Global,
        }
    }
}

impl From<domain::RequestForm> for RequestForm {
    fn from(form: domain::RequestForm) -> Self {
        let date = |date: Option<NaiveDate>| date.map(format_date);
        let attachments = |list: Vec<domain::AttachmentRef>| {
            list.into_iter()
                .map(AttachmentRef::from)
                .collect::<Vec<_>>()
        };
        match form {
            domain::RequestForm::AbsenteeismLeave(leave) => Self::Leave {
                form: AbsenteeismLeave {
                    reason: leave.reason.map(|reason| match reason {
                        domain::LeaveReason::OwnIllness => LeaveReason::OwnIllness,
                        domain::LeaveReason::FamilyCare { relation } => LeaveReason::FamilyCare {
                            relation: relation.into(),
                        },
                    }),
                    start: date(leave.start),
                    end: date(leave.end),
                    workplace: leave.workplace,
                    medical_certificate: leave.medical_certificate.map(AttachmentRef::from),
                },
            },
            domain::RequestForm::ContinuityCertificate(continuity) => Self::Continuity {
                form: ContinuityCertificate {
                    school_year: continuity.school_year,
                    school: continuity.school,
                    certificate: continuity.certificate.map(AttachmentRef::from),
                },
            },
            domain::RequestForm::RemoteCare(care) => Self::RemoteCare {
                form: RemoteCareRegistration {
                    home_region: care.home_region,
                    destination_region: care.destination_region,
                    facility: care.facility,
                    start: date(care.start),
                    end: date(care.end),
                    reason: care.reason.map(RemoteCareReason::from),
                    details: care.details,
                    attachments: attachments(care.attachments),
                },
            },
            domain::RequestForm::ReimbursementClaim(claim) => Self::Claim {
                form: ReimbursementClaim {
                    claim_kind: claim.claim_kind.map(ClaimKind::from),
                    items: claim
                        .items
                        .into_iter()
                        .map(|item| ClaimItem {
                            description: item.description,
                            amount_cents: item.amount_cents,
                            currency: item.currency,
                        })
                        .collect(),
                    receipts: attachments(claim.receipts),
                },
            },
        }
    }
}

impl From<domain::MemberRequest> for MemberRequest {
    fn from(request: domain::MemberRequest) -> Self {
        let reasons = match &request.state {
            domain::RequestState::Returned { reasons }
            | domain::RequestState::Resubmitted { reasons }
            | domain::RequestState::Rejected { reasons } => reasons.clone(),
            _ => Vec::new(),
        };
        Self {
            id: request.id.as_str().to_owned(),
            kind: request.kind().into(),
            revision: request.revision,
            backend_revision: request.backend_revision,
            state: request.state.name().into(),
            reasons,
            waiting_for_upload: request.state.is_pending_upload(),
            editable: request.state.is_editable(),
            form: request.form.into(),
            created_at: request.created_at.timestamp(),
            updated_at: request.updated_at.timestamp(),
            submitted_at: request.submitted_at.map(|at| at.timestamp()),
        }
    }
}

impl From<domain::Listing> for RequestListing {
    fn from(listing: domain::Listing) -> Self {
        Self {
            requests: listing
                .requests
                .into_iter()
                .map(MemberRequest::from)
                .collect(),
            unreadable: u32::try_from(listing.unreadable.len()).unwrap_or(u32::MAX),
        }
    }
}

// ---------------------------------------------------------------------------
// FFI → core: what the core's types cannot hold (a date that is not
// `YYYY-MM-DD`, a reference that is not a hash or MIME type) becomes a
// field problem at its path, all of them at once, like the core's rules.

/// Collects the problems of one conversion.
#[derive(Default)]
struct Reader(Vec<RequestFieldProblem>);

impl Reader {
    fn date(&mut self, field: &str, text: Option<String>) -> Option<NaiveDate> {
        let text = text?;
        if text.trim().is_empty() {
            return None;
        }
        let date = parse_date(&text);
        if date.is_none() {
            self.0
                .push(RequestFieldProblem::new(field.to_owned(), "invalid_date"));
        }
        date
    }

    fn attachment(
        &mut self,
        field: String,
        attachment: AttachmentRef,
    ) -> Option<domain::AttachmentRef> {
        match (
            domain::ContentHash::parse(&attachment.sha256),
            domain::MediaType::parse(&attachment.media_type),
        ) {
            (Ok(sha256), Ok(media_type)) => Some(domain::AttachmentRef {
                sha256,
                size: attachment.size,
                media_type,
                file_name: attachment.file_name,
            }),
            _ => {
                self.0
                    .push(RequestFieldProblem::new(field, "invalid_attachment"));
                None
            }
        }
    }

    fn attachments(
        &mut self,
        list: &str,
        attachments: Vec<AttachmentRef>,
    ) -> Vec<domain::AttachmentRef> {
        attachments
            .into_iter()
            .enumerate()
            .filter_map(|(i, attachment)| self.attachment(format!("{list}[{i}]"), attachment))
            .collect()
    }
}

impl TryFrom<RequestForm> for domain::RequestForm {
    type Error = CarnetError;

    fn try_from(form: RequestForm) -> Result<Self, CarnetError> {
        let mut read = Reader::default();
        let form = match form {
            RequestForm::Leave { form } => Self::AbsenteeismLeave(domain::AbsenteeismLeave {
                reason: form.reason.map(|reason| match reason {
                    LeaveReason::OwnIllness => domain::LeaveReason::OwnIllness,
                    LeaveReason::FamilyCare { relation } => domain::LeaveReason::FamilyCare {
                        relation: relation.into(),
                    },
                }),
                start: read.date("start", form.start),
                end: read.date("end", form.end),
                workplace: form.workplace,
                medical_certificate: form
                    .medical_certificate
                    .and_then(|a| read.attachment("medical_certificate".into(), a)),
            }),
            RequestForm::Continuity { form } => {
                Self::ContinuityCertificate(domain::ContinuityCertificate {
                    school_year: form.school_year,
                    school: form.school,
                    certificate: form
                        .certificate
                        .and_then(|a| read.attachment("certificate".into(), a)),
                })
            }
            RequestForm::RemoteCare { form } => Self::RemoteCare(domain::RemoteCareRegistration {
                home_region: form.home_region,
                destination_region: form.destination_region,
                facility: form.facility,
                start: read.date("start", form.start),
                end: read.date("end", form.end),
                reason: form.reason.map(domain::RemoteCareReason::from),
                details: form.details,
                attachments: read.attachments("attachments", form.attachments),
            }),
            RequestForm::Claim { form } => Self::ReimbursementClaim(domain::ReimbursementClaim {
                claim_kind: form.claim_kind.map(domain::ClaimKind::from),
                items: form
                    .items
                    .into_iter()
                    .map(|item| domain::ClaimItem {
                        description: item.description,
                        amount_cents: item.amount_cents,
                        currency: item.currency,
                    })
                    .collect(),
                receipts: read.attachments("receipts", form.receipts),
            }),
        };
        if read.0.is_empty() {
            Ok(form)
        } else {
            Err(CarnetError::RequestInvalid { problems: read.0 })
        }
    }
}

/// A request id from the app. One that does not parse names no request on
/// this phone, so it is `NotFound` like an unknown one.
fn request_id(id: &str) -> Result<domain::RequestId, CarnetError> {
    domain::RequestId::parse(id).map_err(|_| CarnetError::NotFound)
}

/// Runs blocking vault work on tokio's blocking pool (the runtime has one
/// scheduler thread, which an fsync must not hold up) and maps its error.
async fn blocking<T, F>(work: F) -> Result<T, CarnetError>
where
    F: FnOnce() -> Result<T, CarnetError> + Send + 'static,
    T: Send + 'static,
{
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| CarnetError::unexpected("no_async_runtime"))?;
    match runtime.spawn_blocking(work).await {
        Ok(result) => result,
        // A panic in the work comes back here instead of unwinding through
        // the FFI.
        Err(_) => Err(CarnetError::unexpected("task_failed")),
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl Carnet {
    /// Saves a new request as a draft (incomplete forms are fine) and
    /// returns it with its id. On disk when this returns. A date that is
    /// not `YYYY-MM-DD` or a reference not made by `add_attachment` is
    /// `RequestInvalid` (nothing saved).
    pub async fn save_request_draft(
        self: Arc<Self>,
        form: RequestForm,
    ) -> Result<MemberRequest, CarnetError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let form = domain::RequestForm::try_from(form)?;
            Ok(inner.save_request_draft(form)?.into())
        })
        .await
    }

    /// Replaces the form of a draft or returned request (a new revision).
    /// Other states: `RequestNotEditable` (recall a queued request first);
    /// another kind of form: `Unexpected`.
    pub async fn update_request_draft(
        self: Arc<Self>,
        id: String,
        form: RequestForm,
    ) -> Result<MemberRequest, CarnetError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let id = request_id(&id)?;
            let form = domain::RequestForm::try_from(form)?;
            Ok(inner.update_request_draft(&id, form)?.into())
        })
        .await
    }

    /// Checks a draft or returned request and queues it for the next sync
    /// (no network here). Every problem comes back at once
    /// (`RequestInvalid`); the request is then unchanged.
    pub async fn submit_request(self: Arc<Self>, id: String) -> Result<MemberRequest, CarnetError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || Ok(inner.submit_request(&request_id(&id)?)?.into())).await
    }

    /// Takes a queued request back to a draft (a resubmitted one back to
    /// returned) so the member can edit it; safe during a sync. Once sent:
    /// `RequestActionRefused`.
    pub async fn recall_request(self: Arc<Self>, id: String) -> Result<MemberRequest, CarnetError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || Ok(inner.recall_request(&request_id(&id)?)?.into())).await
    }

    /// Every request on this phone, in creation order, with the count of
    /// records that could not be read.
    pub async fn requests(self: Arc<Self>) -> Result<RequestListing, CarnetError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || Ok(inner.requests()?.into())).await
    }

    /// One request, or null when it is not on this phone.
    pub async fn request(
        self: Arc<Self>,
        id: String,
    ) -> Result<Option<MemberRequest>, CarnetError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let Ok(id) = domain::RequestId::parse(&id) else {
                return Ok(None);
            };
            Ok(inner.request(&id)?.map(MemberRequest::from))
        })
        .await
    }

    /// Stores a photo or scan in the vault (once per content; at most 20
    /// MiB; `media_type` is the MIME type the picker reports) and returns
    /// the reference to put in a form. Refusals: `AttachmentEmpty`,
    /// `AttachmentTooLarge`, `AttachmentTypeUnsupported`,
    /// `AttachmentNameInvalid`.
    pub async fn add_attachment(
        self: Arc<Self>,
        bytes: Vec<u8>,
        media_type: String,
        file_name: String,
    ) -> Result<AttachmentRef, CarnetError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            // A medical certificate: wipe our copy once it is sealed.
            let bytes = zeroize::Zeroizing::new(bytes);
            let media_type = domain::MediaType::parse(&media_type)?;
            Ok(inner.add_attachment(&bytes, media_type, &file_name)?.into())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    fn attachment(sha256: &str, media_type: &str) -> AttachmentRef {
        AttachmentRef {
            sha256: sha256.into(),
            size: 4,
            media_type: media_type.into(),
            file_name: "certificado maria.pdf".into(),
        }
    }

    fn forms() -> Vec<RequestForm> {
        vec![
            RequestForm::Leave {
                form: AbsenteeismLeave {
                    reason: Some(LeaveReason::FamilyCare {
                        relation: FamilyRelation::ParentInLaw,
                    }),
                    start: Some("2026-03-02".into()),
                    end: Some("2026-03-06".into()),
                    workplace: "Escuela 4-123".into(),
                    medical_certificate: Some(attachment(HASH, "application/pdf")),
                },
            },
            RequestForm::Continuity {
                form: ContinuityCertificate {
                    school_year: Some(2026),
                    school: "Escuela 4-123".into(),
                    certificate: None,
                },
            },
            RequestForm::RemoteCare {
                form: RemoteCareRegistration {
                    home_region: "AR-M".into(),
                    destination_region: "AR-C".into(),
                    facility: "Hospital".into(),
                    start: None,
                    end: Some("2026-05-01".into()),
                    reason: Some(RemoteCareReason::Referral),
                    details: String::new(),
                    attachments: vec![attachment(HASH, "image/jpeg")],
                },
            },
            RequestForm::Claim {
                form: ReimbursementClaim {
                    claim_kind: Some(ClaimKind::Global),
                    items: vec![ClaimItem {
                        description: "Consulta".into(),
                        amount_cents: 1_250_050,
                        currency: "ARS".into(),
                    }],
                    receipts: vec![attachment(HASH, "image/heic")],
                },
            },
        ]
    }

    #[test]
    fn every_form_survives_the_round_trip_through_the_core() {
        for form in forms() {
            let core = domain::RequestForm::try_from(form.clone()).unwrap();
            assert_eq!(RequestForm::from(core), form);
        }
    }

    #[test]
    fn unreadable_dates_and_references_are_field_problems_all_at_once() {
        let form = RequestForm::RemoteCare {
            form: RemoteCareRegistration {
                home_region: String::new(),
                destination_region: String::new(),
                facility: String::new(),
                start: Some("02/03/2026".into()),
                end: Some("  ".into()),
                reason: None,
                details: String::new(),
                attachments: vec![
                    attachment(HASH, "image/png"),
                    attachment("nope", "image/png"),
                    attachment(HASH, "text/plain"),
                ],
            },
        };
        let Err(CarnetError::RequestInvalid { problems }) = domain::RequestForm::try_from(form)
        else {
            panic!("expected RequestInvalid");
        };
        let named: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.field.as_str(), p.code.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                ("start", "invalid_date"),
                ("attachments[1]", "invalid_attachment"),
                ("attachments[2]", "invalid_attachment"),
            ]
        );
        let shown = format!("{problems:?}");
        assert!(!shown.contains("02/03"), "{shown}");
    }

    #[test]
    fn field_problems_carry_path_code_and_limits_never_values() {
        use domain::{FieldProblem as P, RequestField as F};
        let cases = [
            (
                P::Missing { field: F::Receipts },
                "receipts",
                "missing",
                vec![],
            ),
            (
                P::TooLong {
                    field: F::ItemDescription(2),
                    max_chars: 200,
                },
                "items[2].description",
                "too_long",
                vec![200],
            ),
            (
                P::PeriodTooLong { max_days: 365 },
                "end",
                "period_too_long",
                vec![365],
            ),
            (
                P::SchoolYearOutOfRange {
                    earliest: 2025,
                    latest: 2027,
                },
                "school_year",
                "school_year_out_of_range",
                vec![2025, 2027],
            ),
            (
                P::AmountNotPositive { item: 1 },
                "items[1].amount_cents",
                "amount_not_positive",
                vec![],
            ),
            (
                P::AttachmentNotStored {
                    field: F::MedicalCertificate,
                },
                "medical_certificate",
                "attachment_not_stored",
                vec![],
            ),
        ];
        for (core, field, code, limits) in cases {
            assert_eq!(
                RequestFieldProblem::from(&core),
                RequestFieldProblem {
                    field: field.into(),
                    code: code.into(),
                    limits,
                }
            );
        }
    }

    #[test]
    fn records_do_not_debug_print_their_content() {
        for form in forms() {
            let shown = format!("{form:?}");
            assert!(
                !shown.contains("maria") && !shown.contains("Escuela"),
                "{shown}"
            );
        }
    }
}
