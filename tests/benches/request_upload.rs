//! Issue 5's target: 1,000 queued requests uploaded over HTTPS on loopback
//! in at most 2 s.
//!
//! The real thing end to end: the reference insurer in this process on
//! 127.0.0.1 (fresh data directory, durable flushes), a registered and
//! enrolled member, and the phone's `Carnet::sync_with` (vault with a
//! passphrase, outbox, sync engine, rustls) uploading requests queued in
//! its vault. Each run queues N requests (the four kinds in turn), then
//! times one sync that uploads them all: the files they cite (already at
//! the insurer, so one GET each), every request (PUT, `mark_sent`, the
//! receipt's status), the status feed they produce (N changes, pages of
//! 100) and the token history and transactions. `--own-files` gives every
//! request its own 20 KB file instead, uploaded in the same sync.
//!
//! ```sh
//! cargo bench -p carnet-e2e --bench request_upload
//! cargo bench -p carnet-e2e --bench request_upload -- --requests 1000 --runs 3 --own-files
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use carnet_core::requests::{
    AbsenteeismLeave, AttachmentRef, ClaimItem, ClaimKind, ContinuityCertificate, LeaveReason,
    MediaType, ReimbursementClaim, RemoteCareReason, RemoteCareRegistration, RequestForm,
};
use carnet_core::sync::{SyncPhase, SyncProgress, SyncProgressReport};
use chrono::Datelike as _;
use parking_lot::Mutex;

const TARGET: Duration = Duration::from_secs(2);

fn date(text: &str) -> chrono::NaiveDate {
    text.parse().unwrap()
}

fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn form(i: u64, file: &AttachmentRef) -> RequestForm {
    match i % 4 {
        0 => RequestForm::AbsenteeismLeave(AbsenteeismLeave {
            reason: Some(LeaveReason::OwnIllness),
            start: Some(date("2026-02-23")),
            end: Some(date("2026-02-27")),
            workplace: format!("Escuela {i}"),
            medical_certificate: Some(file.clone()),
        }),
        1 => RequestForm::ContinuityCertificate(ContinuityCertificate {
            school_year: Some(chrono::Utc::now().year()),
            school: format!("Instituto {i}"),
            certificate: Some(file.clone()),
        }),
        2 => RequestForm::RemoteCare(RemoteCareRegistration {
            home_region: "Buenos Aires".to_owned(),
            destination_region: "Córdoba".to_owned(),
            facility: format!("Hospital {i}"),
            start: Some(date("2026-03-02")),
            end: Some(date("2026-03-20")),
            reason: Some(RemoteCareReason::TemporaryStay),
            details: String::new(),
            attachments: vec![file.clone()],
        }),
        _ => RequestForm::ReimbursementClaim(ReimbursementClaim {
            claim_kind: Some(ClaimKind::Outpatient),
            items: vec![ClaimItem {
                description: format!("Consulta {i}"),
                amount_cents: 450_000,
                currency: "ARS".to_owned(),
            }],
            receipts: vec![file.clone()],
        }),
    }
}

/// When each phase began.
#[derive(Default)]
struct Phases(Mutex<Vec<(SyncPhase, Instant)>>);

impl SyncProgress for Phases {
    fn on_progress(&self, progress: SyncProgressReport) {
        let mut seen = self.0.lock();
        if seen
            .last()
            .is_none_or(|(phase, _)| *phase != progress.phase)
        {
            seen.push((progress.phase, Instant::now()));
        }
    }
}

struct Args {
    requests: u64,
    runs: usize,
    own_files: bool,
}

fn args() -> Args {
    let mut parsed = Args {
        requests: 1000,
        runs: 3,
        own_files: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--requests" => parsed.requests = args.next().unwrap().parse().unwrap(),
            "--runs" => parsed.runs = args.next().unwrap().parse().unwrap(),
            "--own-files" => parsed.own_files = true,
            // cargo bench passes `--bench`; nothing else is expected.
            _ => {}
        }
    }
    parsed
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(args));
}

async fn run(args: Args) {
    let dir = tempfile::tempdir().unwrap();
    let insurer = carnet_e2e::start_insurer(dir.path()).await;
    let carnet = carnet_e2e::enrolled_member(&insurer, dir.path(), "bench.member").await;
    // The shared files go up once, with a first small sync (which also
    // opens the connection).
    let shared: Vec<AttachmentRef> = (0..4)
        .map(|i| {
            carnet
                .add_attachment(&bytes(20_000, i), MediaType::Jpeg, "certificado.jpg")
                .unwrap()
        })
        .collect();
    for (i, file) in shared.iter().enumerate() {
        let draft = carnet.save_request_draft(form(i as u64, file)).unwrap();
        carnet.submit_request(&draft.id).unwrap();
    }
    carnet.sync().await.unwrap();

    println!(
        "{} requests per run, {}; target {:?}",
        args.requests,
        if args.own_files {
            "each with its own 20 KB file"
        } else {
            "citing 4 files already at the insurer"
        },
        TARGET
    );
    let mut seed = 1000;
    for run in 1..=args.runs {
        let queued_at = Instant::now();
        for i in 0..args.requests {
            let file = if args.own_files {
                seed += 1;
                carnet
                    .add_attachment(&bytes(20_000, seed), MediaType::Jpeg, "certificado.jpg")
                    .unwrap()
            } else {
                shared[(i % 4) as usize].clone()
            };
            let draft = carnet.save_request_draft(form(i, &file)).unwrap();
            carnet.submit_request(&draft.id).unwrap();
        }
        let queueing = queued_at.elapsed();

        let phases = Arc::new(Phases::default());
        let started = Instant::now();
        let report = carnet
            .sync_with(Some(Arc::clone(&phases) as Arc<dyn SyncProgress>), None)
            .await
            .unwrap();
        let total = started.elapsed();
        assert_eq!(report.requests_uploaded as u64, args.requests);
        assert!(report.requests_failed.is_empty());

        let seen = phases.0.lock().clone();
        let at = |phase: SyncPhase| {
            seen.iter()
                .find(|(p, _)| *p == phase)
                .map(|(_, at)| *at)
                .unwrap()
        };
        let (files, requests, statuses) = (
            at(SyncPhase::Requests) - started,
            at(SyncPhase::Statuses) - at(SyncPhase::Requests),
            started + total - at(SyncPhase::Statuses),
        );
        println!(
            "run {run}: {:.3} s, {:.0} requests/s ({}); files {:.0} ms, requests {:.0} ms, \
             statuses and tokens {:.0} ms; {} status changes applied; queueing them took {:.2} s",
            total.as_secs_f64(),
            args.requests as f64 / total.as_secs_f64(),
            if total <= TARGET {
                "target met"
            } else {
                "target NOT met"
            },
            files.as_secs_f64() * 1e3,
            requests.as_secs_f64() * 1e3,
            statuses.as_secs_f64() * 1e3,
            report.status_changes_applied,
            queueing.as_secs_f64(),
        );
    }
    drop(carnet);
    insurer.shutdown().await;
}
