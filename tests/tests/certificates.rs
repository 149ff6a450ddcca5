//! The certificate step end to end: after `temper commission` the camera serves its own certificate, issued by
//! the station CA for its address and for the key it made itself. OpenSSL (an independent client) and Temper's
//! own rustls check both verify it, and refuse it for another CA, another name or a later clock. The device's
//! private key never reaches Temper. Two units with the same factory certificate are reported as sharing it.
//! Hostile devices are in `cert_hostile.rs`.
//!
//! Addresses: test_ip(40)..test_ip(43).

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use temper_core::checks::{tls_handshake, TlsError, TlsReport, UnixTime};
use temper_core::inventory::CertState;
use temper_core::pki::{CaKeyKind, ServerName, StationCa, VerifyError};
use temper_e2e::*;

/// The verify checks about transport encryption.
const TLS_CHECKS: [&str; 4] = [
    "tls-chain-verified",
    "tls-old-protocols-refused",
    "factory-certificate-unique",
    "plain-http-credential-refused",
];

/// SHA-256 (hex) of a PEM certificate's DER, computed by OpenSSL and sha2, not by Temper.
fn cert_fingerprint(pem: &str) -> String {
    sha256_hex_bytes(&openssl_ok(&["x509", "-outform", "DER"], pem.as_bytes()))
}

fn sha256_hex_bytes(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The device's private key (PKCS#8 PEM) as the simulator keeps it on the "device".
fn device_key_pem(state: &Path) -> String {
    let text = std::fs::read_to_string(state.join("state.json")).expect("state.json");
    let state: Value = serde_json::from_str(&text).expect("state.json is JSON");
    let pem = state["tls"]["key"]["pkcs8_pem"]
        .as_str()
        .expect("tls.key.pkcs8_pem");
    assert!(pem.contains("BEGIN PRIVATE KEY"), "{pem}");
    pem.to_string()
}

/// The SubjectPublicKeyInfo (DER) of a private key PEM: the key the device's CSR must carry.
fn spki_of_key(key_pem: &str) -> Vec<u8> {
    openssl_ok(&["pkey", "-pubout", "-outform", "DER"], key_pem.as_bytes())
}

/// The PEM blocks labelled CERTIFICATE in `text`, in order.
fn pem_certs(text: &str) -> Vec<String> {
    let mut certs = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line == "-----BEGIN CERTIFICATE-----" {
            current = Some(String::new());
        }
        if let Some(pem) = current.as_mut() {
            pem.push_str(line);
            pem.push('\n');
            if line == "-----END CERTIFICATE-----" {
                certs.extend(current.take());
            }
        }
    }
    certs
}

fn name(text: &str) -> ServerName<'static> {
    ServerName::try_from(text.to_string()).expect("server name")
}

/// Temper's own TLS check of `ip:443` (station CA `ca_pem`, `name`, the key `spki`, the clock `now`).
fn handshake(
    ip: &str,
    ca_pem: &str,
    name: ServerName<'static>,
    spki: &[u8],
    now: UnixTime,
) -> Result<TlsReport, TlsError> {
    let addr = format!("{ip}:443").parse().expect("address");
    block_on(tls_handshake(addr, ca_pem, name, Some(spki), now))
}

/// The reason a handshake's certificate was refused; panics when it was accepted or failed otherwise.
fn refusal(result: Result<TlsReport, TlsError>) -> VerifyError {
    match result {
        Err(TlsError::Certificate { reason, .. }) => reason,
        other => panic!("expected the certificate to be refused, got {other:?}"),
    }
}

/// The report's checks with `id`.
fn checks<'a>(report: &'a Value, id: &str) -> Vec<&'a Value> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["id"] == id)
        .collect()
}

/// Commissions `sim` into `inventory` (`--json`); the output of the run, which must succeed.
fn commission_ok(inventory: &Path, sim: &Sim) -> Output {
    let output = commission(inventory, &sim.port);
    assert!(output.status.success(), "commission: {}", describe(&output));
    output
}

#[test]
fn served_certificate_verifies_with_openssl_and_rustls_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(40));
    let output = commission_ok(&inventory, &sim);

    let report = report_of(&output);
    assert_eq!(report["hardened"], true, "{report}");
    let cert = &report["certificate"];
    assert_eq!(cert["state"], "active", "{cert}");
    let fingerprint = cert["fingerprint"]
        .as_str()
        .expect("certificate.fingerprint");
    for id in TLS_CHECKS {
        let found = checks(&report, id);
        assert!(!found.is_empty(), "no {id} check in the report");
        assert!(found.iter().all(|c| c["passed"] == true), "{id}: {found:?}");
    }

    // OpenSSL, trusting only the exported station CA, verifies the chain and the device's address.
    let ca_path = dir.path().join("station-ca.pem");
    let export = temper(&inventory)
        .args(["ca", "export", "--out"])
        .arg(&ca_path)
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", describe(&export));
    let ca_pem = std::fs::read_to_string(&ca_path).unwrap();
    assert_eq!(cert["ca_fingerprint"], cert_fingerprint(&ca_pem).as_str());
    let ca_file = ca_path.to_str().unwrap();
    let connect = format!("{}:443", sim.ip);
    let s_client = |verify_ip: &str| {
        let args = [
            "s_client",
            "-connect",
            &connect,
            "-CAfile",
            ca_file,
            "-verify_return_error",
            "-verify_ip",
            verify_ip,
            "-showcerts",
        ];
        String::from_utf8_lossy(&openssl_with(&args, b"").stdout).to_string()
    };
    let shown = s_client(&sim.ip);
    assert!(shown.contains("Verify return code: 0 (ok)"), "{shown}");
    let other_ip = s_client("192.0.2.7");
    assert!(
        !other_ip.contains("Verify return code: 0 (ok)"),
        "another address must not verify: {other_ip}"
    );

    let served = pem_certs(&shown);
    assert_eq!(served.len(), 1, "the device serves its leaf only: {shown}");
    let leaf_path = dir.path().join("leaf.pem");
    std::fs::write(&leaf_path, &served[0]).unwrap();
    let leaf_file = leaf_path.to_str().unwrap();
    let verified = openssl_ok(&["verify", "-CAfile", ca_file, leaf_file], b"");
    assert_eq!(
        String::from_utf8_lossy(&verified).trim(),
        format!("{leaf_file}: OK")
    );
    assert_eq!(
        cert_fingerprint(&served[0]),
        fingerprint,
        "served leaf = the report's certificate"
    );

    // The inventory's one active certificate is the served one.
    let records = device_certs(&inventory, &sim.serial);
    let active: Vec<_> = records
        .iter()
        .filter(|r| r.state == CertState::Active)
        .collect();
    assert_eq!(active.len(), 1, "{records:?}");
    assert_eq!(active[0].fingerprint, fingerprint);
    assert_eq!(cert_fingerprint(&active[0].cert_pem), fingerprint);
    assert_eq!(cert["not_after"].as_u64(), Some(active[0].not_after));

    // Temper's rustls check: the station CA, the device's address, the key the device made.
    let key_pem = device_key_pem(&sim.state);
    let spki = spki_of_key(&key_pem);
    let now = UnixTime::now();
    let ok = handshake(&sim.ip, &ca_pem, name(&sim.ip), &spki, now).expect("verified handshake");
    assert_eq!(ok.leaf_fingerprint_sha256, fingerprint);

    // Another CA, even one with the station CA's name, is refused.
    for ca_name in ["e2e other CA", "Temper station CA"] {
        let other =
            StationCa::generate(CaKeyKind::EcdsaP256, ca_name, std::time::SystemTime::now())
                .expect("another CA");
        let reason = refusal(handshake(
            &sim.ip,
            other.cert_pem(),
            name(&sim.ip),
            &spki,
            now,
        ));
        assert!(
            matches!(
                reason,
                VerifyError::UnknownIssuer | VerifyError::BadSignature
            ),
            "{ca_name}: {reason}"
        );
    }
    // Another name: another address, a DNS name.
    for other in ["192.0.2.7", "cam.example"] {
        let reason = refusal(handshake(&sim.ip, &ca_pem, name(other), &spki, now));
        assert!(
            matches!(reason, VerifyError::NameMismatch(_)),
            "{other}: {reason}"
        );
    }
    // Another key than the device's (the CA's own public key stands in).
    let ca_spki = openssl_ok(&["x509", "-pubkey", "-noout"], ca_pem.as_bytes());
    let ca_spki = openssl_ok(&["pkey", "-pubin", "-outform", "DER"], &ca_spki);
    let reason = refusal(handshake(&sim.ip, &ca_pem, name(&sim.ip), &ca_spki, now));
    assert_eq!(reason, VerifyError::KeyMismatch);
    // The station's clock past notAfter.
    let not_after = active[0].not_after;
    let later = UnixTime::since_unix_epoch(Duration::from_secs(not_after + 86_400));
    let reason = refusal(handshake(&sim.ip, &ca_pem, name(&sim.ip), &spki, later));
    assert_eq!(reason, VerifyError::Expired);

    // The --json output never carried the device's key.
    assert_key_absent(&key_pem, "commission --json", &output);
}

/// The base64 lines of a PEM private key: each would give the key away (in part) if found.
fn key_needles(key_pem: &str) -> Vec<String> {
    let needles: Vec<String> = key_pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .map(str::to_string)
        .collect();
    assert!(needles.len() >= 2, "a PEM key body: {key_pem}");
    needles
}

/// Neither stdout nor stderr of `output` holds any line of the key, nor any private key at all.
fn assert_key_absent(key_pem: &str, what: &str, output: &Output) {
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(
            !text.contains("PRIVATE KEY"),
            "{what} printed a private key"
        );
        for needle in key_needles(key_pem) {
            assert!(
                !text.contains(&needle),
                "{what} printed a line of the device's key"
            );
        }
    }
}

#[test]
fn device_private_key_never_reaches_temper() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(41));
    ensure_inventory(&inventory);
    let human = temper(&inventory)
        .args(["commission", "--port", &sim.port])
        .output()
        .unwrap();
    assert!(human.status.success(), "commission: {}", describe(&human));
    let json = commission_ok(&inventory, &sim);

    // The key the device made and serves with (so the needles are the right key).
    let key_pem = device_key_pem(&sim.state);
    let ca_pem = station_ca_pem(&inventory);
    handshake(
        &sim.ip,
        &ca_pem,
        name(&sim.ip),
        &spki_of_key(&key_pem),
        UnixTime::now(),
    )
    .expect("the device serves a certificate for the key in its state");
    let needles = key_needles(&key_pem);
    let state_json = std::fs::read(sim.state.join("state.json")).unwrap();
    for needle in &needles {
        assert!(
            temper_core::inventory::leak_scan::find(&state_json, needle).is_some(),
            "the scan finds the key where it is"
        );
    }

    assert_key_absent(&key_pem, "commission", &human);
    assert_key_absent(&key_pem, "commission --json", &json);
    let reads: [&[&str]; 6] = [
        &["audit", "show"],
        &["--json", "audit", "show"],
        &["audit", "show", "--device", &sim.serial],
        &["inventory", "show", "--device", &sim.serial],
        &["--json", "inventory", "show", "--device", &sim.serial],
        &["cert", "list"],
    ];
    for args in reads {
        let output = temper(&inventory).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", describe(&output));
        assert_key_absent(&key_pem, &args.join(" "), &output);
    }
    // The inventory files: database, key header, audit sidecar (plain, hex, base64, UTF-16).
    let files: Vec<_> = std::fs::read_dir(inventory.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    for name in ["inventory.db", "inventory.db.keys", "inventory.db.audit"] {
        assert!(files.iter().any(|f| f == name), "{name} missing: {files:?}");
    }
    assert_no_plaintext(inventory.parent().unwrap(), &needles);
}

#[test]
fn a_shared_factory_certificate_is_named_and_each_unit_gets_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let first = Sim::start(&dir.path().join("state-1"), &test_ip(42));
    let second = Sim::start(&dir.path().join("state-2"), &test_ip(43));
    let first_report = report_of(&commission_ok(&inventory, &first));
    let second_report = report_of(&commission_ok(&inventory, &second));

    let (a, b) = (&first_report["certificate"], &second_report["certificate"]);
    assert_eq!(
        a["factory_fingerprint"], b["factory_fingerprint"],
        "one factory certificate for the model"
    );
    assert!(a["factory_fingerprint"].is_string(), "{a}");
    let shared: Vec<&str> = b["factory_shared_with"]
        .as_array()
        .expect("factory_shared_with")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(shared.contains(&first.serial.as_str()), "{b}");
    assert!(!shared.contains(&second.serial.as_str()), "{b}");
    let unique = checks(&second_report, "factory-certificate-unique");
    assert_eq!(unique.len(), 1, "{unique:?}");
    let detail = unique[0]["detail"].as_str().unwrap();
    assert!(detail.contains("SHARED FACTORY CERTIFICATE"), "{detail}");
    assert!(detail.contains(&first.serial), "{detail}");
    assert_eq!(
        unique[0]["passed"], true,
        "the second unit serves its own now: {detail}"
    );
    assert_eq!(second_report["hardened"], true);

    // Each unit serves its own certificate from the same station CA, each valid for its own address only.
    assert_eq!(a["ca_fingerprint"], b["ca_fingerprint"]);
    assert_ne!(a["fingerprint"], b["fingerprint"]);
    let ca_pem = station_ca_pem(&inventory);
    for (sim, cert, other) in [(&first, a, &second), (&second, b, &first)] {
        assert_eq!(
            served_fingerprint(&sim.ip),
            cert["fingerprint"].as_str().unwrap()
        );
        assert_ne!(cert["fingerprint"], cert["factory_fingerprint"]);
        let spki = spki_of_key(&device_key_pem(&sim.state));
        handshake(&sim.ip, &ca_pem, name(&sim.ip), &spki, UnixTime::now())
            .unwrap_or_else(|e| panic!("{}: {e}", sim.ip));
        let now = UnixTime::now();
        let reason = refusal(handshake(&sim.ip, &ca_pem, name(&other.ip), &spki, now));
        assert!(matches!(reason, VerifyError::NameMismatch(_)), "{reason}");
    }
}
