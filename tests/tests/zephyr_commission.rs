//! End to end: a simulated Zephyr sensor (MCUmgr/SMP on a paced PTY, no login) is found on the simulated USB
//! bus and commissioned by `temper commission --device SERIAL` through its profile alone. What Temper reports
//! is then proven independently: curl against the HTTP admin, raw sockets against telnet and SMP over UDP,
//! the simulator's own settings file and event log, and the inventory file for plaintext.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;
use temper_e2e::*;

/// The site's broker, as the sensor leaves the factory.
const FACTORY_BROKER: &str = "mqtt.nordsense.example:8883";

fn sensor(dir: &Path, ip: &str) -> (Sim, std::path::PathBuf) {
    let bus = dir.join("bus");
    std::fs::create_dir_all(&bus).unwrap();
    let bus_arg = bus.to_str().unwrap().to_string();
    let sim = Sim::start_with(
        &dir.join("state"),
        ip,
        &["--model", "zephyr-sensor", "--usb-bus", &bus_arg],
    );
    (sim, bus)
}

/// `temper --json commission --device SERIAL` with the simulated bus.
fn commission_device(inventory: &Path, bus: &Path, serial: &str) -> Command {
    ensure_inventory(inventory);
    let mut cmd = temper(inventory);
    cmd.env("TEMPER_SIM_BUS", bus)
        .args(["--json", "commission", "--device", serial]);
    cmd
}

fn run_ok(mut cmd: Command) -> Output {
    let output = cmd.output().expect("run temper");
    assert!(output.status.success(), "commission: {}", describe(&output));
    output
}

/// The report's check with `id` whose subject contains `subject`.
fn check<'a>(report: &'a Value, id: &str, subject: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id && c["subject"].as_str().unwrap_or("").contains(subject))
        .unwrap_or_else(|| panic!("no check {id} on {subject} in {report:#}"))
}

/// The settings the sensor has written (its own file): name → value.
fn device_setting(sim: &Sim, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(sim.state.join("settings.json")).ok()?;
    let v: Value = serde_json::from_str(&text).expect("settings.json");
    v["written"][name].as_str().map(str::to_string)
}

/// HTTP status of a Digest-authenticated GET of the admin page, by curl.
fn curl_digest(ip: &str, user: &str, password: &str) -> String {
    curl_digest_at(&format!("http://{ip}/"), None, user, password)
}

/// Whether anything answers an SMP OS echo (v1) on udp/1337, by hand-made bytes: header, then CBOR {"d":"hi"}.
fn smp_udp_answers(ip: &str) -> bool {
    let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
    sock.connect(format!("{ip}:1337")).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let payload = [0xa1, 0x61, b'd', 0x62, b'h', b'i'];
    let mut packet = vec![2, 0, 0, payload.len() as u8, 0, 0, 7, 0];
    packet.extend_from_slice(&payload);
    let _ = sock.send(&packet);
    let mut buf = [0u8; 256];
    matches!(sock.recv(&mut buf), Ok(n) if n >= 8 && buf[6] == 7)
}

#[test]
fn zephyr_sensor_is_commissioned_through_its_profile_alone() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.95.1";
    let (sim, bus) = sensor(dir.path(), ip);
    let inventory = dir.path().join("inv").join("inventory.db");
    std::fs::create_dir_all(inventory.parent().unwrap()).unwrap();
    // The factory state: default admin password, telnet and SMP over UDP open.
    assert_eq!(curl_digest(ip, "admin", "nordsense"), "200");
    assert!(tcp_open(ip, 23) && smp_udp_answers(ip));

    let output = run_ok(commission_device(&inventory, &bus, &sim.serial));
    let report = report_of(&output);
    assert_eq!(report["hardened"], true, "{report:#}");
    assert_eq!(report["profile_id"], "zephyr-sensor");

    // The admin password: the inventory's works, the factory one does not (curl, a real Digest client).
    let web = credential(&inventory, &sim.serial, "web-admin");
    let current = web.current.expect("a current web-admin password");
    assert_ne!(current.expose(), "nordsense");
    assert_eq!(curl_digest(ip, "admin", current.expose()), "200");
    assert_eq!(curl_digest(ip, "admin", "nordsense"), "401");
    // Telnet and SMP over UDP: open in Temper's baseline, closed now, seen from outside and in the settings.
    assert!(!tcp_open(ip, 23), "telnet still accepts connections");
    assert!(!smp_udp_answers(ip), "SMP over UDP still answers");
    assert_eq!(device_setting(&sim, "net/telnet").as_deref(), Some("0"));
    assert_eq!(device_setting(&sim, "mcumgr/udp").as_deref(), Some("0"));
    let telnet = check(&report, "cleartext-shell-closed", ":23");
    assert_eq!(telnet["passed"], true, "{telnet}");
    let udp = check(&report, "udp-port-closed", ":1337");
    assert_eq!(udp["passed"], true, "{udp}");
    assert!(
        udp["detail"].as_str().unwrap().contains("smp"),
        "the baseline saw SMP on 1337: {udp}"
    );
    // The client certificate: proven to Temper's endpoint, and the device connected there with it.
    let client = check(&report, "tls-client-certificate-verified", "mqtt/broker");
    assert_eq!(client["passed"], true, "{client}");
    let certs = device_certs(&inventory, &sim.serial);
    let active = certs
        .iter()
        .find(|c| c.state == temper_core::inventory::CertState::Active)
        .expect("an active certificate");
    assert!(client["detail"]
        .as_str()
        .unwrap()
        .contains(&active.fingerprint));
    let connected: Vec<Value> = sim
        .events()
        .into_iter()
        .filter(|e| e["event"] == "mqtt" && e["outcome"] == "connected")
        .collect();
    assert!(
        !connected.is_empty(),
        "the device connected to Temper's endpoint"
    );
    // ... and the site's broker is back, on the device itself.
    assert_eq!(
        device_setting(&sim, "mqtt/broker").unwrap_or(FACTORY_BROKER.into()),
        FACTORY_BROKER
    );
    // No secret in the inventory's files.
    assert_no_plaintext(inventory.parent().unwrap(), &[current.expose().to_string()]);

    // A second run changes nothing and proves it all again.
    let again = report_of(&run_ok(commission_device(&inventory, &bus, &sim.serial)));
    assert_eq!(again["hardened"], true, "{again:#}");
    let web_again = credential(&inventory, &sim.serial, "web-admin");
    assert_eq!(web_again.current, Some(current));
    assert_eq!(
        device_certs(&inventory, &sim.serial).len(),
        certs.len(),
        "no new certificate on a re-run"
    );
}

/// Killed while the device points at Temper's endpoint, the next run puts the site's broker back first.
#[test]
fn killed_while_the_device_points_at_temper_the_next_run_restores_the_broker() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.95.2";
    let (sim, bus) = sensor(dir.path(), ip);
    let inventory = dir.path().join("inv").join("inventory.db");
    std::fs::create_dir_all(inventory.parent().unwrap()).unwrap();
    let mut cmd = commission_device(&inventory, &bus, &sim.serial);
    let mut child = spawn_until_stopped(&mut cmd, "certificate:endpoint-pointed");
    let pointed = device_setting(&sim, "mqtt/broker").expect("mqtt/broker written");
    assert_ne!(pointed, FACTORY_BROKER, "the device points at Temper now");
    child.kill().unwrap();
    child.wait().unwrap();

    let output = run_ok(commission_device(&inventory, &bus, &sim.serial));
    assert_eq!(report_of(&output)["hardened"], true);
    assert_eq!(
        device_setting(&sim, "mqtt/broker").as_deref(),
        Some(FACTORY_BROKER),
        "the site's broker is back on the device"
    );
}

/// On a bare port (no USB identity to narrow the profiles by), the console profiles get no prompt and Temper
/// speaks SMP instead: the sensor is still recognised and hardened.
#[test]
fn on_a_bare_port_the_sensor_is_found_over_smp_after_the_console_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.95.3";
    let sim = Sim::start_with(&dir.path().join("state"), ip, &["--model", "zephyr-sensor"]);
    let inventory = dir.path().join("inv").join("inventory.db");
    std::fs::create_dir_all(inventory.parent().unwrap()).unwrap();
    let output = commission(&inventory, &sim.port);
    assert!(output.status.success(), "{}", describe(&output));
    let report = report_of(&output);
    assert_eq!(report["profile_id"], "zephyr-sensor");
    assert_eq!(report["hardened"], true);
    assert!(!tcp_open(ip, 23));
}

/// `temper demo --model zephyr-sensor` plugs in the simulated sensor and secures it (and so does the default
/// camera demo, which the README's first command runs on a headless machine, and the BLE plug's demo).
#[test]
fn the_demo_secures_a_simulated_sensor_a_camera_and_a_ble_plug() {
    for model in ["zephyr-sensor", "ipcam", "ble-plug"] {
        let dir = tempfile::tempdir().unwrap();
        let output = temper(&dir.path().join("inventory.db"))
            .env_remove("TEMPER_INVENTORY_PASSPHRASE")
            .args(["demo", "--model", model, "--dir"])
            .arg(dir.path().join("demo"))
            .output()
            .expect("run temper demo");
        assert!(output.status.success(), "{model}: {}", describe(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("HARDENED and verified from outside"),
            "{model}: {stdout}"
        );
    }
}
