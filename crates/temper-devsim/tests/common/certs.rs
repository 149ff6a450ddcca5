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
    con.send("certtool install\r").await;
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
