//! `certtool`: the camera's key, CSR and certificate tool.
//!
//! - `certtool genkey [--type ec-p256|ec-p384|ed25519]`: a new private key, kept in the state file only.
//! - `certtool csr --cn CN --challenge TEXT [--san-ip IP]... [--san-dns NAME]...`: a PKCS#10 request in
//!   PEM signed by that key, with the challenge in the PKCS#9 challengePassword attribute.
//! - `certtool install`: reads a PEM chain (leaf first) from the terminal until a line `EOF`; the leaf
//!   must carry the device key. httpsd loads it the next time it starts.
//! - `certtool show`: fingerprints of the served and the installed certificate.
//!
//! A simulator started with `--hostile csr-*` or `--hostile install-other-cert` bends `csr` and
//! `install` on purpose: see [`super::hostile`].

use std::io::Cursor;
use std::net::IpAddr;

use base64::Engine;
use rustls::pki_types::pem::{self, SectionKind};
use serde_json::json;

use super::clock::{iso, CLOCK_SANE_UNIX};
use super::console::{Mode, Session};
use super::hostile::{self, CsrRequest, HostileMode};
use super::tls;
use crate::state::{sha256_hex, InstalledChain};
use crate::timing;

/// Largest PEM input `certtool install` takes (longer input is refused at `EOF`).
pub const MAX_INSTALL_BYTES: usize = 64 * 1024;
/// Most certificates in an installed chain.
pub const MAX_CHAIN: usize = 8;
/// Longest challenge (PKCS#9 ub-challenge-password).
pub const MAX_CHALLENGE: usize = 255;

const USAGE: &str = "usage: certtool genkey [--type ec-p256|ec-p384|ed25519] | certtool csr --cn NAME --challenge TEXT [--san-ip IP] [--san-dns NAME] | certtool install | certtool show";
const CSR_USAGE: &str =
    "ERR usage: certtool csr --cn NAME --challenge TEXT [--san-ip IP] [--san-dns NAME]";
const NO_KEY: &str = "ERR no key: run certtool genkey";
const OID_CHALLENGE_PASSWORD: &[u64] = &[1, 2, 840, 113549, 1, 9, 7];

/// Run `certtool ARGS`; returns the output lines. `install` switches the session to PEM input.
pub async fn command(s: &mut Session, user: &str, args: &[&str]) -> Vec<String> {
    if user != "root" {
        return vec!["ERR permission denied".into()];
    }
    match args {
        ["genkey", rest @ ..] => genkey(s, rest).await,
        ["csr", rest @ ..] => csr(s, rest).await,
        ["install"] => {
            s.mode = Mode::CertInstall {
                user: user.to_string(),
                pem: String::new(),
                overflow: false,
            };
            vec!["Paste the PEM certificate chain (leaf first), then a line EOF".into()]
        }
        ["show"] => show(s),
        _ => vec![USAGE.into()],
    }
}

async fn genkey(s: &mut Session, args: &[&str]) -> Vec<String> {
    let kind = match args {
        [] => tls::KEY_TYPES[0],
        ["--type", t] if tls::KEY_TYPES.contains(t) => t,
        ["--type", t] => return vec![format!("ERR unknown key type {t}")],
        _ => return vec![USAGE.into()],
    };
    s.pause(timing::CERT_GENKEY_MS, "certtool-genkey").await;
    let key = match tls::generate_key(kind) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!("genkey: {e}");
            return vec!["ERR key generation failed".into()];
        }
    };
    if let Err(e) = s.dev.update_state(|st| st.tls.key = Some(key)) {
        tracing::error!("{e}");
        return vec!["ERR write failed".into()];
    }
    s.dev.events.log("key-generated", json!({"type": kind}));
    vec!["OK key generated".into()]
}

/// DER length octets.
fn der_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x7f => vec![n as u8],
        0x80..=0xff => vec![0x81, n as u8],
        _ => vec![0x82, (n >> 8) as u8, n as u8],
    }
}

/// `SET { UTF8String challenge }`: the values of a challengePassword attribute.
fn challenge_values(challenge: &str) -> Vec<u8> {
    let mut utf8 = vec![0x0c];
    utf8.extend(der_len(challenge.len()));
    utf8.extend_from_slice(challenge.as_bytes());
    let mut set = vec![0x31];
    set.extend(der_len(utf8.len()));
    set.extend(utf8);
    set
}

async fn csr(s: &mut Session, args: &[&str]) -> Vec<String> {
    let (mut cn, mut challenge) = (None, None);
    let mut sans: Vec<rcgen::SanType> = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else {
            return vec![CSR_USAGE.into()];
        };
        match *flag {
            "--cn" => cn = Some(*value),
            "--challenge" => challenge = Some(*value),
            "--san-ip" => match value.parse::<IpAddr>() {
                Ok(ip) => sans.push(rcgen::SanType::IpAddress(ip)),
                Err(_) => return vec![format!("ERR invalid --san-ip {value}")],
            },
            "--san-dns" => match rcgen::string::Ia5String::try_from(value.to_string()) {
                Ok(name) if !value.is_empty() => sans.push(rcgen::SanType::DnsName(name)),
                _ => return vec![format!("ERR invalid --san-dns {value}")],
            },
            _ => return vec![CSR_USAGE.into()],
        }
    }
    let (Some(cn), Some(challenge)) = (cn, challenge) else {
        return vec![CSR_USAGE.into()];
    };
    if cn.is_empty() || cn.len() > 64 {
        return vec!["ERR invalid --cn".into()];
    }
    if challenge.is_empty()
        || challenge.len() > MAX_CHALLENGE
        || challenge.chars().any(char::is_control)
    {
        return vec!["ERR invalid --challenge".into()];
    }
    let Some(key) = s.dev.with_state(|st| st.tls.key.clone()) else {
        return vec![NO_KEY.into()];
    };
    s.pause(timing::CERT_CSR_MS, "certtool-csr").await;
    let mut req = CsrRequest {
        key,
        challenge: Some(challenge.to_string()),
        sans,
        ca: false,
    };
    let pem = hostile::distort_csr(&s.dev, &mut req).and_then(|done| {
        let kp = tls::key_pair(&req.key)?;
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.subject_alt_names = std::mem::take(&mut req.sans);
        if req.ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        let attrs = req
            .challenge
            .iter()
            .map(|c| rcgen::Attribute {
                oid: OID_CHALLENGE_PASSWORD,
                values: challenge_values(c),
            })
            .collect();
        let pem = params
            .serialize_request_with_attributes(&kp, attrs)
            .and_then(|r| r.pem())
            .map_err(|e| e.to_string())?;
        Ok((pem, done))
    });
    match pem {
        Ok((pem, done)) => {
            for (mode, fields) in done {
                s.dev.log_hostile(mode, fields);
            }
            // What the request really carries.
            let carried = req.challenge.as_deref().map(sha256_hex);
            s.dev
                .events
                .log("csr-issued", json!({"challenge_sha256": carried}));
            pem.lines().map(str::to_string).collect()
        }
        Err(e) => {
            tracing::error!("csr: {e}");
            vec!["ERR cannot make the request".into()]
        }
    }
}

fn show(s: &Session) -> Vec<String> {
    let serving = s.dev.serving_fingerprint();
    let (installed, key) = s.dev.with_state(|st| {
        (
            st.tls.installed.as_ref().map(|i| i.fingerprint.clone()),
            st.tls.key.as_ref().map(|k| k.kind.clone()),
        )
    });
    let or_none = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    vec![
        format!("serving {}", or_none(serving)),
        format!("installed {}", or_none(installed)),
        format!("key {}", or_none(key)),
    ]
}

/// Why an input is refused: (event reason, console line).
type Refusal = (&'static str, String);

/// The DER certificates of a PEM chain, each checked to parse as X.509.
fn parse_chain(text: &str) -> Result<Vec<Vec<u8>>, Refusal> {
    let malformed = |m: String| ("malformed", format!("ERR malformed PEM: {m}"));
    let mut rd = Cursor::new(text.as_bytes());
    let mut ders = Vec::new();
    loop {
        match pem::from_buf(&mut rd) {
            Ok(Some((SectionKind::Certificate, der))) => ders.push(der),
            Ok(Some((kind, _))) => {
                return Err(malformed(format!(
                    "unexpected {kind:?} block (only CERTIFICATE blocks)"
                )))
            }
            Ok(None) => break,
            Err(e) => return Err(malformed(e.to_string())),
        }
        if ders.len() > MAX_CHAIN {
            break;
        }
    }
    if ders.is_empty() {
        return Err(("malformed", "ERR no certificate in input".into()));
    }
    if ders.len() > MAX_CHAIN {
        let total = ders.len() + count_more_certs(&mut rd);
        return Err((
            "chain-too-long",
            format!("ERR chain too long: {total} certificates, at most {MAX_CHAIN}"),
        ));
    }
    for (i, der) in ders.iter().enumerate() {
        match x509_parser::parse_x509_certificate(der) {
            Ok(([], _)) => {}
            _ => {
                return Err((
                    "malformed",
                    format!("ERR malformed certificate #{} in the chain", i + 1),
                ))
            }
        }
    }
    Ok(ders)
}

/// Certificates left in `rd` (for the message only).
fn count_more_certs(rd: &mut Cursor<&[u8]>) -> usize {
    let mut n = 0;
    while let Ok(Some((SectionKind::Certificate, _))) = pem::from_buf(rd) {
        n += 1;
    }
    n
}

fn to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// After the `EOF` line of `certtool install`: check and store the chain.
pub async fn finish_install(s: &mut Session, text: &str, overflow: bool) {
    s.pause(timing::CERT_INSTALL_MS, "certtool-install").await;
    let out = match install(s, text, overflow) {
        Ok(lines) => lines,
        Err((reason, line)) => {
            s.dev.events.log("cert-refused", json!({"reason": reason}));
            vec![line]
        }
    };
    s.emit_output(&out);
}

fn install(s: &Session, text: &str, overflow: bool) -> Result<Vec<String>, Refusal> {
    if overflow {
        return Err((
            "too-large",
            format!("ERR input too long (over {MAX_INSTALL_BYTES} bytes)"),
        ));
    }
    let ders = parse_chain(text)?;
    let Some(key) = s.dev.with_state(|st| st.tls.key.clone()) else {
        return Err(("no-key", NO_KEY.into()));
    };
    let spki = tls::spki_der(&key).map_err(|e| {
        tracing::error!("device key: {e}");
        ("key-unreadable", "ERR device key unreadable".to_string())
    })?;
    let sent = tls::fingerprint(&ders[0]);
    let ders = if s.dev.hostile(HostileMode::InstallOtherCert) {
        // Nothing of what was sent is checked or kept.
        let der = hostile::other_cert(&s.dev, &key).map_err(|e| {
            tracing::error!("install-other-cert: {e}");
            (
                "hostile-failed",
                "ERR cannot make the certificate".to_string(),
            )
        })?;
        vec![der]
    } else {
        let leaf_spki = x509_parser::parse_x509_certificate(&ders[0])
            .map(|(_, c)| c.public_key().raw.to_vec())
            .unwrap_or_default();
        if leaf_spki != spki {
            return Err((
                "key-mismatch",
                "ERR certificate does not match the device key".into(),
            ));
        }
        ders
    };
    let mut out = Vec::new();
    let now = s.dev.now_unix();
    if now < CLOCK_SANE_UNIX {
        s.dev.events.log("clock-unset", json!({"unix": now}));
        out.push(format!(
            "WARN clock-unset: device clock is {} UTC (set it with date -s)",
            iso(now)
        ));
    }
    let fingerprint = tls::fingerprint(&ders[0]);
    let inst = InstalledChain {
        chain_pem: ders.iter().map(|d| to_pem(d)).collect(),
        key,
        fingerprint: fingerprint.clone(),
    };
    s.dev
        .update_state(|st| st.tls.installed = Some(inst))
        .map_err(|e| {
            tracing::error!("{e}");
            ("write-failed", "ERR write failed".to_string())
        })?;
    s.dev
        .events
        .log("cert-installed", json!({"fingerprint": fingerprint}));
    if fingerprint != sent {
        s.dev.log_hostile(
            HostileMode::InstallOtherCert,
            json!({"sent_fingerprint": sent, "stored_fingerprint": fingerprint}),
        );
    }
    // The leaf that was sent: the stored one unless the device lies (install-other-cert).
    out.push(format!("OK installed {sent}"));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_attribute_encoding() {
        assert_eq!(challenge_values("ab"), vec![0x31, 4, 0x0c, 2, b'a', b'b']);
        let long = "x".repeat(200);
        let v = challenge_values(&long);
        assert_eq!(&v[..6], &[0x31, 0x81, 203, 0x0c, 0x81, 200]);
        assert_eq!(v.len(), 206);
    }

    #[test]
    fn chain_parsing_refuses_garbage_and_long_chains() {
        let cert = tls::FACTORY_CERT_PEM;
        assert_eq!(parse_chain(cert).unwrap().len(), 1);
        assert_eq!(parse_chain(&cert.repeat(8)).unwrap().len(), 8);
        let (reason, line) = parse_chain(&cert.repeat(50)).unwrap_err();
        assert_eq!(reason, "chain-too-long");
        assert!(line.contains("50 certificates"), "{line}");
        assert_eq!(parse_chain("hello\n").unwrap_err().0, "malformed");
        assert_eq!(
            parse_chain(tls::FACTORY_KEY_PEM).unwrap_err().0,
            "malformed"
        );
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(parse_chain(broken).unwrap_err().0, "malformed");
        let truncated = &cert[..cert.len() - 30];
        assert_eq!(parse_chain(truncated).unwrap_err().0, "malformed");
        // Round trip of the stored form.
        let der = &parse_chain(cert).unwrap()[0];
        assert_eq!(&parse_chain(&to_pem(der)).unwrap()[0], der);
    }
}
