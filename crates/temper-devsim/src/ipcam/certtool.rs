//! `certtool`: the camera's key, CSR and certificate tool.
//!
//! - `certtool genkey [--type ec-p256|ec-p384|ed25519]`: a new private key, kept in the state file only.
//! - `certtool csr --cn CN --challenge TEXT [--san-ip IP]... [--san-dns NAME]...`: a PKCS#10 request in
//!   PEM signed by that key, with the challenge in the PKCS#9 challengePassword attribute.
//! - `certtool install`: reads a PEM chain (leaf first) from the terminal until a line `EOF`; the leaf
//!   must carry the device key. httpsd loads it the next time it starts.
//! - `certtool show`: fingerprints of the served and the installed certificate.
//!
//! A simulator started with `--hostile csr-*`, `--hostile install-other-cert` or `--hostile
//! genkey-wrong-type` bends `csr`, `install` or `genkey` on purpose: see [`super::hostile`].
//!
//! The two-slot model (`ipcam-pro`) runs the same commands on a numbered slot (`--slot N`) and has
//! `use` and `delete` too: see [`super::slots`]. Here `slot` is `None` on the one-slot model.

use std::net::IpAddr;

use serde_json::json;

pub use super::certfmt::MAX_CHAIN;
use super::certfmt::{leaf_spki, parse_chain, to_pem, Refusal};
use super::clock::{iso, CLOCK_SANE_UNIX};
use super::console::{Mode, Session};
use super::hostile::{self, CsrRequest, HostileMode};
use super::slots;
use super::tls;
use crate::devkey::{csr_pem, CsrSubject};
use crate::state::{sha256_hex, InstalledChain};
use crate::timing;

/// Largest PEM input `certtool install` takes (longer input is refused at `EOF`).
pub const MAX_INSTALL_BYTES: usize = 64 * 1024;
pub use crate::devkey::MAX_CHALLENGE;

pub(super) const USAGE: &str = "usage: certtool genkey [--type ec-p256|ec-p384|ed25519] | certtool csr --cn NAME --challenge TEXT [--san-ip IP] [--san-dns NAME] | certtool install | certtool show";
pub(super) const CSR_USAGE: &str =
    "ERR usage: certtool csr --cn NAME --challenge TEXT [--san-ip IP] [--san-dns NAME]";
pub(super) const NO_KEY: &str = "ERR no key: run certtool genkey";

/// Run `certtool ARGS`; returns the output lines. `install` switches the session to PEM input.
pub async fn command(s: &mut Session, user: &str, args: &[&str]) -> Vec<String> {
    if user != "root" {
        return vec!["ERR permission denied".into()];
    }
    if s.dev.variant().has_slots() {
        return slots::command(s, user, args).await;
    }
    match args {
        ["genkey", rest @ ..] => genkey(s, rest, None).await,
        ["csr", rest @ ..] => csr(s, rest, None).await,
        ["install"] => begin_install(s, user, None),
        ["show"] => show(s),
        _ => vec![USAGE.into()],
    }
}

/// `certtool install`: the session collects PEM lines until `EOF` (then [`finish_install`]).
pub(super) fn begin_install(s: &mut Session, user: &str, slot: Option<u8>) -> Vec<String> {
    s.mode = Mode::CertInstall {
        user: user.to_string(),
        pem: String::new(),
        overflow: false,
        slot,
    };
    vec!["Paste the PEM certificate chain (leaf first), then a line EOF".into()]
}

pub(super) async fn genkey(s: &mut Session, args: &[&str], slot: Option<u8>) -> Vec<String> {
    let asked = match args {
        [] => tls::KEY_TYPES[0],
        ["--type", t] if tls::KEY_TYPES.contains(t) => t,
        ["--type", t] => return vec![format!("ERR unknown key type {t}")],
        _ => return vec![slots::usage(slot).into()],
    };
    let kind = if s.dev.hostile(HostileMode::GenkeyWrongType) {
        hostile::WRONG_KEY_TYPE
    } else {
        asked
    };
    if let Some(n) = slot.filter(|n| slots::is_active(&s.dev, *n)) {
        return vec![slots::in_use(n)];
    }
    s.pause(timing::CERT_GENKEY_MS, "certtool-genkey").await;
    let key = match tls::generate_key(kind) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!("genkey: {e}");
            return vec!["ERR key generation failed".into()];
        }
    };
    let mut stored = Ok(());
    if let Err(e) = s
        .dev
        .update_state(|st| stored = slots::set_key(&mut st.tls, slot, key))
    {
        tracing::error!("{e}");
        return vec!["ERR write failed".into()];
    }
    if let Err(line) = stored {
        return vec![line];
    }
    let fields = slots::tag(json!({"type": kind}), slot);
    s.dev.events.log("key-generated", fields);
    if kind != asked {
        s.dev.log_hostile(
            HostileMode::GenkeyWrongType,
            json!({"asked": asked, "made": kind}),
        );
    }
    vec!["OK key generated".into()]
}

pub(super) async fn csr(s: &mut Session, args: &[&str], slot: Option<u8>) -> Vec<String> {
    let (mut cn, mut challenge) = (None, None);
    let mut sans: Vec<rcgen::SanType> = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let Some(value) = it.next() else {
            return vec![slots::csr_usage(slot).into()];
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
            _ => return vec![slots::csr_usage(slot).into()],
        }
    }
    let (Some(cn), Some(challenge)) = (cn, challenge) else {
        return vec![slots::csr_usage(slot).into()];
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
    let Some(key) = s.dev.with_state(|st| slots::key(&st.tls, slot)) else {
        return vec![slots::no_key(slot)];
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
        let subject = CsrSubject {
            cn: cn.to_string(),
            challenge: req.challenge.clone(),
            sans: std::mem::take(&mut req.sans),
            ca: req.ca,
        };
        let pem = csr_pem(&kp, subject)?;
        Ok((pem, done))
    });
    match pem {
        Ok((pem, done)) => {
            for (mode, fields) in done {
                s.dev.log_hostile(mode, fields);
            }
            // What the request really carries.
            let carried = req.challenge.as_deref().map(sha256_hex);
            let fields = slots::tag(json!({"challenge_sha256": carried}), slot);
            s.dev.events.log("csr-issued", fields);
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

/// After the `EOF` line of `certtool install`: check and store the chain.
pub async fn finish_install(s: &mut Session, text: &str, overflow: bool, slot: Option<u8>) {
    s.pause(timing::CERT_INSTALL_MS, "certtool-install").await;
    let out = match install(s, text, overflow, slot) {
        Ok(lines) => lines,
        Err((reason, line)) => {
            let fields = slots::tag(json!({"reason": reason}), slot);
            s.dev.events.log("cert-refused", fields);
            vec![line]
        }
    };
    s.emit_output(&out);
}

fn install(
    s: &Session,
    text: &str,
    overflow: bool,
    slot: Option<u8>,
) -> Result<Vec<String>, Refusal> {
    slots::check_install(&s.dev, slot)?;
    if overflow {
        return Err((
            "too-large",
            format!("ERR input too long (over {MAX_INSTALL_BYTES} bytes)"),
        ));
    }
    let ders = parse_chain(text)?;
    let Some(key) = s.dev.with_state(|st| slots::key(&st.tls, slot)) else {
        return Err(("no-key", slots::no_key(slot)));
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
        if leaf_spki(&ders[0]) != spki {
            return Err(("key-mismatch", slots::mismatch(slot)));
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
    let mut stored = Ok(());
    s.dev
        .update_state(|st| stored = slots::set_installed(&mut st.tls, slot, inst))
        .map_err(|e| {
            tracing::error!("{e}");
            ("write-failed", "ERR write failed".to_string())
        })?;
    stored?;
    let fields = slots::tag(json!({"fingerprint": fingerprint}), slot);
    s.dev.events.log("cert-installed", fields);
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
