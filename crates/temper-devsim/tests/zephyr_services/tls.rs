//! The sensor's TLS side from outside: the clock, the on-device key and CSR (checked with openssl), the `cred`
//! store, and `mqtt connect` against a client-authenticating broker.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ciborium::Value;
use serde_json::json;
use sha2::{Digest, Sha256};
use temper_core::proto::smp::header::{Op, SmpVersion};

use super::common::certs::sh;
use super::peers::*;
use super::{field, has_event, spawn};

/// base64 (standard, padded) of the SHA-256 of `bytes`: the `cred list` digest.
fn digest(bytes: &[u8]) -> String {
    B64.encode(Sha256::digest(bytes))
}

/// The broker saw a TLS handshake the device aborted (rustls alerts CertificateExpired for "not valid yet").
fn assert_refused_handshake(seen: Seen) {
    match seen {
        Seen::Failed(reason) => assert!(reason.contains("fatal alert"), "{reason}"),
        other => panic!("the handshake must fail: {other:?}"),
    }
}

#[test]
fn datetime_key_csr_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.78.0.5";
    let mut sim = spawn(dir.path(), ip);
    let results = smpclient(
        dir.path(),
        &sim.info.port,
        json!([
            {"op": "datetime-read"},
            {"op": "datetime-write", "datetime": "2026-01-01T12:00:00.250+00:00"},
            {"op": "datetime-read"},
            {"op": "datetime-write", "datetime": "yesterday"},
        ]),
    );
    let first = results[0]["datetime"].as_str().unwrap();
    assert!(
        first.starts_with("1970-01-01T00:00:"),
        "no RTC: the clock starts at 1970: {first}"
    );
    assert_eq!(results[1]["ok"], true);
    let now = results[2]["datetime"].as_str().unwrap();
    assert!(now.starts_with("2026-01-01T12:00:0"), "{now}");
    assert_eq!(
        results[3],
        json!({"ok": false, "rc": 3}),
        "bad format: EINVAL"
    );

    let mut t = telnet_shell(ip);
    assert_eq!(
        run(&mut t, "cert csr --cn a --challenge b"),
        "error: no key\n"
    );
    assert_eq!(
        run(&mut t, "cert genkey rsa-2048"),
        "error: unknown key type\n"
    );
    assert_eq!(run(&mut t, "cert genkey ec-p256"), "OK key generated\n");
    let cn = format!("ns-env1-{}", sim.info.serial);
    let csr = run(
        &mut t,
        &format!("cert csr --cn {cn} --challenge Ch4llenge-17"),
    );
    assert!(
        csr.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"),
        "{csr}"
    );
    std::fs::write(dir.path().join("dev.csr"), &csr).unwrap();
    let csr_path = dir.path().join("dev.csr").display().to_string();
    let (ok, out) = sh(&format!("openssl req -in {csr_path} -verify -noout 2>&1"));
    assert!(
        ok && out.contains("verify OK"),
        "openssl verifies the request's signature: {out}"
    );
    let (ok, text) = sh(&format!("openssl req -in {csr_path} -noout -text 2>&1"));
    assert!(ok && text.contains(&format!("CN = {cn}")), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("challengePassword") && l.contains("Ch4llenge-17")),
        "openssl reads the challenge back: {text}"
    );

    let ca = TestCa::new();
    let client = ca.sign_csr(&csr);
    let spki = {
        use x509_parser::prelude::FromDer;
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(csr.as_bytes())
            .map(|d: rustls::pki_types::CertificateSigningRequestDer| d.as_ref().to_vec())
            .unwrap();
        let (_, req) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        req.certification_request_info.subject_pki.raw.to_vec()
    };
    assert!(cred_add(&mut t, 42, "PUBLIC_CERT", &client).starts_with("Added TLS credential"));
    assert!(cred_add(&mut t, 7, "CA_CERT", &ca.der()).starts_with("Added TLS credential"));
    let foreign = cred_add(&mut t, 43, "PUBLIC_CERT", &ca.foreign_cert());
    assert!(
        foreign.starts_with("error: certificate does not match the device key\n"),
        "{foreign}"
    );
    let again = cred_add(&mut t, 7, "CA_CERT", &ca.der());
    assert!(again.contains("already exists"), "{again}");
    let expected = format!(
        "7,CA_CERT,{},0\n42,PUBLIC_CERT,{},0\n42,PRIVATE_KEY,{},0\n3 credentials found.\n",
        digest(&ca.der()),
        digest(&client),
        digest(&spki)
    );
    assert_eq!(
        run(&mut t, "cred list"),
        expected,
        "digest = base64 SHA-256 of the DER"
    );

    // The staging buffer holds at most 4096 bytes (decoded): overflow clears it.
    let chunk = "A".repeat(200);
    let outs: Vec<String> = (0..28)
        .map(|_| run(&mut t, &format!("cred buf {chunk}")))
        .collect();
    assert!(
        outs[..27].iter().all(|o| o == "Stored 200 bytes.\n"),
        "{outs:?}"
    );
    assert!(
        outs[27].starts_with("Not enough room in credential buffer"),
        "{}",
        outs[27]
    );
    assert_eq!(
        run(&mut t, "cred add 9 CA_CERT DEFAULT bint"),
        "Please provide a credential to add.\n"
    );

    assert_eq!(
        run(&mut t, "cred del 7 CA_CERT"),
        "Deleted TLS credential with sectag 7 and type CA_CERT.\n"
    );
    sim.kill();
    let sim = spawn(dir.path(), ip);
    let mut t = telnet_shell(ip);
    let after = run(&mut t, "cred list");
    assert_eq!(
        after,
        format!(
            "42,PUBLIC_CERT,{},0\n42,PRIVATE_KEY,{},0\n2 credentials found.\n",
            digest(&client),
            digest(&spki)
        ),
        "credentials persist across a power cycle"
    );
    let dt = udp_smp(ip, SmpVersion::V2, Op::Read, 0, 4, map(vec![])).unwrap();
    let dt = field(&dt, "datetime")
        .and_then(Value::as_text)
        .unwrap_or_default();
    assert!(
        dt.starts_with("1970-01-01T00:00:0"),
        "the clock is back at 1970 after the power cycle: {dt}"
    );
    let log = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(
        !log.contains("PRIVATE KEY") && !after.contains("PRIVATE KEY"),
        "the key never leaves the device"
    );
    drop(sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_over_tls_needs_the_ca_the_device_cert_and_a_set_clock() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.78.0.6";
    let mut sim = spawn(dir.path(), ip);
    let ca = TestCa::new();
    let (port, mut seen) = start_broker(&ca).await;
    let broker = format!("127.0.0.1:{port}");

    let mut t = telnet_shell(ip);
    assert_eq!(run(&mut t, "cert genkey ec-p256"), "OK key generated\n");
    let csr = run(&mut t, "cert csr --cn sensor --challenge c");
    let client = ca.sign_csr(&csr);
    assert!(cred_add(&mut t, 42, "PUBLIC_CERT", &client).starts_with("Added"));
    udp_set_and_commit(ip, "mqtt/broker", &broker);

    let out = run(&mut t, "mqtt connect");
    assert_eq!(
        out, "mqtt: error: no trust anchor: add a CA_CERT credential\n",
        "fails without the CA"
    );
    assert!(cred_add(&mut t, 5, "CA_CERT", &ca.der()).starts_with("Added"));

    let out = run(&mut t, "mqtt connect");
    assert!(
        out.starts_with("mqtt: error: TLS handshake") && out.contains("not valid"),
        "the clock at 1970: the broker's certificate is not valid yet: {out}"
    );
    assert_refused_handshake(next_seen(&mut seen).await);

    udp_set_clock(ip, "2026-01-01T00:00:00Z");
    let port_path = sim.info.port.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || {
        smpmgr(&["--port", &port_path], &["shell", "mqtt connect"])
    })
    .await
    .unwrap();
    assert!(
        ok && out.contains(&format!("mqtt: connected to {broker}")),
        "{out}"
    );
    match next_seen(&mut seen).await {
        Seen::Connected {
            client_id,
            client_cert,
            peer,
        } => {
            assert_eq!(client_id, sim.info.serial, "client id = serial");
            assert_eq!(
                client_cert, client,
                "the device presents its installed certificate"
            );
            assert_eq!(peer.ip().to_string(), ip, "from the device's own address");
        }
        other => panic!("the broker saw {other:?}"),
    }
    assert_eq!(
        run(&mut t, "mqtt status"),
        format!("broker: {broker}\nlast: connected\n")
    );
    assert!(has_event(
        &sim,
        "mqtt",
        &[("outcome", json!("connected")), ("broker", json!(broker))]
    ));

    // A reboot puts the clock back at 1970: the same connection fails again (shell exec over UDP: ret != 0).
    sim.kill();
    let _sim = spawn(dir.path(), ip);
    let exec = map(vec![(
        "argv",
        Value::Array(vec![
            Value::Text("mqtt".into()),
            Value::Text("connect".into()),
        ]),
    )]);
    let ip_owned = ip.to_string();
    let reply = tokio::task::spawn_blocking(move || {
        udp_smp(&ip_owned, SmpVersion::V2, Op::Write, 9, 0, exec)
    })
    .await
    .unwrap()
    .unwrap();
    let o = field(&reply, "o")
        .and_then(Value::as_text)
        .unwrap_or_default();
    assert!(
        o.starts_with("mqtt: error: TLS handshake") && o.contains("not valid yet"),
        "{reply:?}"
    );
    let ret = field(&reply, "ret")
        .and_then(Value::as_integer)
        .map(i128::from);
    assert!(
        ret.is_some_and(|r| r != 0),
        "ret != 0 on failure: {reply:?}"
    );
    assert_refused_handshake(next_seen(&mut seen).await);
}
