//! Digest authentication (RFC 2617/7616, MD5) for the HTTP and RTSP servers.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::ipcam::Device;
use crate::state::{md5_hex, Credential};

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
    let mut v = format!("Digest realm=\"{}\", nonce=\"{nonce}\"", r.realm);
    if r.qop {
        v.push_str(", qop=\"auth\"");
    }
    v.push_str(", algorithm=MD5");
    if r.opaque {
        v.push_str(&format!(", opaque=\"{}\"", dev.opaque()));
    }
    if stale {
        v.push_str(", stale=true");
    }
    v
}

/// Parse `Digest k=v, k="v", ...` into a map (keys lowercased).
pub fn parse_params(header: &str) -> Option<HashMap<String, String>> {
    let rest = header.trim();
    let (scheme, rest) = rest.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let mut map = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek() != Some(&'=') {
            map.insert(key.to_ascii_lowercase(), String::new());
            continue;
        }
        chars.next();
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n)
                        }
                    }
                    c => val.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                val.push(c);
                chars.next();
            }
            val = val.trim().to_string();
        }
        map.insert(key.to_ascii_lowercase(), val);
    }
    Some(map)
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
    let alg_ok = matches!(get("algorithm"), "" | "MD5" | "md5");
    let ha2 = md5_hex(&format!("{method}:{}", get("uri")));
    let expected = match get("qop") {
        "" => md5_hex(&format!("{ha1}:{nonce}:{ha2}")),
        "auth" => md5_hex(&format!(
            "{ha1}:{nonce}:{}:{}:auth:{ha2}",
            get("nc"),
            get("cnonce")
        )),
        _ => String::new(),
    };
    let ok = alg_ok
        && user == expected_user
        && get("realm") == r.realm
        && get("uri") == uri
        && !expected.is_empty()
        && get("response").eq_ignore_ascii_case(&expected);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_curl_authorization() {
        let h = r#"Digest username="admin", realm="SV-IPC2100", nonce="abc", uri="/", cnonce="xyz", nc=00000001, qop=auth, response="0123", opaque="op", algorithm=MD5"#;
        let p = parse_params(h).unwrap();
        assert_eq!(p["username"], "admin");
        assert_eq!(p["realm"], "SV-IPC2100");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["qop"], "auth");
        assert_eq!(p["algorithm"], "MD5");
        assert_eq!(p["opaque"], "op");
        assert!(parse_params("Basic YWRtaW46YWRtaW4=").is_none());
    }
}
