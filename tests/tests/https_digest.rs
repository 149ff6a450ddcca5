//! `https_digest_login` against the simulated camera's httpsd (rustls, port 443): the Digest login goes out only
//! over a TLS connection whose chain the station CA issued for the device; the factory certificate, a wrong name
//! or an expired certificate stop it before any request, as the device's own event log shows.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use temper_core::checks::{
    http_digest_login, https_digest_login, AuthOutcome, CheckError, UnixTime,
};
use temper_core::pki::{check_csr, CaKeyKind, CertPolicy, DeviceIdentity, ServerName, StationCa};
use temper_core::transport::serial::SerialLink;
use temper_core::transport::Link;
use temper_core::Secret;
use temper_e2e::{digest_used, Sim};

/// The device's serial console, driven byte by byte like a person at a terminal.
struct Console {
    link: SerialLink,
    pending: Vec<u8>,
}

impl Console {
    fn open(sim: &Sim) -> Console {
        Console {
            link: SerialLink::open(&sim.port, 115_200).expect("open the console"),
            pending: Vec::new(),
        }
    }

    async fn send(&mut self, text: &str) {
        self.link
            .send(text.as_bytes())
            .await
            .expect("console write");
    }

    /// Reads until `needle`; returns everything up to and including it.
    async fn expect(&mut self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(i) = self
                .pending
                .windows(needle.len())
                .position(|w| w == needle.as_bytes())
            {
                let rest = self.pending.split_off(i + needle.len());
                let got = std::mem::replace(&mut self.pending, rest);
                return String::from_utf8_lossy(&got).into_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {needle:?} on the console; got {:?}",
                String::from_utf8_lossy(&self.pending)
            );
            let _ = tokio::time::timeout(left, self.link.recv(&mut self.pending)).await;
        }
    }

    /// Runs a shell command; its output up to the next root prompt.
    async fn run(&mut self, command: &str) -> String {
        self.send(&format!("{command}\r")).await;
        self.expect("~# ", 30).await
    }

    /// Waits for the end of the boot and logs in as root (the factory password).
    async fn boot_and_login(sim: &Sim) -> Console {
        let mut con = Console::open(sim);
        con.expect("ipcam login: ", 20).await;
        con.send("root\r").await;
        con.expect("Password: ", 5).await;
        con.send("xmhdipc\r").await;
        con.expect("~# ", 10).await;
        con
    }
}

/// The PEM block with `label` in console output.
fn pem_block(out: &str, label: &str) -> String {
    let (begin, end) = (
        format!("-----BEGIN {label}-----"),
        format!("-----END {label}-----"),
    );
    let lines: Vec<&str> = out
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .skip_while(|l| *l != begin)
        .filter(|l| !l.starts_with('['))
        .collect();
    let last = lines.iter().position(|l| *l == end).expect("PEM end line");
    lines[..=last].join("\n") + "\n"
}

/// Puts a certificate from `ca` for the device's key and address on the device and restarts httpsd.
async fn install_station_certificate(sim: &Sim, ca: &StationCa) {
    let mut con = Console::boot_and_login(sim).await;
    let out = con.run("certtool genkey").await;
    assert!(out.contains("OK key generated"), "{out}");
    let challenge = "Hq7-dW2mTz9xLc4P";
    let out = con
        .run(&format!(
            "certtool csr --cn {} --challenge '{challenge}' --san-ip {}",
            sim.serial, sim.ip
        ))
        .await;
    let csr = pem_block(&out, "CERTIFICATE REQUEST");
    let id = DeviceIdentity {
        serial: sim.serial.clone(),
        dns: None,
        ip: Some(sim.ip.parse().expect("ip")),
    };
    let policy = CertPolicy::default();
    let checked = check_csr(&csr, &policy, &id, challenge).expect("the device's CSR");
    let cert = ca
        .sign(&checked, &policy, &id, SystemTime::now())
        .expect("sign");
    con.send("certtool install\r").await;
    con.expect("then a line EOF\r\n", 5).await;
    let typed: String = format!("{}{}", cert.pem, ca.cert_pem())
        .lines()
        .map(|l| format!("{l}\r"))
        .collect();
    con.send(&typed).await;
    con.send("EOF\r").await;
    let out = con.expect("~# ", 30).await;
    assert!(
        out.contains(&format!("OK installed {}", cert.fingerprint_sha256)),
        "{out}"
    );
    let out = con.run("/etc/init.d/httpsd restart").await;
    assert!(out.contains("Starting httpsd: OK"), "{out}");
}

fn station_ca() -> StationCa {
    StationCa::generate(CaKeyKind::EcdsaP256, "e2e station CA", SystemTime::now()).expect("CA")
}

fn name(text: &str) -> ServerName<'static> {
    ServerName::try_from(text.to_string()).expect("server name")
}

fn https(sim: &Sim) -> SocketAddr {
    format!("{}:443", sim.ip).parse().expect("address")
}

/// The device's `auth` events of its web admin (HTTP and HTTPS).
fn web_auth(sim: &Sim) -> Vec<Value> {
    sim.events()
        .into_iter()
        .filter(|e| e["event"] == "auth" && (e["service"] == "http" || e["service"] == "https"))
        .collect()
}

/// The reason of a `CheckError::Tls` for `addr`; panics on anything else.
fn tls_reason(result: Result<AuthOutcome, CheckError>, addr: SocketAddr) -> String {
    match result {
        Err(e @ CheckError::Tls { addr: at, .. }) if at == addr => {
            assert!(e.to_string().contains(&addr.to_string()), "{e}");
            let CheckError::Tls { reason, .. } = e else {
                unreachable!()
            };
            reason
        }
        other => panic!("expected a TLS error naming {addr}, got {other:?}"),
    }
}

#[tokio::test]
async fn station_certificate_carries_the_login_and_a_wrong_name_or_expiry_stops_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Sim::start(&dir.path().join("state"), "127.0.96.1");
    let ca = station_ca();
    install_station_certificate(&sim, &ca).await;
    let (addr, ca_pem, ip) = (https(&sim), ca.cert_pem(), name(&sim.ip));

    let login = |pw: &'static str, name: ServerName<'static>, now: UnixTime| async move {
        https_digest_login(addr, "/", "admin", &Secret::new(pw), ca_pem, name, now).await
    };
    assert_eq!(
        login("admin", ip.clone(), UnixTime::now()).await,
        Ok(AuthOutcome::Accepted)
    );
    assert_eq!(
        login("wrong-pw", ip.clone(), UnixTime::now()).await,
        Ok(AuthOutcome::Refused)
    );
    let seen = web_auth(&sim);
    assert_eq!(seen.len(), 2, "one Digest answer per login: {seen:?}");
    assert!(seen.iter().all(|e| e["service"] == "https"), "{seen:?}");
    assert!(digest_used(&seen[0], "admin", "admin") && seen[0]["ok"] == true);
    assert!(digest_used(&seen[1], "admin", "wrong-pw") && seen[1]["ok"] == false);

    // Another name than the one the certificate was issued for: no request goes out.
    for other in ["127.0.96.9", "cam.example"] {
        let reason = tls_reason(login("admin", name(other), UnixTime::now()).await, addr);
        assert!(reason.contains("not valid for"), "{other}: {reason}");
    }
    // The station's clock says the certificate has run out.
    let later = UnixTime::since_unix_epoch(Duration::from_secs(
        UnixTime::now().as_secs() + 20 * 366 * 86_400,
    ));
    let reason = tls_reason(login("admin", ip.clone(), later).await, addr);
    assert!(reason.contains("expired"), "{reason}");
    assert_eq!(web_auth(&sim).len(), 2, "no credential reached the device");
}

#[tokio::test]
async fn factory_certificate_is_refused_before_any_credential_and_plain_http_still_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = Sim::start(&dir.path().join("state"), "127.0.96.2");
    let mut con = Console::open(&sim);
    con.expect("ipcam login: ", 20).await;
    let (addr, ca) = (https(&sim), station_ca());

    let result = https_digest_login(
        addr,
        "/",
        "admin",
        &Secret::new("admin"),
        ca.cert_pem(),
        name(&sim.ip),
        UnixTime::now(),
    )
    .await;
    let reason = tls_reason(result, addr);
    assert!(reason.contains("not issued by the expected CA"), "{reason}");
    assert!(web_auth(&sim).is_empty(), "a credential reached the device");

    // Regression, and proof that the event log does record logins: plain HTTP Digest on port 80.
    let http: SocketAddr = format!("{}:80", sim.ip).parse().expect("address");
    let ok = http_digest_login(http, "/", "admin", &Secret::new("admin")).await;
    assert_eq!(ok, Ok(AuthOutcome::Accepted));
    let no = http_digest_login(http, "/", "admin", &Secret::new("nimda")).await;
    assert_eq!(no, Ok(AuthOutcome::Refused));
    let seen = web_auth(&sim);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.iter().all(|e| e["service"] == "http"), "{seen:?}");
    assert!(digest_used(&seen[0], "admin", "admin") && seen[0]["ok"] == true);
    assert!(digest_used(&seen[1], "admin", "nimda") && seen[1]["ok"] == false);
}
