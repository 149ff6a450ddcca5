//! Labels: redaction, a QR code that decodes back to the password, well-formed escaped SVG, audited reveals.

use super::svg::qr_modules;
use super::*;
use crate::inventory::audit::AuditAction;
use crate::inventory::{HardenedState, SqlCipherInventory};

const PASSWORD: &str = "Vq7KdXz93-mPa_Rt5=Lp22wQ%+hJ8nYe";

fn device(serial: &str, model: &str) -> DeviceRecord {
    DeviceRecord {
        serial: serial.into(),
        model: model.into(),
        firmware: "2.1.7".into(),
        profile_id: "ipcam".into(),
        profile_hash: "ab12".into(),
        site: Some("Site A".into()),
        address: Some("192.0.2.10".into()),
        state: HardenedState::Hardened,
        first_seen: 1,
        updated_at: 1,
    }
}

fn credential(store: &str, current: Option<&str>) -> CredentialRecord {
    CredentialRecord {
        store: store.into(),
        username: "admin".into(),
        current: current.map(Secret::new),
        pending: None,
        changed_at: Some(1_750_000_000),
    }
}

fn label(serial: &str, model: &str) -> CredentialLabel {
    CredentialLabel::new(
        &device(serial, model),
        &credential("web-admin", Some(PASSWORD)),
    )
    .unwrap()
}

/// The dark modules drawn by the SVG's QR path, read back from the `M{x} {y}h{n}v1h-{n}z` runs.
fn modules_drawn(svg: &str, width: usize) -> Vec<bool> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    let d = doc
        .descendants()
        .find(|n| n.has_tag_name("path"))
        .unwrap()
        .attribute("d")
        .unwrap();
    let mut dark = vec![false; width * width];
    for run in d.split('z').filter(|r| !r.is_empty()) {
        let run = run.strip_prefix('M').unwrap();
        let (xy, rest) = run.split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let n: usize = rest.split_once('v').unwrap().0.parse().unwrap();
        for col in x..x + n {
            dark[y * width + col] = true;
        }
    }
    dark
}

/// Guards: `Debug` (logs, panics, tracing) never shows the password.
#[test]
fn label_debug_redacts_the_password() {
    let shown = format!("{:?}", label("SN-1", "Cam"));
    assert!(!shown.contains(PASSWORD), "Debug must redact: {shown}");
    assert!(shown.contains("SN-1") && shown.contains("redacted"));
}

/// Guards: the QR code is deterministic, its size fits a 29 mm label, the SVG draws exactly its modules, and a
/// QR decoder finds it in a rendering of those modules and reads the password back.
#[test]
fn label_qr_code_decodes_back_to_the_password() {
    let (width, dark) = qr_modules(PASSWORD).unwrap();
    assert_eq!(
        qr_modules(PASSWORD).unwrap().1,
        dark,
        "the same password gives the same code"
    );
    assert!(
        (21..=33).contains(&width) && (width - 17) % 4 == 0,
        "a version 1-4 code, got {width}"
    );
    assert!(dark.iter().any(|&d| d) && dark.iter().any(|&d| !d));
    let svg = label("SN-1", "Cam").to_svg();
    let drawn = modules_drawn(svg.expose(), width);
    assert!(
        drawn == *dark,
        "the SVG path must draw exactly the code's modules"
    );

    // Render with a 4-module quiet zone at 4 px per module, as a printer would, and decode it.
    let (scale, quiet) = (4, 4);
    let side = (width + 2 * quiet) * scale;
    let image = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
        let (mx, my) = (
            (x / scale).wrapping_sub(quiet),
            (y / scale).wrapping_sub(quiet),
        );
        if mx < width && my < width && drawn[my * width + mx] {
            0
        } else {
            255
        }
    });
    let mut image = image;
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code should be found");
    let (_, content) = grids[0].decode().unwrap();
    assert_eq!(content, PASSWORD, "the QR code holds the password alone");
}

/// Guards: the SVG is well-formed XML sized for a 62 × 29 mm label, with no script, and hostile model/serial
/// strings come back out of the parser as the same text (escaped, not interpreted).
#[test]
fn label_svg_is_well_formed_and_escapes_text() {
    let (serial, model) = ("SN<1>&\"'", "<script>alert(1)</script>\u{1}");
    let svg = label(serial, model).to_svg();
    let doc = roxmltree::Document::parse(svg.expose()).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("62mm"));
    assert_eq!(root.attribute("height"), Some("29mm"));
    assert_eq!(root.attribute("viewBox"), Some("0 0 62 29"));
    assert!(
        doc.descendants().all(|n| !n.has_tag_name("script")),
        "no script element"
    );
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        texts.contains(&"<script>alert(1)</script>\u{FFFD}"),
        "model text survives as text: {texts:?}"
    );
    assert!(
        texts.contains(&"S/N SN<1>&\"'"),
        "serial text survives as text: {texts:?}"
    );
    assert_eq!(
        texts
            .iter()
            .filter(|t| PASSWORD.contains(**t) && t.len() > 4)
            .map(|t| t.len())
            .sum::<usize>(),
        PASSWORD.len(),
        "the password is printed whole, over up to three lines"
    );
    assert!(
        !svg.expose().contains("href") && !svg.expose().contains("<image"),
        "nothing external"
    );
}

/// Guards: the text form holds everything the user needs, and a store without a confirmed credential gives a
/// typed error rather than a label with the factory default or an unconfirmed password.
#[test]
fn label_text_and_refusals() {
    let text = label("SN-1", "Cam").to_text();
    for needed in [
        "Cam",
        "Serial:   SN-1",
        "Account:  admin (web-admin)",
        PASSWORD,
        "192.0.2.10",
    ] {
        assert!(text.expose().contains(needed), "missing {needed:?}");
    }
    let mut pending = credential("web-admin", None);
    pending.pending = Some(Secret::new("x"));
    let err = CredentialLabel::new(&device("SN-1", "Cam"), &pending).unwrap_err();
    assert!(
        matches!(err, LabelError::NotRotated { pending: true, .. }),
        "{err}"
    );
    let two = [
        credential("shell-root", Some("a")),
        credential("web-admin", Some("b")),
    ];
    let err = CredentialLabel::pick("SN-1", &two, None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "device SN-1 has several credential stores: choose one of shell-root, web-admin"
    );
    assert!(matches!(
        CredentialLabel::pick("SN-1", &two, Some("rtsp")),
        Err(LabelError::UnknownStore { .. })
    ));
    assert_eq!(
        CredentialLabel::pick("SN-1", &two[..1], None)
            .unwrap()
            .store,
        "shell-root"
    );
}

/// Guards: a label comes only through the audited reveal, and a wrong store choice reveals nothing.
#[test]
fn label_reveal_is_audited_and_a_wrong_store_reveals_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut inv = SqlCipherInventory::create(
        dir.path().join("inv.db"),
        &Secret::new("umbrella-giraffe-pocket-thunder-41"),
    )
    .unwrap();
    inv.upsert_device(&device("SN-1", "Cam")).unwrap();
    for store in ["shell-root", "web-admin"] {
        inv.put_pending("SN-1", store, "admin", &Secret::new(PASSWORD))
            .unwrap();
        inv.activate_pending("SN-1", store).unwrap();
    }
    let reveals = |inv: &SqlCipherInventory| {
        inv.audit_events(Some("SN-1"))
            .unwrap()
            .iter()
            .filter(|e| e.action == AuditAction::Reveal)
            .count()
    };
    assert!(matches!(
        CredentialLabel::reveal(&mut inv, "SN-1", Some("nope")),
        Err(LabelError::UnknownStore { .. })
    ));
    assert!(matches!(
        CredentialLabel::reveal(&mut inv, "SN-1", None),
        Err(LabelError::ChooseStore { .. })
    ));
    assert!(matches!(
        CredentialLabel::reveal(&mut inv, "SN-X", None),
        Err(LabelError::Inventory(InventoryError::UnknownDevice { .. }))
    ));
    assert_eq!(
        reveals(&inv),
        0,
        "nothing was revealed by a refused request"
    );
    let label = CredentialLabel::reveal(&mut inv, "SN-1", Some("web-admin")).unwrap();
    assert_eq!(label.password.expose(), PASSWORD);
    assert_eq!(reveals(&inv), 1, "the reveal is on record");
}

/// Guards: the label file is owner-only (it holds the password) even when it replaces a world-readable file.
#[test]
fn label_save_svg_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("label.svg");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    label("SN-1", "Cam").save_svg(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a file holding a password must be owner-only");
    assert!(std::fs::read_to_string(&path).unwrap().contains("S/N SN-1"));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary file left"
    );
}

/// Guards: the longest layout (a model name that must shrink, a password over three lines, an address) stays
/// inside the 29 mm label: the last baseline leaves room for descenders.
#[test]
fn label_layout_fits_the_label() {
    let mut long = label(
        "SN-1",
        "Simvision SV-IPC3100 Professional Outdoor Dome Camera",
    );
    long.password = Secret::new("A".repeat(42));
    let svg = long.to_svg();
    let doc = roxmltree::Document::parse(svg.expose()).unwrap();
    for text in doc.descendants().filter(|n| n.has_tag_name("text")) {
        let y: f64 = text.attribute("y").unwrap().parse().unwrap();
        let size: f64 = text.attribute("font-size").unwrap().parse().unwrap();
        assert!(
            y + size * 0.25 <= 29.0,
            "{:?} runs off the label bottom",
            text.text()
        );
        let chars = text.text().unwrap().chars().count() as f64;
        assert!(
            29.0 + chars * size * 0.6 <= 62.0,
            "{:?} runs off the right edge",
            text.text()
        );
    }
}
