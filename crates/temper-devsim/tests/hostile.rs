//! Hostile device modes (`--hostile MODE`, `SimOptions::hostile`), each checked with real peers:
//! `openssl req` reads the CSRs, an openssl CA signs them, `openssl s_client` sees what httpsd serves.

mod common;

use std::path::Path;
use std::process::Command;

use common::certs::{
    device_public_key, file_fingerprint, install, login_ready, openssl_ca, openssl_sign, pem_block,
    served_fingerprint, sh, sh_ok,
};
use common::{sha256_hex, Console, Sim};
use serde_json::Value;
use temper_devsim::{HostileMode, Model, SimOptions, Simulator};
use tempfile::TempDir;

const CHALLENGE: &str = "Zq4-wT9pLx2vKc7R";

/// The `hostile` events of a device.
fn hostile_events(dir: &Path) -> Vec<Value> {
    temper_devsim::read_events(dir)
        .into_iter()
        .filter(|e| e["event"] == "hostile")
        .collect()
}

/// A booted device with a key, logged in as root, and one CSR it made (already checked by
/// `openssl req -verify`: every CSR verifies against the key it carries).
struct CsrSession {
    sim: Sim,
    con: Console,
    ip: String,
    work: TempDir,
    /// `openssl req -noout -text` of the CSR.
    text: String,
    /// The public key the CSR carries (PEM).
    pubkey: String,
    _state: TempDir,
}

impl CsrSession {
    async fn start(ip: &str, modes: &[&str]) -> CsrSession {
        let state = tempfile::tempdir().unwrap();
        let args: Vec<&str> = modes.iter().flat_map(|m| ["--hostile", m]).collect();
        let sim = Sim::spawn(state.path(), ip, &args);
        let mut con = login_ready(&sim).await;
        let out = con.run("certtool genkey").await;
        assert!(out.contains("OK key generated"), "{out}");
        let mut s = CsrSession {
            sim,
            con,
            ip: ip.to_string(),
            work: tempfile::tempdir().unwrap(),
            text: String::new(),
            pubkey: String::new(),
            _state: state,
        };
        s.csr().await;
        s
    }

    /// `certtool csr` again: fills `text` and `pubkey`, writes `dev.csr` in `work`.
    async fn csr(&mut self) {
        let cmd = format!(
            "certtool csr --cn {} --challenge '{CHALLENGE}' --san-ip {}",
            self.sim.info.serial, self.ip
        );
        let out = self.con.run(&cmd).await;
        let csr = pem_block(&out, "CERTIFICATE REQUEST");
        let w = self.work.path();
        std::fs::write(w.join("dev.csr"), &csr).unwrap();
        let text = sh_ok(w, "openssl req -verify -noout -in dev.csr 2>&1");
        assert!(text.contains("verify OK"), "{text}");
        self.text = sh_ok(w, "openssl req -noout -text -in dev.csr");
        self.pubkey = sh_ok(w, "openssl req -noout -pubkey -in dev.csr");
    }

    fn device_key(&self) -> String {
        device_public_key(&self.sim.dir)
    }

    fn csr_issued(&self) -> Value {
        let events = self.sim.events();
        let last = events.iter().rev().find(|e| e["event"] == "csr-issued");
        last.expect("a csr-issued event").clone()
    }
}

#[test]
fn unknown_mode_is_refused_with_the_valid_ones_and_help_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::BIN)
        .args(["run", "--model", "ipcam", "--state"])
        .arg(dir.path())
        .args(["--hostile", "clock-stuck", "--hostile", "be-evil"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'be-evil' for '--hostile <MODE>'"),
        "{err}"
    );
    let help = Command::new(common::BIN)
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for m in HostileMode::ALL {
        assert!(err.contains(m.id()), "{} not listed: {err}", m.id());
        assert!(help.contains(&format!("- {}:", m.id())), "{help}");
    }
    assert!(!dir.path().join("state.json").exists(), "nothing started");
}

#[tokio::test]
async fn an_honest_device_csr_carries_its_key_the_challenge_and_nothing_more() {
    let s = CsrSession::start("127.0.79.1", &[]).await;
    assert_eq!(s.pubkey, s.device_key());
    assert!(s.text.contains("challengePassword"), "{}", s.text);
    assert!(s.text.contains(CHALLENGE), "{}", s.text);
    assert!(s.text.contains("IP Address:127.0.79.1"), "{}", s.text);
    assert!(!s.text.contains("CA:TRUE") && !s.text.contains("evil.example"));
    assert_eq!(s.csr_issued()["challenge_sha256"], sha256_hex(CHALLENGE));
    assert!(hostile_events(&s.sim.dir).is_empty());
}

#[tokio::test]
async fn csr_foreign_key_signs_with_a_fresh_key_whose_certificate_is_refused() {
    let mut s = CsrSession::start("127.0.79.2", &["csr-foreign-key"]).await;
    let device = s.device_key();
    assert_ne!(s.pubkey, device, "signed with the device key");
    // All else as normal.
    assert!(s.text.contains(CHALLENGE), "{}", s.text);
    assert!(s.text.contains("IP Address:127.0.79.2"), "{}", s.text);
    let w = s.work.path().to_path_buf();
    let spki = sh_ok(
        &w,
        "openssl req -noout -pubkey -in dev.csr | openssl pkey -pubin -outform DER | sha256sum",
    );
    let ev = &hostile_events(&s.sim.dir)[0];
    assert_eq!(ev["mode"], "csr-foreign-key");
    assert_eq!(ev["type"], "ec-p256");
    assert_eq!(ev["spki_sha256"], spki.split_whitespace().next().unwrap());

    // A real CA signs it (openssl checks the request's own signature); the device refuses it.
    openssl_ca(&w);
    let cert = openssl_sign(&w, "dev");
    let out = install(&mut s.con, &cert).await;
    assert!(
        out.contains("ERR certificate does not match the device key"),
        "{out}"
    );
    let show = s.con.run("certtool show").await;
    assert!(show.contains("installed none"), "{show}");
    assert!(s
        .sim
        .events()
        .iter()
        .any(|e| e["event"] == "cert-refused" && e["reason"] == "key-mismatch"));

    // A throwaway key per request; the device key stays.
    let first = s.pubkey.clone();
    s.csr().await;
    assert_ne!(s.pubkey, first);
    assert_ne!(s.pubkey, device);
    assert_eq!(s.device_key(), device);
    assert_eq!(hostile_events(&s.sim.dir).len(), 2);
}

#[tokio::test]
async fn csr_no_challenge_leaves_the_attribute_out() {
    let s = CsrSession::start("127.0.79.3", &["csr-no-challenge"]).await;
    assert!(!s.text.contains("challengePassword"), "{}", s.text);
    assert!(!s.text.contains(CHALLENGE), "{}", s.text);
    assert!(s.text.contains("IP Address:127.0.79.3"), "{}", s.text);
    assert_eq!(s.pubkey, s.device_key());
    assert_eq!(s.csr_issued()["challenge_sha256"], Value::Null);
    let ev = &hostile_events(&s.sim.dir)[0];
    assert_eq!(ev["mode"], "csr-no-challenge");
    assert_eq!(ev["omitted_challenge_sha256"], sha256_hex(CHALLENGE));
}

#[tokio::test]
async fn csr_stale_challenge_carries_factory_0000() {
    let s = CsrSession::start("127.0.79.4", &["csr-stale-challenge"]).await;
    let line = s.text.lines().find(|l| l.contains("challengePassword"));
    assert!(
        line.is_some_and(|l| l.trim_end().ends_with(":factory-0000")),
        "{}",
        s.text
    );
    assert!(!s.text.contains(CHALLENGE), "{}", s.text);
    assert_eq!(s.pubkey, s.device_key());
    assert_eq!(
        s.csr_issued()["challenge_sha256"],
        sha256_hex("factory-0000")
    );
    let ev = &hostile_events(&s.sim.dir)[0];
    assert_eq!(ev["mode"], "csr-stale-challenge");
    assert_eq!(ev["challenge"], "factory-0000");
    assert_eq!(ev["replaced_challenge_sha256"], sha256_hex(CHALLENGE));
}

#[tokio::test]
async fn csr_ca_true_requests_basic_constraints_ca() {
    let s = CsrSession::start("127.0.79.5", &["csr-ca-true"]).await;
    assert!(s.text.contains("Requested Extensions:"), "{}", s.text);
    assert!(s.text.contains("X509v3 Basic Constraints"), "{}", s.text);
    assert!(s.text.contains("CA:TRUE"), "{}", s.text);
    assert!(s.text.contains(CHALLENGE) && !s.text.contains("evil.example"));
    assert_eq!(s.pubkey, s.device_key());
    let evs = hostile_events(&s.sim.dir);
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["mode"], "csr-ca-true");
}

#[tokio::test]
async fn csr_foreign_san_adds_evil_example() {
    let s = CsrSession::start("127.0.79.6", &["csr-foreign-san"]).await;
    assert!(
        s.text.contains("IP Address:127.0.79.6, DNS:evil.example"),
        "{}",
        s.text
    );
    assert!(s.text.contains(CHALLENGE) && !s.text.contains("CA:TRUE"));
    assert_eq!(s.pubkey, s.device_key());
    let ev = &hostile_events(&s.sim.dir)[0];
    assert_eq!(ev["mode"], "csr-foreign-san");
    assert_eq!(ev["san_dns"], "evil.example");
}

#[tokio::test]
async fn csr_modes_combine_when_given_several_times() {
    let modes = ["csr-stale-challenge", "csr-ca-true", "csr-foreign-san"];
    let s = CsrSession::start("127.0.79.7", &modes).await;
    assert!(s.text.contains(":factory-0000"), "{}", s.text);
    assert!(s.text.contains("CA:TRUE"), "{}", s.text);
    assert!(s.text.contains("DNS:evil.example"), "{}", s.text);
    assert_eq!(s.pubkey, s.device_key());
    let logged: Vec<Value> = hostile_events(&s.sim.dir)
        .iter()
        .map(|e| e["mode"].clone())
        .collect();
    assert_eq!(logged, modes);
}

#[tokio::test]
async fn install_other_cert_lies_about_what_it_stores_and_serves() {
    let ip = "127.0.79.8";
    let mut s = CsrSession::start(ip, &["install-other-cert"]).await;
    let serial = s.sim.info.serial.clone();
    let w = s.work.path().to_path_buf();
    openssl_ca(&w);
    let cert = openssl_sign(&w, "dev");
    let sent = file_fingerprint(&w, "dev.pem");
    let ca = std::fs::read_to_string(w.join("ca.pem")).unwrap();
    let out = install(&mut s.con, &format!("{cert}{ca}")).await;
    assert!(out.contains(&format!("OK installed {sent}")), "{out}");

    // certtool show tells the truth: something else is installed.
    let show = s.con.run("certtool show").await;
    let stored = show
        .lines()
        .find_map(|l| l.trim().strip_prefix("installed "))
        .expect("an installed line")
        .to_string();
    assert_eq!(stored.len(), 64, "{show}");
    assert_ne!(stored, sent);
    let out = s.con.run("/etc/init.d/httpsd restart").await;
    assert!(out.contains("Starting httpsd: OK"), "{out}");
    assert_eq!(served_fingerprint(ip), stored);
    let show = s.con.run("certtool show").await;
    assert!(show.contains(&format!("serving {stored}")), "{show}");

    // What is served: self-signed for the device key, CN = serial; the station's CA does not vouch for it.
    let pipe = format!("openssl s_client -connect {ip}:443 </dev/null 2>/dev/null | openssl x509");
    let names = sh_ok(&w, &format!("{pipe} -noout -subject -issuer"));
    assert!(names.contains(&format!("subject=CN = {serial}")), "{names}");
    assert!(names.contains(&format!("issuer=CN = {serial}")), "{names}");
    assert_eq!(sh_ok(&w, &format!("{pipe} -noout -pubkey")), s.device_key());
    let (ok, text) = sh(&format!(
        "cd {} && openssl s_client -connect {ip}:443 -CAfile ca.pem -verify_return_error </dev/null",
        w.display()
    ));
    assert!(
        !ok && text.contains("verify error:num=18:self-signed certificate"),
        "the station CA verified the substitute: {text}"
    );

    let events = s.sim.events();
    let ev = &hostile_events(&s.sim.dir)[0];
    assert_eq!(ev["mode"], "install-other-cert");
    assert_eq!(ev["sent_fingerprint"], sent.as_str());
    assert_eq!(ev["stored_fingerprint"], stored.as_str());
    let has = |name: &str| {
        events
            .iter()
            .any(|e| e["event"] == name && e["fingerprint"] == stored.as_str())
    };
    assert!(has("cert-installed") && has("tls-restarted"));

    // Nothing but parsing is checked: a certificate for someone else's key is "installed" too.
    sh_ok(
        &w,
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other \
         -days 1 -keyout other.key -out other.pem 2>&1",
    );
    let other = std::fs::read_to_string(w.join("other.pem")).unwrap();
    let out = install(&mut s.con, &other).await;
    let other_fp = file_fingerprint(&w, "other.pem");
    assert!(out.contains(&format!("OK installed {other_fp}")), "{out}");
    let out = install(
        &mut s.con,
        "-----BEGIN CERTIFICATE-----\nnot*base64\n-----END CERTIFICATE-----\n",
    )
    .await;
    assert!(out.contains("ERR malformed PEM"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_stuck_date_s_answers_but_the_clock_stays_in_1970() {
    // Through the library (SimOptions::hostile), simulator in this process.
    let dir = tempfile::tempdir().unwrap();
    let mut opts = SimOptions::new(Model::Ipcam, dir.path());
    opts.ip = Some("127.0.79.9".parse().unwrap());
    opts.hostile = vec![HostileMode::ClockStuck];
    let sim = Simulator::start(opts).await.unwrap();
    let mut con = Console::open(&sim.info().port, 115_200);
    con.wait_boot().await;
    assert!(con.login("root", "xmhdipc").await);

    let out = con.run("date -s '2025-06-01 12:00:00'").await;
    assert!(out.contains("Sun Jun  1 12:00:00 UTC 2025"), "{out}");
    let out = con.run("date -s @1748779200 +%s").await;
    assert!(out.contains("\n1748779200\r\n"), "{out}");
    let out = con.run("date").await;
    assert!(out.contains("UTC 1970"), "the clock moved: {out}");
    let out = con.run("date +%s").await;
    let unix: i64 = out
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .expect("a number");
    assert!(unix < 3600, "{out}");
    let out = con.run("date -s 'not a date'").await;
    assert!(out.contains("date: invalid date 'not a date'"), "{out}");

    let events = temper_devsim::read_events(dir.path());
    assert!(!events.iter().any(|e| e["event"] == "clock-set"));
    let stuck: Vec<&Value> = events.iter().filter(|e| e["event"] == "hostile").collect();
    assert_eq!(stuck.len(), 2, "{stuck:?}");
    assert!(stuck
        .iter()
        .all(|e| e["mode"] == "clock-stuck" && e["unix"] == 1_748_779_200));
}
