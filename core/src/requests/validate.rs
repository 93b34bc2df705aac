//! The rules a request must meet before it is queued: one [`FieldProblem`]
//! per field that breaks them, so the app can mark each field.
//!
//! These are sanity rules for the member's phone (something missing, a
//! date typed in the wrong year), not the insurer's policy, which the
//! backend and its reviewers apply. The checks are pure: today's date is a
//! parameter.

use chrono::{Datelike, NaiveDate};

use super::attachment::AttachmentRef;
use super::kinds::{
    AbsenteeismLeave, ContinuityCertificate, ReimbursementClaim, RemoteCareRegistration,
    RequestForm,
};

/// The longest leave one request may cover, in days. A year-long leave is
/// already exceptional; anything longer is almost surely a mistyped year.
pub const MAX_LEAVE_DAYS: i64 = 365;

/// The longest period one remote-care registration may cover, in days;
/// longer stays are registered again.
pub const MAX_REMOTE_CARE_DAYS: i64 = 366;

/// The longest name-like text (workplace, school, region, facility, item
/// description), in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// The longest free text (remote-care details), in characters.
pub const MAX_DETAILS_CHARS: usize = 2000;

/// The most attachments in one list (remote-care documents, receipts).
pub const MAX_ATTACHMENTS: usize = 20;

/// The most items in one claim.
pub const MAX_CLAIM_ITEMS: usize = 100;

/// How far a continuity certificate's school year may be from the current
/// year: last year's (filed late), this year's, or next year's (filed
/// early).
pub const SCHOOL_YEAR_TOLERANCE: i32 = 1;

/// A field of a request form, as named on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestField {
    /// `reason` (leave or remote care).
    Reason,
    /// `start`
    StartDate,
    /// `end`
    EndDate,
    /// `workplace`
    Workplace,
    /// `medical_certificate`
    MedicalCertificate,
    /// `school_year`
    SchoolYear,
    /// `school`
    School,
    /// `certificate`
    Certificate,
    /// `home_region`
    HomeRegion,
    /// `destination_region`
    DestinationRegion,
    /// `facility`
    Facility,
    /// `details`
    Details,
    /// `attachments` (the list as a whole).
    Attachments,
    /// `attachments[i]`
    Attachment(usize),
    /// `claim_kind`
    ClaimKind,
    /// `items` (the list as a whole).
    Items,
    /// `items[i].description`
    ItemDescription(usize),
    /// `items[i].amount_cents`
    ItemAmount(usize),
    /// `items[i].currency`
    ItemCurrency(usize),
    /// `receipts` (the list as a whole).
    Receipts,
    /// `receipts[i]`
    Receipt(usize),
}

impl RequestField {
    /// The field's path in the form's JSON, e.g. `items[2].amount_cents`.
    pub fn wire_name(self) -> String {
        match self {
            Self::Reason => "reason".into(),
            Self::StartDate => "start".into(),
            Self::EndDate => "end".into(),
            Self::Workplace => "workplace".into(),
            Self::MedicalCertificate => "medical_certificate".into(),
            Self::SchoolYear => "school_year".into(),
            Self::School => "school".into(),
            Self::Certificate => "certificate".into(),
            Self::HomeRegion => "home_region".into(),
            Self::DestinationRegion => "destination_region".into(),
            Self::Facility => "facility".into(),
            Self::Details => "details".into(),
            Self::Attachments => "attachments".into(),
            Self::Attachment(i) => format!("attachments[{i}]"),
            Self::ClaimKind => "claim_kind".into(),
            Self::Items => "items".into(),
            Self::ItemDescription(i) => format!("items[{i}].description"),
            Self::ItemAmount(i) => format!("items[{i}].amount_cents"),
            Self::ItemCurrency(i) => format!("items[{i}].currency"),
            Self::Receipts => "receipts".into(),
            Self::Receipt(i) => format!("receipts[{i}]"),
        }
    }
}

impl std::fmt::Display for RequestField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.wire_name())
    }
}

/// Why one field was refused. Messages name the field, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// A required field is empty.
    #[error("{field} is required")]
    Missing {
        /// Which field.
        field: RequestField,
    },
    /// A text is longer than allowed.
    #[error("{field} is longer than {max_chars} characters")]
    TooLong {
        /// Which field.
        field: RequestField,
        /// The limit.
        max_chars: usize,
    },
    /// A list has more entries than allowed.
    #[error("{field} has more than {max} entries")]
    TooMany {
        /// Which list.
        field: RequestField,
        /// The limit.
        max: usize,
    },
    /// The end date is before the start date (reported on the end date).
    #[error("the end date is before the start date")]
    EndBeforeStart,
    /// The period (start to end inclusive) is longer than allowed (reported
    /// on the end date).
    #[error("the period is longer than {max_days} days; check the dates")]
    PeriodTooLong {
        /// The limit.
        max_days: i64,
    },
    /// The school year is not last, this or next year.
    #[error("the school year must be between {earliest} and {latest}")]
    SchoolYearOutOfRange {
        /// The earliest accepted.
        earliest: i32,
        /// The latest accepted.
        latest: i32,
    },
    /// The destination region is the home region.
    #[error("the destination region must differ from the home region")]
    SameRegion,
    /// An item's amount is zero or negative.
    #[error("the amount of item {item} must be above zero")]
    AmountNotPositive {
        /// The item's index.
        item: usize,
    },
    /// An item's currency is not three capital letters.
    #[error("the currency of item {item} must be an ISO 4217 code such as ARS")]
    InvalidCurrency {
        /// The item's index.
        item: usize,
    },
    /// An attachment reference with an impossible size or file name (not
    /// made by this phone's outbox).
    #[error("{field} is not a valid attachment; attach the file again")]
    InvalidAttachment {
        /// Which attachment.
        field: RequestField,
    },
    /// An attachment whose bytes are not on this phone (checked by the
    /// outbox when a request is submitted).
    #[error("the file of {field} is not on this phone; attach it again")]
    AttachmentNotStored {
        /// Which attachment.
        field: RequestField,
    },
}

impl FieldProblem {
    /// The field this problem is about.
    pub fn field(&self) -> RequestField {
        match self {
            Self::Missing { field }
            | Self::TooLong { field, .. }
            | Self::TooMany { field, .. }
            | Self::InvalidAttachment { field }
            | Self::AttachmentNotStored { field } => *field,
            Self::EndBeforeStart | Self::PeriodTooLong { .. } => RequestField::EndDate,
            Self::SchoolYearOutOfRange { .. } => RequestField::SchoolYear,
            Self::SameRegion => RequestField::DestinationRegion,
            Self::AmountNotPositive { item } => RequestField::ItemAmount(*item),
            Self::InvalidCurrency { item } => RequestField::ItemCurrency(*item),
        }
    }
}

/// Checks `form` against the rules as of `today`: `Ok` if it may be
/// queued, or every problem found, in form order, at most one per field.
pub fn validate(form: &RequestForm, today: NaiveDate) -> Result<(), Vec<FieldProblem>> {
    let mut problems = Problems::default();
    match form {
        RequestForm::AbsenteeismLeave(leave) => problems.leave(leave),
        RequestForm::ContinuityCertificate(continuity) => problems.continuity(continuity, today),
        RequestForm::RemoteCare(care) => problems.remote_care(care),
        RequestForm::ReimbursementClaim(claim) => problems.claim(claim),
    }
    if problems.0.is_empty() {
        Ok(())
    } else {
        Err(problems.0)
    }
}

/// The problems found so far, with one checker per kind of rule.
#[derive(Default)]
struct Problems(Vec<FieldProblem>);

impl Problems {
    fn leave(&mut self, leave: &AbsenteeismLeave) {
        if leave.reason.is_none() {
            self.0.push(FieldProblem::Missing {
                field: RequestField::Reason,
            });
        }
        self.period(leave.start, leave.end, MAX_LEAVE_DAYS);
        self.text(
            RequestField::Workplace,
            &leave.workplace,
            MAX_TEXT_CHARS,
            true,
        );
        self.required_attachment(
            RequestField::MedicalCertificate,
            leave.medical_certificate.as_ref(),
        );
    }

    fn continuity(&mut self, continuity: &ContinuityCertificate, today: NaiveDate) {
        match continuity.school_year {
            None => self.0.push(FieldProblem::Missing {
                field: RequestField::SchoolYear,
            }),
            Some(year) => {
                let earliest = today.year().saturating_sub(SCHOOL_YEAR_TOLERANCE);
                let latest = today.year().saturating_add(SCHOOL_YEAR_TOLERANCE);
                if !(earliest..=latest).contains(&year) {
                    self.0
                        .push(FieldProblem::SchoolYearOutOfRange { earliest, latest });
                }
            }
        }
        self.text(
            RequestField::School,
            &continuity.school,
            MAX_TEXT_CHARS,
            true,
        );
        self.required_attachment(RequestField::Certificate, continuity.certificate.as_ref());
    }

    fn remote_care(&mut self, care: &RemoteCareRegistration) {
        let home_ok = self.text(
            RequestField::HomeRegion,
            &care.home_region,
            MAX_TEXT_CHARS,
            true,
        );
        let destination_ok = self.text(
            RequestField::DestinationRegion,
            &care.destination_region,
            MAX_TEXT_CHARS,
            true,
        );
        if home_ok && destination_ok && same_text(&care.home_region, &care.destination_region) {
            self.0.push(FieldProblem::SameRegion);
        }
        self.text(RequestField::Facility, &care.facility, MAX_TEXT_CHARS, true);
        self.period(care.start, care.end, MAX_REMOTE_CARE_DAYS);
        if care.reason.is_none() {
            self.0.push(FieldProblem::Missing {
                field: RequestField::Reason,
            });
        }
        self.text(
            RequestField::Details,
            &care.details,
            MAX_DETAILS_CHARS,
            false,
        );
        self.attachment_list(
            RequestField::Attachments,
            &care.attachments,
            false,
            RequestField::Attachment,
        );
    }

    fn claim(&mut self, claim: &ReimbursementClaim) {
        if claim.claim_kind.is_none() {
            self.0.push(FieldProblem::Missing {
                field: RequestField::ClaimKind,
            });
        }
        if claim.items.is_empty() {
            self.0.push(FieldProblem::Missing {
                field: RequestField::Items,
            });
        } else if claim.items.len() > MAX_CLAIM_ITEMS {
            self.0.push(FieldProblem::TooMany {
                field: RequestField::Items,
                max: MAX_CLAIM_ITEMS,
            });
        } else {
            for (i, item) in claim.items.iter().enumerate() {
                self.text(
                    RequestField::ItemDescription(i),
                    &item.description,
                    MAX_TEXT_CHARS,
                    true,
                );
                if item.amount_cents <= 0 {
                    self.0.push(FieldProblem::AmountNotPositive { item: i });
                }
                if !is_currency_code(&item.currency) {
                    self.0.push(FieldProblem::InvalidCurrency { item: i });
                }
            }
        }
        self.attachment_list(
            RequestField::Receipts,
            &claim.receipts,
            true,
            RequestField::Receipt,
        );
    }

    /// A text field: blank when required, or too long. Returns whether it
    /// passed.
    fn text(&mut self, field: RequestField, value: &str, max_chars: usize, required: bool) -> bool {
        let before = self.0.len();
        if required && value.trim().is_empty() {
            self.0.push(FieldProblem::Missing { field });
        } else if value.chars().count() > max_chars {
            self.0.push(FieldProblem::TooLong { field, max_chars });
        }
        self.0.len() == before
    }

    /// A start and an end date, both required, in order and not too far
    /// apart.
    fn period(&mut self, start: Option<NaiveDate>, end: Option<NaiveDate>, max_days: i64) {
        if start.is_none() {
            self.0.push(FieldProblem::Missing {
                field: RequestField::StartDate,
            });
        }
        match (start, end) {
            (_, None) => self.0.push(FieldProblem::Missing {
                field: RequestField::EndDate,
            }),
            (Some(start), Some(end)) if end < start => self.0.push(FieldProblem::EndBeforeStart),
            (Some(start), Some(end)) => {
                // Inclusive: a leave from Monday to Monday is one day.
                let days = end
                    .signed_duration_since(start)
                    .num_days()
                    .saturating_add(1);
                if days > max_days {
                    self.0.push(FieldProblem::PeriodTooLong { max_days });
                }
            }
            (None, Some(_)) => {}
        }
    }

    fn required_attachment(&mut self, field: RequestField, attachment: Option<&AttachmentRef>) {
        match attachment {
            None => self.0.push(FieldProblem::Missing { field }),
            Some(attachment) if !attachment.is_well_formed() => {
                self.0.push(FieldProblem::InvalidAttachment { field })
            }
            Some(_) => {}
        }
    }

    fn attachment_list(
        &mut self,
        list: RequestField,
        attachments: &[AttachmentRef],
        required: bool,
        entry: fn(usize) -> RequestField,
    ) {
        if required && attachments.is_empty() {
            self.0.push(FieldProblem::Missing { field: list });
        } else if attachments.len() > MAX_ATTACHMENTS {
            self.0.push(FieldProblem::TooMany {
                field: list,
                max: MAX_ATTACHMENTS,
            });
        } else {
            for (i, attachment) in attachments.iter().enumerate() {
                if !attachment.is_well_formed() {
                    self.0
                        .push(FieldProblem::InvalidAttachment { field: entry(i) });
                }
            }
        }
    }
}

/// Whether two names are the same region, ignoring case and surrounding
/// or repeated spaces (`"Mendoza"` and `" mendoza "`).
fn same_text(a: &str, b: &str) -> bool {
    let words = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_lowercase).collect() };
    words(a) == words(b)
}

/// Three capital ASCII letters.
fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::attachment::{ContentHash, MediaType};
    use crate::requests::kinds::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, 12).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    fn attachment(name: &str) -> AttachmentRef {
        AttachmentRef {
            sha256: ContentHash::of(name.as_bytes()),
            size: 1234,
            media_type: MediaType::Jpeg,
            file_name: format!("{name}.jpg"),
        }
    }

    fn leave() -> AbsenteeismLeave {
        AbsenteeismLeave {
            reason: Some(LeaveReason::OwnIllness),
            start: date(2026, 5, 11),
            end: date(2026, 5, 15),
            workplace: "Escuela 1-123 Domingo F. Sarmiento".into(),
            medical_certificate: Some(attachment("certificate")),
        }
    }

    fn continuity() -> ContinuityCertificate {
        ContinuityCertificate {
            school_year: Some(2026),
            school: "Escuela 4-045".into(),
            certificate: Some(attachment("continuity")),
        }
    }

    fn care() -> RemoteCareRegistration {
        RemoteCareRegistration {
            home_region: "Mendoza".into(),
            destination_region: "Córdoba".into(),
            facility: "Hospital Nacional de Clínicas".into(),
            start: date(2026, 6, 1),
            end: date(2026, 8, 31),
            reason: Some(RemoteCareReason::TemporaryStay),
            details: String::new(),
            attachments: vec![],
        }
    }

    fn claim() -> ReimbursementClaim {
        ReimbursementClaim {
            claim_kind: Some(ClaimKind::Outpatient),
            items: vec![
                ClaimItem {
                    description: "Consulta".into(),
                    amount_cents: 1_500_000,
                    currency: "ARS".into(),
                },
                ClaimItem {
                    description: "Farmacia".into(),
                    amount_cents: 1,
                    currency: "ARS".into(),
                },
            ],
            receipts: vec![attachment("receipt")],
        }
    }

    /// The problems of `form`, or none.
    fn problems(form: RequestForm) -> Vec<FieldProblem> {
        validate(&form, today()).err().unwrap_or_default()
    }

    fn leave_with(change: impl FnOnce(&mut AbsenteeismLeave)) -> Vec<FieldProblem> {
        let mut form = leave();
        change(&mut form);
        problems(RequestForm::AbsenteeismLeave(form))
    }

    fn continuity_with(change: impl FnOnce(&mut ContinuityCertificate)) -> Vec<FieldProblem> {
        let mut form = continuity();
        change(&mut form);
        problems(RequestForm::ContinuityCertificate(form))
    }

    fn care_with(change: impl FnOnce(&mut RemoteCareRegistration)) -> Vec<FieldProblem> {
        let mut form = care();
        change(&mut form);
        problems(RequestForm::RemoteCare(form))
    }

    fn claim_with(change: impl FnOnce(&mut ReimbursementClaim)) -> Vec<FieldProblem> {
        let mut form = claim();
        change(&mut form);
        problems(RequestForm::ReimbursementClaim(form))
    }

    fn missing(field: RequestField) -> Vec<FieldProblem> {
        vec![FieldProblem::Missing { field }]
    }

    fn too_long(field: RequestField, max_chars: usize) -> Vec<FieldProblem> {
        vec![FieldProblem::TooLong { field, max_chars }]
    }

    #[test]
    fn the_sample_forms_are_valid() {
        assert_eq!(leave_with(|_| {}), vec![]);
        assert_eq!(continuity_with(|_| {}), vec![]);
        assert_eq!(care_with(|_| {}), vec![]);
        assert_eq!(claim_with(|_| {}), vec![]);
    }

    #[test]
    fn leave_reason_is_required_and_family_care_names_the_relation() {
        assert_eq!(
            leave_with(|l| l.reason = None),
            missing(RequestField::Reason)
        );
        assert_eq!(
            leave_with(|l| {
                l.reason = Some(LeaveReason::FamilyCare {
                    relation: FamilyRelation::Parent,
                })
            }),
            vec![]
        );
    }

    #[test]
    fn leave_dates_are_required_ordered_and_plausibly_long() {
        assert_eq!(
            leave_with(|l| l.start = None),
            missing(RequestField::StartDate)
        );
        assert_eq!(leave_with(|l| l.end = None), missing(RequestField::EndDate));
        assert_eq!(
            leave_with(|l| l.end = date(2026, 5, 10)),
            vec![FieldProblem::EndBeforeStart]
        );
        assert_eq!(leave_with(|l| l.end = l.start), vec![], "one day");
        assert_eq!(
            leave_with(|l| l.end = date(2027, 5, 10)),
            vec![],
            "365 days inclusive"
        );
        assert_eq!(
            leave_with(|l| l.end = date(2027, 5, 11)),
            vec![FieldProblem::PeriodTooLong {
                max_days: MAX_LEAVE_DAYS
            }]
        );
        assert_eq!(
            leave_with(|l| l.end = date(2062, 5, 15)),
            vec![FieldProblem::PeriodTooLong {
                max_days: MAX_LEAVE_DAYS
            }],
            "a mistyped year"
        );
        let both_missing = leave_with(|l| {
            l.start = None;
            l.end = None;
        });
        assert_eq!(
            both_missing,
            vec![
                FieldProblem::Missing {
                    field: RequestField::StartDate
                },
                FieldProblem::Missing {
                    field: RequestField::EndDate
                }
            ]
        );
    }

    #[test]
    fn leave_workplace_is_required_and_bounded() {
        assert_eq!(
            leave_with(|l| l.workplace = " \t".into()),
            missing(RequestField::Workplace)
        );
        assert_eq!(
            leave_with(|l| l.workplace = "é".repeat(MAX_TEXT_CHARS)),
            vec![],
            "characters, not bytes"
        );
        assert_eq!(
            leave_with(|l| l.workplace = "x".repeat(MAX_TEXT_CHARS + 1)),
            too_long(RequestField::Workplace, MAX_TEXT_CHARS)
        );
    }

    #[test]
    fn leave_needs_a_well_formed_medical_certificate() {
        assert_eq!(
            leave_with(|l| l.medical_certificate = None),
            missing(RequestField::MedicalCertificate)
        );
        for broken in [
            AttachmentRef {
                size: 0,
                ..attachment("a")
            },
            AttachmentRef {
                size: crate::requests::MAX_ATTACHMENT_BYTES + 1,
                ..attachment("a")
            },
            AttachmentRef {
                file_name: "../etc/passwd".into(),
                ..attachment("a")
            },
        ] {
            assert_eq!(
                leave_with(|l| l.medical_certificate = Some(broken)),
                vec![FieldProblem::InvalidAttachment {
                    field: RequestField::MedicalCertificate
                }]
            );
        }
    }

    #[test]
    fn continuity_school_year_is_required_and_near_today() {
        assert_eq!(
            continuity_with(|c| c.school_year = None),
            missing(RequestField::SchoolYear)
        );
        for ok in [2025, 2026, 2027] {
            assert_eq!(continuity_with(|c| c.school_year = Some(ok)), vec![]);
        }
        for far in [2024, 2028, 0, i32::MIN, i32::MAX] {
            assert_eq!(
                continuity_with(|c| c.school_year = Some(far)),
                vec![FieldProblem::SchoolYearOutOfRange {
                    earliest: 2025,
                    latest: 2027
                }]
            );
        }
    }

    #[test]
    fn continuity_school_and_certificate_are_required() {
        assert_eq!(
            continuity_with(|c| c.school = String::new()),
            missing(RequestField::School)
        );
        assert_eq!(
            continuity_with(|c| c.school = "x".repeat(MAX_TEXT_CHARS + 1)),
            too_long(RequestField::School, MAX_TEXT_CHARS)
        );
        assert_eq!(
            continuity_with(|c| c.certificate = None),
            missing(RequestField::Certificate)
        );
        assert_eq!(
            continuity_with(|c| c.certificate = Some(AttachmentRef {
                size: 0,
                ..attachment("c")
            })),
            vec![FieldProblem::InvalidAttachment {
                field: RequestField::Certificate
            }]
        );
    }

    #[test]
    fn remote_care_regions_are_required_and_different() {
        assert_eq!(
            care_with(|c| c.home_region = String::new()),
            missing(RequestField::HomeRegion)
        );
        assert_eq!(
            care_with(|c| c.destination_region = " ".into()),
            missing(RequestField::DestinationRegion)
        );
        assert_eq!(
            care_with(|c| c.destination_region = "x".repeat(MAX_TEXT_CHARS + 1)),
            too_long(RequestField::DestinationRegion, MAX_TEXT_CHARS)
        );
        assert_eq!(
            care_with(|c| c.home_region = "x".repeat(MAX_TEXT_CHARS + 1)),
            too_long(RequestField::HomeRegion, MAX_TEXT_CHARS)
        );
        for same in ["Córdoba", " córdoba ", "CÓRDOBA"] {
            assert_eq!(
                care_with(|c| c.home_region = same.into()),
                vec![FieldProblem::SameRegion],
                "{same}"
            );
        }
        assert_eq!(
            care_with(|c| {
                c.home_region = "San  Juan".into();
                c.destination_region = "san juan".into();
            }),
            vec![FieldProblem::SameRegion]
        );
    }

    #[test]
    fn remote_care_facility_dates_and_reason() {
        assert_eq!(
            care_with(|c| c.facility = String::new()),
            missing(RequestField::Facility)
        );
        assert_eq!(
            care_with(|c| c.facility = "x".repeat(MAX_TEXT_CHARS + 1)),
            too_long(RequestField::Facility, MAX_TEXT_CHARS)
        );
        assert_eq!(
            care_with(|c| c.start = None),
            missing(RequestField::StartDate)
        );
        assert_eq!(care_with(|c| c.end = None), missing(RequestField::EndDate));
        assert_eq!(
            care_with(|c| c.end = date(2026, 5, 31)),
            vec![FieldProblem::EndBeforeStart]
        );
        assert_eq!(care_with(|c| c.end = date(2027, 6, 1)), vec![], "366 days");
        assert_eq!(
            care_with(|c| c.end = date(2027, 6, 2)),
            vec![FieldProblem::PeriodTooLong {
                max_days: MAX_REMOTE_CARE_DAYS
            }]
        );
        assert_eq!(
            care_with(|c| c.reason = None),
            missing(RequestField::Reason)
        );
    }

    #[test]
    fn remote_care_details_and_attachments_are_optional_but_bounded() {
        assert_eq!(
            care_with(|c| c.details = "x".repeat(MAX_DETAILS_CHARS)),
            vec![]
        );
        assert_eq!(
            care_with(|c| c.details = "x".repeat(MAX_DETAILS_CHARS + 1)),
            too_long(RequestField::Details, MAX_DETAILS_CHARS)
        );
        assert_eq!(
            care_with(|c| c.attachments = vec![attachment("referral"); MAX_ATTACHMENTS]),
            vec![]
        );
        assert_eq!(
            care_with(|c| c.attachments = vec![attachment("referral"); MAX_ATTACHMENTS + 1]),
            vec![FieldProblem::TooMany {
                field: RequestField::Attachments,
                max: MAX_ATTACHMENTS
            }]
        );
        assert_eq!(
            care_with(|c| c.attachments = vec![
                attachment("ok"),
                AttachmentRef {
                    size: 0,
                    ..attachment("broken")
                }
            ]),
            vec![FieldProblem::InvalidAttachment {
                field: RequestField::Attachment(1)
            }]
        );
    }

    #[test]
    fn claim_kind_and_items_are_required() {
        assert_eq!(
            claim_with(|c| c.claim_kind = None),
            missing(RequestField::ClaimKind)
        );
        for kind in [
            ClaimKind::Outpatient,
            ClaimKind::Inpatient,
            ClaimKind::Global,
        ] {
            assert_eq!(claim_with(|c| c.claim_kind = Some(kind)), vec![]);
        }
        assert_eq!(
            claim_with(|c| c.items.clear()),
            missing(RequestField::Items)
        );
        assert_eq!(
            claim_with(|c| {
                let item = c.items[0].clone();
                c.items = vec![item; MAX_CLAIM_ITEMS + 1];
            }),
            vec![FieldProblem::TooMany {
                field: RequestField::Items,
                max: MAX_CLAIM_ITEMS
            }]
        );
    }

    #[test]
    fn claim_items_are_checked_one_by_one() {
        assert_eq!(
            claim_with(|c| c.items[1].description = String::new()),
            missing(RequestField::ItemDescription(1))
        );
        assert_eq!(
            claim_with(|c| c.items[0].description = "x".repeat(MAX_TEXT_CHARS + 1)),
            too_long(RequestField::ItemDescription(0), MAX_TEXT_CHARS)
        );
        for amount in [0, -1, i64::MIN] {
            assert_eq!(
                claim_with(|c| c.items[1].amount_cents = amount),
                vec![FieldProblem::AmountNotPositive { item: 1 }]
            );
        }
        assert_eq!(claim_with(|c| c.items[1].amount_cents = i64::MAX), vec![]);
        for currency in ["", "ars", "AR", "ARSS", "A1S", "€"] {
            assert_eq!(
                claim_with(|c| c.items[0].currency = currency.into()),
                vec![FieldProblem::InvalidCurrency { item: 0 }],
                "{currency:?}"
            );
        }
        let problems = claim_with(|c| {
            c.items[1].description = String::new();
            c.items[1].amount_cents = 0;
            c.items[1].currency = "x".into();
        });
        let fields: Vec<_> = problems.iter().map(FieldProblem::field).collect();
        assert_eq!(
            fields,
            vec![
                RequestField::ItemDescription(1),
                RequestField::ItemAmount(1),
                RequestField::ItemCurrency(1)
            ]
        );
    }

    #[test]
    fn claim_needs_one_to_twenty_well_formed_receipts() {
        assert_eq!(
            claim_with(|c| c.receipts.clear()),
            missing(RequestField::Receipts)
        );
        assert_eq!(
            claim_with(|c| c.receipts = vec![attachment("r"); MAX_ATTACHMENTS + 1]),
            vec![FieldProblem::TooMany {
                field: RequestField::Receipts,
                max: MAX_ATTACHMENTS
            }]
        );
        assert_eq!(
            claim_with(|c| c.receipts.push(AttachmentRef {
                file_name: String::new(),
                ..attachment("r")
            })),
            vec![FieldProblem::InvalidAttachment {
                field: RequestField::Receipt(1)
            }]
        );
    }

    #[test]
    fn every_problem_names_its_field_and_no_value() {
        let secret = "Hospital Psiquiátrico El Sauce";
        let problems = care_with(|c| {
            c.home_region = secret.into();
            c.destination_region = secret.into();
            c.facility = secret.repeat(10);
        });
        assert_eq!(
            problems.iter().map(FieldProblem::field).collect::<Vec<_>>(),
            vec![RequestField::DestinationRegion, RequestField::Facility]
        );
        for problem in &problems {
            let shown = format!("{problem} {problem:?}");
            assert!(!shown.contains("Sauce"), "{shown}");
        }
        assert_eq!(
            FieldProblem::AmountNotPositive { item: 2 }.to_string(),
            "the amount of item 2 must be above zero"
        );
        assert_eq!(
            RequestField::ItemAmount(2).wire_name(),
            "items[2].amount_cents"
        );
    }

    #[test]
    fn wire_names_match_the_serde_field_names() {
        // The app marks fields by these names: they must be the JSON's.
        let json = serde_json::to_value(RequestForm::AbsenteeismLeave(leave())).unwrap();
        for field in [
            RequestField::Reason,
            RequestField::StartDate,
            RequestField::EndDate,
            RequestField::Workplace,
            RequestField::MedicalCertificate,
        ] {
            assert!(json.get(field.wire_name()).is_some(), "{field}");
        }
        let json = serde_json::to_value(RequestForm::RemoteCare(care())).unwrap();
        for field in [
            RequestField::HomeRegion,
            RequestField::DestinationRegion,
            RequestField::Facility,
            RequestField::Details,
            RequestField::Attachments,
        ] {
            assert!(json.get(field.wire_name()).is_some(), "{field}");
        }
        let json = serde_json::to_value(RequestForm::ContinuityCertificate(continuity())).unwrap();
        for field in [
            RequestField::SchoolYear,
            RequestField::School,
            RequestField::Certificate,
        ] {
            assert!(json.get(field.wire_name()).is_some(), "{field}");
        }
        let json = serde_json::to_value(RequestForm::ReimbursementClaim(claim())).unwrap();
        for field in [
            RequestField::ClaimKind,
            RequestField::Items,
            RequestField::Receipts,
        ] {
            assert!(json.get(field.wire_name()).is_some(), "{field}");
        }
        let item = json.pointer("/items/0").unwrap();
        for name in ["description", "amount_cents", "currency"] {
            assert!(item.get(name).is_some(), "{name}");
        }
    }
}
