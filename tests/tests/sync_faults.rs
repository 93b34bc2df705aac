//! Issue 5, "Faults that the tests must survive, with nothing lost and
//! nothing duplicated", end to end over HTTPS on loopback:
//! - a phone files requests of all four kinds (several with multi-chunk
//!   files) and syncs through the fault-injecting proxy on a hostile plan
//!   (drops before and after forwarding, 500/503/429 with `Retry-After`,
//!   truncated bodies, delays) until nothing is pending; the reviewer
//!   returns, approves and opens some, the member resubmits, edits a queued
//!   one, and the phone syncs again through the same faults;
//! - the client process is SIGKILLed at random moments of a sync, at least
//!   100 times, while the member files, recalls, edits and resubmits
//!   between runs and the reviewer acts;
//! - the backend is restarted (on another port, behind the same proxy) in
//!   the middle of a sync.
//!
//! Afterwards every request filed is on the backend exactly once (one
//! record per id, and one `received` change per (id, revision) in the
//! member's feed: a replay treated as new would add a second), at the
//! phone's latest revision and form, with every cited file complete at its
//! size (the backend checks the SHA-256 named in the path before it says
//! complete); the phone lists every request filed, at the revision the
//! member last saved, and shows the backend's status.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use carnet_core::api::{ApiClient, ApiConfig};
use carnet_core::clock::SystemClock;
use carnet_core::model::{LoginRequest, RequestStatusEntry, ReviewedRequest};
use carnet_core::requests::{
    AbsenteeismLeave, AttachmentRef, ClaimItem, ClaimKind, ContinuityCertificate, FamilyRelation,
    LeaveReason, MediaType, MemberRequest, ReimbursementClaim, RemoteCareReason,
    RemoteCareRegistration, RequestForm, RequestId, RequestState, ServerStatus,
};
use carnet_core::sync::{Backoff, SyncPolicy};
use carnet_core::{Carnet, CarnetConfig, Error, VaultKeySource};
use carnet_e2e::enrolled_member;
use carnet_e2e::fault_proxy::{FaultPlan, FaultProxy};
use carnet_e2e::progress::sync_past_first_chunk;
use carnet_e2e::reviewer::{queue, review};
use carnet_insurer::RunningInsurer;
use chrono::Datelike as _;
use tokio::io::AsyncBufReadExt as _;
use zeroize::Zeroizing;

/// What `enrolled_member` registers and locks the vault with.
const PASSPHRASE: &str = "test passphrase";
const PASSWORD: &str = "Receta2026";

// ---------------------------------------------------------------------------
// Helpers

/// Waits short enough for a run of seconds, yet honours the proxy's
/// `Retry-After: 1` (a floor the engine waits for when it is within the
/// cap, and gives up the sync on when it is not).
fn hostile_policy() -> SyncPolicy {
    SyncPolicy {
        backoff: Backoff {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(1000),
        },
        max_attempts: 6,
        ..SyncPolicy::default()
    }
}

/// splitmix64: a seeded source for the tests' own choices (which kind,
/// which size, when to kill), so a failing run can be repeated.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, per_cent: u64) -> bool {
        self.below(100) < per_cent
    }
}

/// Deterministic bytes that differ per seed and do not compress to nothing.
fn file(len: usize, seed: u64) -> Vec<u8> {
    let mut dice = Dice(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ len as u64);
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&dice.next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn date(text: &str) -> chrono::NaiveDate {
    text.parse().unwrap()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Leave,
    Continuity,
    RemoteCare,
    Claim,
}

const KINDS: [Kind; 4] = [Kind::Leave, Kind::Continuity, Kind::RemoteCare, Kind::Claim];

/// A valid form of `kind` citing `files`; `variant` changes its text, so
/// that an edit is a new revision.
fn form(kind: Kind, files: &[AttachmentRef], variant: u64) -> RequestForm {
    match kind {
        Kind::Leave => RequestForm::AbsenteeismLeave(AbsenteeismLeave {
            reason: Some(if variant.is_multiple_of(2) {
                LeaveReason::OwnIllness
            } else {
                LeaveReason::FamilyCare {
                    relation: FamilyRelation::Child,
                }
            }),
            start: Some(date("2026-02-23")),
            end: Some(date("2026-02-27")),
            workplace: format!("Escuela {variant}"),
            medical_certificate: files.first().cloned(),
        }),
        Kind::Continuity => RequestForm::ContinuityCertificate(ContinuityCertificate {
            school_year: Some(chrono::Utc::now().year()),
            school: format!("Instituto {variant}"),
            certificate: files.first().cloned(),
        }),
        Kind::RemoteCare => RequestForm::RemoteCare(RemoteCareRegistration {
            home_region: "Buenos Aires".to_owned(),
            destination_region: "Córdoba".to_owned(),
            facility: format!("Hospital {variant}"),
            start: Some(date("2026-03-02")),
            end: Some(date("2026-03-20")),
            reason: Some(RemoteCareReason::TemporaryStay),
            details: String::new(),
            attachments: files.to_vec(),
        }),
        Kind::Claim => RequestForm::ReimbursementClaim(ReimbursementClaim {
            claim_kind: Some(ClaimKind::Outpatient),
            items: vec![ClaimItem {
                description: format!("Consulta {variant}"),
                amount_cents: 450_000 + i64::try_from(variant).unwrap(),
                currency: "ARS".to_owned(),
            }],
            receipts: files.to_vec(),
        }),
    }
}

/// What the member did to one request, as the test remembers it: the
/// phone must show exactly this, and the backend must end up with it.
#[derive(Clone)]
struct Filed {
    id: RequestId,
    kind: Kind,
    files: Vec<AttachmentRef>,
    revision: u64,
    form: RequestForm,
}

impl Filed {
    fn from(kind: Kind, files: Vec<AttachmentRef>, request: &MemberRequest) -> Self {
        Self {
            id: request.id.clone(),
            kind,
            files,
            revision: request.revision,
            form: request.form.clone(),
        }
    }
}

/// Adds a file per entry of `sizes` (seeded by `seed`), then saves and
/// submits a request of `kind` citing them (plus `shared`, if given).
fn file_request(
    carnet: &Carnet,
    kind: Kind,
    sizes: &[usize],
    shared: Option<&AttachmentRef>,
    seed: u64,
) -> Filed {
    let mut files: Vec<AttachmentRef> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| {
            let media = [MediaType::Jpeg, MediaType::Pdf, MediaType::Png][i % 3];
            carnet
                .add_attachment(&file(size, seed * 16 + i as u64), media, "adjunto.jpg")
                .unwrap()
        })
        .collect();
    files.extend(shared.cloned());
    let draft = carnet.save_request_draft(form(kind, &files, seed)).unwrap();
    let queued = carnet.submit_request(&draft.id).unwrap();
    assert_eq!(queued.state, RequestState::Queued);
    Filed::from(kind, files, &queued)
}

/// Recalls a queued request, edits it (new text) and submits it again.
fn recall_edit_submit(carnet: &Carnet, filed: &mut Filed, variant: u64) {
    let recalled = carnet.recall_request(&filed.id).unwrap();
    assert_eq!(recalled.state, RequestState::Draft);
    edit_submit(carnet, filed, variant);
}

/// Edits a draft or returned request and submits it.
fn edit_submit(carnet: &Carnet, filed: &mut Filed, variant: u64) {
    let edited = carnet
        .update_request_draft(&filed.id, form(filed.kind, &filed.files, variant))
        .unwrap();
    assert!(edited.revision > filed.revision);
    let submitted = carnet.submit_request(&filed.id).unwrap();
    assert!(submitted.state.is_pending_upload(), "{:?}", submitted.state);
    *filed = Filed::from(filed.kind, filed.files.clone(), &submitted);
}

fn config(dir: &Path, username: &str, url: &str, ca_pem: &str) -> CarnetConfig {
    let mut api = ApiConfig::new(url);
    api.extra_root_ca_pem = Some(ca_pem.to_owned());
    api.use_public_roots = false;
    CarnetConfig {
        data_dir: dir.join(username),
        api,
    }
}

/// Opens the member's existing vault (as the app does after a restart)
/// with the phone talking to `url`.
async fn open_phone(dir: &Path, username: &str, url: &str, ca_pem: &str) -> Carnet {
    Carnet::open(
        config(dir, username, url, ca_pem),
        VaultKeySource::Passphrase(Zeroizing::new(PASSPHRASE.into())),
        None,
        Arc::new(SystemClock),
    )
    .await
    .expect("the vault opens")
}

/// Enrols `username` directly at the insurer, then reopens the phone
/// behind the proxy.
async fn member_behind(
    insurer: &RunningInsurer,
    proxy: &FaultProxy,
    dir: &Path,
    username: &str,
    policy: SyncPolicy,
) -> Carnet {
    drop(enrolled_member(insurer, dir, username).await);
    open_phone(dir, username, &proxy.url(), insurer.ca_cert_pem())
        .await
        .with_sync_policy(policy)
}

/// Syncs until a sync succeeds with nothing left to upload (each sync may
/// end with `SyncOffline` on a hostile line). Returns (syncs, offline).
async fn sync_until_settled(carnet: &Carnet, bound: usize) -> (usize, usize) {
    let mut offline = 0;
    for round in 1..=bound {
        match carnet.sync().await {
            Ok(report) => {
                assert!(
                    report.requests_failed.is_empty(),
                    "refused: {:?}",
                    report.requests_failed
                );
                let pending = carnet
                    .requests()
                    .unwrap()
                    .requests
                    .iter()
                    .filter(|r| r.state.is_pending_upload())
                    .count();
                if pending == 0 {
                    return (round, offline);
                }
            }
            Err(Error::SyncOffline { .. }) => offline += 1,
            Err(other) => panic!("sync {round}: unexpected {other:?}"),
        }
    }
    panic!("still not settled after {bound} syncs ({offline} offline)");
}

/// The member's own view of the backend, straight at the insurer (its own
/// login session), for what the admin API does not show: the feed of
/// status changes and the attachments' states.
struct MemberView {
    api: ApiClient,
    access: String,
}

impl MemberView {
    async fn login(insurer: &RunningInsurer, username: &str) -> Self {
        let api = ApiClient::new(&carnet_e2e::api_config(insurer)).unwrap();
        let tokens = api
            .login(&LoginRequest {
                username: username.to_owned(),
                password: PASSWORD.to_owned(),
            })
            .await
            .unwrap();
        Self {
            api,
            access: tokens.access_token,
        }
    }

    async fn feed(&self) -> Vec<RequestStatusEntry> {
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .api
                .request_changes(&self.access, after, 500)
                .await
                .unwrap();
            entries.extend(page.changes);
            if !page.more {
                return entries;
            }
            after = page.next_after;
        }
    }
}

/// The end state every fault test must reach. `filed` is what the member
/// did; returns the number of uploads the backend counted (replays
/// included) and of distinct revisions it received.
async fn check_nothing_lost_nothing_duplicated(
    insurer: &RunningInsurer,
    carnet: &Carnet,
    member: &MemberView,
    filed: &BTreeMap<String, Filed>,
) -> (u64, usize) {
    // The phone: every request filed is listed, at the revision and form
    // the member last saved, uploaded and acknowledged.
    let listing = carnet.requests().unwrap();
    assert!(listing.unreadable.is_empty(), "unreadable records");
    let phone: HashMap<String, MemberRequest> = listing
        .requests
        .into_iter()
        .map(|r| (r.id.as_str().to_owned(), r))
        .collect();
    assert_eq!(phone.len(), filed.len(), "requests on the phone");
    for (id, mine) in filed {
        let on_phone = phone.get(id).unwrap_or_else(|| panic!("lost on the phone"));
        assert_eq!(on_phone.revision, mine.revision, "phone revision");
        assert!(
            on_phone.form == mine.form,
            "the phone's form is the last saved"
        );
        assert_eq!(on_phone.backend_revision, Some(mine.revision));
        assert!(!on_phone.state.is_pending_upload(), "{:?}", on_phone.state);
    }

    // The backend: one record per request, nothing else, at the phone's
    // revision and form, in the status the phone shows.
    let held = queue(insurer).await;
    assert_eq!(held.len(), filed.len(), "requests held by the backend");
    let mut uploads = 0;
    for record in &held {
        let mine = filed
            .get(&record.id)
            .unwrap_or_else(|| panic!("the backend holds a request nobody filed"));
        assert_eq!(
            held.iter().filter(|r| r.id == record.id).count(),
            1,
            "held twice"
        );
        assert_eq!(record.revision, mine.revision, "backend revision");
        assert!(
            record.form == mine.form,
            "the backend's form is the last saved"
        );
        assert!(record.uploads >= 1);
        assert_eq!(phone[&record.id].state, record.status.to_state());
        uploads += record.uploads;
    }

    // Exactly once: each revision was received once, whatever the replays
    // (a replay treated as new content would record a second `received`).
    let feed = member.feed().await;
    let mut received: HashMap<(String, u64), usize> = HashMap::new();
    for entry in &feed {
        if entry.status == ServerStatus::Received {
            *received
                .entry((entry.id.clone(), entry.revision))
                .or_default() += 1;
        }
    }
    for ((id, revision), count) in &received {
        assert_eq!(
            *count, 1,
            "revision {revision} of a request received {count} times"
        );
        assert!(*revision <= filed[id].revision);
    }
    for (id, mine) in filed {
        assert_eq!(
            received.get(&(id.clone(), mine.revision)),
            Some(&1),
            "the latest revision was received once"
        );
    }

    // The files: every one cited is complete at its size. The backend
    // marks a file complete only once the SHA-256 of the bytes it holds is
    // the one in the path, so complete means byte-identical.
    let mut cited = HashMap::new();
    for mine in filed.values() {
        for (_, attachment) in mine.form.attachments() {
            cited.insert(attachment.sha256.clone(), attachment.size);
        }
    }
    for (hash, size) in &cited {
        let state = member
            .api
            .attachment_state(&member.access, hash)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("a cited file is not at the backend"));
        assert!(state.complete, "a cited file is incomplete");
        assert_eq!((state.size, state.received), (*size, *size));
    }
    (uploads, received.len())
}

// ---------------------------------------------------------------------------
// 1. Through the hostile proxy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_line_loses_and_duplicates_nothing() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (insurer, proxy) = carnet_e2e::insurer_behind_proxy(dir.path(), FaultPlan::none()).await;
    let username = "hana.hostil";
    let carnet = member_behind(&insurer, &proxy, dir.path(), username, hostile_policy()).await;
    let member = MemberView::login(&insurer, username).await;

    // 20 requests, five of each kind; every third with a 600 KB file
    // (three chunks), one receipt cited by two claims.
    let shared = carnet
        .add_attachment(&file(90_000, 999), MediaType::Jpeg, "ticket.jpg")
        .unwrap();
    let mut filed = BTreeMap::new();
    for i in 0..20u64 {
        let kind = KINDS[(i % 4) as usize];
        let sizes: Vec<usize> = match (kind, i % 3) {
            (Kind::RemoteCare, 1) => vec![],
            (_, 0) => vec![600_000],
            (Kind::Claim, _) => vec![30_000, 5_000],
            _ => vec![12_000],
        };
        let shares = kind == Kind::Claim && i % 8 == 3;
        let request = file_request(&carnet, kind, &sizes, shares.then_some(&shared), i);
        filed.insert(request.id.as_str().to_owned(), request);
    }

    proxy.set_plan(FaultPlan::hostile(0x5eed_0001));
    let (syncs, offline) = sync_until_settled(&carnet, 60).await;
    eprintln!("first upload: {syncs} syncs ({offline} ended offline)");
    check_nothing_lost_nothing_duplicated(&insurer, &carnet, &member, &filed).await;

    // The reviewer returns three, approves three, opens two; the phone
    // pulls them through the same faults.
    let ids: Vec<RequestId> = filed.values().map(|f| f.id.clone()).collect();
    for id in &ids[0..3] {
        review(&insurer, id, "return", &["Falta la firma del médico"]).await;
    }
    for id in &ids[3..6] {
        review(&insurer, id, "approve", &[]).await;
    }
    for id in &ids[6..8] {
        review(&insurer, id, "under_review", &[]).await;
    }
    let mut pulled = false;
    for _ in 0..60 {
        match carnet.sync().await {
            Ok(_) => {
                pulled = true;
                break;
            }
            Err(Error::SyncOffline { .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(pulled, "the statuses never came through");
    for id in &ids[0..3] {
        let state = carnet.request(id).unwrap().unwrap().state;
        assert!(matches!(state, RequestState::Returned { .. }), "{state:?}");
    }

    // The member answers the returns, files two more and recalls one of
    // them to edit it before it ever left; all of it goes up again.
    for id in &ids[0..3] {
        let mine = filed.get_mut(id.as_str()).unwrap();
        edit_submit(&carnet, mine, 100);
    }
    let fresh = file_request(&carnet, Kind::Claim, &[600_000], None, 200);
    filed.insert(fresh.id.as_str().to_owned(), fresh);
    let mut edited = file_request(&carnet, Kind::Leave, &[300_000], None, 201);
    recall_edit_submit(&carnet, &mut edited, 202);
    filed.insert(edited.id.as_str().to_owned(), edited);
    let (syncs, offline) = sync_until_settled(&carnet, 60).await;
    eprintln!("second upload: {syncs} syncs ({offline} ended offline)");
    let (uploads, revisions) =
        check_nothing_lost_nothing_duplicated(&insurer, &carnet, &member, &filed).await;

    let counts = proxy.counts();
    eprintln!(
        "{} requests through the proxy: {counts:?}; the backend counted {uploads} uploads \
         of {revisions} revisions; {:?}",
        counts.requests,
        started.elapsed()
    );
    carnet_e2e::assert_every_fault_happened(&counts);
    proxy.shutdown().await;
    insurer.shutdown().await;
}

// ---------------------------------------------------------------------------
// 3. The backend restarted mid-sync, behind the proxy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_restarted_on_another_port_behind_the_proxy_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (insurer, proxy) = carnet_e2e::insurer_behind_proxy(dir.path(), FaultPlan::none()).await;
    let username = "ines.reinicio";
    // Patient: about 10 s of retries, time for the backend to come back.
    let policy = SyncPolicy {
        backoff: Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(1000),
        },
        max_attempts: 40,
        ..SyncPolicy::default()
    };
    let carnet = Arc::new(member_behind(&insurer, &proxy, dir.path(), username, policy).await);
    let mut filed = BTreeMap::new();
    for (i, kind) in KINDS.into_iter().enumerate() {
        let sizes: &[usize] = if i == 0 { &[3_000_000] } else { &[40_000] };
        let request = file_request(&carnet, kind, sizes, None, 300 + i as u64);
        filed.insert(request.id.as_str().to_owned(), request);
    }
    // Some faults too: the restart is not the only trouble on the line.
    let mut plan = FaultPlan::hostile(0x5eed_0003);
    (plan.error_429, plan.error_503) = (0, 0);
    proxy.set_plan(plan);

    let syncing = sync_past_first_chunk(&carnet).await;
    insurer.shutdown().await;
    // Another port: the proxy (the phone's URL) now leads there.
    let insurer = carnet_e2e::start_insurer(dir.path()).await;
    proxy.set_upstream(&insurer.url());
    match syncing.await.unwrap() {
        Ok(_) | Err(Error::SyncOffline { .. }) => {}
        Err(other) => panic!("unexpected {other:?}"),
    }
    sync_until_settled(&carnet, 30).await;
    let member = MemberView::login(&insurer, username).await;
    check_nothing_lost_nothing_duplicated(&insurer, &carnet, &member, &filed).await;
    proxy.shutdown().await;
    insurer.shutdown().await;
}

// ---------------------------------------------------------------------------
// 2. SIGKILL of the client during sync

/// Kills that must land in the middle of a sync.
const MIN_KILLS: usize = 100;
/// Runs at most (some syncs finish before their kill).
const MAX_RUNS: usize = 200;

/// Where a kill landed, from the last line the child wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Landed {
    /// After `start`, before the first progress report (the outbox read).
    Start,
    /// Uploading files (some were still missing at the insurer).
    Attachments,
    /// Uploading requests (some were not yet acknowledged).
    Requests,
    /// Pulling statuses, or the token history and transactions after them.
    Statuses,
    /// The sync had returned: not a kill mid-sync.
    Finished,
}

fn landed(lines: &[String]) -> Landed {
    if lines.iter().any(|line| line.starts_with("done")) {
        return Landed::Finished;
    }
    let Some(last) = lines.iter().rev().find(|line| line.starts_with("progress")) else {
        return Landed::Start;
    };
    let fields: Vec<u64> = last
        .split(' ')
        .skip(2)
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    match last.split(' ').nth(1) {
        Some("attachments") => Landed::Attachments,
        Some("requests") => {
            // After the last request was answered: between phases.
            if fields.len() >= 4 && fields[2] >= fields[3] {
                Landed::Statuses
            } else {
                Landed::Requests
            }
        }
        _ => Landed::Statuses,
    }
}

/// When to kill a child: a random delay after the sync began, or after it
/// reported the start of a phase (so that the short phases get their share
/// of kills too, whatever the long file uploads take).
#[derive(Debug, Clone, Copy)]
enum Aim {
    /// `delay` after `start`.
    FromStart(Duration),
    /// `delay` after the first report of the phase named (`requests`,
    /// `statuses`); after `start` if the sync ends before it.
    Phase(&'static str, Duration),
}

/// One child sync, killed as `aim` says (unless it ended before). Returns
/// its lines and how long it took to start the sync (spawn and vault open).
async fn run_child(
    data_dir: &Path,
    url: &str,
    ca_file: &Path,
    aim: Aim,
) -> (Vec<String>, Duration) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sync-runner"))
        .arg(data_dir)
        .arg(url)
        .arg(ca_file)
        .arg(PASSPHRASE)
        .args(["10", "100", "6"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sync-runner");
    let stdout = child.stdout.take().unwrap();
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line_tx.send(line).is_err() {
                break;
            }
        }
    });
    let spawned = Instant::now();
    let mut seen = Vec::new();
    // Wait for `line` to begin with `prefix`; false if the child ended.
    async fn wait_for(
        line_rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
        seen: &mut Vec<String>,
        prefix: &str,
    ) -> bool {
        while let Some(line) = line_rx.recv().await {
            let found = line.starts_with(prefix);
            seen.push(line);
            if found {
                return true;
            }
        }
        false
    }
    let started = tokio::time::timeout(
        Duration::from_secs(30),
        wait_for(&mut line_rx, &mut seen, "start"),
    )
    .await;
    if !matches!(started, Ok(true)) {
        let _ = child.start_kill();
        panic!("sync-runner never started its sync: {seen:?}");
    }
    let opened = spawned.elapsed();
    let delay = match aim {
        Aim::FromStart(delay) => delay,
        Aim::Phase(phase, delay) => {
            let prefix = format!("progress {phase}");
            let _ = tokio::time::timeout(
                Duration::from_secs(30),
                wait_for(&mut line_rx, &mut seen, &prefix),
            )
            .await;
            delay
        }
    };
    tokio::time::sleep(delay).await;
    // SIGKILL; a child that already ended is only reaped.
    let _ = child.start_kill();
    child.wait().await.unwrap();
    while let Some(line) = line_rx.recv().await {
        seen.push(line);
    }
    if let Some(error) = seen.iter().find(|line| line.starts_with("done error")) {
        panic!("sync-runner failed: {error}");
    }
    (seen, opened)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_sync_loses_and_duplicates_nothing() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    // Every call delayed a little (and a few dropped before or after the
    // insurer acted): the windows between the phone's steps are wide
    // enough for random kills to land in each phase.
    let plan = FaultPlan {
        seed: 0x5eed_0002,
        drop_before: 20,
        drop_after: 40,
        delay: 940,
        max_delay: Duration::from_millis(25),
        ..FaultPlan::none()
    };
    let (insurer, proxy) = carnet_e2e::insurer_behind_proxy(dir.path(), plan).await;
    let ca_file = dir.path().join("insurer").join("ca.pem");
    assert!(ca_file.exists());
    let username = "julia.sigkill";
    let data_dir: PathBuf = dir.path().join(username);
    drop(enrolled_member(&insurer, dir.path(), username).await);
    let proxy_url = proxy.url();
    let phone = || open_phone(dir.path(), username, &proxy_url, insurer.ca_cert_pem());

    let mut dice = Dice(0x5eed_0002);
    let mut filed: BTreeMap<String, Filed> = BTreeMap::new();
    let mut landings: BTreeMap<Landed, usize> = BTreeMap::new();
    let (mut kills, mut runs, mut seed) = (0usize, 0usize, 1000u64);
    let (mut recalled, mut resubmitted, mut reviewed) = (0usize, 0usize, 0usize);
    let (mut open_total, mut parent_total) = (Duration::ZERO, Duration::ZERO);
    while kills < MIN_KILLS {
        assert!(
            runs < MAX_RUNS,
            "only {kills} kills in {runs} runs: {landings:?}"
        );
        // Between runs (no child holds the vault), every other time: the
        // member opens the app, which must still show everything filed,
        // files, recalls and edits, answers returns; the reviewer acts.
        if runs.is_multiple_of(2) {
            let parent = Instant::now();
            let carnet = phone().await;
            let listing = carnet.requests().unwrap();
            assert!(
                listing.unreadable.is_empty(),
                "run {runs}: unreadable records"
            );
            let on_phone: HashMap<String, MemberRequest> = listing
                .requests
                .into_iter()
                .map(|r| (r.id.as_str().to_owned(), r))
                .collect();
            assert_eq!(
                on_phone.len(),
                filed.len(),
                "run {runs}: requests on the phone"
            );
            for (id, mine) in &filed {
                let request = &on_phone[id];
                assert_eq!(request.revision, mine.revision, "run {runs}: revision");
                assert!(request.form == mine.form, "run {runs}: form");
            }
            // New requests, of each kind in turn, with files from 5 KB to
            // 600 KB (three chunks): enough that most syncs have files and
            // requests to upload when the kill comes.
            for _ in 0..3 {
                let kind = KINDS[(seed % 4) as usize];
                let size = [600_000, 300_000, 40_000, 5_000][dice.below(4) as usize];
                let sizes: &[usize] = if kind == Kind::RemoteCare && dice.chance(30) {
                    &[]
                } else {
                    std::slice::from_ref(&size)
                };
                let request = file_request(&carnet, kind, sizes, None, seed);
                seed += 1;
                filed.insert(request.id.as_str().to_owned(), request);
            }
            // A queued one taken back and edited (its previous revision may
            // be at the insurer already, its acknowledgement lost to a kill).
            let queued: Vec<String> = on_phone
                .values()
                .filter(|r| r.state == RequestState::Queued)
                .map(|r| r.id.as_str().to_owned())
                .collect();
            if !queued.is_empty() && dice.chance(60) {
                let id = &queued[dice.below(queued.len() as u64) as usize];
                recall_edit_submit(&carnet, filed.get_mut(id).unwrap(), seed);
                seed += 1;
                recalled += 1;
            }
            // Returned ones answered.
            for request in on_phone.values() {
                if matches!(request.state, RequestState::Returned { .. }) {
                    let mine = filed.get_mut(request.id.as_str()).unwrap();
                    edit_submit(&carnet, mine, seed);
                    seed += 1;
                    resubmitted += 1;
                }
            }
            // The reviewer acts on one the phone shows received at the
            // revision the insurer holds (not on one the member may still
            // recall: a review begun on an older revision refuses the
            // newer one, which ADR 0007 records as a known limit).
            let held = queue(&insurer).await;
            let candidates: Vec<&ReviewedRequest> = held
                .iter()
                .filter(|record| {
                    on_phone.get(&record.id).is_some_and(|request| {
                        matches!(
                            request.state,
                            RequestState::Received | RequestState::UnderReview
                        ) && request.revision == record.revision
                            && request.backend_revision == Some(record.revision)
                    }) && matches!(
                        record.status,
                        ServerStatus::Received | ServerStatus::UnderReview
                    )
                })
                .collect();
            if !candidates.is_empty() && dice.chance(70) {
                let record = candidates[dice.below(candidates.len() as u64) as usize];
                let id = RequestId::parse(&record.id).unwrap();
                match (record.status.clone(), dice.below(3)) {
                    (ServerStatus::Received, 0) => review(&insurer, &id, "under_review", &[]).await,
                    (_, 1) => review(&insurer, &id, "approve", &[]).await,
                    _ => review(&insurer, &id, "return", &["Ilegible"]).await,
                }
                reviewed += 1;
            }
            drop(carnet);
            parent_total += parent.elapsed();
        }

        // Kill at a random moment: in turn, 0–300 or 0–200 ms after the
        // sync began (after the member's turn: files, with every call
        // delayed, take most of that), or 0–80 ms into the requests, or
        // 0–60 ms into the statuses (what a killed run left over).
        let aim = match runs % 4 {
            0 => Aim::FromStart(Duration::from_millis(dice.below(300))),
            1 => Aim::Phase("requests", Duration::from_millis(dice.below(80))),
            2 => Aim::FromStart(Duration::from_millis(dice.below(200))),
            _ => Aim::Phase("statuses", Duration::from_millis(dice.below(60))),
        };
        let (lines, opened) = run_child(&data_dir, &proxy_url, &ca_file, aim).await;
        open_total += opened;
        let landing = landed(&lines);
        if std::env::var_os("SYNC_FAULTS_VERBOSE").is_some() {
            eprintln!(
                "run {runs}: {aim:?} -> {landing:?} after {:?}",
                lines.last()
            );
        }
        *landings.entry(landing).or_default() += 1;
        if landing != Landed::Finished {
            kills += 1;
        }
        runs += 1;
    }

    // A clean final sync on a quiet line, then everything is checked.
    proxy.set_plan(FaultPlan::none());
    let carnet = phone().await.with_sync_policy(hostile_policy());
    sync_until_settled(&carnet, 5).await;
    let member = MemberView::login(&insurer, username).await;
    let (uploads, revisions) =
        check_nothing_lost_nothing_duplicated(&insurer, &carnet, &member, &filed).await;
    eprintln!(
        "{runs} runs, {kills} SIGKILLs mid-sync; landed: {landings:?}; {} requests filed, \
         {recalled} recalled and edited, {resubmitted} resubmitted after a return, {reviewed} \
         reviewer actions; backend: {uploads} uploads of {revisions} revisions; proxy: {:?}; \
         child start (spawn + vault open) {:?} on average, parent's turns {:?} in all; {:?} in all",
        filed.len(),
        proxy.counts(),
        open_total / runs as u32,
        parent_total,
        started.elapsed()
    );
    for phase in [Landed::Attachments, Landed::Requests, Landed::Statuses] {
        assert!(
            landings.get(&phase).copied().unwrap_or(0) >= 5,
            "too few kills during {phase:?}: {landings:?}"
        );
    }
    assert!(recalled > 0 && resubmitted > 0, "edits were exercised");
    drop(carnet);
    proxy.shutdown().await;
    insurer.shutdown().await;
}
