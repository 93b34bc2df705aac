//! The request commands of `carnet`: filing an absenteeism leave, a
//! certificate of continuity, a remote-care registration or a claim, and
//! listing, showing, submitting, recalling and resubmitting them.
//!
//! Filing is local: the request goes into the outbox in the vault (on disk
//! before the member is told it is saved) and up at the next `carnet sync`.
//! So a filing command needs no network, and a bad line never loses it.
//!
//! Input is checked before anything is saved: the files are read and the
//! form validated with the core's rules first, so a mistyped date or a
//! missing file leaves nothing behind (not even a draft to clean up, since
//! the outbox never deletes). Problems are printed by field name and never
//! with the value: a certificate's file name or a reason can be health data.

use std::path::{Path, PathBuf};

use carnet_core::Carnet;
use carnet_core::requests::{
    AbsenteeismLeave, AttachmentRef, ClaimItem, ClaimKind, ContentHash, ContinuityCertificate,
    FamilyRelation, FieldProblem, LeaveReason, MAX_ATTACHMENT_BYTES, MediaType, MemberRequest,
    OutboxError, ReimbursementClaim, RemoteCareReason, RemoteCareRegistration, RequestForm,
    RequestId, RequestState,
};
use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};

/// How many hex digits of an id the tables show; any unique prefix is
/// accepted back.
const SHORT_ID: usize = 8;

/// A problem with one field of the input, named by the form's JSON path
/// (`items[1].amount_cents`) and, for files, the option that gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The form field (`medical_certificate`, `end`, `receipts[0]`...).
    pub field: String,
    /// What is wrong, without the value.
    pub problem: String,
}

impl FieldError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl From<&FieldProblem> for FieldError {
    fn from(problem: &FieldProblem) -> Self {
        Self::new(problem.field().wire_name(), problem.to_string())
    }
}

/// Why a request command failed.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The input has problems; nothing was saved.
    #[error("nothing was saved: {} problem(s) to correct", .0.len())]
    Invalid(Vec<FieldError>),
    /// The request is saved but could not be queued (its form breaks the
    /// rules); it stays as it was.
    #[error(
        "request {id} is saved on this phone but was not queued: {} problem(s) to correct",
        .problems.len()
    )]
    NotQueued {
        /// The request.
        id: RequestId,
        /// What to correct.
        problems: Vec<FieldError>,
    },
    /// No request has an id starting with what was typed.
    #[error("no request on this phone has an id starting with {0}; see `carnet requests`")]
    UnknownId(String),
    /// Several requests have ids starting with what was typed.
    #[error("{count} requests have an id starting with {prefix}; type more of the id")]
    AmbiguousId {
        /// What was typed.
        prefix: String,
        /// How many match.
        count: usize,
    },
    /// The core failed (the vault, a state that does not allow it).
    #[error(transparent)]
    Core(#[from] carnet_core::Error),
}

impl RequestError {
    /// The field problems to print under the message, if any.
    pub fn problems(&self) -> &[FieldError] {
        match self {
            Self::Invalid(problems) | Self::NotQueued { problems, .. } => problems,
            Self::UnknownId(_) | Self::AmbiguousId { .. } | Self::Core(_) => &[],
        }
    }
}

/// `carnet leave ...`
#[derive(Subcommand)]
pub enum LeaveCommand {
    /// File an absenteeism leave (own illness or care of a family member)
    /// with the medical certificate; it is sent at the next `carnet sync`.
    New(LeaveArgs),
}

/// An absenteeism leave.
#[derive(Args)]
pub struct LeaveArgs {
    /// Whose illness.
    #[arg(long, value_enum)]
    reason: Option<LeaveReasonArg>,
    /// The ill family member's relation to you (with --reason family-care).
    #[arg(long, value_enum)]
    relation: Option<RelationArg>,
    /// First day of absence, YYYY-MM-DD.
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last day of absence (inclusive), YYYY-MM-DD.
    #[arg(long)]
    to: Option<NaiveDate>,
    /// The school or workplace you are absent from.
    #[arg(long, default_value = "", hide_default_value = true)]
    workplace: String,
    /// The doctor's certificate: a JPEG, PNG, HEIC or WebP photo or a PDF.
    #[arg(long)]
    certificate: Option<PathBuf>,
    /// Keep it as a draft on this phone (incomplete is fine); submit it
    /// later with `carnet request submit ID`.
    #[arg(long)]
    draft: bool,
}

/// Whose illness.
#[derive(Clone, Copy, ValueEnum)]
enum LeaveReasonArg {
    /// You are ill.
    OwnIllness,
    /// You care for an ill family member (give --relation).
    FamilyCare,
}

/// A family member's relation to the member.
#[derive(Clone, Copy, ValueEnum)]
enum RelationArg {
    /// Spouse or partner.
    #[value(alias = "partner")]
    Spouse,
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
    /// Another relative in your care.
    OtherRelative,
}

impl From<RelationArg> for FamilyRelation {
    fn from(relation: RelationArg) -> Self {
        match relation {
            RelationArg::Spouse => Self::SpouseOrPartner,
            RelationArg::Child => Self::Child,
            RelationArg::Parent => Self::Parent,
            RelationArg::Sibling => Self::Sibling,
            RelationArg::Grandparent => Self::Grandparent,
            RelationArg::Grandchild => Self::Grandchild,
            RelationArg::ParentInLaw => Self::ParentInLaw,
            RelationArg::OtherRelative => Self::OtherRelative,
        }
    }
}

/// `carnet continuity ...`
#[derive(Subcommand)]
pub enum ContinuityCommand {
    /// File a substitute's yearly certificate of continuity; it is sent at
    /// the next `carnet sync`.
    New(ContinuityArgs),
}

/// A certificate of continuity.
#[derive(Args)]
pub struct ContinuityArgs {
    /// The school year it covers (last, this or next year).
    #[arg(long)]
    school_year: Option<i32>,
    /// The school that issued it.
    #[arg(long, default_value = "", hide_default_value = true)]
    school: String,
    /// The certificate: a JPEG, PNG, HEIC or WebP photo or a PDF.
    #[arg(long)]
    certificate: Option<PathBuf>,
    /// Keep it as a draft on this phone.
    #[arg(long)]
    draft: bool,
}

/// `carnet remote-care ...`
#[derive(Subcommand)]
pub enum RemoteCareCommand {
    /// Register for care in another region; sent at the next `carnet sync`.
    New(RemoteCareArgs),
}

/// A remote-care registration.
#[derive(Args)]
pub struct RemoteCareArgs {
    /// Where you are insured.
    #[arg(long, default_value = "", hide_default_value = true)]
    home_region: String,
    /// Where you will receive care.
    #[arg(long, default_value = "", hide_default_value = true)]
    destination_region: String,
    /// The hospital or clinic there.
    #[arg(long, default_value = "", hide_default_value = true)]
    facility: String,
    /// First day covered, YYYY-MM-DD.
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last day covered (inclusive), YYYY-MM-DD.
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Why you need care there.
    #[arg(long, value_enum)]
    reason: Option<RemoteCareReasonArg>,
    /// Anything you want to add.
    #[arg(long, default_value = "", hide_default_value = true)]
    details: String,
    /// A supporting document (referral letter, proof of residence);
    /// repeat for several.
    #[arg(long = "attachment")]
    attachments: Vec<PathBuf>,
    /// Keep it as a draft on this phone.
    #[arg(long)]
    draft: bool,
}

/// Why care is needed in another region.
#[derive(Clone, Copy, ValueEnum)]
enum RemoteCareReasonArg {
    /// You live there now, or for a long period.
    Relocation,
    /// A trip or a temporary stay.
    TemporaryStay,
    /// A doctor referred you to a facility there.
    Referral,
}

impl From<RemoteCareReasonArg> for RemoteCareReason {
    fn from(reason: RemoteCareReasonArg) -> Self {
        match reason {
            RemoteCareReasonArg::Relocation => Self::Relocation,
            RemoteCareReasonArg::TemporaryStay => Self::TemporaryStay,
            RemoteCareReasonArg::Referral => Self::Referral,
        }
    }
}

/// `carnet claim ...`
#[derive(Subcommand)]
pub enum ClaimCommand {
    /// Claim reimbursement of expenses you paid, with photos of the
    /// receipts; sent at the next `carnet sync`.
    New(ClaimArgs),
}

/// A reimbursement claim.
#[derive(Args)]
pub struct ClaimArgs {
    /// Outpatient, inpatient or global (a package price).
    #[arg(long, value_enum)]
    kind: Option<ClaimKindArg>,
    /// One expense, "DESCRIPTION:AMOUNT_CENTS" (e.g. "Consulta
    /// cardiología:1500000" for 15,000.00); repeat for several.
    #[arg(long = "item")]
    items: Vec<String>,
    /// The currency of every item, an ISO 4217 code.
    #[arg(long, default_value = "ARS")]
    currency: String,
    /// A photo or scan of a receipt; repeat for several.
    #[arg(long = "receipt")]
    receipts: Vec<PathBuf>,
    /// Keep it as a draft on this phone.
    #[arg(long)]
    draft: bool,
}

/// The file a claim belongs to.
#[derive(Clone, Copy, ValueEnum)]
enum ClaimKindArg {
    /// Care without a hospital stay.
    Outpatient,
    /// A hospital stay.
    Inpatient,
    /// A package price covering a whole treatment.
    Global,
}

impl From<ClaimKindArg> for ClaimKind {
    fn from(kind: ClaimKindArg) -> Self {
        match kind {
            ClaimKindArg::Outpatient => Self::Outpatient,
            ClaimKindArg::Inpatient => Self::Inpatient,
            ClaimKindArg::Global => Self::Global,
        }
    }
}

/// `carnet request ...`: one request, by its id or a unique prefix of it
/// (the first 8 digits `carnet requests` shows are enough).
#[derive(Subcommand)]
pub enum RequestCommand {
    /// Everything about one request: state, reasons, form and files.
    Show {
        /// The id, or its first digits.
        id: String,
    },
    /// Queue a draft (or a returned request, unchanged) for the next sync.
    Submit {
        /// The id, or its first digits.
        id: String,
    },
    /// Take a queued request back to a draft (or a resubmitted one back to
    /// returned) before it is sent.
    Recall {
        /// The id, or its first digits.
        id: String,
    },
    /// Answer a returned request (or complete a draft) and queue it: each
    /// file replaces the certificate of a leave or continuity certificate,
    /// and is added to a remote-care registration's documents or a claim's
    /// receipts.
    Resubmit {
        /// The id, or its first digits.
        id: String,
        /// A file to attach (JPEG, PNG, HEIC, WebP or PDF); repeat for
        /// several.
        #[arg(long = "file", visible_aliases = ["certificate", "receipt", "attachment"])]
        files: Vec<PathBuf>,
    },
}

/// A file read from disk, not yet stored in the vault.
struct PendingFile {
    /// The form field it goes to (`receipts[1]`), for messages.
    field: String,
    bytes: Vec<u8>,
    media_type: MediaType,
    file_name: String,
}

impl PendingFile {
    /// The reference the vault will give these bytes: what the form is
    /// validated with before anything is stored.
    fn reference(&self) -> AttachmentRef {
        AttachmentRef {
            sha256: ContentHash::of(&self.bytes),
            size: self.bytes.len() as u64,
            media_type: self.media_type,
            file_name: self.file_name.clone(),
        }
    }
}

/// The media type a file's extension names, as the phone's picker would
/// report it.
pub fn media_type_of(path: &Path) -> Option<MediaType> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "jpg" | "jpeg" => Some(MediaType::Jpeg),
        "png" => Some(MediaType::Png),
        "heic" => Some(MediaType::Heic),
        "webp" => Some(MediaType::Webp),
        "pdf" => Some(MediaType::Pdf),
        _ => None,
    }
}

/// Reads a file for `field`. Problems name the field and the option, not
/// the path: a file name may say what the certificate is about.
fn read_file(path: &Path, field: &str, option: &str) -> Result<PendingFile, FieldError> {
    let problem = |what: String| FieldError::new(field, format!("{option}: {what}"));
    let media_type = media_type_of(path).ok_or_else(|| {
        problem(
            "the file must be a JPEG, PNG, HEIC or WebP photo or a PDF (by its extension)".into(),
        )
    })?;
    let metadata = std::fs::metadata(path)
        .map_err(|error| problem(format!("the file cannot be read ({})", io_reason(&error))))?;
    // Checked before reading, so a wrong path to a huge file fails fast.
    if metadata.len() > MAX_ATTACHMENT_BYTES {
        return Err(problem(format!(
            "the file is larger than {} MiB; take a smaller photo or scan",
            MAX_ATTACHMENT_BYTES / (1024 * 1024)
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|error| problem(format!("the file cannot be read ({})", io_reason(&error))))?;
    if bytes.is_empty() {
        return Err(problem("the file is empty".into()));
    }
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(PendingFile {
        field: field.to_owned(),
        bytes,
        media_type,
        file_name,
    })
}

/// An I/O error's kind in words, without the path the OS message may hold.
fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a folder".into(),
        kind => kind.to_string(),
    }
}

/// Reads each of `paths` as `list[i]`.
fn read_files(
    paths: &[PathBuf],
    list: &str,
    option: &str,
    problems: &mut Vec<FieldError>,
) -> Vec<PendingFile> {
    let mut files = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        match read_file(path, &format!("{list}[{index}]"), option) {
            Ok(file) => files.push(file),
            Err(problem) => problems.push(problem),
        }
    }
    files
}

/// Reads the one optional file of `field`.
fn read_optional(
    path: Option<&PathBuf>,
    field: &str,
    option: &str,
    problems: &mut Vec<FieldError>,
) -> Vec<PendingFile> {
    path.and_then(|path| match read_file(path, field, option) {
        Ok(file) => Some(file),
        Err(problem) => {
            problems.push(problem);
            None
        }
    })
    .into_iter()
    .collect()
}

/// The name of the list or field a path such as `receipts[1]` or
/// `items[0].amount_cents` belongs to.
fn base_field(field: &str) -> &str {
    field.split(['[', '.']).next().unwrap_or(field)
}

/// A request ready to be filed: its files and how to make the form from
/// their references, plus the problems the command line itself had.
struct Filing<F: Fn(Vec<AttachmentRef>) -> RequestForm> {
    files: Vec<PendingFile>,
    build: F,
    problems: Vec<FieldError>,
    draft: bool,
}

impl<F: Fn(Vec<AttachmentRef>) -> RequestForm> Filing<F> {
    /// Checks everything, then stores the files, saves the request and
    /// (unless a draft) queues it. Nothing is saved if a check fails.
    fn file(self, carnet: &Carnet) -> Result<MemberRequest, RequestError> {
        let mut problems = self.problems;
        if !self.draft {
            let form = (self.build)(self.files.iter().map(PendingFile::reference).collect());
            let today = chrono::Utc::now().date_naive();
            if let Err(found) = carnet_core::requests::validate(&form, today) {
                // A field the command line already reported (an unreadable
                // file, an unparsable amount) is not reported again, nor is
                // its list said to be empty when its only file was
                // unreadable: the core only sees what is missing.
                let reported: Vec<(String, String)> = problems
                    .iter()
                    .map(|problem| (problem.field.clone(), base_field(&problem.field).to_owned()))
                    .collect();
                problems.extend(found.iter().map(FieldError::from).filter(|problem| {
                    !reported
                        .iter()
                        .any(|(field, base)| problem.field == *field || problem.field == *base)
                }));
            }
        }
        if !problems.is_empty() {
            return Err(RequestError::Invalid(problems));
        }
        let mut references = Vec::with_capacity(self.files.len());
        for file in &self.files {
            references.push(store(carnet, file)?);
        }
        let request = carnet.save_request_draft((self.build)(references))?;
        if self.draft {
            return Ok(request);
        }
        submit(carnet, &request.id)
    }
}

/// Stores a file in the vault; a refusal names its field.
fn store(carnet: &Carnet, file: &PendingFile) -> Result<AttachmentRef, RequestError> {
    match carnet.add_attachment(&file.bytes, file.media_type, &file.file_name) {
        Ok(reference) => Ok(reference),
        Err(carnet_core::Error::Outbox(OutboxError::Attachment(error))) => Err(
            RequestError::Invalid(vec![FieldError::new(&file.field, error.to_string())]),
        ),
        Err(error) => Err(error.into()),
    }
}

/// Queues a saved request; its field problems are listed by field.
fn submit(carnet: &Carnet, id: &RequestId) -> Result<MemberRequest, RequestError> {
    match carnet.submit_request(id) {
        Ok(request) => Ok(request),
        Err(carnet_core::Error::Outbox(OutboxError::Invalid(problems))) => {
            Err(RequestError::NotQueued {
                id: id.clone(),
                problems: problems.iter().map(FieldError::from).collect(),
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// `carnet leave new`
pub fn new_leave(carnet: &Carnet, args: LeaveArgs) -> Result<(), RequestError> {
    let mut problems = Vec::new();
    let reason = match (args.reason, args.relation) {
        (Some(LeaveReasonArg::OwnIllness), None) => Some(LeaveReason::OwnIllness),
        (Some(LeaveReasonArg::OwnIllness), Some(_)) => {
            problems.push(FieldError::new(
                "reason",
                "--relation is only for --reason family-care",
            ));
            None
        }
        (Some(LeaveReasonArg::FamilyCare), Some(relation)) => Some(LeaveReason::FamilyCare {
            relation: relation.into(),
        }),
        (Some(LeaveReasonArg::FamilyCare), None) => {
            problems.push(FieldError::new(
                "reason",
                "--reason family-care needs --relation (child, parent, spouse...)",
            ));
            None
        }
        (None, _) => None,
    };
    let files = read_optional(
        args.certificate.as_ref(),
        "medical_certificate",
        "--certificate",
        &mut problems,
    );
    let filing = Filing {
        files,
        build: |references: Vec<AttachmentRef>| {
            RequestForm::AbsenteeismLeave(AbsenteeismLeave {
                reason: reason.clone(),
                start: args.from,
                end: args.to,
                workplace: args.workplace.clone(),
                medical_certificate: references.into_iter().next(),
            })
        },
        problems,
        draft: args.draft,
    };
    report_filed(&filing.file(carnet)?);
    Ok(())
}

/// `carnet continuity new`
pub fn new_continuity(carnet: &Carnet, args: ContinuityArgs) -> Result<(), RequestError> {
    let mut problems = Vec::new();
    let files = read_optional(
        args.certificate.as_ref(),
        "certificate",
        "--certificate",
        &mut problems,
    );
    let filing = Filing {
        files,
        build: |references: Vec<AttachmentRef>| {
            RequestForm::ContinuityCertificate(ContinuityCertificate {
                school_year: args.school_year,
                school: args.school.clone(),
                certificate: references.into_iter().next(),
            })
        },
        problems,
        draft: args.draft,
    };
    report_filed(&filing.file(carnet)?);
    Ok(())
}

/// `carnet remote-care new`
pub fn new_remote_care(carnet: &Carnet, args: RemoteCareArgs) -> Result<(), RequestError> {
    let mut problems = Vec::new();
    let files = read_files(
        &args.attachments,
        "attachments",
        "--attachment",
        &mut problems,
    );
    let filing = Filing {
        files,
        build: |attachments: Vec<AttachmentRef>| {
            RequestForm::RemoteCare(RemoteCareRegistration {
                home_region: args.home_region.clone(),
                destination_region: args.destination_region.clone(),
                facility: args.facility.clone(),
                start: args.from,
                end: args.to,
                reason: args.reason.map(Into::into),
                details: args.details.clone(),
                attachments,
            })
        },
        problems,
        draft: args.draft,
    };
    report_filed(&filing.file(carnet)?);
    Ok(())
}

/// Reads `DESCRIPTION:AMOUNT_CENTS`, splitting at the last colon so that a
/// description may hold colons ("Ibuprofeno: 400 mg:725"). An unreadable
/// amount gives the item with amount 0 and the problem, so that the items
/// after it keep the indices the member typed.
fn parse_item(text: &str, currency: &str, index: usize) -> (ClaimItem, Option<FieldError>) {
    let field = format!("items[{index}].amount_cents");
    let item = |description: &str, amount_cents| ClaimItem {
        description: description.trim().to_owned(),
        amount_cents,
        currency: currency.to_owned(),
    };
    let Some((description, amount)) = text.rsplit_once(':') else {
        let problem = "--item must be \"DESCRIPTION:AMOUNT_CENTS\"; the amount is missing";
        return (item(text, 0), Some(FieldError::new(field, problem)));
    };
    match amount.trim().parse::<i64>() {
        Ok(amount_cents) => (item(description, amount_cents), None),
        Err(_) => (
            item(description, 0),
            Some(FieldError::new(
                field,
                "the amount must be a whole number of cents (1500 for 15.00)",
            )),
        ),
    }
}

/// `carnet claim new`
pub fn new_claim(carnet: &Carnet, args: ClaimArgs) -> Result<(), RequestError> {
    let mut problems = Vec::new();
    // "ars" is what the member meant; the wire wants "ARS".
    let currency = args.currency.trim().to_ascii_uppercase();
    let mut items = Vec::with_capacity(args.items.len());
    for (index, text) in args.items.iter().enumerate() {
        let (item, problem) = parse_item(text, &currency, index);
        items.push(item);
        problems.extend(problem);
    }
    let files = read_files(&args.receipts, "receipts", "--receipt", &mut problems);
    let filing = Filing {
        files,
        build: |receipts: Vec<AttachmentRef>| {
            RequestForm::ReimbursementClaim(ReimbursementClaim {
                claim_kind: args.kind.map(Into::into),
                items: items.clone(),
                receipts,
            })
        },
        problems,
        draft: args.draft,
    };
    report_filed(&filing.file(carnet)?);
    Ok(())
}

/// What the member is told once a request is on disk.
fn report_filed(request: &MemberRequest) {
    println!("{} {}", kind_label(request), request.id);
    if request.state.is_pending_upload() {
        println!("saved on this phone; it will be sent at the next sync (`carnet sync`)");
    } else {
        println!(
            "saved on this phone as a draft; queue it with `carnet request submit {}` \
             (or `carnet request resubmit {} --file FILE` to attach a file first)",
            short(&request.id),
            short(&request.id)
        );
    }
}

/// `carnet request ...`
pub fn request_command(carnet: &Carnet, command: RequestCommand) -> Result<(), RequestError> {
    match command {
        RequestCommand::Show { id } => {
            let id = resolve(carnet, &id)?;
            let request = carnet
                .request(&id)?
                .ok_or_else(|| RequestError::UnknownId(id.to_string()))?;
            print!("{}", describe(&request));
        }
        RequestCommand::Submit { id } => {
            let id = resolve(carnet, &id)?;
            let request = submit(carnet, &id)?;
            println!(
                "{} {}: {}",
                kind_label(&request),
                request.id,
                state_line(&request.state)
            );
            if request.state.is_pending_upload() {
                println!("saved on this phone; it will be sent at the next sync (`carnet sync`)");
            }
        }
        RequestCommand::Recall { id } => {
            let id = resolve(carnet, &id)?;
            let request = carnet.recall_request(&id)?;
            println!(
                "{} {}: {}; it will not be sent until you submit it again",
                kind_label(&request),
                request.id,
                state_line(&request.state)
            );
        }
        RequestCommand::Resubmit { id, files } => {
            let id = resolve(carnet, &id)?;
            let request = resubmit(carnet, &id, &files)?;
            println!(
                "{} {}: {}, revision {}",
                kind_label(&request),
                request.id,
                state_line(&request.state),
                request.revision
            );
            println!("saved on this phone; it will be sent at the next sync (`carnet sync`)");
        }
    }
    Ok(())
}

/// Attaches `paths` to a draft or returned request (replacing a single
/// certificate, adding to lists), then queues it.
fn resubmit(
    carnet: &Carnet,
    id: &RequestId,
    paths: &[PathBuf],
) -> Result<MemberRequest, RequestError> {
    let request = carnet
        .request(id)?
        .ok_or_else(|| RequestError::UnknownId(id.to_string()))?;
    if paths.is_empty() {
        return submit(carnet, id);
    }
    let mut problems = Vec::new();
    let mut form = request.form.clone();
    // A leave or a continuity certificate holds one certificate, which a
    // new file replaces; the other kinds hold lists, which it extends.
    let single = match &form {
        RequestForm::AbsenteeismLeave(_) => Some("medical_certificate"),
        RequestForm::ContinuityCertificate(_) => Some("certificate"),
        RequestForm::RemoteCare(_) | RequestForm::ReimbursementClaim(_) => None,
    };
    let files = match (&form, single) {
        (_, Some(field)) => {
            if paths.len() > 1 {
                problems.push(FieldError::new(
                    field,
                    "--file: this request holds one certificate; give one file",
                ));
            }
            read_optional(paths.last(), field, "--file", &mut problems)
        }
        (RequestForm::RemoteCare(care), None) => {
            let mut files = read_files(paths, "attachments", "--file", &mut problems);
            renumber(&mut files, "attachments", care.attachments.len());
            files
        }
        (RequestForm::ReimbursementClaim(claim), None) => {
            let mut files = read_files(paths, "receipts", "--file", &mut problems);
            renumber(&mut files, "receipts", claim.receipts.len());
            files
        }
        (_, None) => Vec::new(),
    };
    if !problems.is_empty() {
        return Err(RequestError::Invalid(problems));
    }
    // Checked before storing anything: the outbox would refuse the edit
    // anyway, but the member should hear why in one line.
    if !request.state.is_editable() {
        return Err(carnet_core::Error::Outbox(OutboxError::Transition(
            carnet_core::requests::TransitionError::NotEditable {
                state: request.state.name(),
            },
        ))
        .into());
    }
    let mut references = Vec::with_capacity(files.len());
    for file in &files {
        references.push(store(carnet, file)?);
    }
    match &mut form {
        RequestForm::AbsenteeismLeave(leave) => {
            leave.medical_certificate = references.into_iter().next();
        }
        RequestForm::ContinuityCertificate(continuity) => {
            continuity.certificate = references.into_iter().next();
        }
        RequestForm::RemoteCare(care) => care.attachments.extend(references),
        RequestForm::ReimbursementClaim(claim) => claim.receipts.extend(references),
    }
    carnet.update_request_draft(id, form)?;
    submit(carnet, id)
}

/// Files added to a list are numbered after what it already holds.
fn renumber(files: &mut [PendingFile], list: &str, already: usize) {
    for (index, file) in files.iter_mut().enumerate() {
        file.field = format!("{list}[{}]", already + index);
    }
}

/// The request whose id is `text` or starts with it.
pub fn resolve(carnet: &Carnet, text: &str) -> Result<RequestId, RequestError> {
    let prefix = text.trim().to_ascii_lowercase();
    if let Ok(id) = RequestId::parse(&prefix) {
        return Ok(id);
    }
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RequestError::UnknownId(text.to_owned()));
    }
    let listing = carnet.requests()?;
    let mut matching = listing
        .requests
        .iter()
        .filter(|request| request.id.as_str().starts_with(&prefix))
        .map(|request| request.id.clone());
    match (matching.next(), matching.count()) {
        (Some(id), 0) => Ok(id),
        (Some(_), others) => Err(RequestError::AmbiguousId {
            prefix,
            count: others + 1,
        }),
        (None, _) => Err(RequestError::UnknownId(prefix)),
    }
}

/// `carnet requests`: one line per request, oldest first.
pub fn list(carnet: &Carnet) -> Result<(), RequestError> {
    let listing = carnet.requests()?;
    print!("{}", table(&listing.requests));
    if !listing.unreadable.is_empty() {
        println!(
            "{} request record(s) on this phone cannot be read; they are kept, not deleted \
             (contact support before logging out)",
            listing.unreadable.len()
        );
    }
    Ok(())
}

/// The table `carnet requests` prints.
pub fn table(requests: &[MemberRequest]) -> String {
    if requests.is_empty() {
        return "no requests on this phone\n".to_owned();
    }
    let mut out = format!(
        "{:<8}  {:<22}  {:<12}  {:>3}  {:<15}  {}\n",
        "ID", "KIND", "STATE", "REV", "WAITING TO SEND", "REASONS"
    );
    for request in requests {
        let waiting = if request.state.is_pending_upload() {
            "yes"
        } else {
            ""
        };
        let line = format!(
            "{:<8}  {:<22}  {:<12}  {:>3}  {:<15}  {}",
            short(&request.id),
            request.kind().as_str(),
            request.state.name().as_str(),
            request.revision,
            waiting,
            reasons(&request.state).join("; "),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The reviewer's reasons a state carries.
fn reasons(state: &RequestState) -> &[String] {
    match state {
        RequestState::Returned { reasons }
        | RequestState::Resubmitted { reasons }
        | RequestState::Rejected { reasons } => reasons,
        _ => &[],
    }
}

/// A state with its reasons: `returned: the certificate is not signed`.
pub fn state_line(state: &RequestState) -> String {
    let reasons = reasons(state).join("; ");
    match state {
        _ if reasons.is_empty() => state.name().as_str().to_owned(),
        RequestState::Resubmitted { .. } => format!("resubmitted (answering: {reasons})"),
        _ => format!("{}: {reasons}", state.name().as_str()),
    }
}

fn short(id: &RequestId) -> &str {
    id.as_str().get(..SHORT_ID).unwrap_or(id.as_str())
}

fn kind_label(request: &MemberRequest) -> &'static str {
    match request.form {
        RequestForm::AbsenteeismLeave(_) => "absenteeism leave",
        RequestForm::ContinuityCertificate(_) => "certificate of continuity",
        RequestForm::RemoteCare(_) => "remote-care registration",
        RequestForm::ReimbursementClaim(_) => "reimbursement claim",
    }
}

/// `carnet request show`: the member's own request, in full.
pub fn describe(request: &MemberRequest) -> String {
    let mut lines = vec![
        format!("id:              {}", request.id),
        format!("kind:            {}", request.kind().as_str()),
        format!("state:           {}", request.state.name().as_str()),
    ];
    for reason in reasons(&request.state) {
        lines.push(format!("  reason:        {reason}"));
    }
    lines.push(format!(
        "revision:        {}{}",
        request.revision,
        request
            .backend_revision
            .map(|revision| format!(" (the insurer has revision {revision})"))
            .unwrap_or_default()
    ));
    lines.push(format!(
        "waiting to send: {}",
        if request.state.is_pending_upload() {
            "yes"
        } else {
            "no"
        }
    ));
    lines.push(format!("created:         {}", time(request.created_at)));
    if let Some(at) = request.submitted_at {
        lines.push(format!("submitted:       {}", time(at)));
    }
    let text = |value: &str| {
        if value.is_empty() {
            "-".to_owned()
        } else {
            value.to_owned()
        }
    };
    let date = |value: Option<NaiveDate>| value.map_or_else(|| "-".to_owned(), |d| d.to_string());
    match &request.form {
        RequestForm::AbsenteeismLeave(leave) => {
            let reason = match &leave.reason {
                Some(LeaveReason::OwnIllness) => "own illness".to_owned(),
                Some(LeaveReason::FamilyCare { relation }) => {
                    format!("care of a family member ({})", relation_label(*relation))
                }
                None => "-".to_owned(),
            };
            lines.push(format!("reason:          {reason}"));
            lines.push(format!(
                "dates:           {} to {}",
                date(leave.start),
                date(leave.end)
            ));
            lines.push(format!("workplace:       {}", text(&leave.workplace)));
        }
        RequestForm::ContinuityCertificate(continuity) => {
            lines.push(format!(
                "school year:     {}",
                continuity
                    .school_year
                    .map_or_else(|| "-".to_owned(), |year| year.to_string())
            ));
            lines.push(format!("school:          {}", text(&continuity.school)));
        }
        RequestForm::RemoteCare(care) => {
            lines.push(format!(
                "regions:         {} to {}",
                text(&care.home_region),
                text(&care.destination_region)
            ));
            lines.push(format!("facility:        {}", text(&care.facility)));
            lines.push(format!(
                "dates:           {} to {}",
                date(care.start),
                date(care.end)
            ));
            lines.push(format!(
                "reason:          {}",
                care.reason.map_or("-", remote_care_reason_label)
            ));
            if !care.details.is_empty() {
                lines.push(format!("details:         {}", care.details));
            }
        }
        RequestForm::ReimbursementClaim(claim) => {
            lines.push(format!(
                "claim kind:      {}",
                claim.claim_kind.map_or("-", claim_kind_label)
            ));
            for (index, item) in claim.items.iter().enumerate() {
                lines.push(format!(
                    "item {index}:          {}  {}.{:02} {}",
                    item.description,
                    item.amount_cents / 100,
                    (item.amount_cents % 100).abs(),
                    item.currency
                ));
            }
        }
    }
    let files = request.form.attachments();
    if files.is_empty() {
        lines.push("files:           none".to_owned());
    }
    for (field, file) in files {
        lines.push(format!(
            "file {}:  {}  {}  {} bytes  sha256 {}",
            field,
            file.file_name,
            file.media_type,
            file.size,
            file.sha256.as_str().get(..12).unwrap_or_default()
        ));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn relation_label(relation: FamilyRelation) -> &'static str {
    match relation {
        FamilyRelation::SpouseOrPartner => "spouse or partner",
        FamilyRelation::Child => "child",
        FamilyRelation::Parent => "parent",
        FamilyRelation::Sibling => "sibling",
        FamilyRelation::Grandparent => "grandparent",
        FamilyRelation::Grandchild => "grandchild",
        FamilyRelation::ParentInLaw => "parent-in-law",
        FamilyRelation::OtherRelative => "other relative",
    }
}

fn remote_care_reason_label(reason: RemoteCareReason) -> &'static str {
    match reason {
        RemoteCareReason::Relocation => "relocation",
        RemoteCareReason::TemporaryStay => "temporary stay",
        RemoteCareReason::Referral => "referral",
    }
}

fn claim_kind_label(kind: ClaimKind) -> &'static str {
    match kind {
        ClaimKind::Outpatient => "outpatient",
        ClaimKind::Inpatient => "inpatient",
        ClaimKind::Global => "global",
    }
}

fn time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_split_at_the_last_colon_and_amounts_are_whole_cents() {
        let (item, problem) = parse_item("Ibuprofeno: 400 mg:725", "ARS", 0);
        assert!(problem.is_none());
        assert_eq!(item.description, "Ibuprofeno: 400 mg");
        assert_eq!(item.amount_cents, 725);
        assert_eq!(item.currency, "ARS");
        let (item, problem) = parse_item("Consulta:15.00", "ARS", 2);
        assert_eq!(problem.unwrap().field, "items[2].amount_cents");
        assert_eq!(
            (item.description.as_str(), item.amount_cents),
            ("Consulta", 0)
        );
        let (_, problem) = parse_item("Consulta", "ARS", 1);
        assert_eq!(problem.unwrap().field, "items[1].amount_cents");
    }

    #[test]
    fn media_types_come_from_the_extension_in_any_case() {
        assert_eq!(media_type_of(Path::new("a/b.JPG")), Some(MediaType::Jpeg));
        assert_eq!(media_type_of(Path::new("scan.pdf")), Some(MediaType::Pdf));
        assert_eq!(media_type_of(Path::new("foto.heic")), Some(MediaType::Heic));
        assert_eq!(media_type_of(Path::new("notes.txt")), None);
        assert_eq!(media_type_of(Path::new("noextension")), None);
    }

    #[test]
    fn a_missing_file_is_reported_by_field_without_its_path() {
        let problem = read_file(
            Path::new("/nonexistent/certificado-psiquiatria.pdf"),
            "medical_certificate",
            "--certificate",
        )
        .err()
        .unwrap();
        assert_eq!(problem.field, "medical_certificate");
        assert!(
            problem.problem.contains("no such file"),
            "{}",
            problem.problem
        );
        assert!(!problem.problem.contains("psiquiatria"));
    }

    #[test]
    fn base_fields_strip_indices_and_subfields() {
        assert_eq!(base_field("receipts[1]"), "receipts");
        assert_eq!(base_field("items[0].amount_cents"), "items");
        assert_eq!(base_field("end"), "end");
    }
}
