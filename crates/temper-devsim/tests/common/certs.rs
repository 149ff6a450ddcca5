//! Certificate helpers shared by the TLS tests: shell pipelines (openssl, curl), console `certtool`
//! sessions and a throwaway openssl CA.

use std::path::Path;
use std::process::{Command, Stdio};

use super::{secs, Console, Sim};

/// Run a shell pipeline; (success, stdout + stderr).
pub fn sh(script: &str) -> (bool, String) {
    let out = Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Run a shell pipeline in `dir`; its output, asserting success.
pub fn sh_ok(dir: &Path, script: &str) -> String {
    let (ok, text) = sh(&format!("cd '{}' && {script}", dir.display()));
    assert!(ok, "{script}: {text}");
    text
}

/// `openssl ... -fingerprint -sha256` output as lower-case hex without colons.
pub fn parse_fingerprint(text: &str) -> String {
    let fp = text
        .trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .replace(':', "")
        .to_ascii_lowercase();
    assert_eq!(fp.len(), 64, "{text}");
    fp
}

/// SHA-256 fingerprint (lower-case hex) of the certificate served on ip:443, as openssl sees it.
pub fn served_fingerprint(ip: &str) -> String {
    let (ok, text) = sh(&format!(
        "openssl s_client -connect {ip}:443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"
    ));
    assert!(ok, "s_client | x509: {text}");
    parse_fingerprint(&text)
}

/// The PEM block with `label` in console output (echo and kernel lines left out).
pub fn pem_block(out: &str, label: &str) -> String {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let mut lines = Vec::new();
    let mut inside = false;
    for l in out.lines().map(|l| l.trim_end_matches('\r')) {
        if l == begin {
            inside = true;
        }
        if inside && !l.starts_with('[') {
            lines.push(l);
        }
        if l == end && inside {
            break;
        }
    }
    assert!(
        lines.last() == Some(&end.as_str()),
        "no {label} block in {out:?}"
    );
    lines.join("\n") + "\n"
}

/// `certtool install`, the PEM lines, `EOF`; returns the output after `EOF`.
pub async fn install(con: &mut Console, pem: &str) -> String {
    install_with(con, "certtool install", pem).await
}

/// `command` (e.g. `certtool install --slot 2`), the PEM lines, `EOF`; returns the output after `EOF`.
pub async fn install_with(con: &mut Console, command: &str, pem: &str) -> String {
    con.send(&format!("{command}\r")).await;
    con.expect("then a line EOF\r\n", secs(5)).await;
    let mut typed = String::new();
    for l in pem.lines() {
        typed.push_str(l);
        typed.push('\r');
    }
    con.send(&typed).await;
    con.send("EOF\r").await;
    con.expect("EOF\r\n", secs(30)).await;
    con.expect_any(&["~# "], secs(10)).await
}

/// Wait for the boot, log in as root with the factory password.
pub async fn login_ready(sim: &Sim) -> Console {
    let mut con = sim.console().await;
    con.wait_boot().await;
    assert!(con.login("root", "xmhdipc").await);
    con
}

/// A throwaway CA in `dir`: `ca.pem` and `ca.key` (P-256, one day).
pub fn openssl_ca(dir: &Path) {
    sh_ok(
        dir,
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=Test CA' \
         -days 1 -keyout ca.key -out ca.pem 2>&1",
    );
}

/// Sign `dir/<name>.csr` with the CA of [`openssl_ca`] (openssl checks the request's signature first);
/// writes `dir/<name>.pem` and returns it.
pub fn openssl_sign(dir: &Path, name: &str) -> String {
    sh_ok(
        dir,
        &format!(
            "openssl x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
             -copy_extensions copy -out {name}.pem 2>&1"
        ),
    );
    std::fs::read_to_string(dir.join(format!("{name}.pem"))).expect("signed certificate")
}

/// SHA-256 fingerprint of the certificate in `dir/<file>`.
pub fn file_fingerprint(dir: &Path, file: &str) -> String {
    parse_fingerprint(&sh_ok(
        dir,
        &format!("openssl x509 -noout -fingerprint -sha256 -in {file}"),
    ))
}

/// The device key's public key (PEM), read from the simulator's state file.
pub fn device_public_key(state_dir: &Path) -> String {
    let state = std::fs::read_to_string(state_dir.join("state.json")).expect("state.json");
    let st: serde_json::Value = serde_json::from_str(&state).expect("state JSON");
    let key = st["tls"]["key"]["pkcs8_pem"]
        .as_str()
        .expect("a device key");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("k.pem"), key).unwrap();
    sh_ok(tmp.path(), "openssl pkey -in k.pem -pubout")
}

/// An `openssl s_client` connection held open, to show what happens to it while the device changes.
pub struct HeldTls {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
    /// Everything s_client printed so far.
    pub seen: Vec<String>,
}

impl HeldTls {
    /// Connect and wait until the handshake is done.
    pub fn connect(ip: &str) -> HeldTls {
        let mut child = Command::new("openssl")
            .args(["s_client", "-connect", &format!("{ip}:443")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn openssl s_client");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for l in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut held = HeldTls {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        };
        held.wait_for("Verify return code");
        held
    }

    /// Read until a line contains `needle` (panics after 10 s or at EOF).
    pub fn wait_for(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + secs(10);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(needle);
                    self.seen.push(l);
                    if hit {
                        return;
                    }
                }
                Err(e) => panic!("no {needle:?} from s_client ({e}): {:?}", self.seen),
            }
        }
    }

    /// The server certificate the handshake saw (PEM).
    pub fn server_cert_pem(&self) -> String {
        pem_block(&self.seen.join("\n"), "CERTIFICATE")
    }

    /// Send an HTTP request on the held connection; returns once its status line arrived.
    pub fn request(&mut self, ip: &str, expect_status: &str) {
        use std::io::Write;
        let req = format!("GET / HTTP/1.1\r\nHost: {ip}\r\n\r\n");
        self.stdin
            .write_all(req.as_bytes())
            .expect("write to s_client");
        self.stdin.flush().expect("flush");
        self.wait_for(expect_status);
    }
}

impl Drop for HeldTls {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
