//! Hostile cameras (`temper-devsim --hostile MODE`) against the certificate step: each misbehaviour stops
//! `temper commission` with a message that names the problem, the station signs nothing for a bad request,
//! and no certificate is recorded as active or served under the station CA.
//!
//! Each test runs a full commissioning (the steps before the certificate take a few seconds); they are
//! separate tests so that nextest runs them in parallel. Addresses: test_ip(44)..test_ip(50).

use std::path::PathBuf;

use serde_json::Value;
use temper_core::checks::{tls_handshake, TlsError, UnixTime};
use temper_core::inventory::{CertState, DeviceCertRecord, Inventory};
use temper_core::pki::ServerName;
use temper_e2e::*;

/// A finished commissioning of a hostile camera.
struct Hostile {
    _dir: tempfile::TempDir,
    sim: Sim,
    inventory: PathBuf,
    /// The `{"event":"error"}` message.
    message: String,
    /// The factory certificate's fingerprint, as the baseline recorded it.
    factory: String,
}

impl Hostile {
    /// The inventory's certificates of this device.
    fn certs(&self) -> Vec<DeviceCertRecord> {
        device_certs(&self.inventory, &self.sim.serial)
    }

    /// The simulator's `{"event":"hostile"}` records of `mode`.
    fn misbehaved(&self, mode: &str) -> Vec<Value> {
        let events = self.sim.events();
        events
            .into_iter()
            .filter(|e| e["event"] == "hostile" && e["mode"] == mode)
            .collect()
    }

    /// Asserts that nothing was signed for this device.
    fn nothing_signed(&self) {
        let certs = self.certs();
        assert!(certs.is_empty(), "nothing may be signed: {certs:?}");
    }

    /// Asserts that the device still serves its factory certificate.
    fn still_serves_factory(&self) {
        assert_eq!(served_fingerprint(&self.sim.ip), self.factory);
    }
}

/// SHA-256 (hex) of the SubjectPublicKeyInfo a PEM certificate carries, computed by OpenSSL and sha2.
fn spki_sha256(cert_pem: &str) -> String {
    use sha2::Digest;
    let public = openssl_ok(&["x509", "-pubkey", "-noout"], cert_pem.as_bytes());
    let spki = openssl_ok(&["pkey", "-pubin", "-outform", "DER"], &public);
    hex::encode(sha2::Sha256::digest(spki))
}

/// Commissions a camera started with `--hostile mode` at `test_ip(n)`; checks what holds for every mode: a
/// failed run, its message on stderr too, no hardened report, no active certificate, and no certificate the
/// station CA vouches for served at the device's address.
fn commission_hostile(mode: &str, n: u8) -> Hostile {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start_with(&dir.path().join("state"), &test_ip(n), &["--hostile", mode]);
    let output = commission(&inventory, &sim.port);
    assert!(
        !output.status.success(),
        "{mode}: commissioning must fail: {}",
        describe(&output)
    );
    let failed = json_lines(&output).into_iter().any(|l| {
        l["event"] == "step-finished" && l["step"] == "certificate" && l["outcome"] == "failed"
    });
    assert!(
        failed,
        "{mode}: the certificate step must fail: {}",
        describe(&output)
    );
    let message = error_message(&output);
    assert!(
        !message.is_empty(),
        "{mode}: no error event: {}",
        describe(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&message),
        "{mode}: the message is on stderr too: {}",
        describe(&output)
    );
    assert_ne!(report_of(&output)["hardened"], true, "{mode}");
    let stages: Vec<Value> = json_lines(&output)
        .into_iter()
        .filter(|l| l["event"] == "certificate")
        .map(|l| l["stage"].clone())
        .collect();
    assert!(
        !stages.contains(&Value::from("active")),
        "{mode}: {stages:?}"
    );

    let hostile = Hostile {
        factory: open_inventory(&inventory)
            .document(&sim.serial, "baseline")
            .expect("baseline document")
            .and_then(|b| {
                b["factory_certificate"]["fingerprint"]
                    .as_str()
                    .map(str::to_string)
            })
            .expect("the baseline recorded the factory certificate"),
        _dir: dir,
        sim,
        inventory,
        message,
    };
    let certs = hostile.certs();
    assert!(
        certs.iter().all(|c| c.state != CertState::Active),
        "{mode}: nothing may be active: {certs:?}"
    );
    let addr = format!("{}:443", hostile.sim.ip).parse().unwrap();
    let name = ServerName::try_from(hostile.sim.ip.clone()).unwrap();
    let ca_pem = station_ca_pem(&hostile.inventory);
    let served = block_on(tls_handshake(addr, &ca_pem, name, None, UnixTime::now()));
    assert!(
        matches!(served, Err(TlsError::Certificate { .. })),
        "{mode}: the device must not serve a station-CA certificate: {served:?}"
    );
    hostile
}

#[test]
fn csr_without_challenge_is_refused_and_nothing_signed() {
    let h = commission_hostile("csr-no-challenge", 44);
    assert!(h.message.contains("no challenge"), "{}", h.message);
    assert!(h.message.contains("Nothing was signed"), "{}", h.message);
    assert_eq!(h.misbehaved("csr-no-challenge").len(), 1);
    h.nothing_signed();
    h.still_serves_factory();
}

#[test]
fn csr_with_stale_challenge_is_refused_as_replayed() {
    let h = commission_hostile("csr-stale-challenge", 45);
    assert!(
        h.message.contains("replayed") && h.message.contains("pre-made"),
        "{}",
        h.message
    );
    assert!(
        h.message.contains("not the one the station issued"),
        "{}",
        h.message
    );
    assert_eq!(h.misbehaved("csr-stale-challenge").len(), 1);
    h.nothing_signed();
    h.still_serves_factory();
}

#[test]
fn csr_asking_for_a_ca_certificate_is_refused() {
    let h = commission_hostile("csr-ca-true", 46);
    assert!(
        h.message.contains("CA certificate") && h.message.contains("CA:TRUE"),
        "{}",
        h.message
    );
    assert_eq!(h.misbehaved("csr-ca-true").len(), 1);
    h.nothing_signed();
    h.still_serves_factory();
}

#[test]
fn csr_with_a_foreign_name_is_refused() {
    let h = commission_hostile("csr-foreign-san", 47);
    assert!(
        h.message.contains("evil.example") && h.message.contains("not the device's"),
        "{}",
        h.message
    );
    assert_eq!(h.misbehaved("csr-foreign-san").len(), 1);
    h.nothing_signed();
    h.still_serves_factory();
}

/// The station cannot tell a throwaway key from the device's own in a valid CSR, so it signs; the device then
/// refuses to install a certificate for a key it does not hold, and the certificate is never active.
#[test]
fn csr_with_a_foreign_key_is_not_installed() {
    let h = commission_hostile("csr-foreign-key", 48);
    assert!(
        h.message.contains("does not match the device key"),
        "{}",
        h.message
    );
    let foreign = h.misbehaved("csr-foreign-key");
    assert_eq!(foreign.len(), 1, "{foreign:?}");
    let certs = h.certs();
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_eq!(
        certs[0].state,
        CertState::Revoked,
        "a certificate for a key the device does not use goes on the CRL: {certs:?}"
    );
    assert!(h.message.contains("revoked"), "{}", h.message);
    let spki = spki_sha256(&certs[0].cert_pem);
    assert_eq!(
        Some(spki.as_str()),
        foreign[0]["spki_sha256"].as_str(),
        "the signed certificate is for the throwaway key"
    );
    assert!(
        h.sim
            .events()
            .iter()
            .any(|e| e["event"] == "cert-refused" && e["reason"] == "key-mismatch"),
        "the device refused it"
    );
    h.still_serves_factory();
}

#[test]
fn device_serving_another_certificate_than_sent_is_caught() {
    let h = commission_hostile("install-other-cert", 49);
    let certs = h.certs();
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_ne!(certs[0].state, CertState::Active);
    let sent = &certs[0].fingerprint;
    let served = served_fingerprint(&h.sim.ip);
    assert_ne!(&served, sent);
    let misbehaved = h.misbehaved("install-other-cert");
    assert_eq!(misbehaved.len(), 1, "{misbehaved:?}");
    assert_eq!(misbehaved[0]["stored_fingerprint"], served.as_str());
    assert!(
        h.message.contains("not the certificate sent")
            && h.message.contains(&served)
            && h.message.contains(sent.as_str()),
        "{}",
        h.message
    );
}

#[test]
fn device_whose_clock_does_not_take_the_time_is_stopped_before_its_key() {
    let h = commission_hostile("clock-stuck", 50);
    assert!(h.message.contains("clock"), "{}", h.message);
    assert!(h.message.contains("did not take the time"), "{}", h.message);
    assert!(
        !h.sim.events().iter().any(|e| e["event"] == "key-generated"),
        "no key is made on a device with a wrong clock"
    );
    h.nothing_signed();
    h.still_serves_factory();
}
