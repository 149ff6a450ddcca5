//! The zephyr-sensor's services from outside, with real peers: smpmgr over the UART and over UDP, the Python
//! smpclient (settings, datetime), curl's Digest, a telnet client, openssl on the device's CSR, and an
//! MQTT-over-TLS broker (tokio-rustls) that requires a client certificate.
//!
//! smpmgr/smpclient come from the venv `/var/tmp/temper-venv` that `scripts/deps.sh test` creates; without it
//! these tests fail (they are never skipped).

mod common;
#[path = "zephyr_services/peers.rs"]
mod peers;
#[path = "zephyr_services/tls.rs"]
mod tls;

use std::io::ErrorKind;
use std::net::TcpStream;

use ciborium::Value;
use common::certs::sh;
use common::{secs, Sim};
use peers::*;
use serde_json::json;
use temper_core::proto::smp::header::{Op, SmpVersion};

fn spawn(dir: &std::path::Path, ip: &str) -> Sim {
    Sim::spawn_model("zephyr-sensor", dir, ip, &["--no-usb-bus"])
}

/// The value of `key` in a CBOR map.
fn field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn has_event(sim: &Sim, event: &str, fields: &[(&str, serde_json::Value)]) -> bool {
    sim.events()
        .iter()
        .any(|e| e["event"] == event && fields.iter().all(|(k, v)| e[*k] == *v))
}

fn assert_udp_closed(ip: &str, why: &str) {
    let echo = map(vec![("d", Value::Text("hi".into()))]);
    match udp_smp(ip, SmpVersion::V2, Op::Write, 0, 0, echo) {
        Err(e) => assert_eq!(
            e.kind(),
            ErrorKind::ConnectionRefused,
            "{why}: udp/1337 must be closed (ICMP port unreachable), not just silent: {e}"
        ),
        Ok(reply) => panic!("{why}: udp/1337 still answers: {reply:?}"),
    }
}

fn tcp_refused(ip: &str, port: u16) -> bool {
    let addr = format!("{ip}:{port}").parse().unwrap();
    matches!(TcpStream::connect_timeout(&addr, secs(3)), Err(e) if e.kind() == ErrorKind::ConnectionRefused)
}

#[test]
fn uart_and_udp_reach_one_server_and_udp_stays_off_after_a_power_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.78.0.1";
    let mut sim = spawn(dir.path(), ip);
    let port = sim.info.port.clone();

    let (ok, out) = smpmgr(&["--ip", ip], &["shell", "cert genkey ec-p256"]);
    assert!(ok && out.contains("OK key generated"), "{out}");
    let (ok, out) = smpmgr(&["--port", &port], &["shell", "cred list"]);
    assert!(
        ok && out.contains("42,PRIVATE_KEY,") && out.contains("1 credentials found."),
        "the key made over UDP is listed over the UART: one server behind both: {out}"
    );
    let (ok, out) = smpmgr(&["--port", &port], &["shell", "app info"]);
    let serial = &sim.info.serial;
    for line in [
        "model: NS-ENV1",
        &format!("serial: {serial}"),
        "firmware: 1.0.0",
    ] {
        assert!(ok && out.contains(line), "app info lacks {line:?}: {out}");
    }

    let results = smpclient(
        dir.path(),
        &port,
        json!([{"op": "write", "name": "mcumgr/udp", "val": "0"}, {"op": "commit"}]),
    );
    assert!(results.iter().all(|r| r["ok"] == true), "{results:?}");
    assert_udp_closed(ip, "after mcumgr/udp=0 and commit");
    let (ok, out) = smpmgr_timeout(&["--ip", ip], 1, &["os", "echo", "hi"]);
    assert!(!ok, "smpmgr over UDP must fail once UDP is off: {out}");
    assert!(has_event(
        &sim,
        "service",
        &[("name", json!("smp-udp")), ("state", json!("down"))]
    ));

    sim.kill();
    let sim = spawn(dir.path(), ip);
    assert_udp_closed(ip, "after a power cycle");
    let (ok, out) = smpmgr(&["--port", &sim.info.port], &["os", "echo", "still here"]);
    assert!(
        ok && out.contains("still here"),
        "the UART still answers: {out}"
    );
    let results = smpclient(
        dir.path(),
        &sim.info.port,
        json!([{"op": "read", "name": "mcumgr/udp"}]),
    );
    assert_eq!(
        results[0]["val"], "0",
        "the setting survived the power cycle"
    );
}

#[test]
fn settings_read_write_delete_commit_with_smpclient() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.78.0.2";
    let mut sim = spawn(dir.path(), ip);
    let secret = "N3w-Secret!x";
    let results = smpclient(
        dir.path(),
        &sim.info.port,
        json!([
            {"op": "read", "name": "app/admin_pw"},
            {"op": "read", "name": "net/telnet"},
            {"op": "read", "name": "mqtt/broker"},
            {"op": "read", "name": "app/nope"},
            {"op": "write", "name": "net/telnet", "val": "maybe"},
            {"op": "write", "name": "mqtt/broker", "val": "127.0.0.1:18883"},
            {"op": "read", "name": "mqtt/broker"},
            {"op": "write", "name": "app/admin_pw", "val": secret},
            {"op": "read", "name": "app/admin_pw"},
            {"op": "delete", "name": "mqtt/broker"},
            {"op": "read", "name": "mqtt/broker"},
            {"op": "write", "name": "net/telnet", "val": "0"},
            {"op": "save"},
            {"op": "load"},
            {"op": "read", "name": "net/telnet"},
            {"op": "commit"},
        ]),
    );
    let refused = json!({"ok": false, "group": 3, "rc": 4});
    assert_eq!(
        results[0], refused,
        "app/admin_pw is write-only (READ_NOT_SUPPORTED)"
    );
    assert_eq!(results[1]["val"], "1");
    assert_eq!(results[2]["val"], "mqtt.nordsense.example:8883");
    assert_eq!(
        results[3],
        json!({"ok": false, "group": 3, "rc": 3}),
        "unknown name: KEY_NOT_FOUND"
    );
    assert_eq!(
        results[4]["ok"], false,
        "a value the device refuses: {:?}",
        results[4]
    );
    assert_eq!(results[6]["val"], "127.0.0.1:18883");
    assert_eq!(results[7]["ok"], true);
    assert_eq!(
        results[8], refused,
        "still refused after a write, never revealed"
    );
    assert_eq!(
        results[10]["val"], "mqtt.nordsense.example:8883",
        "delete: factory value back"
    );
    assert_eq!(results[14]["val"], "0");
    assert!(
        [5, 9, 11, 12, 13, 15]
            .iter()
            .all(|&i| results[i]["ok"] == true),
        "{results:?}"
    );
    assert!(tcp_refused(ip, 23), "the commit turned telnet off");

    // The same refusal in SMP v1: the settings error mapped to MGMT_ERR_ENOENT.
    let name = || map(vec![("name", Value::Text("app/admin_pw".into()))]);
    let v1 = udp_smp(ip, SmpVersion::V1, Op::Read, 3, 0, name()).unwrap();
    assert_eq!(v1, map(vec![("rc", Value::Integer(5.into()))]));
    let v2 = udp_smp(ip, SmpVersion::V2, Op::Read, 3, 0, name()).unwrap();
    let err = map(vec![
        ("group", Value::Integer(3.into())),
        ("rc", Value::Integer(4.into())),
    ]);
    assert_eq!(v2, map(vec![("err", err)]));

    let log = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(!log.contains(secret), "the admin password is never logged");
    assert!(has_event(
        &sim,
        "settings_write",
        &[("name", json!("app/admin_pw"))]
    ));
    assert!(has_event(&sim, "settings_commit", &[]));

    sim.kill();
    let sim = spawn(dir.path(), ip);
    let results = smpclient(
        dir.path(),
        &sim.info.port,
        json!([{"op": "read", "name": "net/telnet"}]),
    );
    assert_eq!(results[0]["val"], "0", "written settings persist");
    assert!(tcp_refused(ip, 23), "telnet stays off after a power cycle");
}

fn curl_status(ip: &str, password: &str) -> String {
    let (ok, out) = sh(&format!(
        "curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 --digest -u 'admin:{password}' http://{ip}/"
    ));
    assert!(ok, "curl: {out}");
    out
}

#[test]
fn http_digest_admin_takes_the_new_password_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.78.0.3";
    let mut sim = spawn(dir.path(), ip);
    let new_pw = "Tr0ub4dor-and-3";
    assert_eq!(curl_status(ip, "nordsense"), "200", "factory password");
    assert_eq!(curl_status(ip, "wrong"), "401");
    let (ok, page) = sh(&format!("curl -s --digest -u admin:nordsense http://{ip}/"));
    assert!(
        ok && page.contains("NS-ENV1") && page.contains(&sim.info.serial),
        "{page}"
    );

    let results = smpclient(
        dir.path(),
        &sim.info.port,
        json!([{"op": "write", "name": "app/admin_pw", "val": new_pw}]),
    );
    assert_eq!(results[0]["ok"], true);
    assert_eq!(
        curl_status(ip, "nordsense"),
        "200",
        "written, not committed: the old password still works"
    );
    assert_eq!(curl_status(ip, new_pw), "401");
    let results = smpclient(dir.path(), &sim.info.port, json!([{"op": "commit"}]));
    assert_eq!(results[0]["ok"], true);
    assert_eq!(
        curl_status(ip, "nordsense"),
        "401",
        "the factory password is gone"
    );
    assert_eq!(curl_status(ip, new_pw), "200");

    sim.kill();
    let _sim = spawn(dir.path(), ip);
    assert_eq!(curl_status(ip, new_pw), "200", "after a power cycle");
    assert_eq!(curl_status(ip, "nordsense"), "401");
    let log = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(
        !log.contains(new_pw) && !log.contains("nordsense"),
        "no password in the log"
    );
}

#[test]
fn telnet_shell_runs_the_same_commands_and_closes_at_commit() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.78.0.4";
    let sim = spawn(dir.path(), ip);
    let mut t = telnet_shell(ip);
    assert_eq!(
        run(&mut t, "app info"),
        format!(
            "model: NS-ENV1\nserial: {}\nfirmware: 1.0.0\n",
            sim.info.serial
        )
    );
    assert_eq!(run(&mut t, "kernel version"), "Zephyr version 3.7.0\n");
    assert_eq!(
        run(&mut t, "frobnicate now"),
        "frobnicate: command not found\n"
    );
    let iface = run(&mut t, "net iface");
    assert!(iface.contains("Interface eth0 (0x"), "{iface}");
    assert!(
        iface.contains(&format!(
            "IPv4 unicast addresses (max 1):\n\t{ip}/255.0.0.0 manual preferred infinite\n"
        )),
        "{iface}"
    );
    let (_, out) = smpmgr(&["--port", &sim.info.port], &["shell", "frobnicate"]);
    assert!(
        out.contains("frobnicate: command not found"),
        "same wording over SMP: {out}"
    );
    let exec = map(vec![(
        "argv",
        Value::Array(vec![Value::Text("frobnicate".into())]),
    )]);
    let reply = udp_smp(ip, SmpVersion::V2, Op::Write, 9, 0, exec).unwrap();
    assert_eq!(
        reply,
        map(vec![
            ("o", Value::Text("frobnicate: command not found\n".into())),
            ("ret", Value::Integer((-8).into())),
        ]),
        "unknown command: ret -ENOEXEC"
    );

    udp_set_and_commit(ip, "net/telnet", "0");
    assert!(
        tcp_refused(ip, 23),
        "tcp/23 refused once net/telnet=0 is committed"
    );
    assert!(t.closed_within(secs(2)), "the open telnet session ends too");
    assert!(has_event(
        &sim,
        "service",
        &[("name", json!("telnet")), ("state", json!("down"))]
    ));

    udp_set_and_commit(ip, "net/telnet", "1");
    let mut t = telnet_shell(ip);
    assert_eq!(
        run(&mut t, "kernel version"),
        "Zephyr version 3.7.0\n",
        "back on"
    );
}
