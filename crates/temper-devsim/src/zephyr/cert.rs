//! `cert`: the device key and certificate requests.
//!
//! - `cert genkey <ec-p256|ed25519>`: a new private key, kept only on the device as the PRIVATE_KEY of sectag
//!   [`DEVICE_SECTAG`] (it replaces the old one; a PUBLIC_CERT made for the old key stays until deleted and
//!   no longer matches) → `OK key generated`; another type → `error: unknown key type` (ret -22).
//! - `cert csr --cn <cn> --challenge <challenge>`: a PEM PKCS#10 request signed by the device key, subject CN
//!   and a PKCS#9 challengePassword attribute ([`crate::devkey::csr_pem`], as the camera's `certtool`) → ret
//!   0; without a key → `error: no key` (ret -2); other arguments → `error: usage: ...` (ret -22). No request
//!   is kept on the device.
//!
//! The key is never printed or logged; events say `cred {op: "genkey", ...}` and `csr {challenge_sha256}`.

use serde_json::json;

use super::cred::{CredType, DEVICE_SECTAG};
use super::shell::{sub_help, Output, EINVAL, EIO, ENOENT};
use super::smp::Server;
use crate::devkey::{csr_pem, generate_key, key_pair, CsrSubject, MAX_CHALLENGE};
use crate::state::sha256_hex;

/// Key types `cert genkey` makes.
pub const KEY_TYPES: &[&str] = &["ec-p256", "ed25519"];
const CSR_USAGE: &str = "error: usage: cert csr --cn <cn> --challenge <challenge>";
const SUBCOMMANDS: &[(&str, &str)] = &[
    (
        "genkey",
        "Make a new device key: cert genkey <ec-p256|ed25519>",
    ),
    (
        "csr",
        "Request for the device key: cert csr --cn <cn> --challenge <challenge>",
    ),
];

/// `cert ARGS`.
pub(crate) fn command(server: &mut Server, args: &[&str]) -> Output {
    match args {
        [] | ["-h" | "--help"] => sub_help("cert", SUBCOMMANDS),
        ["genkey", kind] => genkey(server, kind),
        ["genkey", ..] => Output::err("genkey: wrong parameter count", EINVAL),
        ["csr", rest @ ..] => csr(server, rest),
        [other, ..] => Output::err(
            format!("cert: unknown parameter: {other}"),
            super::shell::ENOEXEC,
        ),
    }
}

fn genkey(server: &mut Server, kind: &str) -> Output {
    if !KEY_TYPES.contains(&kind) {
        return Output::err("error: unknown key type", EINVAL);
    }
    let key = match generate_key(kind) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!("genkey: {e}");
            return Output::err("error: key generation failed", EIO);
        }
    };
    let dir = server.dir().to_path_buf();
    if let Err(e) = server.app.creds.set_key(&dir, Some(key)) {
        tracing::error!("device key not saved: {e}");
        return Output::err("error: key not stored", EIO);
    }
    server.events.log(
        "cred",
        json!({"op": "genkey", "sectag": DEVICE_SECTAG, "type": CredType::PrivateKey.name(),
               "key_type": kind}),
    );
    Output::ok(["OK key generated"])
}

fn csr(server: &mut Server, args: &[&str]) -> Output {
    let (mut cn, mut challenge) = (None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match (*flag, it.next()) {
            ("--cn", Some(v)) => cn = Some(*v),
            ("--challenge", Some(v)) => challenge = Some(*v),
            _ => return Output::err(CSR_USAGE, EINVAL),
        }
    }
    let (Some(cn), Some(challenge)) = (cn, challenge) else {
        return Output::err(CSR_USAGE, EINVAL);
    };
    if cn.is_empty() || cn.len() > 64 {
        return Output::err("error: invalid --cn", EINVAL);
    }
    if challenge.is_empty()
        || challenge.len() > MAX_CHALLENGE
        || challenge.chars().any(char::is_control)
    {
        return Output::err("error: invalid --challenge", EINVAL);
    }
    let Some(key) = server.app.creds.key().cloned() else {
        return Output::err("error: no key", ENOENT);
    };
    let subject = CsrSubject {
        cn: cn.to_string(),
        challenge: Some(challenge.to_string()),
        ..CsrSubject::default()
    };
    match key_pair(&key).and_then(|kp| csr_pem(&kp, subject)) {
        Ok(pem) => {
            server.events.log(
                "csr",
                json!({"challenge_sha256": sha256_hex(challenge), "key_type": key.kind}),
            );
            Output::ok(pem.lines())
        }
        Err(e) => {
            tracing::error!("csr: {e}");
            Output::err("error: cannot make the request", EIO)
        }
    }
}
