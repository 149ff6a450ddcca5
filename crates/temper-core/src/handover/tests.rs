//! The handover report against a real (SQLCipher) inventory holding two sites, hostile strings and secrets.

use std::path::Path;

use super::*;
use crate::checks::{CheckKind, Surface, UdpState};
use crate::inventory::{
    CertState, DeviceCertRecord, DeviceRecord, ManualClock, SqlCipherInventory, StationCaRecord,
    StepState,
};
use crate::pki::{CaKeyKind, StationCa};
use crate::Secret;

const NOW: u64 = 1_750_000_000;
const HOSTILE_SERIAL: &str = "<script>alert('sn')</script>";
const HOSTILE_MODEL: &str = "\"><img src=x onerror=alert(1)>";
const CAM: &str = "Simvision SV-IPC2100";
/// Two devices at site A (one hostile, one with a failed check) and one at site B.
const DEVICES: [(&str, &str, &str, HardenedState); 3] = [
    (
        HOSTILE_SERIAL,
        HOSTILE_MODEL,
        "Site A",
        HardenedState::Hardened,
    ),
    ("SN-A2", CAM, "Site A", HardenedState::Failed),
    ("SN-B1", CAM, "Site B", HardenedState::Hardened),
];
const SECRETS: [&str; 2] = [
    "Vq7-secret-web-admin-Kd93xZ",
    "Rt5-secret-shell-root-Lp22wQ",
];

fn surface(tcp: &[u16], udp_open: bool, ssdp: bool) -> serde_json::Value {
    let state = if udp_open {
        UdpState::Open {
            protocol: "ssdp".into(),
            detail: "cam".into(),
        }
    } else {
        UdpState::NoReply
    };
    let answer = crate::checks::SsdpAnswer {
        st: None,
        usn: None,
        location: Some("http://192.0.2.10:49152/desc.xml".into()),
        server: None,
    };
    serde_json::to_value(Surface {
        ip: "192.0.2.10".parse().unwrap(),
        tcp_open: tcp.to_vec(),
        udp: vec![(1900, state)],
        ssdp: ssdp.then_some(answer),
        excluded_tcp: vec![],
        excluded_udp: vec![],
        control_ip: None,
        scanned_at: NOW - 500,
    })
    .unwrap()
}

fn device(serial: &str, model: &str, site: &str, state: HardenedState) -> DeviceRecord {
    DeviceRecord {
        serial: serial.into(),
        model: model.into(),
        firmware: "2.1.7".into(),
        profile_id: "ipcam".into(),
        profile_hash: "ab12".into(),
        site: Some(site.into()),
        address: Some("192.0.2.10".into()),
        state,
        first_seen: NOW - 1000,
        updated_at: NOW - 100,
    }
}

fn ports(notes: &[PortNote]) -> Vec<u16> {
    notes.iter().map(|p| p.port).collect()
}

/// The [`DEVICES`], each with two credentials, two steps, both scans, one check and one certificate.
fn inventory(dir: &Path) -> SqlCipherInventory {
    let clock = ManualClock::new(NOW - 40 * DAY);
    let mut inv = SqlCipherInventory::create(
        dir.join("inv.db"),
        &Secret::new("umbrella-giraffe-pocket-thunder-41"),
    )
    .unwrap()
    .with_clock(clock);
    let ca = StationCa::generate(
        CaKeyKind::EcdsaP256,
        "Handover test CA",
        std::time::SystemTime::now(),
    )
    .unwrap();
    inv.put_station_ca(&StationCaRecord {
        cert_pem: ca.cert_pem().to_string(),
        key_pem: ca.key_pem(),
        kind: "ecdsa-p256".into(),
        imported: false,
        created_at: NOW,
    })
    .unwrap();
    for (serial, model, site, state) in DEVICES {
        inv.upsert_device(&device(serial, model, site, state))
            .unwrap();
        for (store, user, secret) in [
            ("web-admin", "admin", SECRETS[0]),
            ("shell-root", "root", SECRETS[1]),
        ] {
            inv.put_pending(serial, store, user, &Secret::new(secret))
                .unwrap();
            inv.activate_pending(serial, store).unwrap();
        }
        inv.set_step(serial, "verify", &StepState::Done).unwrap();
        inv.set_step(serial, "identify", &StepState::Done).unwrap();
        inv.put_document(serial, "baseline", &surface(&[23, 80, 443], true, true))
            .unwrap();
        inv.put_document(serial, "verify-surface", &surface(&[80, 443], false, false))
            .unwrap();
        let mut check = CheckKind::CleartextShellClosed.record(
            "telnet 192.0.2.10:23",
            serial != "SN-A2",
            "<b>closed</b>",
        );
        check.at = NOW - 200;
        inv.put_check(serial, "verify", &check).unwrap();
        let cert = DeviceCertRecord {
            fingerprint: format!("{:0>64}", serial.len()),
            cert_pem: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n".into(),
            not_after: NOW + 90 * DAY,
            state: CertState::Active,
            at: NOW,
        };
        inv.put_device_cert(serial, &cert).unwrap();
    }
    inv
}

/// Guards: the site filter keeps other sites' devices out, the summary counts what the devices show, and steps
/// come in plan order (not name order).
#[test]
fn handover_report_covers_only_the_site_and_counts_right() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let report = HandoverReport::from_inventory(&inv, Some("Site A"), None, NOW).unwrap();
    let serials: Vec<&str> = report.devices.iter().map(|d| d.serial.as_str()).collect();
    assert_eq!(
        serials,
        ["<script>alert('sn')</script>", "SN-A2"],
        "only site A, by serial"
    );
    assert_eq!(
        report.summary,
        HandoverSummary {
            devices: 2,
            hardened: 1,
            with_failed_checks: 1
        }
    );
    let d = &report.devices[1];
    assert_eq!(
        d.steps.iter().map(|s| s.step.as_str()).collect::<Vec<_>>(),
        ["identify", "verify"]
    );
    let services = d.services.as_ref().expect("both scans are stored");
    assert_eq!(ports(&services.tcp_closed), [23]);
    assert_eq!(ports(&services.udp_closed), [1900]);
    assert!(services.upnp_silenced);
    assert_eq!(
        d.credentials[0].age_days,
        Some(40),
        "changed 40 days before the report"
    );
    assert_eq!(d.certificates[0].not_after, NOW + 90 * DAY);
    assert!(report
        .station_ca
        .as_ref()
        .is_some_and(|ca| ca.fingerprint.len() == 64));

    let all = HandoverReport::from_inventory(&inv, None, None, NOW).unwrap();
    assert_eq!(all.summary.devices, 3, "no site: every device");
    let one =
        HandoverReport::from_inventory(&inv, Some("Site A"), Some(&["SN-B1".to_string()]), NOW)
            .unwrap();
    assert!(
        one.devices.is_empty(),
        "the filters intersect: SN-B1 is not at site A"
    );
    let err = HandoverReport::from_inventory(&inv, None, Some(&["SN-NOPE".to_string()]), NOW)
        .unwrap_err();
    assert!(matches!(err, InventoryError::UnknownDevice { serial } if serial == "SN-NOPE"));
}

/// Guards: no secret reaches the report, in its JSON (for the GUI) or its HTML.
#[test]
fn handover_report_never_holds_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let report = HandoverReport::from_inventory(&inv, None, None, NOW).unwrap();
    let json = serde_json::to_string(&report).unwrap();
    let html = report.to_html();
    for secret in SECRETS {
        assert!(
            !json.contains(secret),
            "the JSON must not hold a credential"
        );
        assert!(
            !html.contains(secret),
            "the HTML must not hold a credential"
        );
    }
    let back: HandoverReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, report, "the GUI reads back what the core wrote");
}

/// Guards: hostile serials, models and check details stay inert text; the page is self-contained and
/// accessible (lang, title, header cells with scope, print and dark styles).
#[test]
fn handover_html_escapes_everything_and_loads_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let html = HandoverReport::from_inventory(&inv, Some("Site A <i>"), None, NOW)
        .unwrap()
        .to_html();
    assert!(html.contains("Site A &lt;i&gt;"));
    let html = HandoverReport::from_inventory(&inv, Some("Site A"), None, NOW)
        .unwrap()
        .to_html();
    for raw in ["<script", "<img", "<b>", "onerror=alert(1)>"] {
        assert!(!html.contains(raw), "{raw:?} must be escaped");
    }
    assert!(html.contains("&lt;script&gt;alert(&#39;sn&#39;)&lt;/script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    for external in [
        "http://", "https://", "src=\"", "url(", "@import", "<link", "<iframe",
    ] {
        assert!(
            !html.contains(external),
            "the page must load nothing ({external:?})"
        );
    }
    for needed in [
        "<html lang=\"en\">",
        "<title>Handover report: Site A",
        "scope=\"col\"",
        "scope=\"row\"",
        "@media print",
        "prefers-color-scheme: dark",
        "break-before: page",
    ] {
        assert!(html.contains(needed), "missing {needed:?}");
    }
    assert!(
        html.contains("ETSI EN 303 645 5.6-1"),
        "guideline items are listed"
    );
    assert!(html.contains("✗ FAIL") && html.contains("✓ pass"));
    assert!(
        html.contains(&super::date(NOW + 90 * DAY)),
        "certificate expiry as a date"
    );
    assert!(!html.contains("SN-B1"), "site B stays out");
}

/// Guards: the profile's expiry policy (365 days for the shipped `ipcam`) gives each credential a rotate-by date;
/// a device of an unknown profile keeps none.
#[test]
fn handover_with_profiles_adds_the_expiry_policy() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path());
    let profiles = crate::profile::load_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../provisioning-profiles"),
    )
    .unwrap();
    let report = HandoverReport::from_inventory(&inv, Some("Site B"), None, NOW).unwrap();
    assert_eq!(
        report.devices[0].credentials[0].rotate_by, None,
        "no policy before with_profiles"
    );
    let report = report.with_profiles(&profiles);
    let c = &report.devices[0].credentials[0];
    assert_eq!(c.max_age_days, Some(365));
    assert_eq!(c.rotate_by, Some(NOW - 40 * DAY + 365 * DAY));
    assert_eq!(c.overdue(NOW), Some(false));
    assert_eq!(c.overdue(NOW + 400 * DAY), Some(true));
    let services = report.devices[0].services.as_ref().unwrap();
    assert!(services.tcp_closed[0]
        .service
        .as_deref()
        .is_some_and(|s| s.starts_with("telnet")));
    assert!(report
        .to_html()
        .contains(&super::date(NOW - 40 * DAY + 365 * DAY)));
}
