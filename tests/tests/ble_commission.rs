//! End to end over Bluetooth LE: `temper commission --ble ADDRESS` against the simulated BlueZ of
//! `temper-devsim ble` (btleplug's real BlueZ backend on a private system bus): the same profile, drivers and
//! plan as over USB, proven from outside (curl, raw sockets) and in the inventory.

use std::process::Command;

use temper_core::inventory::link::{self, LinkKind};
use temper_e2e::*;

fn commission_ble(world: &BleWorld, inventory: &std::path::Path, address: &str) -> Command {
    ensure_inventory(inventory);
    let mut cmd = temper(inventory);
    world.env(&mut cmd);
    cmd.args(["--json", "commission", "--ble", address]);
    cmd
}

#[test]
fn zephyr_sensor_is_commissioned_over_ble() {
    let dir = tempfile::tempdir().unwrap();
    let world = BleWorld::start("zephyr-sensor", &dir.path().join("world"), &[]);
    let inventory = dir.path().join("inv").join("inventory.db");
    std::fs::create_dir_all(inventory.parent().unwrap()).unwrap();
    let address = world.address("zephyr-sensor");

    let output = commission_ble(&world, &inventory, &address)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", describe(&output));
    let report = report_of(&output);
    assert_eq!(report["hardened"], true, "{report:#}");
    assert_eq!(report["profile_id"], "zephyr-sensor");
    let serial = report["device"]["serial"].as_str().unwrap().to_string();
    let ip = report["address"].as_str().unwrap().to_string();

    // The password Temper set works from outside; the factory one does not.
    let web = credential(&inventory, &serial, "web-admin");
    let current = web.current.expect("a current web-admin password");
    assert_eq!(
        curl_digest_at(&format!("http://{ip}/"), None, "admin", current.expose()),
        "200"
    );
    assert_eq!(
        curl_digest_at(&format!("http://{ip}/"), None, "admin", "nordsense"),
        "401"
    );
    assert!(!tcp_open(&ip, 23), "telnet still open");
    // The inventory knows it was reached over BLE, at this address, without a bond (the sensor does not pair).
    let inv = open_inventory(&inventory);
    let recorded = link::link(&inv, &serial).unwrap().expect("a link record");
    assert_eq!(recorded.transport, LinkKind::Ble);
    assert_eq!(recorded.address, address);
    assert!(!recorded.bonded);
    assert_no_plaintext(inventory.parent().unwrap(), &[current.expose().to_string()]);
}

#[test]
fn bluetooth_off_or_absent_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let world = BleWorld::start("zephyr-sensor", &dir.path().join("world"), &[]);
    let inventory = dir.path().join("inv").join("inventory.db");
    std::fs::create_dir_all(inventory.parent().unwrap()).unwrap();
    let address = world.address("zephyr-sensor");
    world.bluetoothctl(&["power", "off"]);
    let output = commission_ble(&world, &inventory, &address)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = error_message(&output);
    assert!(message.contains("Bluetooth is off"), "{message}");

    // A system bus without BlueZ on it.
    drop(world);
    let mut cmd = temper(&inventory);
    cmd.env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .args(["--json", "commission", "--ble", &address]);
    let output = cmd.output().unwrap();
    assert!(!output.status.success());
    let message = error_message(&output);
    assert!(message.contains("Bluetooth is not available"), "{message}");
}

/// `temper devices` lists BLE devices beside USB ones, with RSSI and the profile their advertisement matches;
/// with Bluetooth off it says so instead of listing nothing.
#[test]
fn ble_devices_are_listed_with_rssi_and_profile() {
    let dir = tempfile::tempdir().unwrap();
    let world = BleWorld::start("zephyr-sensor", &dir.path().join("world"), &[]);
    let inventory = dir.path().join("inv").join("inventory.db");
    let devices = || {
        let mut cmd = temper(&inventory);
        world.env(&mut cmd);
        cmd.env("TEMPER_SIM_BUS", dir.path().join("no-usb"))
            .args(["--json", "devices"]);
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{}", describe(&output));
        json_lines(&output).pop().expect("one JSON line")
    };
    let listed = devices();
    assert_eq!(listed["bluetooth"]["state"], "on", "{listed}");
    let sensor = &listed["devices"][0];
    assert_eq!(sensor["transport"]["kind"], "ble", "{listed}");
    assert_eq!(
        sensor["transport"]["address"],
        world.address("zephyr-sensor").as_str()
    );
    let rssi = sensor["transport"]["rssi"].as_i64().expect("an RSSI");
    assert!((-80..=-60).contains(&rssi), "RSSI {rssi}");
    assert_eq!(sensor["profile"]["profile-id"], "zephyr-sensor");

    world.bluetoothctl(&["power", "off"]);
    let listed = devices();
    assert_eq!(listed["bluetooth"]["state"], "unavailable", "{listed}");
    assert_eq!(listed["bluetooth"]["code"], "ble-off", "{listed}");
    assert_eq!(listed["devices"].as_array().unwrap().len(), 0, "{listed}");
}
