//! End to end: two simulated cameras are commissioned at two sites; `temper handover` writes the report of one
//! site, and `temper label` writes one device's credential label. Everything the report claims is compared with
//! the inventory read independently through the library, and every credential is searched for in the report.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use temper_core::inventory::audit::AuditAction;
use temper_core::inventory::{CertState, Inventory};
use temper_e2e::*;

/// `YYYY-MM-DD` (UTC) of a Unix time, computed here without Temper's code (civil-from-days).
fn date(unix: u64) -> String {
    let days = (unix / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn commission_at(inventory: &Path, port: &str, site: &str) {
    ensure_inventory(inventory);
    let output = temper(inventory)
        .args(["--json", "commission", "--port", port, "--site", site])
        .output()
        .expect("run temper");
    assert!(
        output.status.success(),
        "commission should succeed: {}",
        describe(&output)
    );
}

/// Every secret the inventory holds for `serial`, current and pending.
fn secrets_of(inventory: &Path, serial: &str) -> Vec<String> {
    let inv = open_inventory(inventory);
    let mut all = Vec::new();
    for c in inv.credentials(serial).expect("credentials") {
        all.extend(
            c.current
                .iter()
                .chain(c.pending.iter())
                .map(|s| s.expose().to_string()),
        );
    }
    assert!(!all.is_empty(), "a commissioned device has credentials");
    all
}

/// Guards issue 6's handover promise: the report of site North lists its device's identity, every outside
/// check with its result and guideline items, its certificate with its expiry date, and no credential of any
/// device, loads nothing from outside, and leaves site South out; the label holds the password, is owner-only,
/// and its reveal is on the audit trail.
#[test]
fn handover_report_of_one_site_and_an_audited_label() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let north = Sim::start(&dir.path().join("north"), &test_ip(173));
    let south = Sim::start(&dir.path().join("south"), &test_ip(174));
    commission_at(&inventory, &north.port, "Site North");
    commission_at(&inventory, &south.port, "Site South");

    let out_dir = dir.path().join("reports");
    let output = temper(&inventory)
        .args(["handover", "--site", "Site North", "--out-dir"])
        .arg(&out_dir)
        .output()
        .expect("run temper");
    assert!(
        output.status.success(),
        "handover should succeed: {}",
        describe(&output)
    );
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let name = Path::new(&path)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(
        name.starts_with("handover-site-north-") && name.ends_with(".html"),
        "file name {name}"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644,
        "a handover report is meant to be shared"
    );
    let html = std::fs::read_to_string(&path).unwrap();

    let inv = open_inventory(&inventory);
    let device = inv
        .device(&north.serial)
        .unwrap()
        .expect("north is recorded");
    for fact in [&device.serial, &device.model, &device.firmware] {
        assert!(
            html.contains(fact.as_str()),
            "the report names the device's {fact:?}"
        );
    }
    let checks = inv.checks(&north.serial).unwrap();
    assert!(checks.len() > 5, "a commissioning records many checks");
    for (_, check) in &checks {
        assert!(
            html.contains(&format!("<code class=\"id\">{}</code>", check.id)),
            "check {} is listed",
            check.id
        );
        for item in &check.guideline {
            assert!(
                html.contains(&format!("<li>{item}</li>")),
                "guideline item {item:?} is listed"
            );
        }
    }
    assert!(
        checks.iter().all(|(_, c)| c.passed),
        "the simulated camera passes every check"
    );
    assert!(
        html.contains("✓ pass") && !html.contains("✗ FAIL"),
        "pass marks, and no failure shown"
    );
    let certs = device_certs(&inventory, &north.serial);
    let active = certs
        .iter()
        .find(|c| c.state == CertState::Active)
        .expect("an active certificate");
    assert!(
        html.contains(&active.fingerprint),
        "the certificate's SHA-256 fingerprint is shown"
    );
    assert!(
        html.contains(&date(active.not_after)),
        "its expiry date is shown"
    );

    for serial in [&north.serial, &south.serial] {
        for secret in secrets_of(&inventory, serial) {
            assert!(
                !html.contains(&secret),
                "no credential of {serial} may be in the report"
            );
        }
    }
    // The device's own words quoted as evidence (e.g. the SSDP LOCATION URL it used to announce) are inert
    // text; apart from them the page names no URL and references nothing outside itself.
    let mut page = html.clone();
    for (_, check) in &checks {
        page = page.replace(&temper_core::handover::escape(&check.detail), "");
    }
    for banned in [
        "<script",
        "http://",
        "https://",
        "src=",
        "href=\"http",
        "url(",
        "@import",
        "<link",
    ] {
        assert!(
            !page.contains(banned),
            "the report must load nothing and run nothing ({banned:?})"
        );
    }
    assert!(
        !html.contains(&south.serial),
        "only site North's devices are in its report"
    );

    // The label: written owner-only, with the web admin's password; the reveal is on the audit trail.
    let reveals = |inv: &temper_core::inventory::SqlCipherInventory| {
        let events = inv.audit_events(Some(&north.serial)).unwrap();
        events
            .iter()
            .filter(|e| e.action == AuditAction::Reveal)
            .count()
    };
    let before = reveals(&open_inventory(&inventory));
    let label = dir.path().join("label.svg");
    let output = temper(&inventory)
        .args([
            "label",
            "--device",
            &north.serial,
            "--store",
            "web-admin",
            "--out",
        ])
        .arg(&label)
        .output()
        .expect("run temper");
    assert!(
        output.status.success(),
        "label should succeed: {}",
        describe(&output)
    );
    let svg = std::fs::read_to_string(&label).unwrap();
    assert!(svg.contains(&north.serial), "the label names the device");
    let password = credential(&inventory, &north.serial, "web-admin")
        .current
        .expect("rotated");
    let printed: String = svg
        .lines()
        .filter(|l| l.contains("monospace"))
        .filter_map(|l| l.split('>').nth(1)?.split('<').next())
        .collect();
    assert_eq!(
        printed,
        password.expose(),
        "the label prints the web admin's password"
    );
    for stream in [&output.stdout, &output.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(password.expose()),
            "nothing secret is printed"
        );
    }
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("holds the password"),
        "the user is warned"
    );
    let mode = std::fs::metadata(&label).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the label file holds a password: owner-only");
    assert_eq!(
        reveals(&open_inventory(&inventory)),
        before + 1,
        "the label's reveal is audited"
    );
}
