//! The simulated BLE world against real BlueZ clients: Debian's `bluetoothctl` (package bluez) and `bleak`
//! (PyPI, in the test venv), both reaching the simulated `org.bluez` on its private system bus through
//! `DBUS_SYSTEM_BUS_ADDRESS`.

#[path = "ble_support/mod.rs"]
mod ble_support;

use std::process::Command;

use ble_support::{plain, venv_python, World};
use serde_json::Value;

#[test]
fn bluetoothctl_sees_the_adapter_discovers_both_peripherals_and_connects() {
    let world = World::start("ble-plug,zephyr-sensor");
    let (plug, plug_name) = world.device("ble-plug");
    let (sensor, sensor_name) = world.device("zephyr-sensor");

    let list = world.bluetoothctl(&["list"]);
    assert!(
        list.contains("Controller 00:1A:7D:DA:71:13 temper-sim [default]"),
        "{list}"
    );
    // Nothing is known before discovery.
    let before = world.bluetoothctl(&["devices"]);
    assert!(!before.contains(&plug), "{before}");

    let scan = world.bluetoothctl(&["--timeout", "3", "scan", "on"]);
    assert!(scan.contains("Discovery started"), "{scan}");
    for (address, name) in [(&plug, &plug_name), (&sensor, &sensor_name)] {
        assert!(
            scan.contains(&format!("[NEW] Device {address} {name}")),
            "{scan}"
        );
    }
    let devices = world.bluetoothctl(&["devices"]);
    assert!(
        devices.contains(&format!("Device {plug} {plug_name}")),
        "{devices}"
    );
    assert!(
        devices.contains(&format!("Device {sensor} {sensor_name}")),
        "{devices}"
    );

    let info = world.bluetoothctl(&["info", &sensor]);
    assert!(
        info.contains("8d53dc1d-1db7-4cd3-868b-8a527460aa84"),
        "the SMP service: {info}"
    );
    assert!(
        info.contains("LegacyPairing: no") && info.contains("RSSI: "),
        "{info}"
    );

    let connect = world.bluetoothctl(&["--timeout", "3", "connect", &sensor]);
    assert!(connect.contains("Connected: yes"), "{connect}");
    assert!(connect.contains("ServicesResolved: yes"), "{connect}");
    assert!(connect.contains("Connection successful"), "{connect}");
    let info = world.bluetoothctl(&["info", &sensor]);
    assert!(info.contains("Connected: yes"), "{info}");
    let disconnect = world.bluetoothctl(&["--timeout", "3", "disconnect", &sensor]);
    assert!(
        disconnect.contains("Successful disconnected"),
        "{disconnect}"
    );
}

#[test]
fn bleak_scans_both_peripherals_with_their_service_and_signal() {
    let world = World::start("zephyr-sensor,ble-plug");
    let script = r#"
import asyncio, json
from bleak import BleakScanner
async def main():
    found = await BleakScanner.discover(timeout=2.0, return_adv=True)
    print(json.dumps([{"address": d.address, "name": d.name, "rssi": a.rssi, "uuids": a.service_uuids}
                      for d, a in found.values()]))
asyncio.run(main())
"#;
    let out = Command::new("timeout")
        .args(["30", &venv_python(), "-c", script])
        .env("DBUS_SYSTEM_BUS_ADDRESS", world.bus())
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", plain(&out));
    let found: Vec<Value> = serde_json::from_slice(&out.stdout).expect("bleak's JSON");
    for (model, level, uuid) in [
        ("zephyr-sensor", -71, "8d53dc1d-1db7-4cd3-868b-8a527460aa84"),
        ("ble-plug", -58, "6e400001-7e4d-4c1a-9f0e-5e1e0c0f1a9e"),
    ] {
        let (address, name) = world.device(model);
        let seen = found
            .iter()
            .find(|d| d["address"] == address.as_str())
            .unwrap_or_else(|| panic!("bleak did not find {model}: {found:?}"));
        assert_eq!(seen["name"], name.as_str());
        let rssi = seen["rssi"].as_i64().unwrap();
        assert!(
            (level - 2..=level + 2).contains(&rssi),
            "{model} RSSI {rssi}"
        );
        assert!(
            seen["uuids"].as_array().unwrap().iter().any(|u| u == uuid),
            "{seen}"
        );
    }
}

#[test]
fn a_powered_off_adapter_refuses_discovery_with_bluez_error() {
    let world = World::start("ble-plug");
    let off = world.bluetoothctl(&["power", "off"]);
    assert!(off.contains("Changing power off succeeded"), "{off}");
    let list = world.bluetoothctl(&["show"]);
    assert!(list.contains("Powered: no"), "{list}");
    let scan = world.bluetoothctl(&["--timeout", "2", "scan", "on"]);
    assert!(scan.contains("org.bluez.Error.NotReady"), "{scan}");
    let on = world.bluetoothctl(&["power", "on"]);
    assert!(on.contains("Changing power on succeeded"), "{on}");
}

#[test]
fn a_model_without_ble_is_refused_naming_those_with_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_temper-devsim"))
        .args(["ble", "--models", "ipcam"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"ipcam\" has no BLE side") && err.contains("ble-plug, zephyr-sensor"),
        "{err}"
    );
}

/// bleak connects to the sensor, subscribes to MCUmgr's SMP characteristic and sends an OS echo split over
/// three writes; the answer comes back as notifications of at most MTU − 3 bytes, reassembled by the SMP header.
#[test]
fn bleak_speaks_smp_over_the_sensors_gatt_service() {
    let world = World::start("zephyr-sensor");
    let (address, _) = world.device("zephyr-sensor");
    let script = r#"
import asyncio, json, sys
from bleak import BleakScanner, BleakClient
SMP = "da2e7828-fbce-4e01-ae9e-261174997c48"
async def main():
    device = await BleakScanner.find_device_by_address(sys.argv[1], timeout=5.0)
    got = bytearray()
    done = asyncio.Event()
    sizes = []
    def on_notify(_, data):
        sizes.append(len(data))
        got.extend(data)
        if len(got) >= 8 and len(got) >= 8 + int.from_bytes(got[2:4], "big"):
            done.set()
    async with BleakClient(device) as client:
        await client.start_notify(SMP, on_notify)
        text = "x" * 300
        body = bytes([0xa1, 0x61, 0x64, 0x79]) + len(text).to_bytes(2, "big") + text.encode()
        header = bytes([0x0a, 0, len(body) >> 8, len(body) & 0xff, 0, 0, 42, 0])
        packet = header + body
        for i in range(0, len(packet), 100):
            await client.write_gatt_char(SMP, packet[i:i + 100], response=False)
        await asyncio.wait_for(done.wait(), 5.0)
    print(json.dumps({"sizes": sizes, "reply": got.hex()}))
asyncio.run(main())
"#;
    let out = Command::new("timeout")
        .args(["40", &venv_python(), "-c", script, &address])
        .env("DBUS_SYSTEM_BUS_ADDRESS", world.bus())
        .output()
        .expect("python");
    assert!(out.status.success(), "{}", plain(&out));
    let result: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let reply = hex::decode(result["reply"].as_str().unwrap()).unwrap();
    // v2 write response, group 0, seq 42, id 0, and the text echoed in "r".
    assert_eq!(reply[0], 0x0b, "{reply:02x?}");
    assert_eq!((reply[4], reply[5], reply[6], reply[7]), (0, 0, 42, 0));
    let body: ciborium::Value = ciborium::from_reader(&reply[8..]).unwrap();
    let echoed = body
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_text() == Some("r")))
        .and_then(|(_, v)| v.as_text())
        .unwrap_or_default();
    assert_eq!(echoed, "x".repeat(300));
    let sizes: Vec<u64> = result["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert!(
        sizes.len() >= 2,
        "a 300-byte answer takes two notifications: {sizes:?}"
    );
    assert!(
        sizes.iter().all(|s| *s <= 244),
        "none over MTU - 3: {sizes:?}"
    );
    // The negotiated MTU is a property of the characteristic, as BlueZ exposes it (bleak itself reports 23
    // until it acquires a write fd, so the property is read directly).
    let path = format!(
        "/org/bluez/hci0/dev_{}/service0010/char0011",
        address.replace(':', "_")
    );
    let mtu = Command::new("dbus-send")
        .args(["--system", "--print-reply", "--dest=org.bluez", &path])
        .args([
            "org.freedesktop.DBus.Properties.Get",
            "string:org.bluez.GattCharacteristic1",
        ])
        .arg("string:MTU")
        .env("DBUS_SYSTEM_BUS_ADDRESS", world.bus())
        .output()
        .expect("dbus-send");
    assert!(plain(&mtu).contains("uint16 247"), "{}", plain(&mtu));
}

/// A client that starts discovery and leaves the bus without stopping it (`dbus-send` exits at once) ends its
/// session, as BlueZ's NameOwnerChanged watch does: the adapter stops discovering.
#[test]
fn a_client_that_leaves_the_bus_ends_its_discovery_session() {
    let world = World::start("zephyr-sensor");
    let dbus_send = |args: &[&str]| {
        let out = Command::new("dbus-send")
            .args(["--system", "--print-reply", "--dest=org.bluez"])
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", world.bus())
            .output()
            .expect("dbus-send");
        assert!(out.status.success(), "dbus-send {args:?}: {}", plain(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let discovering = || {
        dbus_send(&[
            "/org/bluez/hci0",
            "org.freedesktop.DBus.Properties.Get",
            "string:org.bluez.Adapter1",
            "string:Discovering",
        ])
    };
    dbus_send(&["/org/bluez/hci0", "org.bluez.Adapter1.StartDiscovery"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while discovering().contains("boolean true") {
        assert!(
            std::time::Instant::now() < deadline,
            "still discovering after its only client left"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
