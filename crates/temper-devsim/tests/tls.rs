//! TLS on the simulated camera, checked with real peers: `openssl s_client`, `openssl req`, curl, and
//! a station CA from `temper_core::pki`.

mod common;

use std::time::SystemTime;

use common::certs::{install, login_ready, pem_block, served_fingerprint, sh};
use common::Sim;
use temper_core::pki::{check_csr, CaKeyKind, CertPolicy, DeviceIdentity, StationCa};

const FACTORY_FP: &str = "4e62912de781820e10742c9243b665ffeced1dc00621600d5a455749a6e0cc3c";

fn ca() -> StationCa {
    StationCa::generate(CaKeyKind::EcdsaP256, "Test station CA", SystemTime::now()).unwrap()
}

fn identity(serial: &str, ip: &str) -> DeviceIdentity {
    DeviceIdentity {
        serial: serial.to_string(),
        dns: None,
        ip: Some(ip.parse().unwrap()),
    }
}

#[tokio::test]
async fn factory_certificate_is_shared_and_only_tls12_and_13_are_spoken() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ip1, ip2) = ("127.0.78.1", "127.0.78.2");
    let sim1 = Sim::spawn(d1.path(), ip1, &[]);
    let sim2 = Sim::spawn(d2.path(), ip2, &[]);
    assert_ne!(sim1.info.serial, sim2.info.serial);
    let mut con = sim1.console().await;
    let boot = con.wait_boot().await;
    assert!(boot.contains("Starting httpsd: OK"), "{boot}");
    sim2.console().await.wait_boot().await;

    let fp1 = served_fingerprint(ip1);
    assert_eq!(fp1, served_fingerprint(ip2), "two units, one factory cert");
    assert_eq!(fp1, FACTORY_FP);

    let (ok, text) = sh(&format!(
        "openssl s_client -connect {ip1}:443 -tls1_1 -cipher DEFAULT@SECLEVEL=0 </dev/null"
    ));
    assert!(!ok && !text.contains("BEGIN CERTIFICATE"), "{text}");
    for (flag, version) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let (ok, text) = sh(&format!(
            "openssl s_client -connect {ip1}:443 {flag} </dev/null"
        ));
        assert!(ok && text.contains(&format!("New, {version}")), "{text}");
    }

    // The Digest web admin is behind it.
    let (_, code) = sh(&format!(
        "curl -sk -o /dev/null -w '%{{http_code}}' --max-time 5 https://{ip1}/"
    ));
    assert_eq!(code, "401");
    let (_, code) = sh(&format!(
        "curl -sk -o /dev/null -w '%{{http_code}}' --max-time 5 --digest -u admin:admin https://{ip1}/"
    ));
    assert_eq!(code, "200");
    assert!(sim1
        .events()
        .iter()
        .any(|e| e["event"] == "auth" && e["service"] == "https" && e["ok"] == true));

    assert!(con.login("root", "xmhdipc").await);
    let ls = con.run("ls /etc/init.d").await;
    assert!(ls.contains("httpsd"), "{ls}");
    let show = con.run("certtool show").await;
    assert!(show.contains(&format!("serving {FACTORY_FP}")), "{show}");
    assert!(show.contains("installed none"), "{show}");
    let st = con.run("/etc/init.d/httpsd status").await;
    assert!(st.contains("httpsd: running, enabled"), "{st}");
}

#[tokio::test]
async fn clock_starts_in_1970_and_date_s_holds_until_power_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.78.3";
    let mut sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = login_ready(&sim).await;
    let out = con.run("date").await;
    assert!(
        out.contains("Thu Jan  1 00:00:") && out.contains("UTC 1970"),
        "{out}"
    );
    let out = con.run("date -s '2025-06-01 12:00:00'").await;
    assert!(out.contains("Sun Jun  1 12:00:00 UTC 2025"), "{out}");
    let out = con.run("date +%s").await;
    let unix: i64 = out
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .expect("a number");
    assert!((1_748_779_200..1_748_779_260).contains(&unix), "{out}");
    let out = con.run("date -s 'not a date'").await;
    assert!(out.contains("date: invalid date 'not a date'"), "{out}");
    assert!(sim
        .events()
        .iter()
        .any(|e| e["event"] == "clock-set" && e["unix"] == 1_748_779_200));
    drop(con);

    sim.kill();
    let sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = login_ready(&sim).await;
    let out = con.run("date").await;
    assert!(
        out.contains("UTC 1970"),
        "clock survived a power cycle: {out}"
    );
}

#[tokio::test]
async fn device_key_csr_signed_chain_installed_served_and_kept_across_power_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let ip = "127.0.78.4";
    let mut sim = Sim::spawn(dir.path(), ip, &[]);
    let serial = sim.info.serial.clone();
    let mut con = login_ready(&sim).await;
    let challenge = "Zq4-wT9pLx2vKc7R";
    let csr_cmd = format!("certtool csr --cn {serial} --challenge '{challenge}' --san-ip {ip}");

    let out = con.run(&csr_cmd).await;
    assert!(out.contains("ERR no key: run certtool genkey"), "{out}");
    let out = con.run("certtool genkey").await;
    assert!(out.contains("OK key generated"), "{out}");
    let out = con.run(&csr_cmd).await;
    assert!(!out.contains("PRIVATE KEY"), "{out}");
    let csr = pem_block(&out, "CERTIFICATE REQUEST");
    std::fs::write(w.join("dev.csr"), &csr).unwrap();
    let (ok, text) = sh(&format!(
        "cd {} && openssl req -verify -noout -in dev.csr",
        w.display()
    ));
    assert!(ok && text.contains("verify OK"), "{text}");
    let (_, text) = sh(&format!(
        "cd {} && openssl req -noout -text -in dev.csr",
        w.display()
    ));
    assert!(text.contains("challengePassword"), "{text}");
    assert!(text.contains(challenge), "{text}");
    assert!(text.contains(&format!("IP Address:{ip}")), "{text}");

    // The station checks and signs it; the device installs the chain.
    let ca = ca();
    std::fs::write(w.join("ca.pem"), ca.cert_pem()).unwrap();
    let policy = CertPolicy::default();
    let id = identity(&serial, ip);
    let checked = check_csr(&csr, &policy, &id, challenge).expect("CSR passes the station's check");
    let cert = ca.sign(&checked, &policy, &id, SystemTime::now()).unwrap();
    let chain = format!("{}{}", cert.pem, ca.cert_pem());
    let out = install(&mut con, &chain).await;
    assert!(
        out.contains("WARN clock-unset"),
        "installing at 1970 warns: {out}"
    );
    assert!(
        out.contains(&format!("OK installed {}", cert.fingerprint_sha256)),
        "{out}"
    );

    // Pending until httpsd restarts.
    assert_eq!(served_fingerprint(ip), FACTORY_FP);
    let show = con.run("certtool show").await;
    assert!(show.contains(&format!("serving {FACTORY_FP}")), "{show}");
    assert!(
        show.contains(&format!("installed {}", cert.fingerprint_sha256)),
        "{show}"
    );
    let out = con.run("/etc/init.d/httpsd restart").await;
    assert!(out.contains("Starting httpsd: OK"), "{out}");
    let verify = format!(
        "cd {} && openssl s_client -connect {ip}:443 -CAfile ca.pem -verify_return_error -verify_ip {ip} </dev/null",
        w.display()
    );
    let (ok, text) = sh(&verify);
    assert!(ok && text.contains("Verify return code: 0 (ok)"), "{text}");
    assert_eq!(served_fingerprint(ip), cert.fingerprint_sha256);
    drop(con);

    sim.kill();
    let sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = login_ready(&sim).await;
    let (ok, text) = sh(&verify);
    assert!(
        ok && text.contains("Verify return code: 0 (ok)"),
        "after power cycle: {text}"
    );
    let show = con.run("certtool show").await;
    assert!(
        show.contains(&format!("serving {}", cert.fingerprint_sha256)),
        "{show}"
    );

    let events = sim.events();
    let has = |name: &str| events.iter().any(|e| e["event"] == name);
    for name in [
        "key-generated",
        "csr-issued",
        "cert-installed",
        "tls-restarted",
        "clock-unset",
    ] {
        assert!(has(name), "no {name} event");
    }
    assert!(events
        .iter()
        .any(|e| e["event"] == "csr-issued"
            && e["challenge_sha256"] == common::sha256_hex(challenge)));
    assert!(events
        .iter()
        .any(|e| e["event"] == "tls-restarted"
            && e["fingerprint"] == cert.fingerprint_sha256.as_str()));
    // The private key stays in the state file: not in the event log.
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    let st: serde_json::Value = serde_json::from_str(&state).unwrap();
    let key_pem = st["tls"]["key"]["pkcs8_pem"].as_str().unwrap();
    let body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let log = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(!log.contains(&body[..40]) && !log.contains("PRIVATE KEY"));
}

#[tokio::test]
async fn foreign_key_malformed_long_chain_and_oversize_input_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.78.5";
    let sim = Sim::spawn(dir.path(), ip, &["--baud", "921600"]);
    let serial = sim.info.serial.clone();
    let mut con = login_ready(&sim).await;
    let out = con.run("certtool genkey --type ec-p384").await;
    assert!(out.contains("OK key generated"), "{out}");

    // A certificate the station signed for another key.
    let other = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, serial.as_str());
    let attr = rcgen::Attribute {
        oid: &[1, 2, 840, 113549, 1, 9, 7],
        values: vec![0x31, 5, 0x0c, 3, b'a', b'b', b'c'],
    };
    let csr = params
        .serialize_request_with_attributes(&other, vec![attr])
        .unwrap()
        .pem()
        .unwrap();
    let ca = ca();
    let policy = CertPolicy::default();
    let id = identity(&serial, ip);
    let checked = check_csr(&csr, &policy, &id, "abc").unwrap();
    let foreign = ca.sign(&checked, &policy, &id, SystemTime::now()).unwrap();
    let out = install(&mut con, &foreign.pem).await;
    assert!(
        out.contains("ERR certificate does not match the device key"),
        "{out}"
    );

    let out = install(
        &mut con,
        "-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n",
    )
    .await;
    assert!(out.contains("ERR malformed PEM"), "{out}");
    let out = install(&mut con, &foreign.pem.repeat(9)).await;
    assert!(
        out.contains("ERR chain too long: 9 certificates, at most 8"),
        "{out}"
    );
    let huge = format!("{}\n", "A".repeat(64)).repeat(1100);
    let out = install(&mut con, &huge).await;
    assert!(out.contains("ERR input too long"), "{out}");

    let show = con.run("certtool show").await;
    assert!(show.contains("installed none"), "{show}");
    assert!(show.contains("key ec-p384"), "{show}");
    assert_eq!(served_fingerprint(ip), FACTORY_FP);
    let reasons: Vec<String> = sim
        .events()
        .iter()
        .filter(|e| e["event"] == "cert-refused")
        .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        reasons,
        ["key-mismatch", "malformed", "chain-too-long", "too-large"]
    );
}

fn curl_head(ip: &str, extra: &str) -> (bool, String) {
    sh(&format!(
        "curl -si --max-time 5 {extra} http://{ip}/index.html -o -"
    ))
}

#[tokio::test]
async fn http_mode_redirect_answers_301_without_auth_and_off_closes_port_80() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.78.6";
    let mut sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = login_ready(&sim).await;
    let (_, text) = curl_head(ip, "");
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    let out = con.run("cfgcli -s web.http_mode redirect").await;
    assert!(out.contains("OK"), "{out}");
    let out = con.run("cfgcli -g web.http_mode").await;
    assert!(out.contains("redirect"), "{out}");
    let auth_before = auth_events(&sim);
    let check_redirect = || {
        let (_, text) = curl_head(ip, "--digest -u admin:admin");
        assert!(text.starts_with("HTTP/1.1 301"), "{text}");
        assert!(
            text.contains(&format!("Location: https://{ip}/index.html")),
            "{text}"
        );
        assert!(!text.contains("WWW-Authenticate"), "{text}");
    };
    check_redirect();
    assert_eq!(auth_events(&sim), auth_before, "no credential checked");
    drop(con);

    sim.kill();
    let mut sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = login_ready(&sim).await;
    check_redirect();
    let out = con.run("cfgcli -s web.http_mode off").await;
    assert!(out.contains("OK"), "{out}");
    assert!(
        std::net::TcpStream::connect((ip, 80)).is_err(),
        "port 80 open"
    );
    let out = con.run("/etc/init.d/httpd start").await;
    assert!(out.contains("Starting httpd: FAILED"), "{out}");
    drop(con);

    sim.kill();
    let sim = Sim::spawn(dir.path(), ip, &[]);
    let mut con = sim.console().await;
    let boot = con.wait_boot().await;
    assert!(!boot.contains("Starting httpd:"), "{boot}");
    assert!(std::net::TcpStream::connect((ip, 80)).is_err());
    assert!(con.login("root", "xmhdipc").await);
    con.run("cfgcli -s web.http_mode on").await;
    let (_, text) = curl_head(ip, "");
    assert!(
        text.starts_with("HTTP/1.1 401") && text.contains("WWW-Authenticate: Digest"),
        "{text}"
    );
    assert!(sim
        .events()
        .iter()
        .any(|e| e["event"] == "http-mode-set" && e["mode"] == "off"));
}

fn auth_events(sim: &Sim) -> usize {
    sim.events()
        .iter()
        .filter(|e| e["event"] == "auth" && e["service"] == "http")
        .count()
}
