//! Crash safety of the certificate step: `temper` stopped (TEMPER_FAULT_STOP_AT) after every certificate stage of a
//! commissioning and SIGKILLed, once with the device power-cycled as well, and a renewal under an injected clock
//! killed between install and switch. Each case is inspected at the kill point (inventory, device state, what
//! port 443 serves from outside), re-run to the end, and must end with exactly one active certificate that the
//! device really serves. Revocation is then checked with OpenSSL as the independent peer.
//!
//! Addresses: test_ip(60)..test_ip(70).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use temper_core::inventory::{CertState, DeviceCertRecord, Inventory};
use temper_e2e::*;

/// What the simulated camera serves before it has a certificate of its own (devsim's factory pair).
const FACTORY_FP: &str = "4e62912de781820e10742c9243b665ffeced1dc00621600d5a455749a6e0cc3c";

/// 340 days: a 365-day certificate issued now is due under `--expiring 30d` at this station-clock offset.
const RENEW_OFFSET: &str = "29376000";

/// One test's simulator and inventory.
struct Bench {
    _dir: tempfile::TempDir,
    root: PathBuf,
    inventory: PathBuf,
    sim: Sim,
}

impl Bench {
    fn new(n: u8) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let inventory = root.join("inv/inventory.db");
        let sim = Sim::start(&root.join("state"), &test_ip(n));
        ensure_inventory(&inventory);
        Bench {
            _dir: dir,
            root,
            inventory,
            sim,
        }
    }

    fn commission_cmd(&self) -> Command {
        let mut cmd = temper(&self.inventory);
        cmd.env_remove("TEMPER_TEST_CLOCK_OFFSET").args([
            "--json",
            "commission",
            "--port",
            &self.sim.port,
        ]);
        cmd
    }

    /// `temper --json cert renew --port P --expiring 30d`, with the station clock moved by `offset` seconds.
    fn renew_cmd(&self, offset: Option<&str>) -> Command {
        let mut cmd = temper(&self.inventory);
        match offset {
            Some(secs) => cmd.env("TEMPER_TEST_CLOCK_OFFSET", secs),
            None => cmd.env_remove("TEMPER_TEST_CLOCK_OFFSET"),
        };
        cmd.args([
            "--json",
            "cert",
            "renew",
            "--port",
            &self.sim.port,
            "--expiring",
            "30d",
        ]);
        cmd
    }

    /// Pulls the device's plug and plugs it in again: same state, new PTY path, clock back to 1970.
    fn power_cycle(self) -> Bench {
        let Bench {
            _dir,
            root,
            inventory,
            sim,
        } = self;
        Bench {
            _dir,
            root,
            inventory,
            sim: sim.power_cycle(),
        }
    }

    fn certs(&self) -> Vec<DeviceCertRecord> {
        open_inventory(&self.inventory)
            .device_certs(&self.sim.serial)
            .expect("device certificates")
    }

    fn served(&self) -> String {
        served_fingerprint(&self.sim.ip)
    }

    fn installed(&self) -> Option<String> {
        installed_fingerprint(&self.sim.state)
    }

    /// Events the simulator logged named `name`.
    fn count(&self, name: &str) -> usize {
        self.sim
            .events()
            .iter()
            .filter(|e| e["event"] == name)
            .count()
    }
}

/// The leaf fingerprint port 443 of `ip` serves, read from outside without trusting it.
fn served(ip: &str) -> Result<String, String> {
    let addr = format!("{ip}:443").parse().expect("address");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime
        .block_on(temper_core::checks::served_certificate(addr))
        .map(|c| c.fingerprint_sha256)
        .map_err(|e| e.to_string())
}

fn served_fingerprint(ip: &str) -> String {
    served(ip).unwrap_or_else(|e| panic!("{ip}:443 serves no readable certificate: {e}"))
}

fn try_served_fingerprint(ip: &str) -> Option<String> {
    served(ip).ok()
}

/// `tls.installed.fingerprint` of the simulator's state.json (what the device would serve after a restart).
fn installed_fingerprint(state: &Path) -> Option<String> {
    let text = std::fs::read_to_string(state.join("state.json")).expect("state.json");
    let json: Value = serde_json::from_str(&text).expect("state.json parses");
    json["tls"]["installed"]["fingerprint"]
        .as_str()
        .map(str::to_string)
}

fn sigkill(mut child: Child) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).expect("SIGKILL");
    let _ = child.wait();
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run temper")
}

/// The `report` object of a `--json` run.
fn report(output: &Output) -> Value {
    json_lines(output)
        .into_iter()
        .find(|l| l["event"] == "report")
        .map(|l| l["report"].clone())
        .unwrap_or_else(|| panic!("no report line: {}", describe(output)))
}

fn with_state(certs: &[DeviceCertRecord], state: CertState) -> Vec<&DeviceCertRecord> {
    certs.iter().filter(|c| c.state == state).collect()
}

fn states(certs: &[DeviceCertRecord]) -> String {
    certs
        .iter()
        .map(|c| format!("{}={}", &c.fingerprint[..16], c.state.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A finished run: exit 0 and hardened; exactly one active certificate, none pending, the others superseded
/// (never revoked by a resume); the active one is what port 443 serves and what the device has installed.
/// Returns it.
fn assert_settled(bench: &Bench, output: &Output) -> DeviceCertRecord {
    assert!(
        output.status.success(),
        "the re-run should finish: {}",
        describe(output)
    );
    let report = report(output);
    assert_eq!(report["hardened"], true, "report: {report}");
    let certs = bench.certs();
    let active = with_state(&certs, CertState::Active);
    assert_eq!(
        active.len(),
        1,
        "exactly one active certificate: {}",
        states(&certs)
    );
    let active = active[0].clone();
    assert!(
        certs
            .iter()
            .all(|c| c.fingerprint == active.fingerprint || c.state == CertState::Superseded),
        "every other certificate superseded, none left pending: {}",
        states(&certs)
    );
    assert_eq!(
        report["certificate"]["fingerprint"], active.fingerprint,
        "the report names the active certificate"
    );
    assert_eq!(
        bench.served(),
        active.fingerprint,
        "port 443 serves the inventory's active certificate"
    );
    assert_eq!(
        bench.installed().as_deref(),
        Some(active.fingerprint.as_str()),
        "the device has the inventory's active certificate installed"
    );
    active
}

/// Commission until stopped right after `certificate:<stage>`, check that the kill hits the window the stage
/// names, SIGKILL, re-run to the end.
fn kill_at_stage_then_resume(stage: &str, n: u8) {
    let bench = Bench::new(n);
    let child = spawn_until_stopped(&mut bench.commission_cmd(), &format!("certificate:{stage}"));
    let certs = bench.certs();
    let served = bench.served();
    let installed = bench.installed();
    let keys_before = bench.count("key-generated");
    sigkill(child);

    // Where the kill hit, proven from the inventory and from the device.
    let pending = with_state(&certs, CertState::Pending);
    let first = certs.first().map(|c| c.fingerprint.clone());
    match stage {
        "clock-set" | "key-generated" | "csr-checked" => {
            assert!(certs.is_empty(), "{stage}: nothing signed yet");
            assert_eq!(served, FACTORY_FP, "{stage}: still the factory certificate");
            assert_eq!(installed, None, "{stage}: nothing installed");
            assert_eq!(bench.count("clock-set"), 1, "{stage}: clock set");
            let key = usize::from(stage != "clock-set");
            assert_eq!(keys_before, key, "{stage}: key-generated events");
            let csr = usize::from(stage == "csr-checked");
            assert_eq!(bench.count("csr-issued"), csr, "{stage}: csr-issued events");
        }
        "pending" => {
            assert_eq!(pending.len(), 1, "pending: {}", states(&certs));
            assert_eq!(certs.len(), 1);
            assert_eq!(bench.count("cert-installed"), 0, "nothing sent yet");
            assert_eq!(installed, None);
            assert_eq!(served, FACTORY_FP);
        }
        "installed" => {
            assert_eq!(pending.len(), 1, "installed: {}", states(&certs));
            assert_eq!(installed, first, "the device holds the pending certificate");
            assert_eq!(served, FACTORY_FP, "…but does not serve it yet");
        }
        "switched" => {
            assert_eq!(pending.len(), 1, "switched: {}", states(&certs));
            assert_eq!(installed, first);
            assert_eq!(served, first.clone().unwrap(), "served, not yet confirmed");
        }
        "active" => {
            assert_eq!(with_state(&certs, CertState::Active).len(), 1);
            assert!(pending.is_empty());
            assert_eq!(served, first.clone().unwrap());
        }
        other => panic!("unknown stage {other}"),
    }

    let output = run(&mut bench.commission_cmd());
    let active = assert_settled(&bench, &output);
    if let Some(first) = first {
        // A certificate signed before the kill is carried to the end, not replaced by a new key.
        assert_eq!(
            active.fingerprint, first,
            "{stage}: the certificate from before the kill went live"
        );
        assert_eq!(
            bench.count("key-generated"),
            keys_before,
            "{stage}: no new key on resume"
        );
        assert_eq!(bench.certs().len(), 1);
    }
}

#[test]
fn killed_after_clock_set_resumes() {
    kill_at_stage_then_resume("clock-set", 60);
}

#[test]
fn killed_after_key_generated_resumes() {
    kill_at_stage_then_resume("key-generated", 61);
}

#[test]
fn killed_after_csr_checked_resumes() {
    kill_at_stage_then_resume("csr-checked", 62);
}

#[test]
fn killed_with_certificate_pending_resumes() {
    kill_at_stage_then_resume("pending", 63);
}

#[test]
fn killed_after_install_before_switch_resumes() {
    kill_at_stage_then_resume("installed", 64);
}

#[test]
fn killed_after_switch_before_confirm_resumes() {
    kill_at_stage_then_resume("switched", 65);
}

#[test]
fn killed_after_active_resumes() {
    kill_at_stage_then_resume("active", 66);
}

/// Unplugged with the certificate pending: temper SIGKILLed and the device power-cycled (its clock back in 1970,
/// a new PTY path); then the same command again, on the new path. Returns the bench, the pending certificate
/// from before the unplug, and the re-run's output.
fn unplug_while_pending(n: u8) -> (Bench, DeviceCertRecord, Output) {
    let bench = Bench::new(n);
    let child = spawn_until_stopped(&mut bench.commission_cmd(), "certificate:pending");
    let certs = bench.certs();
    let pending = with_state(&certs, CertState::Pending);
    assert_eq!(pending.len(), 1, "{}", states(&certs));
    let pending = pending[0].clone();
    sigkill(child);
    let old_port = bench.sim.port.clone();
    let bench = bench.power_cycle();
    assert_ne!(bench.sim.port, old_port, "replugged under a new path");
    // Booting: httpsd comes up with what the device has installed, which is nothing yet.
    let mut served = None;
    wait_until(Duration::from_secs(20), || {
        served = try_served_fingerprint(&bench.sim.ip);
        served.is_some()
    });
    assert_eq!(served.as_deref(), Some(FACTORY_FP));
    let output = run(&mut bench.commission_cmd());
    (bench, pending, output)
}

#[test]
fn pending_certificate_survives_kill_and_power_cycle() {
    let (bench, pending, output) = unplug_while_pending(67);
    let active = assert_settled(&bench, &output);
    assert_eq!(
        active.fingerprint, pending.fingerprint,
        "the pending certificate went live (the device kept its key over the power cycle)"
    );
}

/// The profile promises the clock is set before each certificate step ("a device in 1970 refuses any valid
/// certificate"); after a power cycle the pending certificate is installed without setting it.
#[test]
fn rebooted_device_gets_its_clock_set_before_the_pending_certificate_is_installed() {
    let (bench, _, output) = unplug_while_pending(70);
    assert_settled(&bench, &output);
    let events = bench.sim.events();
    let last_boot = events
        .iter()
        .rposition(|e| e["event"] == "boot")
        .expect("boot event");
    let after = &events[last_boot..];
    let installed_at = after
        .iter()
        .position(|e| e["event"] == "cert-installed")
        .expect("installed after the power cycle");
    assert!(
        after[..installed_at]
            .iter()
            .any(|e| e["event"] == "clock-set"),
        "the clock was set after the reboot and before the install"
    );
    assert!(
        !after.iter().any(|e| e["event"] == "clock-unset"),
        "the device installed its certificate with its clock unset"
    );
}

/// Renewal under an injected clock: not due today; due 340 days on, killed after the new certificate is
/// installed but before httpsd switched to it (the device still serves the old one); the re-run switches.
#[test]
fn renewal_killed_between_install_and_switch_resumes_to_the_new_certificate() {
    let bench = Bench::new(68);
    let output = run(&mut bench.commission_cmd());
    let old = assert_settled(&bench, &output);
    let keys = bench.count("key-generated");

    // Today a 365-day certificate is not due within 30 days: nothing changes.
    let output = run(&mut bench.renew_cmd(None));
    assert!(output.status.success(), "{}", describe(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("not due"),
        "says why nothing happens: {}",
        describe(&output)
    );
    assert_eq!(bench.count("key-generated"), keys, "no new key");
    let certs = bench.certs();
    assert_eq!(certs.len(), 1, "{}", states(&certs));
    assert_eq!(certs[0].fingerprint, old.fingerprint);
    assert_eq!(certs[0].state, CertState::Active);
    assert_eq!(bench.served(), old.fingerprint);

    // 340 days later it is due; stopped right after the device took the new certificate.
    let child = spawn_until_stopped(
        &mut bench.renew_cmd(Some(RENEW_OFFSET)),
        "certificate:installed",
    );
    let certs = bench.certs();
    let pending = with_state(&certs, CertState::Pending);
    assert_eq!(pending.len(), 1, "{}", states(&certs));
    let new_fp = pending[0].fingerprint.clone();
    assert_ne!(new_fp, old.fingerprint);
    assert_eq!(
        with_state(&certs, CertState::Active)[0].fingerprint,
        old.fingerprint,
        "the old certificate stays active until the new one is proven"
    );
    assert_eq!(bench.installed().as_deref(), Some(new_fp.as_str()));
    sigkill(child);
    assert_eq!(
        bench.served(),
        old.fingerprint,
        "killed before the switch: the device still serves the old certificate"
    );
    let keys = bench.count("key-generated");

    let output = run(&mut bench.renew_cmd(Some(RENEW_OFFSET)));
    let new = assert_settled(&bench, &output);
    assert_eq!(report(&output)["run"], "renew-certificate");
    assert_eq!(
        new.fingerprint, new_fp,
        "the installed certificate went live"
    );
    assert_eq!(bench.count("key-generated"), keys, "no new key on resume");
    let certs = bench.certs();
    assert_eq!(certs.len(), 2, "{}", states(&certs));
    let superseded = with_state(&certs, CertState::Superseded);
    assert_eq!(superseded.len(), 1, "{}", states(&certs));
    assert_eq!(superseded[0].fingerprint, old.fingerprint);
    assert!(
        new.not_after >= old.not_after + 330 * 86_400,
        "the new certificate runs about a year from the moved clock: {} vs {}",
        new.not_after,
        old.not_after
    );

    // `cert list` shows the new certificate and its expiry.
    let output = run(temper(&bench.inventory).args(["--json", "cert", "list"]));
    assert!(output.status.success(), "{}", describe(&output));
    let rows = json_lines(&output);
    assert_eq!(rows.len(), 1, "{}", describe(&output));
    assert_eq!(rows[0]["serial"], bench.sim.serial);
    assert_eq!(rows[0]["fingerprint"], new.fingerprint);
    assert_eq!(rows[0]["not_after"], new.not_after);
    let output = run(temper(&bench.inventory).args(["cert", "list"]));
    let listed = text(&output);
    assert!(
        listed.contains(&new.fingerprint) && !listed.contains(&old.fingerprint),
        "{listed}"
    );
    // …and, on the moved clock, it is no longer due.
    let output = run(temper(&bench.inventory)
        .env("TEMPER_TEST_CLOCK_OFFSET", RENEW_OFFSET)
        .args(["--json", "cert", "list", "--expiring", "30d"]));
    assert!(output.status.success(), "{}", describe(&output));
    assert!(json_lines(&output).is_empty(), "{}", describe(&output));
}

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Revocation checked by OpenSSL: the revoked certificate fails `verify -crl_check` and the TLS handshake with
/// the device that still serves it; the superseded (not revoked) one still verifies; the audit trail holds it.
#[test]
fn revoked_certificate_is_refused_by_openssl_and_audited() {
    let bench = Bench::new(69);
    let output = run(&mut bench.commission_cmd());
    let old = assert_settled(&bench, &output);
    let output = run(&mut bench.renew_cmd(Some(RENEW_OFFSET)));
    let new = assert_settled(&bench, &output);
    assert_ne!(new.fingerprint, old.fingerprint);

    let output =
        run(temper(&bench.inventory).args(["cert", "revoke", "--device", &bench.sim.serial]));
    assert!(output.status.success(), "{}", describe(&output));
    let certs = bench.certs();
    let revoked = with_state(&certs, CertState::Revoked);
    assert_eq!(revoked.len(), 1, "{}", states(&certs));
    assert_eq!(
        revoked[0].fingerprint, new.fingerprint,
        "the active one is revoked"
    );
    assert!(with_state(&certs, CertState::Active).is_empty());

    let path = |name: &str| bench.root.join(name).to_str().unwrap().to_string();
    let (crl, ca, leaf, older) = (
        path("crl.pem"),
        path("ca.pem"),
        path("leaf.pem"),
        path("old.pem"),
    );
    for (args, file) in [
        (["ca", "crl", "--out"], &crl),
        (["ca", "export", "--out"], &ca),
    ] {
        let output = run(temper(&bench.inventory).args(args).arg(file));
        assert!(output.status.success(), "{}", describe(&output));
    }
    std::fs::write(&leaf, &revoked[0].cert_pem).unwrap();
    std::fs::write(&older, &old.cert_pem).unwrap();

    let verify = |file: &str| {
        openssl(&[
            "verify",
            "-crl_check",
            "-CAfile",
            &ca,
            "-CRLfile",
            &crl,
            file,
        ])
    };
    let output = verify(&leaf);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("certificate revoked"),
        "{}",
        text(&output)
    );
    let output = verify(&older);
    assert!(
        output.status.success() && !text(&output).contains("revoked"),
        "the superseded certificate was not revoked: {}",
        text(&output)
    );

    // The real peer: the device still serves the revoked certificate, and a CRL-checking client refuses it.
    assert_eq!(bench.served(), new.fingerprint);
    let output = openssl(&[
        "s_client",
        "-connect",
        &format!("{}:443", bench.sim.ip),
        "-CAfile",
        &ca,
        "-CRL",
        &crl,
        "-crl_check",
        "-verify_return_error",
    ]);
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("certificate revoked"),
        "{}",
        text(&output)
    );

    let output = run(temper(&bench.inventory).args(["audit", "verify"]));
    assert!(output.status.success(), "{}", describe(&output));
    let output = run(temper(&bench.inventory).args(["audit", "show"]));
    assert!(
        output.status.success() && text(&output).contains("certificate-revoked"),
        "{}",
        describe(&output)
    );
    let output = run(temper(&bench.inventory).args(["--json", "audit", "show"]));
    assert!(output.status.success(), "{}", describe(&output));
    let shown = json_lines(&output);
    let events = shown
        .iter()
        .flat_map(|l| l["events"].as_array().cloned().unwrap_or_default())
        .collect::<Vec<_>>();
    assert!(
        events.iter().any(|e| e["action"] == "certificate-revoked"
            && e["device"] == bench.sim.serial
            && e["detail"]["fingerprint"] == new.fingerprint),
        "audit show lists the revocation: {}",
        describe(&output)
    );
}
