//! Digest authentication (RFC 2617/7616, MD5) for the camera's HTTP and RTSP servers: its credential
//! stores and `auth` events around the shared core in [`crate::wire::digest`].

use serde_json::{json, Value};

use crate::ipcam::Device;
use crate::state::Credential;
use crate::wire::digest::{challenge_header, parse_params, response_matches};

/// How a server presents its challenge.
#[derive(Debug, Clone, Copy)]
pub struct DigestRealm {
    pub realm: &'static str,
    /// Offer qop=auth (HTTP) or the RFC 2069 form without qop (RTSP, like many cameras).
    pub qop: bool,
    pub opaque: bool,
    /// Credential store id (also the `store` of auth events).
    pub store: &'static str,
    /// `service` of auth events.
    pub service: &'static str,
}

/// Outcome of checking a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No (Digest) Authorization header: challenge.
    Missing,
    /// The nonce is not one of ours (e.g. from before a restart): challenge with stale=true.
    Stale,
    Denied,
    Granted,
}

/// `WWW-Authenticate` value with a fresh nonce.
pub fn challenge(dev: &Device, r: &DigestRealm, stale: bool) -> String {
    let nonce = dev.issue_nonce();
    let opaque = r.opaque.then(|| dev.opaque());
    challenge_header(r.realm, &nonce, r.qop, opaque, stale)
}

/// Check the Authorization header of a request with `method` and request-URI `uri`; logs an `auth`
/// event for every real attempt.
pub fn verify(
    dev: &Device,
    r: &DigestRealm,
    method: &str,
    uri: &str,
    header: Option<&str>,
) -> Verdict {
    let Some(p) = header.and_then(parse_params) else {
        return Verdict::Missing;
    };
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let user = get("username");
    let nonce = get("nonce");
    if !dev.nonce_known(nonce) {
        return Verdict::Stale;
    }
    let (ha1, expected_user, pw_sha) = match dev.credential(r.store) {
        Some(Credential::DigestHa1 {
            user,
            ha1,
            password_sha256,
            ..
        }) => (ha1, user, password_sha256),
        _ => return Verdict::Denied,
    };
    let ok = response_matches(&p, &ha1, &expected_user, r.realm, method, uri);
    // Digest never carries the password: its SHA-256 is known only when it matched the store. The
    // challenge-response fields are logged so that a test can tell which password a refused attempt used.
    let pw: Value = if ok { json!(pw_sha) } else { Value::Null };
    let digest = json!({"realm": get("realm"), "nonce": nonce, "uri": get("uri"), "method": method,
                        "qop": get("qop"), "nc": get("nc"), "cnonce": get("cnonce"),
                        "response": get("response")});
    dev.events.log(
        "auth",
        json!({"service": r.service, "store": r.store, "user": user,
               "password_sha256": pw, "ok": ok, "digest": digest}),
    );
    if ok {
        Verdict::Granted
    } else {
        Verdict::Denied
    }
}
