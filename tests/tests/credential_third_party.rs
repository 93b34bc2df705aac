//! A Carnet QR code verified by third-party tools, as an integrator would:
//! the PNG and the insurer's JWKS go to a folder, and `scripts/verify_qr.py`
//! scans the PNG with zxing-cpp (and zbarimg when installed), decodes the
//! Base45 and checks both COSE_Sign1 signatures with pycose and cbor2,
//! using only the JWKS. It also makes sure a tampered copy fails.
//!
//! Needs python3 with the PyPI packages `zxing-cpp`, `pycose`, `cbor2`,
//! `base45` (pycose brings `cryptography`); `zbarimg` (Debian `zbar-tools`)
//! is used when present. The test fails, saying what to install, when they
//! are missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use carnet_core::certificate::{DEFAULT_ISSUER, InsurerKey, MemberCertificate};
use carnet_core::credential::{self, Purpose};
use carnet_core::device::{DeviceSigner, SoftwareDeviceKey};
use carnet_core::model::{Coverage, JwkSet};
use carnet_core::rng::SystemRng;
use chrono::{NaiveDate, Utc};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join("verify_qr.py")
}

fn python_tools_present() {
    let probe = Command::new("python3")
        .args(["-c", "import zxingcpp, pycose, cbor2, base45, cryptography"])
        .output();
    match probe {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "python3 lacks the third-party verifiers: pip install zxing-cpp pycose cbor2 base45 \
             (and apt-get install zbar-tools for zbarimg)\n{}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => panic!("python3 is needed to run scripts/verify_qr.py: {error}"),
    }
}

struct Scene {
    dir: tempfile::TempDir,
    member: MemberCertificate,
}

/// Writes `qr.png`, `qr.txt` and `jwks.json` for a fresh code of `purpose`.
fn scene(purpose: Purpose) -> Scene {
    scene_with(purpose, |_| {})
}

/// The same, with the certificate's content changed by `adjust`.
fn scene_with(purpose: Purpose, adjust: impl FnOnce(&mut MemberCertificate)) -> Scene {
    let (insurer, _) = InsurerKey::generate().unwrap();
    let device = SoftwareDeviceKey::generate().unwrap();
    let now = Utc::now();
    let member = MemberCertificate {
        issuer: DEFAULT_ISSUER.into(),
        // What the insurer issues: 8-byte ids, a plan code.
        member_id: "3f9a0c4e8b7d6a5f".into(),
        device_id: "0d1e2f3a4b5c6d7e".into(),
        device_public_key: device.public_key().unwrap(),
        coverage: Coverage {
            plan: "INT".into(),
            region: "AR-M".into(),
            valid_until: NaiveDate::from_ymd_opt(2030, 12, 31).unwrap(),
        },
        issued_at: now.timestamp() - 86_400,
        expires_at: now.timestamp() + 89 * 86_400,
    };
    let mut member = member;
    adjust(&mut member);
    let certificate = insurer.issue(&member).unwrap();
    let code = credential::present(purpose, now, &device, &certificate, &SystemRng::new()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("qr.png"), code.png().unwrap()).unwrap();
    std::fs::write(dir.path().join("qr.svg"), code.svg()).unwrap();
    std::fs::write(dir.path().join("qr.txt"), &code.text).unwrap();
    let jwks = JwkSet {
        keys: vec![insurer.jwk()],
    };
    std::fs::write(
        dir.path().join("jwks.json"),
        serde_json::to_string_pretty(&jwks).unwrap(),
    )
    .unwrap();
    Scene { dir, member }
}

fn run(scene: &Scene, purpose: &str) -> (bool, serde_json::Value) {
    let path = |name: &str| scene.dir.path().join(name);
    let output = Command::new("python3")
        .arg(script())
        .arg("--png")
        .arg(path("qr.png"))
        .arg("--jwks")
        .arg(path("jwks.json"))
        .arg("--expect-text")
        .arg(path("qr.txt"))
        .args(["--purpose", purpose])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        panic!(
            "verify_qr.py printed no report:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.success(), report)
}

#[test]
fn a_scanned_code_verifies_with_zxing_zbar_pycose_and_the_jwks_alone() {
    python_tools_present();
    let scene = scene(Purpose::Identify);
    let (ok, report) = run(&scene, "identify");
    assert!(ok, "{report:#}");
    let verified = &report["verified"];
    assert_eq!(verified["member_id"], scene.member.member_id.as_str());
    assert_eq!(verified["device_id"], scene.member.device_id.as_str());
    assert_eq!(verified["purpose"], "identify");
    assert_eq!(verified["coverage"]["plan"], "INT");
    // The certificate omits its iat (a 90-day certificate): exp - 90 days.
    assert_eq!(verified["certificate_iat"], scene.member.issued_at);
    assert_eq!(report["tampered_copy"], "refused");
    assert_eq!(report["scanners"]["zxing-cpp"], "read the code");
    if which_zbarimg() {
        assert_eq!(report["scanners"]["zbarimg"], "read the code", "{report:#}");
    }
}

#[test]
fn a_certificate_with_long_ids_text_ids_and_its_issue_time_verifies_too() {
    python_tools_present();
    // 16-byte ids (what the insurer made before), a text id, and a lifetime
    // other than 90 days, so that the certificate carries its iat.
    let scene = scene_with(Purpose::Settle, |member| {
        member.member_id = "3f9a0c4e8b7d6a5f4e3d2c1b0a998877".into();
        member.device_id = "device-1".into();
        member.coverage.plan = "Integral".into();
        member.issued_at -= 86_400;
    });
    let (ok, report) = run(&scene, "settle");
    assert!(ok, "{report:#}");
    let verified = &report["verified"];
    assert_eq!(verified["member_id"], scene.member.member_id.as_str());
    assert_eq!(verified["device_id"], "device-1");
    assert_eq!(verified["certificate_iat"], scene.member.issued_at);
    assert_eq!(verified["coverage"]["plan"], "Integral");
    assert_eq!(report["tampered_copy"], "refused");
}

#[test]
fn the_third_party_check_refuses_an_identify_code_for_settlement() {
    python_tools_present();
    let scene = scene(Purpose::Identify);
    let (ok, report) = run(&scene, "settle");
    assert!(!ok, "{report:#}");
    assert!(
        report["error"].as_str().unwrap().contains("not to settle"),
        "{report:#}"
    );
}

fn which_zbarimg() -> bool {
    Command::new("zbarimg")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}
