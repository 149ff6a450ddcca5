//! The two certificate slots of `--model ipcam-pro` (Simvision SV-IPC3100): make-before-break renewal
//! checked with real peers (`openssl s_client`, a station CA from `temper_core::pki`), the refusals, and
//! a power cycle.

mod common;

use std::path::Path;
use std::time::SystemTime;

use common::certs::{
    file_fingerprint, install_with, login_ready, pem_block, served_fingerprint, sh, HeldTls,
};
use common::{Console, Sim};
use temper_core::pki::{check_csr, CaKeyKind, CertPolicy, DeviceIdentity, SignedCert, StationCa};

const FACTORY_FP: &str = "4e62912de781820e10742c9243b665ffeced1dc00621600d5a455749a6e0cc3c";
const NEED_SLOT: &str = "ERR this model has two slots: give --slot 1 or --slot 2";
const CHALLENGE: &str = "Zq4-wT9pLx2vKc7R";

fn ca() -> StationCa {
    StationCa::generate(CaKeyKind::EcdsaP256, "Test station CA", SystemTime::now()).unwrap()
}

fn spawn(dir: &Path, ip: &str) -> Sim {
    Sim::spawn_model("ipcam-pro", dir, ip, &[])
}

/// The output lines of `cmd` (no echo, no prompt, no kernel lines).
async fn lines(con: &mut Console, cmd: &str) -> Vec<String> {
    let out = con.run(cmd).await;
    let mut v: Vec<String> = out.split("\r\n").map(str::to_string).collect();
    v.pop(); // the prompt
    v.into_iter()
        .skip(1) // the echo
        .filter(|l| !l.starts_with('[') && !l.is_empty())
        .collect()
}

/// `certtool show`, as the exact lines the contract names.
async fn show(con: &mut Console) -> Vec<String> {
    lines(con, "certtool show").await
}

fn expect_show(serving: &str, active: &str, s1: &str, s2: &str, k1: &str, k2: &str) -> Vec<String> {
    vec![
        format!("serving {serving}"),
        format!("active slot {active}"),
        format!("slot 1 {s1}"),
        format!("slot 2 {s2}"),
        format!("key 1 {k1}"),
        format!("key 2 {k2}"),
    ]
}

/// `certtool genkey --slot N ...`, `csr --slot N`; the station checks the CSR and signs it.
async fn issue(
    con: &mut Console,
    ca: &StationCa,
    serial: &str,
    ip: &str,
    genkey: &str,
) -> SignedCert {
    let out = con.run(genkey).await;
    assert!(out.contains("OK key generated"), "{out}");
    let slot = genkey
        .split("--slot ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    let out = con
        .run(&format!(
            "certtool csr --slot {slot} --cn {serial} --challenge '{CHALLENGE}' --san-ip {ip}"
        ))
        .await;
    assert!(!out.contains("PRIVATE KEY"), "{out}");
    let csr = pem_block(&out, "CERTIFICATE REQUEST");
    let policy = CertPolicy::default();
    let id = DeviceIdentity {
        serial: serial.to_string(),
        dns: None,
        ip: Some(ip.parse().unwrap()),
    };
    let checked = check_csr(&csr, &policy, &id, CHALLENGE).expect("CSR passes the station's check");
    ca.sign(&checked, &policy, &id, SystemTime::now()).unwrap()
}

/// `openssl s_client` against the CA: the served chain verifies for `ip`; returns the served fingerprint.
fn verified_fingerprint(work: &Path, ip: &str) -> String {
    let (ok, text) = sh(&format!(
        "cd {} && openssl s_client -connect {ip}:443 -CAfile ca.pem -verify_return_error -verify_ip {ip} </dev/null",
        work.display()
    ));
    assert!(ok && text.contains("Verify return code: 0 (ok)"), "{text}");
    served_fingerprint(ip)
}

#[tokio::test]
async fn two_slots_renew_make_before_break_and_survive_a_power_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let ip = "127.0.78.41";
    let mut sim = spawn(dir.path(), ip);
    assert_eq!(sim.info.model, "ipcam-pro");
    let serial = sim.info.serial.clone();
    let mut con = sim.console().await;
    let boot = con.wait_boot().await;
    assert!(boot.contains("Machine: Simvision SV-IPC3100"), "{boot}");
    assert!(
        boot.contains("Simvision IPC SV-IPC3100 firmware 5.1.0"),
        "{boot}"
    );
    assert!(!boot.contains("SV-IPC2100"), "{boot}");
    assert!(con.login("root", "xmhdipc").await);
    let out = con.run("cat /proc/cpuinfo").await;
    assert!(
        out.contains("Hardware\t: Simvision SV-IPC3100\r\n"),
        "{out}"
    );
    assert_eq!(lines(&mut con, "cat /etc/version").await, ["5.1.0"]);

    // From the factory: no slot, the shared factory certificate.
    let factory = expect_show(FACTORY_FP, "none", "none", "none", "none", "none");
    assert_eq!(show(&mut con).await, factory);
    assert_eq!(served_fingerprint(ip), FACTORY_FP);

    // Slot 1: key, CSR, signed chain, installed; served only after `use`.
    let ca = ca();
    std::fs::write(w.join("ca.pem"), ca.cert_pem()).unwrap();
    let c1 = issue(&mut con, &ca, &serial, ip, "certtool genkey --slot 1").await;
    let fp1 = c1.fingerprint_sha256.clone();
    let chain1 = format!("{}{}", c1.pem, ca.cert_pem());
    let out = install_with(&mut con, "certtool install --slot 1", &chain1).await;
    assert!(out.contains(&format!("OK installed {fp1}")), "{out}");
    assert_eq!(
        served_fingerprint(ip),
        FACTORY_FP,
        "installed, not yet used"
    );
    let s = expect_show(FACTORY_FP, "none", &fp1, "none", "ec-p256", "none");
    assert_eq!(show(&mut con).await, s);
    let out = lines(&mut con, "certtool use --slot 1").await;
    assert_eq!(out, [format!("OK serving slot 1 {fp1}")]);
    assert_eq!(verified_fingerprint(w, ip), fp1);

    // Slot 2 is prepared while slot 1 keeps serving.
    let c2 = issue(
        &mut con,
        &ca,
        &serial,
        ip,
        "certtool genkey --slot 2 --type ec-p384",
    )
    .await;
    let fp2 = c2.fingerprint_sha256.clone();
    assert_ne!(fp1, fp2);
    assert_eq!(
        verified_fingerprint(w, ip),
        fp1,
        "a new key in slot 2 changes nothing served"
    );
    let out = install_with(&mut con, "certtool install --slot 2", &c2.pem).await;
    assert!(out.contains(&format!("OK installed {fp2}")), "{out}");
    assert_eq!(
        verified_fingerprint(w, ip),
        fp1,
        "the old certificate is still served"
    );
    let s = expect_show(&fp1, "1", &fp1, &fp2, "ec-p256", "ec-p384");
    assert_eq!(show(&mut con).await, s);

    // Switch: at once, without restarting httpsd; a connection made before keeps working.
    let mut held = HeldTls::connect(ip);
    std::fs::write(w.join("held.pem"), held.server_cert_pem()).unwrap();
    assert_eq!(file_fingerprint(w, "held.pem"), fp1);
    let out = lines(&mut con, "certtool use --slot 2").await;
    assert_eq!(out, [format!("OK serving slot 2 {fp2}")]);
    assert_eq!(verified_fingerprint(w, ip), fp2);
    held.request(ip, "HTTP/1.1 401 Unauthorized");
    drop(held);
    let out = lines(&mut con, "certtool delete --slot 1").await;
    assert_eq!(out, ["OK slot 1 cleared"]);
    let s = expect_show(&fp2, "2", "none", &fp2, "none", "ec-p384");
    assert_eq!(show(&mut con).await, s);
    assert_eq!(verified_fingerprint(w, ip), fp2);

    let events = sim.events();
    let count = |name: &str| events.iter().filter(|e| e["event"] == name).count();
    assert_eq!(count("service-stopped"), 0, "httpsd was never restarted");
    assert_eq!(count("tls-restarted"), 0);
    let switched: Vec<_> = events
        .iter()
        .filter(|e| e["event"] == "slot-switched")
        .map(|e| {
            (
                e["slot"].as_u64().unwrap(),
                e["fingerprint"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(switched, [(1, fp1.clone()), (2, fp2.clone())]);
    assert!(events
        .iter()
        .any(|e| e["event"] == "slot-deleted" && e["slot"] == 1));
    for (name, field, value) in [
        ("key-generated", "type", "ec-p384"),
        ("cert-installed", "fingerprint", fp2.as_str()),
    ] {
        assert!(
            events
                .iter()
                .any(|e| e["event"] == name && e["slot"] == 2 && e[field] == value),
            "no {name} for slot 2"
        );
    }
    assert!(events.iter().any(|e| e["event"] == "csr-issued"
        && e["slot"] == 1
        && e["challenge_sha256"] == common::sha256_hex(CHALLENGE)));
    // Keys stay in the state file.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("state.json")).unwrap())
            .unwrap();
    assert_eq!(state["model"], "ipcam-pro");
    assert_eq!(state["tls"]["active_slot"], 2);
    let key_pem = state["tls"]["slots"]["2"]["key"]["pkcs8_pem"]
        .as_str()
        .unwrap();
    let body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let log = std::fs::read_to_string(dir.path().join("events.jsonl")).unwrap();
    assert!(!log.contains(&body[..40]) && !log.contains("PRIVATE KEY"));
    drop(con);

    // Power cycle: httpsd comes back on the active slot; a restart keeps it.
    sim.kill();
    let sim = spawn(dir.path(), ip);
    let mut con = login_ready(&sim).await;
    assert_eq!(verified_fingerprint(w, ip), fp2, "after power cycle");
    assert_eq!(show(&mut con).await, s);
    let out = con.run("/etc/init.d/httpsd restart").await;
    assert!(out.contains("Starting httpsd: OK"), "{out}");
    assert_eq!(verified_fingerprint(w, ip), fp2, "after httpsd restart");
}

#[tokio::test]
async fn slot_commands_refuse_what_would_break_the_served_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.78.42";
    let sim = spawn(dir.path(), ip);
    let serial = sim.info.serial.clone();
    let mut con = login_ready(&sim).await;
    let ca = ca();

    // Every command names a slot; install reads its input first and refuses after EOF.
    for cmd in [
        "certtool genkey",
        "certtool genkey --type ed25519",
        "certtool csr --cn x --challenge y",
        "certtool use",
        "certtool delete",
    ] {
        assert_eq!(lines(&mut con, cmd).await, [NEED_SLOT], "{cmd}");
    }
    let out = install_with(&mut con, "certtool install", ca.cert_pem()).await;
    assert!(out.contains(NEED_SLOT), "{out}");
    let out = lines(&mut con, "certtool genkey --slot 3").await;
    assert_eq!(out, ["ERR invalid slot 3: give --slot 1 or --slot 2"]);
    let out = lines(&mut con, "certtool csr --slot 1 --cn x --challenge y").await;
    assert_eq!(out, ["ERR no key in slot 1: run certtool genkey --slot 1"]);
    let out = lines(&mut con, "certtool use --slot 1").await;
    assert_eq!(out, ["ERR slot 1 is empty"]);

    // A certificate for slot 1's key does not go into slot 2.
    let c1 = issue(&mut con, &ca, &serial, ip, "certtool genkey --slot 1").await;
    let out = con.run("certtool genkey --slot 2 --type ed25519").await;
    assert!(out.contains("OK key generated"), "{out}");
    let out = install_with(&mut con, "certtool install --slot 2", &c1.pem).await;
    assert!(
        out.contains("ERR certificate does not match the key in slot 2"),
        "{out}"
    );
    let out = lines(&mut con, "certtool use --slot 2").await;
    assert_eq!(out, ["ERR slot 2 is empty"]);
    let fp1 = c1.fingerprint_sha256.clone();
    let out = install_with(&mut con, "certtool install --slot 1", &c1.pem).await;
    assert!(out.contains(&format!("OK installed {fp1}")), "{out}");
    let out = lines(&mut con, "certtool use --slot 1").await;
    assert_eq!(out, [format!("OK serving slot 1 {fp1}")]);

    // The active slot is untouchable.
    let out = install_with(&mut con, "certtool install --slot 1", &c1.pem).await;
    assert!(out.contains("ERR slot 1 is in use"), "{out}");
    for cmd in ["certtool genkey --slot 1", "certtool delete --slot 1"] {
        assert_eq!(
            lines(&mut con, cmd).await,
            ["ERR slot 1 is in use"],
            "{cmd}"
        );
    }
    let out = install_with(
        &mut con,
        "certtool install --slot 2",
        "-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n",
    )
    .await;
    assert!(out.contains("ERR malformed PEM"), "{out}");
    let s = expect_show(&fp1, "1", &fp1, "none", "ec-p256", "ed25519");
    assert_eq!(show(&mut con).await, s);
    assert_eq!(served_fingerprint(ip), fp1);
    let out = con.run("/etc/init.d/httpsd restart").await;
    assert!(out.contains("Starting httpsd: OK"), "{out}");
    assert_eq!(
        served_fingerprint(ip),
        fp1,
        "restart serves the active slot"
    );

    let refused: Vec<(String, serde_json::Value)> = sim
        .events()
        .iter()
        .filter(|e| e["event"] == "cert-refused")
        .map(|e| (e["reason"].as_str().unwrap().to_string(), e["slot"].clone()))
        .collect();
    let expected = [
        ("no-slot", serde_json::Value::Null),
        ("key-mismatch", 2.into()),
        ("slot-in-use", 1.into()),
        ("malformed", 2.into()),
    ];
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(r, s)| (r.to_string(), s))
        .collect();
    assert_eq!(refused, expected);
}

#[tokio::test]
async fn hostile_csr_foreign_key_applies_per_slot() {
    let dir = tempfile::tempdir().unwrap();
    let ip = "127.0.78.43";
    let sim = Sim::spawn_model(
        "ipcam-pro",
        dir.path(),
        ip,
        &["--hostile", "csr-foreign-key"],
    );
    let serial = sim.info.serial.clone();
    let mut con = login_ready(&sim).await;
    let ca = ca();
    // The station signs what the CSR carries: a throwaway key, not slot 1's.
    let cert = issue(&mut con, &ca, &serial, ip, "certtool genkey --slot 1").await;
    let out = install_with(&mut con, "certtool install --slot 1", &cert.pem).await;
    assert!(
        out.contains("ERR certificate does not match the key in slot 1"),
        "{out}"
    );
    let s = expect_show(FACTORY_FP, "none", "none", "none", "ec-p256", "none");
    assert_eq!(show(&mut con).await, s);
    assert!(sim
        .events()
        .iter()
        .any(|e| e["event"] == "hostile" && e["mode"] == "csr-foreign-key"));
}
