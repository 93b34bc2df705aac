//! The partner commands against a live insurer over HTTPS: `pharmacy
//! identify` then `pharmacy settle` read the member's codes from PNGs with
//! a real QR decoder and run the two scans; `provider redeem` redeems a
//! consult token once, typed in Persian digits with a dash.

use std::path::Path;
use std::process::{Command, Output};

use carnet_core::credential::Purpose;

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary).args(args).output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn write_key(dir: &Path, name: &str, key: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, key).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The code the member shows, as a PNG the pharmacy's camera took.
fn code_image(carnet: &carnet_core::Carnet, purpose: Purpose, path: &Path) -> String {
    carnet.unlock_credential("480213").unwrap();
    let presentation = carnet.current_qr(purpose).unwrap();
    std::fs::write(path, presentation.png().unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pharmacy_identifies_then_settles_and_the_provider_redeems_once() {
    let dir = tempfile::tempdir().unwrap();
    let insurer = carnet_e2e::start_insurer(dir.path()).await;
    let member = carnet_e2e::enrolled_member(&insurer, dir.path(), "rosa.cli").await;
    let url = insurer.url();
    let ca = insurer.ca_cert_path().to_str().unwrap().to_owned();
    let pharmacy_key = write_key(dir.path(), "pharmacy.key", &insurer.pharmacy_key());
    let provider_key = write_key(dir.path(), "provider.key", &insurer.provider_key());
    let pharmacy = env!("CARGO_BIN_EXE_pharmacy");
    let partner = ["--url", &url, "--ca", &ca, "--key-file", &pharmacy_key];

    let identify_png = code_image(&member, Purpose::Identify, &dir.path().join("id.png"));
    let identify = tokio::task::block_in_place(|| {
        run(
            pharmacy,
            &[&["identify"][..], &partner, &["--image", &identify_png]].concat(),
        )
    });
    assert!(identify.status.success(), "{}", text(&identify));
    let printed = text(&identify);
    assert!(printed.contains("ELIGIBLE (Integral AR-M"), "{printed}");
    let settlement = printed
        .lines()
        .find_map(|line| line.trim().strip_prefix("settlement: "))
        .unwrap()
        .to_owned();

    // The identify code cannot settle: the clerk is told why.
    let wrong = tokio::task::block_in_place(|| {
        run(
            pharmacy,
            &[
                &["settle"][..],
                &partner,
                &["--image", &identify_png, "--settlement", &settlement],
                &["--item", "Amoxicilina 500 mg:2:1500"],
            ]
            .concat(),
        )
    });
    assert!(!wrong.status.success());
    assert!(text(&wrong).contains("qr_rejected"), "{}", text(&wrong));

    let settle_png = code_image(&member, Purpose::Settle, &dir.path().join("pay.png"));
    let settle = tokio::task::block_in_place(|| {
        run(
            pharmacy,
            &[
                &["settle"][..],
                &partner,
                &["--image", &settle_png, "--settlement", &settlement],
                &["--item", "Amoxicilina 500 mg:2:1500"],
                &["--item", "Ibuprofeno: 400 mg:1:725"],
            ]
            .concat(),
        )
    });
    assert!(settle.status.success(), "{}", text(&settle));
    assert!(text(&settle).contains("SETTLED"), "{}", text(&settle));
    assert!(text(&settle).contains("22.25 ARS"), "{}", text(&settle));

    // The phone sees it after its sync: amount and place.
    member.sync().await.unwrap();
    let transactions = member.transactions().unwrap();
    assert_eq!(transactions.len(), 1);
    assert_eq!(transactions[0].amount_cents, 2225);
    assert_eq!(transactions[0].items.len(), 2);
    assert_eq!(transactions[0].items[1].description, "Ibuprofeno: 400 mg");

    // A consult token, read out in Persian digits with a dash.
    let token = member
        .request_token(Some("Consulta clínica"))
        .await
        .unwrap();
    let persian: String = token
        .code
        .chars()
        .enumerate()
        .flat_map(|(i, digit)| {
            let persian = char::from_u32(0x06F0 + digit.to_digit(10).unwrap()).unwrap();
            if i == 3 {
                vec!['-', persian]
            } else {
                vec![persian]
            }
        })
        .collect();
    let provider = env!("CARGO_BIN_EXE_provider");
    let member_id = member.enrolment().unwrap().certificate.member_id;
    let redeem = |code: &str| {
        tokio::task::block_in_place(|| {
            run(
                provider,
                &[
                    "--url",
                    &url,
                    "--ca",
                    &ca,
                    "--key-file",
                    &provider_key,
                    "redeem",
                    "--member",
                    &member_id,
                    "--code",
                    code,
                    "--practice",
                    "Consulta clínica",
                ],
            )
        })
    };
    let first = redeem(&persian);
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("ACCEPTED: online token"),
        "{}",
        text(&first)
    );
    let again = redeem(&token.code);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("REFUSED (token_used)"),
        "{}",
        text(&again)
    );

    insurer.shutdown().await;
}
