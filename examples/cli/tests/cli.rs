//! The example commands as a user runs them: the demo writes the QR, the
//! pharmacy verifier reads the PNG with a QR decoder and verifies it offline.

use std::path::Path;
use std::process::{Command, Output};

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

#[test]
fn the_demo_writes_a_qr_that_the_pharmacy_verifier_accepts() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let demo = run(env!("CARGO_BIN_EXE_demo"), &["--out", dir]);
    assert!(demo.status.success(), "{}", text(&demo));
    let printed = text(&demo);
    assert!(printed.contains("maria.demo"), "{printed}");
    assert!(printed.contains("Encrypted vault"), "{printed}");
    for file in ["qr.png", "qr.txt", "jwks.json", "insurer/ca.pem"] {
        assert!(out.path().join(file).exists(), "{file} missing");
    }
    assert!(Path::new(dir).join("member").is_dir());

    let image = format!("{dir}/qr.png");
    let jwks = format!("{dir}/jwks.json");
    let scanned = run(env!("CARGO_BIN_EXE_pharmacy"), &["scan", "--image", &image]);
    assert!(scanned.status.success(), "{}", text(&scanned));
    let qr_text = std::fs::read_to_string(out.path().join("qr.txt")).unwrap();
    assert_eq!(String::from_utf8_lossy(&scanned.stdout).trim(), qr_text);

    let accepted = run(
        env!("CARGO_BIN_EXE_pharmacy"),
        &["verify", "--image", &image, "--jwks", &jwks],
    );
    assert!(accepted.status.success(), "{}", text(&accepted));
    assert!(text(&accepted).contains("ACCEPTED"));

    // An identify code does not settle.
    let refused = run(
        env!("CARGO_BIN_EXE_pharmacy"),
        &[
            "verify",
            "--image",
            &image,
            "--jwks",
            &jwks,
            "--purpose",
            "settle",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("wrong_purpose"),
        "{}",
        text(&refused)
    );

    // Another insurer's keys: refused, with its reason.
    let other_jwks = out.path().join("other-jwks.json");
    let (other, _) = carnet_core::certificate::InsurerKey::generate().unwrap();
    let set = carnet_core::model::JwkSet {
        keys: vec![other.jwk()],
    };
    std::fs::write(&other_jwks, serde_json::to_string(&set).unwrap()).unwrap();
    let unknown = run(
        env!("CARGO_BIN_EXE_pharmacy"),
        &[
            "verify",
            "--image",
            &image,
            "--jwks",
            other_jwks.to_str().unwrap(),
        ],
    );
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("unknown_insurer"),
        "{}",
        text(&unknown)
    );
}

#[test]
fn an_image_without_a_qr_code_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let blank = dir.path().join("blank.png");
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 64, 64);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[255u8; 64 * 64]).unwrap();
    }
    std::fs::write(&blank, bytes).unwrap();
    let output = run(
        env!("CARGO_BIN_EXE_pharmacy"),
        &["scan", "--image", blank.to_str().unwrap()],
    );
    assert!(!output.status.success());
    assert!(
        text(&output).contains("no readable QR code"),
        "{}",
        text(&output)
    );
    let not_png = dir.path().join("note.png");
    std::fs::write(&not_png, b"hello").unwrap();
    let output = run(
        env!("CARGO_BIN_EXE_pharmacy"),
        &["scan", "--image", not_png.to_str().unwrap()],
    );
    assert!(!output.status.success());
    assert!(
        text(&output).contains("not a readable PNG"),
        "{}",
        text(&output)
    );
}
