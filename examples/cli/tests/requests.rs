//! The request commands of `carnet` as a member runs them, against a live
//! insurer over HTTPS: a leave and a claim filed on the phone wait in the
//! outbox, `carnet sync` sends both, the reviewer's return shows with its
//! reason, the resubmission with a new certificate goes up as revision 2
//! and the approval comes back. Invalid input is refused by field name,
//! exits 1 and leaves nothing queued; with the insurer gone, `sync` says the
//! requests are saved for the next sync.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const PASSPHRASE: &str = "test passphrase";

/// The member's `carnet`, on the vault `enrolled_member` made.
struct Member {
    vault: PathBuf,
    server: String,
    ca: Option<PathBuf>,
}

impl Member {
    fn run(&self, args: &[&str]) -> Output {
        // The binary is synchronous; the insurer runs on this test's
        // runtime, which must keep serving meanwhile.
        tokio::task::block_in_place(|| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_carnet"));
            command
                .arg("--data-dir")
                .arg(&self.vault)
                .args(["--server", &self.server]);
            if let Some(ca) = &self.ca {
                command.arg("--ca").arg(ca);
            }
            command
                .args(args)
                .env("CARNET_PASSPHRASE", PASSPHRASE)
                .output()
                .unwrap()
        })
    }

    /// Runs `args`, which must succeed, and returns standard output.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(output.status.success(), "{args:?}: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The id `carnet leave new` and friends print: the last word of the first
/// line.
fn filed_id(stdout: &str) -> String {
    let id = stdout
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().last())
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32, "{stdout}");
    id
}

/// The row of `carnet requests` for `id`.
fn row<'a>(table: &'a str, id: &str) -> &'a str {
    table
        .lines()
        .find(|line| line.starts_with(&id[..8]))
        .unwrap_or_else(|| panic!("{id} not listed:\n{table}"))
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn review(insurer: &carnet_insurer::RunningInsurer, id: &str, body: Value) {
    let response = carnet_e2e::https_client(insurer.ca_cert_pem())
        .post(format!("{}/v1/admin/requests/{id}/review", insurer.url()))
        .bearer_auth(insurer.admin_key())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_filed_on_the_phone_sent_by_sync_returned_and_resubmitted() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = carnet_e2e::start_insurer(dir.path()).await;
    // Enrolled through the core, then closed: the CLI opens the same vault.
    drop(carnet_e2e::enrolled_member(&insurer, dir.path(), "lucia.cli").await);
    let member = Member {
        vault: dir.path().join("lucia.cli"),
        server: insurer.url(),
        ca: Some(insurer.ca_cert_path().to_path_buf()),
    };
    let certificate = write(
        dir.path(),
        "certificado.pdf",
        b"%PDF-1.4\n% a scan\n%%EOF\n",
    );
    let receipt = write(dir.path(), "ticket.jpg", &[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);

    let filed = member.ok(&[
        "leave",
        "new",
        "--reason",
        "family-care",
        "--relation",
        "child",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-06",
        "--workplace",
        "Escuela 12",
        "--certificate",
        &certificate,
    ]);
    assert!(
        filed.contains("saved on this phone; it will be sent at the next sync"),
        "{filed}"
    );
    let leave = filed_id(&filed);
    let claim = filed_id(&member.ok(&[
        "claim",
        "new",
        "--kind",
        "outpatient",
        "--item",
        "Consulta cardiología:1500000",
        "--item",
        "Ibuprofeno: 400 mg:725",
        "--currency",
        "ARS",
        "--receipt",
        &receipt,
    ]));

    let listed = member.ok(&["requests"]);
    for (id, kind) in [
        (&leave, "absenteeism_leave"),
        (&claim, "reimbursement_claim"),
    ] {
        let line = row(&listed, id);
        assert!(line.contains(kind) && line.contains("queued"), "{line}");
        assert!(line.contains("yes"), "waiting to send: {line}");
    }

    // Invalid input: every problem by field, exit 1, nothing saved. The
    // missing file's name is not repeated (it may name a diagnosis).
    let refused = member.run(&[
        "leave",
        "new",
        "--reason",
        "own-illness",
        "--from",
        "2026-03-06",
        "--to",
        "2026-03-02",
        "--workplace",
        "Escuela 12",
        "--certificate",
        "certificado-oncologia.pdf",
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let printed = String::from_utf8_lossy(&refused.stderr);
    assert!(
        printed.contains("  end: the end date is before the start date"),
        "{printed}"
    );
    assert!(
        printed.contains("  medical_certificate: --certificate: the file cannot be read"),
        "{printed}"
    );
    assert!(!printed.contains("oncologia"), "{printed}");
    let missing = member.run(&[
        "claim",
        "new",
        "--kind",
        "inpatient",
        "--item",
        "Internación:abc",
    ]);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    let printed = String::from_utf8_lossy(&missing.stderr);
    assert!(printed.contains("items[0].amount_cents"), "{printed}");
    assert!(
        printed.contains("receipts: receipts is required"),
        "{printed}"
    );
    assert_eq!(
        member.ok(&["requests"]).lines().count(),
        3,
        "a header and the two requests only"
    );

    // The sync sends both, with a plain progress line per step when
    // standard error is not a terminal.
    let synced = member.run(&["sync"]);
    assert!(synced.status.success(), "{}", text(&synced));
    let stdout = String::from_utf8_lossy(&synced.stdout);
    assert!(stdout.contains("synced: 2 request(s) sent"), "{stdout}");
    let stderr = String::from_utf8_lossy(&synced.stderr);
    assert!(stderr.contains("sync: files bytes"), "{stderr}");
    assert!(stderr.contains("requests 2/2"), "{stderr}");
    let listed = member.ok(&["requests"]);
    for id in [&leave, &claim] {
        let line = row(&listed, id);
        assert!(line.contains("received") && !line.contains("yes"), "{line}");
    }

    // The reviewer returns the leave; the member sees why.
    review(
        &insurer,
        &leave,
        json!({"action": "return", "reasons": ["El certificado no tiene firma"]}),
    )
    .await;
    member.ok(&["sync"]);
    let line = member.ok(&["requests"]);
    assert!(
        row(&line, &leave).contains("returned")
            && row(&line, &leave).contains("El certificado no tiene firma"),
        "{line}"
    );
    let shown = member.ok(&["request", "show", &leave[..8]]);
    assert!(
        shown.contains("reason:        El certificado no tiene firma"),
        "{shown}"
    );
    assert!(shown.contains("care of a family member (child)"), "{shown}");

    // Resubmitted with the signed certificate: the edit and the answer to
    // the return are a revision each (ADR 0005), and only it goes up.
    let signed = write(
        dir.path(),
        "certificado-firmado.png",
        b"\x89PNG signed scan",
    );
    let resubmitted = member.ok(&["request", "resubmit", &leave[..8], "--certificate", &signed]);
    assert!(resubmitted.contains("resubmitted"), "{resubmitted}");
    assert!(resubmitted.contains("revision 3"), "{resubmitted}");
    let synced = member.ok(&["sync"]);
    assert!(synced.contains("synced: 1 request(s) sent"), "{synced}");
    review(&insurer, &leave, json!({"action": "approve"})).await;
    member.ok(&["sync"]);
    assert!(row(&member.ok(&["requests"]), &leave).contains("approved"));

    // The insurer goes away: a new claim is still filed, and the sync says
    // it is kept for the next one.
    insurer.shutdown().await;
    member.ok(&[
        "claim",
        "new",
        "--kind",
        "global",
        "--item",
        "Paquete:990000",
        "--receipt",
        &receipt,
    ]);
    let offline = member.run(&["sync"]);
    assert_eq!(offline.status.code(), Some(1), "{}", text(&offline));
    assert!(
        text(&offline)
            .contains("1 request(s) saved on this phone; they will be sent at the next sync"),
        "{}",
        text(&offline)
    );
}

#[test]
fn drafts_are_completed_submitted_and_recalled_without_network() {
    // No insurer at all: filing and the outbox commands are local.
    let dir = tempfile::tempdir().unwrap();
    let member = Member {
        vault: dir.path().join("phone"),
        server: "https://127.0.0.1:9".to_owned(),
        ca: None,
    };
    let drafted = member.ok(&[
        "remote-care",
        "new",
        "--home-region",
        "Buenos Aires",
        "--destination-region",
        "Córdoba",
        "--facility",
        "Hospital de Clínicas",
        "--from",
        "2026-04-01",
        "--to",
        "2026-04-30",
        "--draft",
    ]);
    assert!(
        drafted.contains("saved on this phone as a draft"),
        "{drafted}"
    );
    let id = filed_id(&drafted);

    // Submitting it incomplete: saved, not queued, the field named.
    let incomplete = member.run(&["request", "submit", &id[..6]]);
    assert_eq!(incomplete.status.code(), Some(1), "{}", text(&incomplete));
    assert!(
        text(&incomplete).contains("  reason: reason is required"),
        "{}",
        text(&incomplete)
    );
    assert!(row(&member.ok(&["requests"]), &id).contains("draft"));

    // A resubmit adds the referral letter but cannot supply the reason.
    let letter = write(dir.path(), "derivacion.webp", b"RIFF....WEBP");
    let still = member.run(&["request", "resubmit", &id, "--file", &letter]);
    assert_eq!(still.status.code(), Some(1), "{}", text(&still));
    let shown = member.ok(&["request", "show", &id]);
    assert!(
        shown.contains("file attachments[0]:  derivacion.webp  image/webp"),
        "{shown}"
    );

    // Unknown and malformed ids are told apart from real ones.
    let unknown = member.run(&["request", "show", "ffffffff"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown).contains("no request on this phone"),
        "{}",
        text(&unknown)
    );

    // A complete claim is queued, then recalled to a draft.
    let receipt = write(dir.path(), "factura.heic", b"heic bytes");
    let claim = filed_id(&member.ok(&[
        "claim",
        "new",
        "--kind",
        "outpatient",
        "--item",
        "Kinesiología:800000",
        "--receipt",
        &receipt,
    ]));
    assert!(row(&member.ok(&["requests"]), &claim).contains("yes"));
    let recalled = member.ok(&["request", "recall", &claim[..8]]);
    assert!(recalled.contains("draft"), "{recalled}");
    let line = member.ok(&["requests"]);
    assert!(
        row(&line, &claim).contains("draft") && !row(&line, &claim).contains("yes"),
        "{line}"
    );
    let again = member.ok(&["request", "submit", &claim[..8]]);
    assert!(again.contains("queued"), "{again}");

    // A file of an unsupported kind is refused by field.
    let notes = write(dir.path(), "notas.txt", b"text");
    let refused = member.run(&[
        "claim",
        "new",
        "--kind",
        "outpatient",
        "--item",
        "Consulta:100",
        "--receipt",
        &notes,
    ]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused).contains("receipts[0]: --receipt: the file must be a JPEG"),
        "{}",
        text(&refused)
    );
}
