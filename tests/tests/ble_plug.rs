//! End to end over Bluetooth LE with pairing: the BLE-only PlugMini PM-1 (`temper-devsim ble --models ble-plug
//! --adapters 2`). Temper pairs through its own BlueZ agent with the passkey from the plug's label, commissions it
//! over SMP (admin password, UPnP off, client certificate proven through Temper's TLS endpoint) and records the
//! transport and the bond. Then real BlueZ clients (bleak on the second adapter, an unbonded central) prove the
//! plug refuses everyone but Temper's bond; `temper ble forget` removes the bond.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use temper_core::inventory::audit::AuditAction;
use temper_core::inventory::link::{self, LinkKind};
use temper_core::inventory::Inventory;
use temper_e2e::*;

/// bleak and a dbus-fast agent, shared with temper-devsim's own BLE tests.
fn peer(world: &BleWorld, args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/temper-devsim/tests/ble_pairing/peer.py");
    let out = Command::new("/var/tmp/temper-venv/bin/python")
        .arg(script)
        .args(args)
        .env("DBUS_SYSTEM_BUS_ADDRESS", world.bus())
        .output()
        .expect("the test venv's python (scripts/deps.sh test)");
    assert!(out.status.success(), "peer.py {args:?}: {}", describe(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("peer.py {args:?}: {e}"))
}

fn commission(world: &BleWorld, inventory: &Path, passkey: Option<&str>) -> Output {
    ensure_inventory(inventory);
    let mut cmd = temper(inventory);
    world.env(&mut cmd);
    cmd.args(["--json", "commission", "--ble", &world.address("ble-plug")]);
    if let Some(key) = passkey {
        cmd.args(["--passkey", key]);
    }
    cmd.output().unwrap()
}

fn setup(extra: &[&str]) -> (tempfile::TempDir, BleWorld, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let world = BleWorld::start("ble-plug", &dir.path().join("world"), extra);
    let inventory = dir.path().join("inv").join("inventory.db");
    std::fs::create_dir_all(inventory.parent().unwrap()).unwrap();
    (dir, world, inventory)
}

fn actions(inventory: &Path, serial: &str) -> Vec<AuditAction> {
    let inv = open_inventory(inventory);
    inv.audit_events(Some(serial))
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[test]
fn plug_is_paired_commissioned_and_then_writable_only_through_the_bond() {
    let (_dir, world, inventory) = setup(&["--adapters", "2"]);
    let plug = world.device("ble-plug").clone();
    let (address, passkey) = (
        world.address("ble-plug"),
        plug["passkey"].as_str().unwrap().to_string(),
    );
    let ip = plug["ip"].as_str().unwrap().to_string();
    // Factory state: the admin password works, UPnP's description is served.
    assert_eq!(
        curl_digest_at(&format!("http://{ip}/"), None, "admin", "plugmini"),
        "200"
    );
    assert!(
        tcp_open(&ip, 49152),
        "UPnP description served in the factory state"
    );

    let output = commission(&world, &inventory, Some(&passkey));
    assert!(output.status.success(), "{}", describe(&output));
    let report = report_of(&output);
    assert_eq!(report["hardened"], true, "{report:#}");
    assert_eq!(report["profile_id"], "ble-plug");
    let serial = report["device"]["serial"].as_str().unwrap().to_string();
    assert_eq!(serial, plug["serial"].as_str().unwrap());

    let web = credential(&inventory, &serial, "web-admin");
    let current = web.current.expect("a current admin password");
    assert_eq!(
        curl_digest_at(&format!("http://{ip}/"), None, "admin", current.expose()),
        "200"
    );
    assert_eq!(
        curl_digest_at(&format!("http://{ip}/"), None, "admin", "plugmini"),
        "401"
    );
    assert!(!tcp_open(&ip, 49152), "UPnP description still served");
    let client = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "tls-client-certificate-verified")
        .unwrap_or_else(|| panic!("no client certificate check in {report:#}"));
    assert_eq!(client["passed"], true, "{client}");

    // The inventory: reached over BLE, bonded through the first adapter, and the bond is in the audit trail.
    let inv = open_inventory(&inventory);
    let recorded = link::link(&inv, &serial).unwrap().expect("a link record");
    drop(inv);
    assert_eq!(recorded.transport, LinkKind::Ble);
    assert_eq!(recorded.address, address);
    assert!(
        recorded.bonded && recorded.bonded_at.is_some(),
        "{recorded:?}"
    );
    assert_eq!(recorded.adapter.as_deref(), Some("00:1A:7D:DA:71:13"));
    assert!(actions(&inventory, &serial).contains(&AuditAction::BleBonded));
    let shown = temper(&inventory)
        .args(["--json", "inventory", "show", "--device", &serial])
        .output()
        .unwrap();
    let shown = json_lines(&shown).pop().expect("inventory show");
    assert_eq!(shown["link"]["transport"], "ble", "{shown}");
    assert_eq!(shown["link"]["bonded"], true, "{shown}");
    assert!(world
        .bluetoothctl(&["info", &address])
        .contains("Paired: yes"));
    assert_no_plaintext(inventory.parent().unwrap(), &[current.expose().to_string()]);

    // An unbonded central (bleak on hci1) can neither write nor pair; the bonded one (hci0) still writes.
    let echo = r#"[{"op":"echo","text":"who is there"}]"#;
    let stranger = peer(&world, &["smp", "hci1", &address, echo]);
    assert!(
        stranger[0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("NotPermitted"),
        "unbonded write: {stranger}"
    );
    let pairing = peer(&world, &["pair", "hci1", &address, &passkey]);
    assert_eq!(
        pairing["error"], "org.bluez.Error.AuthenticationRejected",
        "{pairing}"
    );
    let bonded = peer(&world, &["smp", "hci0", &address, echo]);
    assert_eq!(
        bonded[0]["reply"]["r"], "who is there",
        "bonded write: {bonded}"
    );

    // A re-run finds everything done, over the same bond.
    let again = commission(&world, &inventory, None);
    assert!(again.status.success(), "re-run: {}", describe(&again));

    // Forget: BlueZ drops the bond, the inventory and the audit trail say so, and hci0 is a stranger now too.
    let mut forget = temper(&inventory);
    world.env(&mut forget);
    let out = forget
        .args(["--json", "ble", "forget", "--device", &serial])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(json_lines(&out)[0]["bond-removed"], true);
    assert!(!world
        .bluetoothctl(&["info", &address])
        .contains("Paired: yes"));
    let inv = open_inventory(&inventory);
    assert!(!link::link(&inv, &serial).unwrap().unwrap().bonded);
    drop(inv);
    assert!(actions(&inventory, &serial).contains(&AuditAction::BleBondRemoved));
    let after = peer(&world, &["smp", "hci0", &address, echo]);
    assert!(
        after[0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("NotPermitted"),
        "write after forget: {after}"
    );
}

#[test]
fn pairing_problems_are_named_with_what_to_do() {
    let (_dir, world, inventory) = setup(&[]);
    let out = commission(&world, &inventory, None);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        error_message(&out).contains("--passkey"),
        "{}",
        error_message(&out)
    );

    let passkey = world.device("ble-plug")["passkey"]
        .as_str()
        .unwrap()
        .to_string();
    let wrong = format!("{:06}", (passkey.parse::<u32>().unwrap() + 1) % 1_000_000);
    let out = commission(&world, &inventory, Some(&wrong));
    assert!(!out.status.success());
    assert!(
        error_message(&out).contains("did not accept the passkey"),
        "{}",
        error_message(&out)
    );
    assert!(!world
        .bluetoothctl(&["info", &world.address("ble-plug")])
        .contains("Paired: yes"));

    // Taken for a model that does not pair, the plug refuses the first write: the error says why.
    let mut cmd = temper(&inventory);
    world.env(&mut cmd);
    let out = cmd
        .args([
            "--json",
            "commission",
            "--profile",
            "zephyr-sensor",
            "--ble",
        ])
        .arg(world.address("ble-plug"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        error_message(&out).contains("requires pairing"),
        "{}",
        error_message(&out)
    );

    let (_dir2, legacy, inventory2) = setup(&["--legacy-pairing"]);
    let key = legacy.device("ble-plug")["passkey"]
        .as_str()
        .unwrap()
        .to_string();
    let out = commission(&legacy, &inventory2, Some(&key));
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        error_message(&out).contains("legacy pairing"),
        "{}",
        error_message(&out)
    );
}

/// The link drops at the worst moments: right after the plug applied the new admin password (its reply lost),
/// and in the middle of the certificate's shell commands. Temper reconnects with back-off, resumes, and ends
/// with the password in its inventory being the one the plug takes.
#[test]
fn a_link_dropped_mid_step_is_reconnected_and_the_plan_resumes() {
    for drop_at in ["3:0", "9:0:8"] {
        let (_dir, world, inventory) = setup(&["--drop-after", drop_at]);
        let plug = world.device("ble-plug").clone();
        let ip = plug["ip"].as_str().unwrap().to_string();
        let output = commission(&world, &inventory, plug["passkey"].as_str());
        assert!(
            output.status.success(),
            "drop at {drop_at}: {}",
            describe(&output)
        );
        let lines = json_lines(&output);
        let lost: Vec<&Value> = lines.iter().filter(|l| l["event"] == "link-lost").collect();
        assert_eq!(
            lost.len(),
            1,
            "drop at {drop_at}: one reconnect in {lines:#?}"
        );
        let report = report_of(&output);
        assert_eq!(report["hardened"], true, "drop at {drop_at}: {report:#}");
        let serial = report["device"]["serial"].as_str().unwrap().to_string();
        let current = credential(&inventory, &serial, "web-admin")
            .current
            .expect("a current admin password");
        assert_eq!(
            curl_digest_at(&format!("http://{ip}/"), None, "admin", current.expose()),
            "200",
            "drop at {drop_at}: the inventory's password opens the plug"
        );
    }
}
