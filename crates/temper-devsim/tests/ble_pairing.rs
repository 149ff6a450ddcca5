//! Pairing and the ble-plug in the simulated BLE world, against real peers: bleak (scan, connect, read, write,
//! notify, pair), a pairing agent served with dbus-fast (`tests/ble_pairing/peer.py`), bluetoothctl, curl and
//! raw SSDP / TCP on the plug's loopback address.

#[path = "ble_support/mod.rs"]
mod ble_support;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use ble_support::World;
use serde_json::{json, Value};

const PLUG: &str = "ble-plug";

/// The plug's (address, passkey, loopback address) from WorldInfo.
fn plug(world: &World) -> (String, String, String) {
    let d = world.entry(PLUG);
    (
        d["address"].as_str().unwrap().to_string(),
        d["passkey"].as_str().unwrap().to_string(),
        d["ip"].as_str().unwrap().to_string(),
    )
}

/// SMP requests over the plug's SMP characteristic through `adapter`.
fn smp(world: &World, adapter: &str, address: &str, ops: Value) -> Vec<Value> {
    let out = world.peer(&["smp", adapter, address, &ops.to_string()]);
    out.as_array().unwrap_or_else(|| panic!("{out}")).clone()
}

/// An SMP echo through `adapter`: Ok(echoed text) or Err(D-Bus error name of the write).
fn echo(world: &World, adapter: &str, address: &str) -> Result<String, String> {
    let r = &smp(
        world,
        adapter,
        address,
        json!([{"op": "echo", "text": "hello"}]),
    )[0];
    match r["error"].as_str() {
        Some(e) => Err(e.to_string()),
        None => Ok(r["reply"]["r"].as_str().unwrap_or_default().to_string()),
    }
}

/// Sets the plug's settings `(name, value)` and commits them, through `adapter` (bonded).
fn commit(world: &World, adapter: &str, address: &str, settings: &[(&str, &str)]) {
    let mut ops: Vec<Value> = settings
        .iter()
        .map(|(n, v)| json!({"op": "write", "name": n, "val": v}))
        .collect();
    ops.push(json!({"op": "commit"}));
    for r in smp(world, adapter, address, Value::Array(ops)) {
        assert_eq!(r["reply"], json!({}), "{r}");
    }
}

/// Pairs through the agent of peer.py answering `answer`; the D-Bus error name or "ok".
fn pair(world: &World, adapter: &str, address: &str, answer: &str) -> String {
    let r = world.peer(&["pair", adapter, address, answer]);
    match r["error"].as_str() {
        Some(e) => e.to_string(),
        None if r["ok"] == true => "ok".into(),
        None => panic!("{r}"),
    }
}

#[test]
fn bleak_reads_the_plugs_device_information_matching_world_info() {
    let world = World::start_with("zephyr-sensor,ble-plug", &["--legacy-pairing"]);
    let d = world.entry(PLUG);
    let (address, _, _) = plug(&world);
    let dis = world.peer(&["dis", "hci0", &address]);
    assert_eq!(dis["model"], "PM-1", "{dis}");
    assert_eq!(dis["serial"], d["serial"], "{dis}");
    assert_eq!(d["serial"].as_str().unwrap().len(), 16);
    assert!(!dis["firmware"].as_str().unwrap().is_empty(), "{dis}");
    let passkey = d["passkey"].as_str().unwrap();
    assert!(passkey.len() == 6 && passkey.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(d["legacy_pairing"], true);
    let sensor = world.entry("zephyr-sensor");
    assert_eq!(sensor["passkey"], Value::Null);
    assert_eq!(sensor["legacy_pairing"], false);
    let info = world.bluetoothctl(&["info", &address]);
    assert!(info.contains("LegacyPairing: yes"), "{info}");
    assert!(info.contains("Paired: no"), "{info}");
    // Factory state in the manufacturer data: "PM", format 1, state 0.
    assert!(info.contains("50 4d 01 00"), "{info}");
}

#[test]
fn pairing_through_a_real_agent_needs_the_label_passkey() {
    let world = World::start("ble-plug,zephyr-sensor");
    let (address, passkey, _) = plug(&world);
    assert_eq!(
        pair(&world, "hci0", &address, "none"),
        "org.bluez.Error.AuthenticationFailed"
    );
    let wrong = format!("{:06}", (passkey.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(
        pair(&world, "hci0", &address, &wrong),
        "org.bluez.Error.AuthenticationFailed"
    );
    assert_eq!(
        pair(&world, "hci0", &address, "reject"),
        "org.bluez.Error.AuthenticationRejected"
    );
    assert_eq!(
        pair(&world, "hci0", &address, "cancel"),
        "org.bluez.Error.AuthenticationCanceled"
    );
    let info = world.bluetoothctl(&["info", &address]);
    assert!(info.contains("Paired: no"), "{info}");
    let r = world.peer(&["pair", "hci0", &address, &passkey]);
    assert_eq!(r["ok"], true, "{r}");
    let device_path = world.entry(PLUG)["path"].clone();
    assert_eq!(r["asked"], json!([device_path]), "the agent was asked: {r}");
    let info = world.bluetoothctl(&["info", &address]);
    assert!(
        info.contains("Paired: yes") && info.contains("Bonded: yes"),
        "{info}"
    );
    assert!(info.contains("Trusted: no"), "{info}");
    assert_eq!(
        pair(&world, "hci0", &address, &passkey),
        "org.bluez.Error.AlreadyExists"
    );
    // CancelPairing with no pairing running.
    let cancel = Command::new("dbus-send")
        .args(["--system", "--print-reply", "--dest=org.bluez"])
        .arg(device_path.as_str().unwrap())
        .arg("org.bluez.Device1.CancelPairing")
        .env("DBUS_SYSTEM_BUS_ADDRESS", world.bus())
        .output()
        .expect("dbus-send");
    let text = ble_support::plain(&cancel);
    assert!(text.contains("org.bluez.Error.DoesNotExist"), "{text}");
    // The sensor pairs Just Works: no agent needed.
    let (sensor, _) = world.device("zephyr-sensor");
    assert_eq!(pair(&world, "hci0", &sensor, "none"), "ok");
}

#[test]
fn after_commissioning_only_the_bonded_central_may_write_or_pair() {
    let world = World::start_with("ble-plug,zephyr-sensor", &["--adapters", "2"]);
    let adapters = world.info["adapters"].as_array().unwrap();
    assert_eq!(adapters.len(), 2);
    assert_eq!(adapters[1]["path"], "/org/bluez/hci1");
    assert_eq!(world.info["adapter"], adapters[0]);
    let (address, passkey, _) = plug(&world);

    assert_eq!(
        echo(&world, "hci0", &address),
        Err("org.bluez.Error.NotPermitted".into()),
        "no bond yet"
    );
    assert_eq!(pair(&world, "hci0", &address, &passkey), "ok");
    assert_eq!(echo(&world, "hci0", &address), Ok("hello".into()));
    // The sensor takes writes from anyone.
    let (sensor, _) = world.device("zephyr-sensor");
    assert_eq!(echo(&world, "hci1", &sensor), Ok("hello".into()));

    commit(
        &world,
        "hci0",
        &address,
        &[("app/admin_pw", "Str0ng-plug-pw")],
    );
    let refused = &smp(
        &world,
        "hci1",
        &address,
        json!([{"op": "echo", "text": "x"}]),
    )[0];
    assert_eq!(
        refused["error"], "org.bluez.Error.NotPermitted",
        "{refused}"
    );
    assert_eq!(
        refused["message"], "Insufficient authentication: pair first",
        "{refused}"
    );
    let r = world.peer(&["bleak-pair", "hci1", &address]);
    assert_eq!(r["error"], "org.bluez.Error.AuthenticationRejected", "{r}");
    assert_eq!(
        r["message"], "pairing window closed: hold the button for 5 s to reopen",
        "{r}"
    );
    // Even with the right passkey through an agent.
    assert_eq!(
        pair(&world, "hci1", &address, &passkey),
        "org.bluez.Error.AuthenticationRejected"
    );
    assert_eq!(echo(&world, "hci0", &address), Ok("hello".into()));
    // Commissioned state in the manufacturer data.
    let info = world.bluetoothctl(&["info", &address]);
    assert!(info.contains("50 4d 01 01"), "{info}");
}

/// An SSDP M-SEARCH to `ip`:1900; the answer, if one comes within 1.5 s.
fn msearch(ip: &str) -> Option<String> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let msg = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: upnp:rootdevice\r\n\r\n";
    sock.send_to(msg.as_bytes(), (ip, 1900)).unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// `curl --digest -u admin:PASSWORD http://IP/`: the status code.
fn digest_status(ip: &str, password: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--digest"])
        .args(["-u", &format!("admin:{password}"), &format!("http://{ip}/")])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn upnp_off_closes_ssdp_and_the_description_while_http_digest_takes_the_new_password() {
    let world = World::start(PLUG);
    let (address, passkey, ip) = plug(&world);
    let serial = world.entry(PLUG)["serial"].as_str().unwrap().to_string();

    let answer = msearch(&ip).expect("an SSDP answer from the factory plug");
    let location = format!("LOCATION: http://{ip}:49152/description.xml");
    assert!(answer.contains(&location), "{answer}");
    let mut conn = TcpStream::connect((ip.as_str(), 49152)).unwrap();
    conn.write_all(b"GET /description.xml HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    conn.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains("<modelName>PM-1</modelName>") && text.contains(&serial),
        "{text}"
    );
    assert_eq!(digest_status(&ip, "plugmini"), "200");

    assert_eq!(pair(&world, "hci0", &address, &passkey), "ok");
    commit(
        &world,
        "hci0",
        &address,
        &[("net/upnp", "0"), ("app/admin_pw", "An0ther-pw")],
    );
    assert_eq!(msearch(&ip), None, "udp/1900 answers nothing any more");
    let refused = TcpStream::connect((ip.as_str(), 49152)).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(digest_status(&ip, "An0ther-pw"), "200");
    assert_eq!(digest_status(&ip, "plugmini"), "401");
}

#[test]
fn bonds_survive_a_restart_with_the_same_dir() {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let world = World::start_with(PLUG, &["--dir", dir_arg]);
    let (address, passkey, ip) = plug(&world);
    assert_eq!(pair(&world, "hci0", &address, &passkey), "ok");
    world.stop();

    let world = World::start_with(PLUG, &["--dir", dir_arg]);
    assert_eq!(plug(&world), (address.clone(), passkey, ip), "same plug");
    // Known at once (no discovery), as BlueZ loads bonded devices.
    let info = world.bluetoothctl(&["info", &address]);
    assert!(
        info.contains("Paired: yes") && info.contains("Bonded: yes"),
        "{info}"
    );
    assert_eq!(echo(&world, "hci0", &address), Ok("hello".into()));

    // RemoveDevice drops the adapter's bond; the plug keeps its record (until a reset, as a real one).
    let removed = world.bluetoothctl(&["remove", &address]);
    assert!(removed.contains("Device has been removed"), "{removed}");
    let bonds = std::fs::read_to_string(dir.path().join("bonds.json")).unwrap();
    assert!(!bonds.contains(&address), "{bonds}");
    let state = std::fs::read_to_string(dir.path().join("ble-plug-0/state.json")).unwrap();
    let hci0 = world.info["adapter"]["address"].as_str().unwrap();
    assert!(state.contains(hci0), "{state}");
    assert_eq!(
        echo(&world, "hci0", &address),
        Err("org.bluez.Error.NotPermitted".into()),
        "no bond on the adapter's side any more"
    );
}
