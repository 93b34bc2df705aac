//! What the outbox promises: edit rules, the revision race, the life cycle
//! against the backend's statuses, persistence in a real sled vault,
//! content-addressed attachments, damaged records, and order at scale.
//! Validation and the transition table are tested next to their code.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::attachment::stored_count;
use super::*;
use crate::clock::{Clock, FixedClock};
use crate::rng::{SeededRng, random_bytes};
use crate::vault::{Vault, VaultError, VaultKey};

const PASSPHRASE: &str = "a member's vault passphrase";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 12, 9, 30, 0).unwrap()
}

struct Fixture {
    vault: Arc<Vault>,
    clock: Arc<FixedClock>,
    outbox: Outbox,
}

fn fixture_over(vault: Vault, seed: u8) -> Fixture {
    let vault = Arc::new(vault);
    let clock = Arc::new(FixedClock::new(now()));
    let outbox = Outbox::new(
        Arc::clone(&vault),
        Arc::new(SeededRng::new([seed; 32])),
        clock.clone(),
    );
    Fixture {
        vault,
        clock,
        outbox,
    }
}

fn in_memory() -> Fixture {
    fixture_over(
        Vault::open_in_memory(VaultKey::Passphrase(PASSPHRASE)).unwrap(),
        7,
    )
}

fn on_disk(dir: &Path, seed: u8) -> Fixture {
    fixture_over(
        Vault::open(dir, VaultKey::Passphrase(PASSPHRASE)).unwrap(),
        seed,
    )
}

fn leave_form(certificate: Option<AttachmentRef>, workplace: &str) -> RequestForm {
    RequestForm::AbsenteeismLeave(AbsenteeismLeave {
        reason: Some(LeaveReason::FamilyCare {
            relation: FamilyRelation::Child,
        }),
        start: NaiveDate::from_ymd_opt(2026, 5, 11),
        end: NaiveDate::from_ymd_opt(2026, 5, 13),
        workplace: workplace.into(),
        medical_certificate: certificate,
    })
}

/// A leave that passes validation, its certificate stored.
fn complete_leave(outbox: &Outbox, workplace: &str) -> RequestForm {
    let certificate = outbox
        .add_attachment(b"%PDF-1.7 a signed certificate", MediaType::Pdf, "cert.pdf")
        .unwrap();
    leave_form(Some(certificate), workplace)
}

fn returned(reasons: &[&str]) -> ServerStatus {
    ServerStatus::Returned {
        reasons: reasons.iter().map(|r| r.to_string()).collect(),
    }
}

fn status(revision: u64, status: ServerStatus) -> StatusChange {
    StatusChange { revision, status }
}

fn pending_ids_and_revisions(outbox: &Outbox) -> Vec<(RequestId, u64)> {
    let listing = outbox.pending_uploads().unwrap();
    assert!(listing.unreadable.is_empty());
    listing
        .requests
        .into_iter()
        .map(|r| (r.id, r.revision))
        .collect()
}

fn state_of(outbox: &Outbox, id: &RequestId) -> (StateName, u64) {
    let request = outbox.get(id).unwrap().unwrap();
    (request.state.name(), request.revision)
}

#[test]
fn a_saved_draft_has_a_fresh_id_and_revision_1_and_reads_back() {
    let f = in_memory();
    let form = leave_form(None, "Escuela 1-123");
    let draft = f.outbox.save_draft(form.clone()).unwrap();
    assert_eq!(draft.id.as_str().len(), 2 * REQUEST_ID_BYTES);
    assert_eq!(draft.revision, 1);
    assert_eq!(draft.state, RequestState::Draft);
    assert_eq!(draft.backend_revision, None);
    assert_eq!(draft.created_at, now());
    assert_eq!(draft.kind(), RequestKind::AbsenteeismLeave);
    assert_eq!(f.outbox.get(&draft.id).unwrap(), Some(draft.clone()));

    let other = f.outbox.save_draft(form).unwrap();
    assert_ne!(other.id, draft.id);
    assert!(other.sequence > draft.sequence);

    let unknown = RequestId::parse(&"0".repeat(32)).unwrap();
    assert_eq!(f.outbox.get(&unknown).unwrap(), None);
    assert!(matches!(
        f.outbox.submit(&unknown),
        Err(OutboxError::NotFound)
    ));
    assert!(matches!(
        f.outbox.update_draft(&unknown, leave_form(None, "x")),
        Err(OutboxError::NotFound)
    ));
    assert!(matches!(
        f.outbox.mark_sent(&unknown, 1),
        Err(OutboxError::NotFound)
    ));
}

#[test]
fn drafts_may_be_incomplete_but_submit_reports_every_problem_and_changes_nothing() {
    let f = in_memory();
    let empty = RequestForm::AbsenteeismLeave(AbsenteeismLeave {
        reason: None,
        start: None,
        end: None,
        workplace: String::new(),
        medical_certificate: None,
    });
    let draft = f.outbox.save_draft(empty).unwrap();
    let Err(OutboxError::Invalid(problems)) = f.outbox.submit(&draft.id) else {
        panic!("an empty leave was queued");
    };
    let fields: Vec<_> = problems.iter().map(FieldProblem::field).collect();
    assert_eq!(
        fields,
        vec![
            RequestField::Reason,
            RequestField::StartDate,
            RequestField::EndDate,
            RequestField::Workplace,
            RequestField::MedicalCertificate,
        ]
    );
    assert_eq!(f.outbox.get(&draft.id).unwrap(), Some(draft));
    assert!(pending_ids_and_revisions(&f.outbox).is_empty());
}

#[test]
fn submit_refuses_attachments_whose_bytes_are_not_on_the_phone() {
    let f = in_memory();
    let elsewhere = AttachmentRef {
        sha256: ContentHash::of(b"bytes never stored here"),
        size: 23,
        media_type: MediaType::Jpeg,
        file_name: "photo.jpg".into(),
    };
    let draft = f
        .outbox
        .save_draft(leave_form(Some(elsewhere), "Escuela 1-123"))
        .unwrap();
    let Err(OutboxError::Invalid(problems)) = f.outbox.submit(&draft.id) else {
        panic!("a leave with a missing file was queued");
    };
    assert_eq!(
        problems,
        vec![FieldProblem::AttachmentNotStored {
            field: RequestField::MedicalCertificate
        }]
    );
    assert_eq!(state_of(&f.outbox, &draft.id), (StateName::Draft, 1));
}

#[test]
fn edits_are_allowed_only_in_draft_or_returned_and_bump_the_revision() {
    let f = in_memory();
    let form = complete_leave(&f.outbox, "Escuela 1-123");
    let id = f.outbox.save_draft(form.clone()).unwrap().id;

    f.clock.advance(chrono::Duration::minutes(5));
    let edited = f
        .outbox
        .update_draft(&id, complete_leave(&f.outbox, "Escuela 4-045"))
        .unwrap();
    assert_eq!(
        (edited.state.name(), edited.revision),
        (StateName::Draft, 2)
    );
    assert_eq!(edited.updated_at, now() + chrono::Duration::minutes(5));
    assert_eq!(edited.created_at, now());
    let same = f.outbox.update_draft(&id, edited.form.clone()).unwrap();
    assert_eq!(same.revision, 2, "an identical form is not an edit");

    let claim = RequestForm::ReimbursementClaim(ReimbursementClaim {
        claim_kind: None,
        items: vec![],
        receipts: vec![],
    });
    assert!(matches!(
        f.outbox.update_draft(&id, claim),
        Err(OutboxError::KindChanged)
    ));

    let queued = f.outbox.submit(&id).unwrap();
    assert_eq!(
        (queued.state.name(), queued.revision),
        (StateName::Queued, 2)
    );
    assert_eq!(queued.submitted_at, Some(f.clock.now()));
    let not_editable = |state: StateName| {
        matches!(
            f.outbox.update_draft(&id, form.clone()),
            Err(OutboxError::Transition(TransitionError::NotEditable { state: s })) if s == state
        )
    };
    assert!(not_editable(StateName::Queued));

    assert_eq!(f.outbox.mark_sent(&id, 2).unwrap(), Update::Applied);
    assert!(not_editable(StateName::Sent));
    assert!(matches!(
        f.outbox.recall(&id),
        Err(OutboxError::Transition(TransitionError::NotAllowed {
            state: StateName::Sent,
            event: EventName::Recall
        }))
    ));
    f.outbox
        .apply_status(&id, &status(2, ServerStatus::Received))
        .unwrap();
    assert!(not_editable(StateName::Received));
    f.outbox
        .apply_status(&id, &status(2, ServerStatus::UnderReview))
        .unwrap();
    assert!(not_editable(StateName::UnderReview));

    f.outbox
        .apply_status(
            &id,
            &status(2, returned(&["the certificate is not signed"])),
        )
        .unwrap();
    let fixed = f
        .outbox
        .update_draft(
            &id,
            complete_leave(&f.outbox, "Escuela 4-045 (turno tarde)"),
        )
        .unwrap();
    assert_eq!(fixed.revision, 3);
    assert_eq!(
        fixed.state,
        RequestState::Returned {
            reasons: vec!["the certificate is not signed".into()]
        },
        "the reasons stay visible while the member fixes the request"
    );
    let resubmitted = f.outbox.submit(&id).unwrap();
    assert_eq!(
        (resubmitted.state.name(), resubmitted.revision),
        (StateName::Resubmitted, 4)
    );
    assert!(not_editable(StateName::Resubmitted));

    assert_eq!(f.outbox.mark_sent(&id, 4).unwrap(), Update::Applied);
    f.outbox
        .apply_status(&id, &status(4, ServerStatus::Approved))
        .unwrap();
    assert!(not_editable(StateName::Approved));
}

#[test]
fn a_returned_request_submitted_unedited_is_still_a_new_revision() {
    let f = in_memory();
    let id = f
        .outbox
        .save_draft(complete_leave(&f.outbox, "Escuela 1-123"))
        .unwrap()
        .id;
    f.outbox.submit(&id).unwrap();
    f.outbox.mark_sent(&id, 1).unwrap();
    f.outbox
        .apply_status(&id, &status(1, returned(&["please confirm the dates"])))
        .unwrap();
    // The backend holds revision 1 already: the same revision again would
    // be taken for a replay of the first upload.
    let resubmitted = f.outbox.submit(&id).unwrap();
    assert_eq!(resubmitted.revision, 2);
    assert_eq!(pending_ids_and_revisions(&f.outbox), vec![(id, 2)]);
}

#[test]
fn an_upload_of_an_old_revision_does_not_mark_the_edited_request_as_sent() {
    let f = in_memory();
    let id = f
        .outbox
        .save_draft(complete_leave(&f.outbox, "Escuela 1-123"))
        .unwrap()
        .id;
    f.outbox.submit(&id).unwrap();

    // The sync engine starts uploading revision 1...
    let uploading = pending_ids_and_revisions(&f.outbox);
    assert_eq!(uploading, vec![(id.clone(), 1)]);

    // ...while the member takes the request back and edits it.
    f.outbox.recall(&id).unwrap();
    let edited = f
        .outbox
        .update_draft(&id, complete_leave(&f.outbox, "Escuela 4-045"))
        .unwrap();
    assert_eq!(edited.revision, 2);

    // The old upload completes: ignored.
    assert_eq!(f.outbox.mark_sent(&id, 1).unwrap(), Update::Stale);
    let request = f.outbox.get(&id).unwrap().unwrap();
    assert_eq!(
        (request.state.name(), request.revision),
        (StateName::Draft, 2)
    );
    assert_eq!(request.backend_revision, None);

    // Submitted again, revision 2 waits for upload, and a late repeat of
    // the old acknowledgement still changes nothing.
    f.outbox.submit(&id).unwrap();
    assert_eq!(f.outbox.mark_sent(&id, 1).unwrap(), Update::Stale);
    assert_eq!(pending_ids_and_revisions(&f.outbox), vec![(id.clone(), 2)]);

    assert_eq!(f.outbox.mark_sent(&id, 2).unwrap(), Update::Applied);
    assert!(pending_ids_and_revisions(&f.outbox).is_empty());
    let sent = f.outbox.get(&id).unwrap().unwrap();
    assert_eq!(sent.state, RequestState::Sent);
    assert_eq!(sent.backend_revision, Some(2));
}

#[test]
fn an_edit_during_the_upload_of_a_resubmission_keeps_the_edit_pending() {
    let f = in_memory();
    let id = f
        .outbox
        .save_draft(complete_leave(&f.outbox, "Escuela 1-123"))
        .unwrap()
        .id;
    f.outbox.submit(&id).unwrap();
    f.outbox.mark_sent(&id, 1).unwrap();
    f.outbox
        .apply_status(&id, &status(1, returned(&["illegible certificate"])))
        .unwrap();
    f.outbox
        .update_draft(&id, complete_leave(&f.outbox, "Escuela 1-124"))
        .unwrap();
    f.outbox.submit(&id).unwrap();
    assert_eq!(pending_ids_and_revisions(&f.outbox), vec![(id.clone(), 3)]);

    // Uploading revision 3; the member recalls, edits and resubmits.
    let recalled = f.outbox.recall(&id).unwrap();
    assert_eq!(
        recalled.state,
        RequestState::Returned {
            reasons: vec!["illegible certificate".into()]
        },
        "a recall shows the reasons again"
    );
    f.outbox
        .update_draft(&id, complete_leave(&f.outbox, "Escuela 1-125"))
        .unwrap();
    f.outbox.submit(&id).unwrap();
    assert_eq!(f.outbox.mark_sent(&id, 3).unwrap(), Update::Stale);
    assert_eq!(pending_ids_and_revisions(&f.outbox), vec![(id.clone(), 5)]);
    assert_eq!(state_of(&f.outbox, &id), (StateName::Resubmitted, 5));
}

#[test]
fn a_recall_without_an_edit_makes_the_old_acknowledgement_stale_until_resubmitted() {
    let f = in_memory();
    let id = f
        .outbox
        .save_draft(complete_leave(&f.outbox, "Escuela 1-123"))
        .unwrap()
        .id;
    f.outbox.submit(&id).unwrap();
    f.outbox.recall(&id).unwrap();
    assert_eq!(f.outbox.mark_sent(&id, 1).unwrap(), Update::Stale);
    assert_eq!(state_of(&f.outbox, &id), (StateName::Draft, 1));
    // Submitted unchanged, the same revision is uploaded again: the backend
    // sees a replay of the same idempotency key and revision.
    f.outbox.submit(&id).unwrap();
    assert_eq!(pending_ids_and_revisions(&f.outbox), vec![(id.clone(), 1)]);
    assert_eq!(f.outbox.mark_sent(&id, 1).unwrap(), Update::Applied);
}

#[test]
fn mark_sent_is_idempotent_and_refuses_revisions_never_made() {
    let f = in_memory();
    let id = f
        .outbox
        .save_draft(complete_leave(&f.outbox, "Escuela 1-123"))
        .unwrap()
        .id;
    assert!(
        matches!(f.outbox.mark_sent(&id, 1), Ok(Update::Stale)),
        "a draft was never uploaded"
    );
    f.outbox.submit(&id).unwrap();
    assert_eq!(
        f.outbox.submit(&id).unwrap().revision,
        1,
        "a second tap changes nothing"
    );
    assert_eq!(f.outbox.mark_sent(&id, 1).unwrap(), Update::Applied);
    assert_eq!(f.outbox.mark_sent(&id, 1).unwrap(), Update::Duplicate);
    assert!(matches!(
        f.outbox.mark_sent(&id, 9),
        Err(OutboxError::UnknownRevision {
            reported: 9,
            latest: 1
        })
    ));
    assert_eq!(state_of(&f.outbox, &id), (StateName::Sent, 1));
}

#[test]
fn statuses_move_requests_forward_and_late_ones_change_nothing() {
    let f = in_memory();
    let id = f
        .outbox
        .save_draft(complete_leave(&f.outbox, "Escuela 1-123"))
        .unwrap()
        .id;
    f.outbox.submit(&id).unwrap();

    // The acknowledgement was lost, but the status pull shows the backend
    // has it: no longer pending, so it is not uploaded again.
    assert_eq!(
        f.outbox
            .apply_status(&id, &status(1, ServerStatus::Received))
            .unwrap(),
        Update::Applied
    );
    assert!(pending_ids_and_revisions(&f.outbox).is_empty());
    assert_eq!(f.outbox.mark_sent(&id, 1).unwrap(), Update::Duplicate);

    let apply = |revision, s| f.outbox.apply_status(&id, &status(revision, s));
    assert_eq!(
        apply(1, ServerStatus::UnderReview).unwrap(),
        Update::Applied
    );
    assert_eq!(apply(1, ServerStatus::Received).unwrap(), Update::Duplicate);
    assert_eq!(state_of(&f.outbox, &id), (StateName::UnderReview, 1));

    assert_eq!(
        apply(1, returned(&["missing stamp"])).unwrap(),
        Update::Applied
    );
    f.outbox
        .update_draft(&id, complete_leave(&f.outbox, "Escuela 1-124"))
        .unwrap();
    // A repeated pull reports on revision 1, which the member has replaced.
    assert_eq!(apply(1, ServerStatus::UnderReview).unwrap(), Update::Stale);
    f.outbox.submit(&id).unwrap();
    assert_eq!(
        apply(1, returned(&["missing stamp"])).unwrap(),
        Update::Stale
    );
    assert_eq!(pending_ids_and_revisions(&f.outbox), vec![(id.clone(), 3)]);

    assert_eq!(f.outbox.mark_sent(&id, 3).unwrap(), Update::Applied);
    assert_eq!(apply(3, ServerStatus::Approved).unwrap(), Update::Applied);
    assert_eq!(apply(3, ServerStatus::Approved).unwrap(), Update::Duplicate);
    assert_eq!(
        apply(3, ServerStatus::UnderReview).unwrap(),
        Update::Duplicate
    );
    assert!(matches!(
        apply(
            3,
            ServerStatus::Rejected {
                reasons: vec!["x".into()]
            }
        ),
        Err(OutboxError::Transition(TransitionError::NotAllowed {
            state: StateName::Approved,
            event: EventName::Rejected
        }))
    ));
    assert!(matches!(
        apply(4, ServerStatus::Received),
        Err(OutboxError::UnknownRevision {
            reported: 4,
            latest: 3
        })
    ));
    let done = f.outbox.get(&id).unwrap().unwrap();
    assert_eq!(done.state, RequestState::Approved);
    assert_eq!(done.backend_revision, Some(3));
}

#[test]
fn a_decision_on_an_older_revision_closes_the_request() {
    let f = in_memory();
    let id = f
        .outbox
        .save_draft(complete_leave(&f.outbox, "Escuela 1-123"))
        .unwrap()
        .id;
    f.outbox.submit(&id).unwrap();
    // Uploaded, then recalled and edited before the acknowledgement.
    f.outbox.recall(&id).unwrap();
    f.outbox
        .update_draft(&id, complete_leave(&f.outbox, "Escuela 1-124"))
        .unwrap();
    let rejected = ServerStatus::Rejected {
        reasons: vec!["outside the coverage period".into()],
    };
    assert_eq!(
        f.outbox.apply_status(&id, &status(1, rejected)).unwrap(),
        Update::Applied
    );
    let request = f.outbox.get(&id).unwrap().unwrap();
    assert_eq!(request.state.name(), StateName::Rejected);
    assert_eq!(request.backend_revision, Some(1));
    assert_eq!(request.revision, 2, "the member's edit is kept, unsent");
}

#[test]
fn requests_and_attachments_persist_across_reopening_a_sled_vault() {
    let dir = tempfile::tempdir().unwrap();
    let photo = random_bytes(&SeededRng::new([3; 32]), 300_000).unwrap();
    let (before, pending_before, receipt) = {
        let f = on_disk(dir.path(), 1);
        let receipt = f
            .outbox
            .add_attachment(&photo, MediaType::Jpeg, "IMG_0001.jpg")
            .unwrap();
        let claim = RequestForm::ReimbursementClaim(ReimbursementClaim {
            claim_kind: Some(ClaimKind::Outpatient),
            items: vec![ClaimItem {
                description: "Consulta cardiología".into(),
                amount_cents: 2_500_000,
                currency: "ARS".into(),
            }],
            receipts: vec![receipt.clone()],
        });
        let draft = f.outbox.save_draft(claim.clone()).unwrap();
        let queued = f.outbox.save_draft(claim.clone()).unwrap();
        f.outbox.submit(&queued.id).unwrap();
        let sent = f.outbox.save_draft(claim).unwrap();
        f.outbox.submit(&sent.id).unwrap();
        f.outbox.mark_sent(&sent.id, 1).unwrap();
        f.outbox
            .apply_status(&sent.id, &status(1, returned(&["the receipt is cut off"])))
            .unwrap();
        let leave = f
            .outbox
            .save_draft(complete_leave(&f.outbox, "Escuela 1-123"))
            .unwrap();
        f.outbox.submit(&leave.id).unwrap();
        assert_eq!(draft.state, RequestState::Draft);
        let listing = f.outbox.list().unwrap();
        assert!(listing.unreadable.is_empty());
        (
            listing.requests,
            pending_ids_and_revisions(&f.outbox),
            receipt,
        )
        // Outbox and vault dropped here, with no further flush or close:
        // every acknowledged call must already be on disk.
    };
    assert_eq!(before.len(), 4);
    assert_eq!(pending_before.len(), 2);

    // Same seed: the ids the new outbox draws collide with stored ones,
    // which it must notice instead of overwriting.
    let f = on_disk(dir.path(), 1);
    let after = f.outbox.list().unwrap();
    assert!(after.unreadable.is_empty());
    assert_eq!(after.requests, before);
    assert_eq!(pending_ids_and_revisions(&f.outbox), pending_before);
    assert_eq!(
        f.outbox
            .attachment_bytes(&receipt.sha256)
            .unwrap()
            .unwrap()
            .as_slice(),
        photo.as_slice()
    );

    let newer = f
        .outbox
        .save_draft(complete_leave(&f.outbox, "Escuela 9-999"))
        .unwrap();
    assert!(before.iter().all(|r| r.id != newer.id));
    assert!(before.iter().all(|r| r.sequence < newer.sequence));
    f.outbox.submit(&newer.id).unwrap();
    let mut expected = pending_before;
    expected.push((newer.id, 1));
    assert_eq!(pending_ids_and_revisions(&f.outbox), expected);
    assert_eq!(f.outbox.list().unwrap().requests.len(), 5);
}

#[test]
fn attachments_are_stored_once_by_hash_and_read_back_byte_identical() {
    let f = in_memory();
    let photo = random_bytes(&SeededRng::new([5; 32]), 3 * 1024 * 1024 + 17).unwrap();
    let first = f
        .outbox
        .add_attachment(&photo, MediaType::Jpeg, "IMG_0001.jpg")
        .unwrap();
    assert_eq!(first.sha256, ContentHash::of(&photo));
    assert_eq!(first.size, photo.len() as u64);
    let again = f
        .outbox
        .add_attachment(&photo, MediaType::Jpeg, "receipt-pharmacy.jpg")
        .unwrap();
    assert_eq!(again.sha256, first.sha256);
    assert_eq!(again.file_name, "receipt-pharmacy.jpg");
    assert_eq!(stored_count(&f.vault), 1, "the same bytes are stored once");

    let back = f.outbox.attachment_bytes(&first.sha256).unwrap().unwrap();
    assert_eq!(back.as_slice(), photo.as_slice());

    let scan = f
        .outbox
        .add_attachment(b"%PDF-1.7 scan", MediaType::Pdf, "scan.pdf")
        .unwrap();
    assert_ne!(scan.sha256, first.sha256);
    assert_eq!(stored_count(&f.vault), 2);
    assert_eq!(
        f.outbox
            .attachment_bytes(&scan.sha256)
            .unwrap()
            .unwrap()
            .as_slice(),
        b"%PDF-1.7 scan"
    );
    assert_eq!(
        f.outbox
            .attachment_bytes(&ContentHash::of(b"never attached"))
            .unwrap(),
        None
    );
}

#[test]
fn unusable_files_are_refused_before_anything_is_stored() {
    let f = in_memory();
    let refused =
        |bytes: &[u8], name: &str| match f.outbox.add_attachment(bytes, MediaType::Png, name) {
            Err(OutboxError::Attachment(e)) => e,
            other => panic!("accepted: {other:?}"),
        };
    assert_eq!(refused(b"", "a.png"), AttachmentError::Empty);
    let huge = vec![0u8; usize::try_from(MAX_ATTACHMENT_BYTES).unwrap() + 1];
    assert_eq!(
        refused(&huge, "a.png"),
        AttachmentError::TooLarge {
            max_bytes: MAX_ATTACHMENT_BYTES
        }
    );
    assert_eq!(
        refused(b"png", "../a.png"),
        AttachmentError::InvalidFileName
    );
    assert_eq!(refused(b"png", ""), AttachmentError::InvalidFileName);
    assert_eq!(stored_count(&f.vault), 0);
}

/// Flips one byte in the sealed value of one stored request, straight in
/// sled's files (the vault must be closed).
fn damage_one_request(dir: &Path) {
    let db = sled::Config::new().path(dir.join("sled")).open().unwrap();
    let tree = db.open_tree("data:requests").unwrap();
    let (key, value) = tree.iter().next().unwrap().unwrap();
    let mut damaged = value.to_vec();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x01;
    tree.insert(key, damaged).unwrap();
    db.flush().unwrap();
}

#[test]
fn a_record_that_fails_to_decrypt_is_reported_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<RequestId> = {
        let f = on_disk(dir.path(), 2);
        (0..3)
            .map(|i| {
                let form = complete_leave(&f.outbox, &format!("Escuela {i}"));
                let id = f.outbox.save_draft(form).unwrap().id;
                f.outbox.submit(&id).unwrap();
                id
            })
            .collect()
    };
    damage_one_request(dir.path());

    let f = on_disk(dir.path(), 9);
    let listing = f.outbox.list().unwrap();
    assert_eq!(listing.requests.len(), 2, "the others stay readable");
    assert_eq!(listing.unreadable.len(), 1, "the damaged one is reported");
    assert!(matches!(listing.unreadable[0], VaultError::Corrupt { .. }));
    let pending = f.outbox.pending_uploads().unwrap();
    assert_eq!(pending.requests.len(), 2);
    assert_eq!(pending.unreadable.len(), 1, "it may be a pending upload");

    let readable: HashSet<_> = listing.requests.iter().map(|r| r.id.clone()).collect();
    let damaged = ids.iter().find(|id| !readable.contains(*id)).unwrap();
    assert!(matches!(
        f.outbox.get(damaged),
        Err(OutboxError::Vault(VaultError::Corrupt { .. }))
    ));
    // Not "not found", and not overwritten by any call.
    assert!(matches!(
        f.outbox.mark_sent(damaged, 1),
        Err(OutboxError::Vault(VaultError::Corrupt { .. }))
    ));
    assert!(matches!(
        f.outbox.recall(damaged),
        Err(OutboxError::Vault(VaultError::Corrupt { .. }))
    ));
    let form = complete_leave(&f.outbox, "Escuela 7");
    f.outbox.save_draft(form).unwrap();
    drop(f);

    let f = on_disk(dir.path(), 10);
    let listing = f.outbox.list().unwrap();
    assert_eq!(listing.requests.len(), 3);
    assert_eq!(listing.unreadable.len(), 1, "still on disk after reopening");
    for error in &listing.unreadable {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(damaged.as_str()), "no id in the report");
    }
}

#[test]
fn a_thousand_queued_requests_are_listed_in_order() {
    let f = in_memory();
    let form = complete_leave(&f.outbox, "Escuela 1-123");
    let created: Vec<RequestId> = (0..1000)
        .map(|_| f.outbox.save_draft(form.clone()).unwrap().id)
        .collect();
    assert_eq!(created.iter().collect::<HashSet<_>>().len(), 1000);
    // Submitted in the reverse order of creation, with the clock standing
    // still: the queue follows submission, not creation or timestamps.
    for id in created.iter().rev() {
        f.outbox.submit(id).unwrap();
    }
    let pending: Vec<RequestId> = pending_ids_and_revisions(&f.outbox)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let expected: Vec<RequestId> = created.iter().rev().cloned().collect();
    assert_eq!(pending, expected);
    let listed: Vec<RequestId> = f
        .outbox
        .list()
        .unwrap()
        .requests
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, created);
}

#[test]
fn concurrent_edits_and_uploads_never_mark_a_newer_revision_as_sent() {
    let f = in_memory();
    let id = f
        .outbox
        .save_draft(complete_leave(&f.outbox, "Escuela 0"))
        .unwrap()
        .id;
    f.outbox.submit(&id).unwrap();
    let forms: Vec<RequestForm> = (1..=40)
        .map(|i| complete_leave(&f.outbox, &format!("Escuela {i}")))
        .collect();
    let member_done = std::sync::atomic::AtomicBool::new(false);
    let applied = std::thread::scope(|scope| {
        scope.spawn(|| {
            // The member keeps taking the request back and editing it.
            for form in &forms {
                if f.outbox.recall(&id).is_err() {
                    break; // sent meanwhile: no longer the member's to edit
                }
                f.outbox.update_draft(&id, form.clone()).unwrap();
                f.outbox.submit(&id).unwrap();
            }
            member_done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let uploader = scope.spawn(|| {
            let mut applied = Vec::new();
            loop {
                let done = member_done.load(std::sync::atomic::Ordering::SeqCst);
                for request in f.outbox.pending_uploads().unwrap().requests {
                    std::thread::yield_now(); // the "upload"
                    if f.outbox.mark_sent(&request.id, request.revision).unwrap() == Update::Applied
                    {
                        applied.push(request.revision);
                    }
                }
                if done {
                    return applied;
                }
            }
        });
        uploader.join().unwrap()
    });
    let request = f.outbox.get(&id).unwrap().unwrap();
    assert_eq!(request.state, RequestState::Sent);
    assert_eq!(
        applied,
        vec![request.revision],
        "one acknowledgement took effect"
    );
    assert_eq!(request.backend_revision, Some(request.revision));
}
