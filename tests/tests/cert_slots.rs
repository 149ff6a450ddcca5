//! Two-slot make-before-break renewal on the simulated SV-IPC3100 (`ipcam-pro`): the old certificate serves
//! until the new one is proven from outside, a crash between install and switch resumes, and a device that
//! serves something else after the switch is switched back to the old certificate.

use std::path::Path;
use std::process::{Command, Output};

use temper_core::inventory::CertState;
use temper_e2e::{
    commission, describe, device_certs, ensure_inventory, served_fingerprint, spawn_until_stopped,
    temper, test_ip, Sim,
};

const YEAR_MINUS_25_DAYS: i64 = 340 * 86_400;

fn pro(state: &Path, ip: &str, extra: &[&str]) -> Sim {
    let mut args = vec!["--model", "ipcam-pro"];
    args.extend_from_slice(extra);
    Sim::start_with(state, ip, &args)
}

fn renew(inventory: &Path, port: &str) -> Command {
    let mut cmd = temper(inventory);
    cmd.args(["cert", "renew", "--port", port, "--expiring", "30d"])
        .env("TEMPER_TEST_CLOCK_OFFSET", YEAR_MINUS_25_DAYS.to_string());
    cmd
}

fn active(inventory: &Path, serial: &str) -> String {
    let certs = device_certs(inventory, serial);
    let active: Vec<_> = certs
        .iter()
        .filter(|c| c.state == CertState::Active)
        .collect();
    assert_eq!(active.len(), 1, "exactly one active certificate: {certs:?}");
    active[0].fingerprint.clone()
}

fn commissioned(dir: &Path, sim: &Sim) -> (std::path::PathBuf, String) {
    let inventory = dir.join("inv/inventory.db");
    ensure_inventory(&inventory);
    let out = commission(&inventory, &sim.port);
    assert!(out.status.success(), "{}", describe(&out));
    let old = active(&inventory, &sim.serial);
    assert_eq!(served_fingerprint(&sim.ip), old);
    (inventory, old)
}

fn events_named(sim: &Sim, name: &str) -> Vec<serde_json::Value> {
    sim.events()
        .into_iter()
        .filter(|e| e["event"] == name)
        .collect()
}

#[test]
fn renewal_installs_beside_the_old_certificate_resumes_after_a_kill_and_deletes_the_old_slot() {
    let dir = tempfile::tempdir().unwrap();
    let sim = pro(&dir.path().join("state"), &test_ip(90), &[]);
    let (inventory, old) = commissioned(dir.path(), &sim);

    // Killed after the new certificate is installed in the other slot, before the switch.
    let child = spawn_until_stopped(&mut renew(&inventory, &sim.port), "certificate:installed");
    let mut child = child;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        served_fingerprint(&sim.ip),
        old,
        "make-before-break: the old certificate still serves while the new one waits in slot 2"
    );
    let installed = events_named(&sim, "cert-installed");
    assert_eq!(installed.last().unwrap()["slot"], 2, "{installed:?}");
    assert!(events_named(&sim, "slot-deleted").is_empty());

    let out: Output = renew(&inventory, &sim.port).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let new = active(&inventory, &sim.serial);
    assert_ne!(new, old);
    assert_eq!(served_fingerprint(&sim.ip), new);
    let old_state = device_certs(&inventory, &sim.serial)
        .into_iter()
        .find(|c| c.fingerprint == old)
        .unwrap()
        .state;
    assert_eq!(old_state, CertState::Superseded);
    let deleted = events_named(&sim, "slot-deleted");
    assert_eq!(
        deleted.len(),
        1,
        "the old slot goes only after the proof: {deleted:?}"
    );
    assert_eq!(deleted[0]["slot"], 1);
    let switched = events_named(&sim, "slot-switched");
    let switch_seq = switched.last().unwrap()["seq"].as_u64().unwrap();
    assert!(deleted[0]["seq"].as_u64().unwrap() > switch_seq);

    // The profile's DNS name template went into the SAN beside the address.
    let script = format!(
        "openssl s_client -connect {}:443 </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName",
        sim.ip
    );
    let san = Command::new("sh").args(["-c", &script]).output().unwrap();
    let san = String::from_utf8_lossy(&san.stdout);
    assert!(
        san.contains(&format!("DNS:sv-ipc3100-{}.local", sim.serial))
            && san.contains(&format!("IP Address:{}", sim.ip)),
        "{san}"
    );

    // A power cycle keeps serving the new slot.
    let sim = sim.power_cycle();
    assert!(temper_e2e::wait_until(
        std::time::Duration::from_secs(10),
        || { std::net::TcpStream::connect(format!("{}:443", sim.ip)).is_ok() }
    ));
    assert_eq!(served_fingerprint(&sim.ip), new);
}

#[test]
fn a_device_serving_something_else_after_the_switch_is_switched_back_to_the_old_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let sim = pro(&state, &test_ip(91), &[]);
    let (inventory, old) = commissioned(dir.path(), &sim);
    drop(sim);
    // The same unit, now misbehaving: it stores another certificate than the one sent, and says it did not.
    let sim = pro(&state, &test_ip(91), &["--hostile", "install-other-cert"]);

    let out = renew(&inventory, &sim.port).output().unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    let text = describe(&out);
    assert!(
        text.contains("not the certificate sent") && text.contains("switched back"),
        "{text}"
    );
    assert_eq!(
        served_fingerprint(&sim.ip),
        old,
        "the old certificate serves again"
    );
    assert_eq!(
        active(&inventory, &sim.serial),
        old,
        "and is still the active one"
    );
    assert!(
        events_named(&sim, "slot-deleted").is_empty(),
        "the old slot was kept"
    );
}
