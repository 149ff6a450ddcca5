//! "Rotate now" (issue 6): `temper commission --rotate-now` replaces every credential of a commissioned device
//! although none has expired, on the same crash-safe path as the first rotation; proven from outside (console
//! login, RTSP and HTTPS Digest), and by a later run without the flag that finds nothing to do.

use std::path::Path;
use std::process::Output;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use temper_e2e::*;

const STORES: [&str; 3] = ["shell-root", "web-admin", "rtsp-admin"];

fn rotate_now(inventory: &Path, port: &str) -> Output {
    temper(inventory)
        .args(["--json", "commission", "--port", port, "--rotate-now"])
        .output()
        .expect("run temper")
}

/// Each store's current secret.
fn currents(inventory: &Path, serial: &str) -> Vec<String> {
    STORES
        .iter()
        .map(|store| {
            let record = credential(inventory, serial, store);
            assert!(record.pending.is_none(), "{store}: nothing left pending");
            record
                .current
                .unwrap_or_else(|| panic!("{store}: a current credential"))
                .expose()
                .to_string()
        })
        .collect()
}

fn rotate_outcome(output: &Output) -> Value {
    json_lines(output)
        .into_iter()
        .find(|l| l["event"] == "step-finished" && l["step"] == "rotate-credentials")
        .map_or(Value::Null, |l| l["outcome"].clone())
}

/// True when the web admin over HTTPS (verified against the station CA in `ca`) takes `password`.
fn web_accepts(ip: &str, ca: &Path, password: &str) -> bool {
    curl_digest_at(&format!("https://{ip}/"), Some(ca), "admin", password) == "200"
}

fn export_ca(inventory: &Path, dir: &Path) -> std::path::PathBuf {
    let ca = dir.join("station-ca.pem");
    let exported = temper(inventory)
        .args(["ca", "export", "--out"])
        .arg(&ca)
        .output()
        .unwrap();
    assert!(exported.status.success(), "{}", describe(&exported));
    ca
}

/// Asserts that the device takes exactly `new` and refuses `old`, store by store, from outside.
fn assert_device_takes(sim: &Sim, ca: &Path, new: &[String], old: &[String]) {
    assert!(
        console_accepts(&sim.port, "root", &new[0]),
        "the new console password works"
    );
    assert!(
        !console_accepts(&sim.port, "root", &old[0]),
        "the old console password is refused"
    );
    assert!(
        web_accepts(&sim.ip, ca, &new[1]),
        "the new web password works over HTTPS"
    );
    assert!(
        !web_accepts(&sim.ip, ca, &old[1]),
        "the old web password is refused"
    );
    assert!(
        rtsp_accepts(&sim.ip, "admin", &new[2]),
        "the new RTSP password works"
    );
    assert!(
        !rtsp_accepts(&sim.ip, "admin", &old[2]),
        "the old RTSP password is refused"
    );
}

/// Guards issue 6's "rotate now": every store gets a new credential although none expired, the device takes
/// the new ones and refuses the old ones, the report is hardened, and a later run without the flag leaves
/// them alone.
#[test]
fn rotate_now_replaces_every_valid_credential_and_a_plain_rerun_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(230));
    let first = commission(&inventory, &sim.port);
    assert!(first.status.success(), "commission: {}", describe(&first));
    let before = currents(&inventory, &sim.serial);
    let ca = export_ca(&inventory, dir.path());

    let output = rotate_now(&inventory, &sim.port);
    assert!(output.status.success(), "rotate now: {}", describe(&output));
    assert_eq!(
        report_of(&output)["hardened"],
        true,
        "{}",
        describe(&output)
    );
    assert_eq!(rotate_outcome(&output), "done", "the rotation ran");
    let after = currents(&inventory, &sim.serial);
    for (i, store) in STORES.iter().enumerate() {
        assert_ne!(before[i], after[i], "{store}: a new current secret");
        assert!(after[i].len() >= 20, "{store}: a strong new secret");
    }
    assert_device_takes(&sim, &ca, &after, &before);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for secret in before.iter().chain(&after) {
        assert!(!stdout.contains(secret.as_str()), "no secret in the output");
    }

    // The audit trail has a second pending commit and activation per store.
    let trail = temper(&inventory)
        .args(["--json", "audit", "show", "--device", &sim.serial])
        .output()
        .unwrap();
    let trail = json_lines(&trail)[0]["events"].as_array().cloned().unwrap();
    let count = |action: &str| trail.iter().filter(|e| e["action"] == action).count();
    assert_eq!(
        count("credential-pending"),
        6,
        "two pending commits per store"
    );
    assert_eq!(count("credential-active"), 6, "two activations per store");

    // Without the flag: nothing is due, nothing changes.
    let again = commission(&inventory, &sim.port);
    assert!(again.status.success(), "plain re-run: {}", describe(&again));
    assert_eq!(report_of(&again)["hardened"], true);
    assert_eq!(
        rotate_outcome(&again),
        "already-done",
        "a plain re-run does not rotate"
    );
    assert_eq!(currents(&inventory, &sim.serial), after, "same credentials");
    assert_device_takes(&sim, &ca, &after, &before);
}

/// "Rotate now" is as crash-safe as the first rotation: killed after the device took the new RTSP password
/// (committed as pending before it was sent), a plain re-run confirms it and makes it current; the two stores
/// already rotated keep their new credentials.
#[test]
fn rotate_now_killed_mid_way_resumes_with_a_plain_rerun() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(231));
    let first = commission(&inventory, &sim.port);
    assert!(first.status.success(), "commission: {}", describe(&first));
    let before = currents(&inventory, &sim.serial);
    let ca = export_ca(&inventory, dir.path());

    let mut child = spawn_until_stopped(
        temper(&inventory).args(["--json", "commission", "--port", &sim.port, "--rotate-now"]),
        "credential-sent:rtsp-admin",
    );
    // A second reader sees the RTSP password pending (the device already has it) beside the old current one.
    let rtsp = credential(&inventory, &sim.serial, "rtsp-admin");
    let pending = rtsp
        .pending
        .expect("the new RTSP password is pending")
        .expose()
        .to_string();
    assert_eq!(
        rtsp.current.expect("old current").expose(),
        before[2],
        "the old RTSP password is still current"
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).expect("SIGKILL");
    let _ = child.wait();
    assert!(
        rtsp_accepts(&sim.ip, "admin", &pending),
        "the device took the pending password before the kill"
    );

    let output = commission(&inventory, &sim.port);
    assert!(output.status.success(), "resume: {}", describe(&output));
    assert_eq!(report_of(&output)["hardened"], true);
    assert_eq!(
        rotate_outcome(&output),
        "done",
        "the resumed run confirms the pending password"
    );
    let after = currents(&inventory, &sim.serial);
    assert_eq!(
        after[2], pending,
        "the pending RTSP password became current"
    );
    for (i, store) in STORES.iter().enumerate() {
        assert_ne!(before[i], after[i], "{store}: rotated");
    }
    assert_device_takes(&sim, &ca, &after, &before);
}
