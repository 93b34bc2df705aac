//! The phone's request sync against the reference insurer over HTTPS on
//! loopback (issue 5, item 3): requests filed offline reach the backend
//! exactly once with their multi-chunk files, the reviewer's return comes
//! back with its reasons, the resubmission and the approval go round; an
//! edit made while the previous revision is uploading is not marked sent;
//! a backend restart in the middle of a sync loses and duplicates nothing;
//! cancel stops a sync promptly (mid-upload and mid-backoff) and the next
//! sync resumes where it stopped.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use carnet_core::model::ReviewedRequest;
use carnet_core::requests::{
    AttachmentRef, MediaType, Outbox, RequestForm, RequestId, RequestState, ServerStatus,
};
use carnet_core::sync::{
    Backoff, CancelToken, SyncPhase, SyncPolicy, SyncProgress, SyncProgressReport,
};
use carnet_core::{Carnet, Error};
use carnet_e2e::enrolled_member;
use carnet_e2e::progress::{FirstChunk, sync_past_first_chunk};
use carnet_e2e::reviewer::{queue, review};
use carnet_e2e::sample::{claim, file, leave};
use carnet_insurer::{InsurerConfig, RunningInsurer};

/// Short waits, so that "offline" is decided in well under a second.
fn fast_policy() -> SyncPolicy {
    SyncPolicy {
        backoff: Backoff {
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
        },
        max_attempts: 4,
        ..SyncPolicy::default()
    }
}

/// Enough patience to ride out a backend restart (about 10 s of retries).
fn patient_policy() -> SyncPolicy {
    SyncPolicy {
        backoff: Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(500),
        },
        max_attempts: 40,
        ..SyncPolicy::default()
    }
}

/// Starts the insurer on `dir/insurer`, on `addr` if given (a restart
/// keeps the port, so the phone's URL stays valid).
async fn start(dir: &Path, addr: Option<SocketAddr>) -> RunningInsurer {
    let mut config = InsurerConfig::new(dir.join("insurer"));
    if let Some(addr) = addr {
        config.bind = addr;
    }
    carnet_insurer::start(config).await.unwrap()
}

/// A leave with a certificate of `size` bytes, saved and queued.
fn file_leave(
    carnet: &Carnet,
    size: usize,
    seed: u8,
    workplace: &str,
) -> (RequestId, AttachmentRef) {
    let certificate = carnet
        .add_attachment(&file(size, seed), MediaType::Jpeg, "certificado.jpg")
        .unwrap();
    let draft = carnet
        .save_request_draft(leave(&certificate, workplace))
        .unwrap();
    let queued = carnet.submit_request(&draft.id).unwrap();
    assert_eq!(queued.state, RequestState::Queued);
    (draft.id, certificate)
}

fn state_of(carnet: &Carnet, id: &RequestId) -> RequestState {
    carnet.request(id).unwrap().unwrap().state
}

/// The reviewer's record of `id`, which must be there exactly once.
async fn held(insurer: &RunningInsurer, id: &RequestId) -> ReviewedRequest {
    let all = queue(insurer).await;
    let matching: Vec<_> = all.iter().filter(|r| r.id == id.as_str()).collect();
    assert_eq!(matching.len(), 1, "request held {} times", matching.len());
    matching[0].clone()
}

#[tokio::test]
async fn filed_offline_synced_once_returned_resubmitted_and_approved() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = start(dir.path(), None).await;
    let addr = insurer.addr();
    let carnet = enrolled_member(&insurer, dir.path(), "ana.docente")
        .await
        .with_sync_policy(fast_policy());

    // The backend goes away; the member files a leave with a 700 KB
    // certificate (three chunks) and a claim with two receipts.
    insurer.shutdown().await;
    let (leave_id, certificate) = file_leave(&carnet, 700_000, 1, "Escuela 12");
    let receipts = [
        carnet
            .add_attachment(&file(300_000, 2), MediaType::Pdf, "factura.pdf")
            .unwrap(),
        carnet
            .add_attachment(&file(40_000, 3), MediaType::Png, "ticket.png")
            .unwrap(),
    ];
    let claim_id = carnet.save_request_draft(claim(&receipts)).unwrap().id;
    carnet.submit_request(&claim_id).unwrap();

    // Offline: a typed "will retry", and everything still queued.
    let started = Instant::now();
    match carnet.sync().await {
        Err(Error::SyncOffline { attempts: 4, .. }) => {}
        other => panic!("expected SyncOffline after 4 attempts, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(state_of(&carnet, &leave_id), RequestState::Queued);
    assert_eq!(state_of(&carnet, &claim_id), RequestState::Queued);

    // Back online. Two syncs at once (the scheduler and a pull-to-refresh):
    // the second waits for the first, so between them each request goes
    // up once and each byte once.
    let insurer = start(dir.path(), Some(addr)).await;
    let (first, second) = tokio::join!(carnet.sync(), carnet.sync());
    let (first, second) = (first.unwrap(), second.unwrap());
    let total_bytes: u64 = 700_000 + 300_000 + 40_000;
    assert_eq!(first.requests_uploaded + second.requests_uploaded, 2);
    assert_eq!(
        first.attachments_uploaded + second.attachments_uploaded,
        total_bytes
    );
    assert!(first.requests_failed.is_empty() && second.requests_failed.is_empty());
    assert_eq!(state_of(&carnet, &leave_id), RequestState::Received);
    assert_eq!(state_of(&carnet, &claim_id), RequestState::Received);
    for id in [&leave_id, &claim_id] {
        let record = held(&insurer, id).await;
        assert_eq!((record.revision, record.uploads), (1, 1));
        assert_eq!(record.status, ServerStatus::Received);
    }
    assert_eq!(
        held(&insurer, &leave_id).await.form,
        leave(&certificate, "Escuela 12")
    );

    // Nothing pending: a sync sends nothing.
    let idle = carnet.sync().await.unwrap();
    assert_eq!((idle.requests_uploaded, idle.attachments_uploaded), (0, 0));

    // The reviewer returns the leave with a reason; the phone shows it.
    review(&insurer, &leave_id, "under_review", &[]).await;
    review(
        &insurer,
        &leave_id,
        "return",
        &["El certificado no tiene firma"],
    )
    .await;
    let pulled = carnet.sync().await.unwrap();
    assert_eq!(
        pulled.status_changes_applied, 2,
        "under review, then returned"
    );
    assert_eq!(
        state_of(&carnet, &leave_id),
        RequestState::Returned {
            reasons: vec!["El certificado no tiene firma".into()]
        }
    );

    // The member corrects and resubmits: revision 2 goes up, the
    // certificate (already there) does not.
    carnet
        .update_request_draft(&leave_id, leave(&certificate, "Escuela 14"))
        .unwrap();
    let resubmitted = carnet.submit_request(&leave_id).unwrap();
    assert!(matches!(
        resubmitted.state,
        RequestState::Resubmitted { .. }
    ));
    let resent = carnet.sync().await.unwrap();
    assert_eq!(
        (resent.requests_uploaded, resent.attachments_uploaded),
        (1, 0)
    );
    let record = held(&insurer, &leave_id).await;
    assert_eq!((record.revision, record.uploads), (3, 2));
    assert_eq!(record.form, leave(&certificate, "Escuela 14"));

    // Approved at the insurer, approved on the phone.
    review(&insurer, &leave_id, "approve", &[]).await;
    let decided = carnet.sync().await.unwrap();
    assert_eq!(
        (
            decided.status_changes_pulled,
            decided.status_changes_applied
        ),
        (1, 1)
    );
    assert_eq!(state_of(&carnet, &leave_id), RequestState::Approved);
    assert_eq!(state_of(&carnet, &claim_id), RequestState::Received);
    // The cursor was stored after each page: nothing is read twice.
    let again = carnet.sync().await.unwrap();
    assert_eq!(
        (again.status_changes_pulled, again.status_changes_applied),
        (0, 0)
    );
    insurer.shutdown().await;
}

/// Edits the request through the outbox at the moment the insurer has
/// acknowledged revision 1 and before the engine records it: recall, edit,
/// submit again, as a member could on another thread.
struct EditDuringUpload {
    outbox: Outbox,
    id: RequestId,
    form: RequestForm,
    done: AtomicBool,
}

impl SyncProgress for EditDuringUpload {
    fn on_progress(&self, progress: SyncProgressReport) {
        if progress.phase == SyncPhase::Requests
            && progress.requests_done == 1
            && !self.done.swap(true, Ordering::SeqCst)
        {
            self.outbox.recall(&self.id).unwrap();
            let edited = self
                .outbox
                .update_draft(&self.id, self.form.clone())
                .unwrap();
            assert_eq!(edited.revision, 2);
            self.outbox.submit(&self.id).unwrap();
        }
    }
}

#[tokio::test]
async fn a_revision_edited_while_the_previous_one_uploads_is_not_marked_sent() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = start(dir.path(), None).await;
    let carnet = enrolled_member(&insurer, dir.path(), "bruno.suplente")
        .await
        .with_sync_policy(fast_policy());
    let (id, certificate) = file_leave(&carnet, 5_000, 4, "Escuela 3");

    let hook = Arc::new(EditDuringUpload {
        outbox: carnet.outbox().unwrap(),
        id: id.clone(),
        form: leave(&certificate, "Escuela 30"),
        done: AtomicBool::new(false),
    });
    let report = carnet.sync_with(Some(hook.clone()), None).await.unwrap();
    assert!(hook.done.load(Ordering::SeqCst), "the edit ran mid-sync");
    assert_eq!(report.requests_uploaded, 1);
    // The insurer has revision 1; the phone still has revision 2 to send,
    // and does not claim it was sent.
    assert_eq!(held(&insurer, &id).await.revision, 1);
    let request = carnet.request(&id).unwrap().unwrap();
    assert_eq!(
        (request.revision, request.state.clone()),
        (2, RequestState::Queued)
    );
    drop(hook);

    let report = carnet.sync().await.unwrap();
    assert_eq!(report.requests_uploaded, 1);
    let record = held(&insurer, &id).await;
    assert_eq!(record.revision, 2);
    assert_eq!(record.form, leave(&certificate, "Escuela 30"));
    let request = carnet.request(&id).unwrap().unwrap();
    assert_eq!(
        (request.revision, request.backend_revision, request.state),
        (2, Some(2), RequestState::Received)
    );
    insurer.shutdown().await;
}

#[tokio::test]
async fn a_backend_restart_mid_sync_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = start(dir.path(), None).await;
    let addr = insurer.addr();
    let carnet = Arc::new(
        enrolled_member(&insurer, dir.path(), "carla.viajera")
            .await
            .with_sync_policy(patient_policy()),
    );
    // 3 MB: twelve chunks, time enough to stop the backend halfway.
    let size = 3_000_000;
    let (leave_id, _) = file_leave(&carnet, size, 5, "Escuela 7");
    let receipt = carnet
        .add_attachment(&file(20_000, 6), MediaType::Jpeg, "ticket.jpg")
        .unwrap();
    let claim_id = carnet.save_request_draft(claim(&[receipt])).unwrap().id;
    carnet.submit_request(&claim_id).unwrap();

    let syncing = sync_past_first_chunk(&carnet).await;
    insurer.shutdown().await;
    let insurer = start(dir.path(), Some(addr)).await;

    // The sync rode out the restart, or gave up and the next one finishes.
    let interrupted = syncing.await.unwrap();
    let mut uploaded = 0;
    match interrupted {
        Ok(report) => uploaded += report.requests_uploaded,
        Err(Error::SyncOffline { .. }) => {}
        Err(other) => panic!("unexpected {other:?}"),
    }
    let report = carnet.sync().await.unwrap();
    uploaded += report.requests_uploaded;
    assert_eq!(uploaded, 2);
    assert!(report.requests_failed.is_empty());
    for id in [&leave_id, &claim_id] {
        assert_eq!(state_of(&carnet, id), RequestState::Received);
        let record = held(&insurer, id).await;
        assert_eq!((record.revision, record.uploads), (1, 1));
    }
    assert_eq!(queue(&insurer).await.len(), 2);
    insurer.shutdown().await;
}

#[tokio::test]
async fn cancel_mid_upload_stops_promptly_and_the_next_sync_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = start(dir.path(), None).await;
    let carnet = enrolled_member(&insurer, dir.path(), "dario.reintegro")
        .await
        .with_sync_policy(fast_policy());
    let size = 2_000_000;
    let (id, _) = file_leave(&carnet, size, 8, "Escuela 9");

    let cancel = CancelToken::new();
    let (hook, _first_chunk) = FirstChunk::new(Some(cancel.clone()));
    let outcome = carnet.sync_with(Some(hook.clone()), Some(cancel)).await;
    let stopped = Instant::now();
    assert!(matches!(outcome, Err(Error::SyncCancelled)), "{outcome:?}");
    let cancelled_at = hook.cancelled_at().unwrap();
    assert!(
        stopped - cancelled_at < Duration::from_secs(1),
        "{:?}",
        stopped - cancelled_at
    );
    assert_eq!(state_of(&carnet, &id), RequestState::Queued);
    assert!(
        queue(&insurer).await.is_empty(),
        "no request before its file"
    );

    // The next sync resumes the file where the insurer has it.
    let report = carnet.sync().await.unwrap();
    assert_eq!(report.requests_uploaded, 1);
    assert!(report.attachments_uploaded > 0);
    assert!(
        report.attachments_uploaded < size as u64,
        "resumed, not restarted: {} bytes sent again",
        report.attachments_uploaded
    );
    assert_eq!(state_of(&carnet, &id), RequestState::Received);
    assert_eq!(held(&insurer, &id).await.uploads, 1);
    insurer.shutdown().await;
}

#[tokio::test]
async fn cancel_stops_a_sync_sleeping_in_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = start(dir.path(), None).await;
    let carnet = enrolled_member(&insurer, dir.path(), "elena.remota")
        .await
        .with_sync_policy(SyncPolicy {
            backoff: Backoff {
                base: Duration::from_secs(30),
                cap: Duration::from_secs(30),
            },
            max_attempts: 6,
            ..SyncPolicy::default()
        });
    let (id, _) = file_leave(&carnet, 1_000, 9, "Escuela 1");
    insurer.shutdown().await;

    let cancel = CancelToken::new();
    let started = Instant::now();
    let (outcome, ()) = tokio::join!(carnet.sync_with(None, Some(cancel.clone())), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    assert!(matches!(outcome, Err(Error::SyncCancelled)), "{outcome:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(state_of(&carnet, &id), RequestState::Queued);
}

#[tokio::test]
async fn a_request_the_insurer_refuses_is_reported_and_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = start(dir.path(), None).await;
    // Two phones with the same seeded random source make the same request
    // ids: the second phone's first request collides (409 id_taken), a
    // permanent refusal of that request alone.
    let seed = || Arc::new(carnet_core::rng::SeededRng::new([42; 32]));
    let first = enrolled_member(&insurer, dir.path(), "fabio.primero")
        .await
        .with_sync_policy(fast_policy())
        .with_rng(seed());
    let second = enrolled_member(&insurer, dir.path(), "gala.segunda")
        .await
        .with_sync_policy(fast_policy())
        .with_rng(seed());
    let (taken, _) = file_leave(&first, 2_000, 10, "Escuela 2");
    first.sync().await.unwrap();

    let (colliding, _) = file_leave(&second, 2_000, 11, "Escuela 4");
    let (fine, _) = file_leave(&second, 3_000, 12, "Escuela 5");
    assert_eq!(colliding, taken);
    assert_ne!(fine, taken);
    let report = second.sync().await.unwrap();
    assert_eq!(report.requests_uploaded, 1);
    assert_eq!(report.requests_failed.len(), 1);
    let failed = &report.requests_failed[0];
    assert_eq!((&failed.id, failed.revision), (&colliding, 1));
    assert_eq!(failed.problem, carnet_core::sync::UploadProblem::IdTaken);
    // Nothing dropped: the refused one stays queued, the other went.
    assert_eq!(state_of(&second, &colliding), RequestState::Queued);
    assert_eq!(state_of(&second, &fine), RequestState::Received);
    assert_eq!(held(&insurer, &fine).await.uploads, 1);
    insurer.shutdown().await;
}
