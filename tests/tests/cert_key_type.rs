//! The certificate key type the station chooses (`temper commission --cert-key`, `temper cert renew
//! --cert-key`; the app's Settings go through the same `Profile::with_cert_key`): the device is told to make
//! that type, the CSR must carry a key of it, and a device that makes another type is refused before anything
//! is signed. Addresses: test_ip(120)..test_ip(121).

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use temper_core::inventory::Inventory;
use temper_e2e::*;

/// `temper --json commission --port PORT --cert-key KIND` to its end.
fn commission_with_key(inventory: &Path, port: &str, kind: &str) -> Output {
    ensure_inventory(inventory);
    temper(inventory)
        .args(["--json", "commission", "--port", port, "--cert-key", kind])
        .output()
        .expect("run temper")
}

/// OpenSSL's text form of the leaf `ip:443` serves (read without trusting it).
fn served_leaf_text(ip: &str) -> String {
    let addr = format!("{ip}:443").parse().expect("address");
    let served =
        block_on(temper_core::checks::served_certificate(addr)).expect("read the served leaf");
    let leaf = served.chain_der.first().expect("a served leaf");
    let text = openssl_ok(&["x509", "-inform", "DER", "-noout", "-text"], leaf);
    String::from_utf8_lossy(&text).into_owned()
}

/// The simulator's events named `event`.
fn events_named(sim: &Sim, event: &str) -> Vec<Value> {
    sim.events()
        .into_iter()
        .filter(|e| e["event"] == event)
        .collect()
}

/// A camera whose firmware ignores `--type` (always ECDSA P-256) is told to make an Ed25519 key: its CSR is
/// refused with a message naming both types, nothing is signed, and it keeps serving its factory certificate.
#[test]
fn a_device_that_ignores_the_chosen_key_type_is_refused_and_nothing_signed() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start_with(
        &dir.path().join("state"),
        &test_ip(120),
        &["--hostile", "genkey-wrong-type"],
    );
    let output = commission_with_key(&inventory, &sim.port, "ed25519");
    assert!(
        !output.status.success(),
        "commissioning must fail: {}",
        describe(&output)
    );
    let lines = json_lines(&output);
    assert!(
        lines.iter().any(|l| l["event"] == "step-finished"
            && l["step"] == "certificate"
            && l["outcome"] == "failed"),
        "the certificate step fails: {}",
        describe(&output)
    );
    assert!(
        !lines
            .iter()
            .any(|l| l["event"] == "certificate" && l["stage"] == "csr-checked"),
        "the CSR is not accepted: {}",
        describe(&output)
    );
    let message = error_message(&output);
    assert!(
        message.contains("ECDSA P-256")
            && message.contains("ed25519")
            && message.contains("ignored the key type")
            && message.contains("Nothing was signed"),
        "{message}"
    );
    assert_ne!(report_of(&output)["hardened"], true);

    let made = events_named(&sim, "key-generated");
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["type"], "ec-p256", "the device made its one type");
    let hostile: Vec<Value> = events_named(&sim, "hostile")
        .into_iter()
        .filter(|e| e["mode"] == "genkey-wrong-type")
        .collect();
    assert_eq!(hostile.len(), 1, "{hostile:?}");
    assert_eq!(
        (hostile[0]["asked"].as_str(), hostile[0]["made"].as_str()),
        (Some("ed25519"), Some("ec-p256")),
        "Temper told the device to make ed25519"
    );

    let certs = device_certs(&inventory, &sim.serial);
    assert!(certs.is_empty(), "nothing may be signed: {certs:?}");
    let factory = open_inventory(&inventory)
        .document(&sim.serial, "baseline")
        .expect("baseline document")
        .and_then(|b| {
            b["factory_certificate"]["fingerprint"]
                .as_str()
                .map(str::to_string)
        })
        .expect("the baseline recorded the factory certificate");
    assert_eq!(
        served_fingerprint(&sim.ip),
        factory,
        "still the factory one"
    );
}

/// A well-behaved camera told to make ECDSA P-384 serves a P-384 leaf; renewed with `--cert-key ed25519` it
/// serves an Ed25519 one.
#[test]
fn the_chosen_key_type_is_the_key_the_device_serves() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(121));
    let output = commission_with_key(&inventory, &sim.port, "ecdsa-p384");
    assert!(output.status.success(), "commission: {}", describe(&output));
    let report = report_of(&output);
    assert_eq!(report["hardened"], true, "{report}");
    let made = events_named(&sim, "key-generated");
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(
        made[0]["type"], "ec-p384",
        "certtool was told --type ec-p384"
    );

    let fingerprint = report["certificate"]["fingerprint"]
        .as_str()
        .expect("certificate.fingerprint")
        .to_string();
    assert_eq!(served_fingerprint(&sim.ip), fingerprint);
    let text = served_leaf_text(&sim.ip);
    assert!(
        text.contains("id-ecPublicKey") && text.contains("P-384"),
        "the served leaf carries a P-384 key: {text}"
    );

    let output = temper(&inventory)
        .args([
            "--json",
            "cert",
            "renew",
            "--port",
            &sim.port,
            "--cert-key",
            "ed25519",
        ])
        .output()
        .expect("run temper");
    assert!(output.status.success(), "renew: {}", describe(&output));
    let made = events_named(&sim, "key-generated");
    assert_eq!(made.len(), 2, "{made:?}");
    assert_eq!(made[1]["type"], "ed25519");
    let text = served_leaf_text(&sim.ip);
    assert!(
        text.contains("ED25519"),
        "the renewed leaf carries an Ed25519 key: {text}"
    );
    assert_ne!(
        served_fingerprint(&sim.ip),
        fingerprint,
        "a new certificate"
    );
}

/// A key type the profile does not allow is refused before any device is touched, naming the profile and
/// what it allows.
#[test]
fn a_key_type_the_profile_does_not_allow_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    for kind in ["rsa-2048", "dsa-512"] {
        let output = temper(&inventory)
            .args([
                "commission",
                "--port",
                "/nonexistent/ttyUSB9",
                "--profile",
                "ipcam",
                "--cert-key",
                kind,
            ])
            .output()
            .expect("run temper");
        assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--cert-key") && stderr.contains("(ipcam)") && stderr.contains(kind),
            "{stderr}"
        );
    }
    let output = temper(&inventory)
        .args([
            "cert",
            "renew",
            "--port",
            "/nonexistent/ttyUSB9",
            "--cert-key",
            "rsa-2048",
        ])
        .output()
        .expect("run temper");
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ecdsa-p256, ecdsa-p384, ed25519"),
        "lists what the profile allows: {stderr}"
    );
    assert!(!inventory.exists(), "nothing was opened or created");
}
