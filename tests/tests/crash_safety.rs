//! Crash safety: the `temper` process is stopped at named points (TEMPER_FAULT_STOP_AT), inspected from a second
//! process, then SIGKILLed; the simulator's event log proves which window the kill hit; every case re-runs to
//! success with the credentials the inventory holds.

use std::path::Path;
use std::process::Child;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use temper_e2e::*;

/// Starts `temper commission` that stops itself at `key`; returns once it is stopped.
fn run_until(inventory: &Path, port: &str, key: &str) -> Child {
    ensure_inventory(inventory);
    spawn_until_stopped(
        temper(inventory).args(["--json", "commission", "--port", port]),
        key,
    )
}

fn sigkill(mut child: Child) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).expect("SIGKILL");
    let _ = child.wait();
}

fn has(events: &[Value], event: &str, store: &str) -> bool {
    events
        .iter()
        .any(|e| e["event"] == event && e["store"] == store)
}

fn finish(inventory: &Path, sim: &Sim) {
    let output = commission(inventory, &sim.port);
    assert!(
        output.status.success(),
        "re-run should finish the job: {}",
        describe(&output)
    );
}

/// Kills at every step boundary in turn; each run resumes where the last one was killed.
#[test]
fn kill_at_every_step_boundary_then_resume() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(20));
    for step in [
        "identify",
        "baseline",
        "rotate-credentials",
        "lock-accounts",
        "default-credential-trials",
        "disable-services",
        "verify",
    ] {
        let child = run_until(&inventory, &sim.port, &format!("step-finished:{step}"));
        sigkill(child);
    }
    finish(&inventory, &sim);
    let shell = credential(&inventory, &sim.serial, "shell-root");
    assert!(
        shell.current.is_some() && shell.pending.is_none(),
        "shell credential active after resume"
    );
}

/// Device still on the old password, inventory already holding the pending one: the durability window.
#[test]
fn kill_after_pending_commit_before_any_byte_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(21));
    let child = run_until(&inventory, &sim.port, "credential-pending:shell-root");

    // A second process sees the pending credential before the device saw its first byte.
    let pending = credential(&inventory, &sim.serial, "shell-root")
        .pending
        .expect("pending visible to a second reader");
    assert!(
        !has(&sim.events(), "secret-input-begin", "shell-root"),
        "no byte of the new password may have reached the device yet"
    );

    // Copies taken while temper is stopped right after the commit hold no plaintext.
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(inventory.parent().unwrap()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, copy.join(path.file_name().unwrap())).unwrap();
    }
    let needles = [
        sim.serial.clone(),
        "Simvision".to_string(),
        "SV-IPC2100".to_string(),
        pending.expose().to_string(),
    ];
    assert_no_plaintext(&copy, &needles);

    sigkill(child);
    assert!(
        !has(&sim.events(), "password-changed", "shell-root"),
        "device still on the old password"
    );
    finish(&inventory, &sim);
    let shell = credential(&inventory, &sim.serial, "shell-root");
    assert_eq!(
        shell.current.as_ref(),
        Some(&pending),
        "the committed pending credential is the one that went live"
    );
}

/// Killed between the first and the second entry of `passwd`: the device discards the half-done change.
#[test]
fn kill_inside_the_password_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(22));
    let child = run_until(&inventory, &sim.port, "credential-sent:shell-root");
    sigkill(child);
    let events = sim.events();
    assert!(
        has(&events, "secret-input-begin", "shell-root"),
        "the kill hit after the first byte went out"
    );
    assert!(
        !has(&events, "password-changed", "shell-root"),
        "…and before the device changed its password"
    );
    finish(&inventory, &sim);
}

/// Device on the new password while the inventory still says pending, for a console store and a command store.
#[test]
fn kill_after_device_took_the_new_password() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(23));
    for store in ["shell-root", "web-admin"] {
        let child = run_until(
            &inventory,
            &sim.port,
            &format!("credential-accepted:{store}"),
        );
        sigkill(child);
        assert!(
            has(&sim.events(), "password-changed", store),
            "{store}: the device took the new password"
        );
        let record = credential(&inventory, &sim.serial, store);
        assert!(
            record.pending.is_some(),
            "{store}: the inventory still says pending"
        );
    }
    finish(&inventory, &sim);
    for store in ["shell-root", "web-admin"] {
        let record = credential(&inventory, &sim.serial, store);
        assert!(
            record.current.is_some() && record.pending.is_none(),
            "{store} confirmed on re-run"
        );
    }
}

/// The device loses power in the middle of a step and comes back under another PTY path.
#[test]
fn simulator_killed_mid_step_and_replugged_under_a_new_path() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("inv/inventory.db");
    let sim = Sim::start(&dir.path().join("state"), &test_ip(24));
    let child = run_until(&inventory, &sim.port, "credential-sent:web-admin");
    let old_port = sim.port.clone();
    let sim = sim.power_cycle();
    assert_ne!(
        sim.port, old_port,
        "the replugged device has a new port path"
    );
    // The stopped temper now finds its device gone.
    kill(Pid::from_raw(child.id() as i32), Signal::SIGCONT).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "the interrupted run must fail");
    finish(&inventory, &sim);
    assert_eq!(
        credential(&inventory, &sim.serial, "web-admin").pending,
        None
    );
}
