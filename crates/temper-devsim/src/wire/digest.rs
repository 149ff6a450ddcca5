//! HTTP Digest authentication (RFC 2617/7616, MD5, qop `auth` or none): the parts every model's servers
//! share. The challenge a server sends ([`challenge_header`]), the nonces it handed out ([`Nonces`]), the
//! client's `Authorization` parameters ([`parse_params`]) and the check of its response against the HA1 of
//! the account ([`response_matches`]). Which account, and what is logged, is each server's business.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use rand::Rng;

use crate::state::md5_hex;

/// Most nonces remembered; older ones are then answered `stale=true`.
const MAX_NONCES: usize = 512;

/// The nonces a server handed out (bounded, oldest forgotten first).
#[derive(Debug, Default)]
pub struct Nonces {
    issued: Mutex<VecDeque<String>>,
}

impl Nonces {
    /// A fresh random nonce, remembered.
    pub fn issue(&self) -> String {
        let nonce = hex::encode(rand::thread_rng().gen::<[u8; 16]>());
        let mut q = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        q.push_back(nonce.clone());
        while q.len() > MAX_NONCES {
            q.pop_front();
        }
        nonce
    }

    /// Whether `nonce` is one this server handed out (and still remembers).
    pub fn known(&self, nonce: &str) -> bool {
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|n| n == nonce)
    }

    /// Forgets every nonce (a reboot).
    pub fn clear(&self) {
        self.issued
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// `WWW-Authenticate` value: `Digest realm=.., nonce=..[, qop="auth"], algorithm=MD5[, opaque=..][, stale=true]`.
pub fn challenge_header(
    realm: &str,
    nonce: &str,
    qop: bool,
    opaque: Option<&str>,
    stale: bool,
) -> String {
    let mut v = format!("Digest realm=\"{realm}\", nonce=\"{nonce}\"");
    if qop {
        v.push_str(", qop=\"auth\"");
    }
    v.push_str(", algorithm=MD5");
    if let Some(opaque) = opaque {
        v.push_str(&format!(", opaque=\"{opaque}\""));
    }
    if stale {
        v.push_str(", stale=true");
    }
    v
}

/// Parse `Digest k=v, k="v", ...` into a map (keys lowercased); `None` for another scheme.
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

/// HA1 of an account: MD5(`user:realm:password`), all a Digest server needs to keep.
pub fn ha1(user: &str, realm: &str, password: &str) -> String {
    md5_hex(&format!("{user}:{realm}:{password}"))
}

/// Whether the client's `params` (from [`parse_params`]) prove knowledge of the account whose HA1 is `ha1`
/// for a request `method uri`: the user, realm and request-URI match, the algorithm is MD5 and the response
/// is right (qop `auth`, or the RFC 2069 form without qop). The nonce is the caller's to check.
pub fn response_matches(
    params: &HashMap<String, String>,
    ha1: &str,
    user: &str,
    realm: &str,
    method: &str,
    uri: &str,
) -> bool {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    let alg_ok = matches!(get("algorithm"), "" | "MD5" | "md5");
    let ha2 = md5_hex(&format!("{method}:{}", get("uri")));
    let expected = match get("qop") {
        "" => md5_hex(&format!("{ha1}:{}:{ha2}", get("nonce"))),
        "auth" => md5_hex(&format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            get("nonce"),
            get("nc"),
            get("cnonce")
        )),
        _ => return false,
    };
    alg_ok
        && get("username") == user
        && get("realm") == realm
        && get("uri") == uri
        && get("response").eq_ignore_ascii_case(&expected)
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

    #[test]
    fn rfc_2617_example_response_matches() {
        // RFC 2617 §3.5: Mufasa / "Circle Of Life" in testrealm@host.com.
        let h = r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let p = parse_params(h).unwrap();
        let a1 = ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert!(response_matches(
            &p,
            &a1,
            "Mufasa",
            "testrealm@host.com",
            "GET",
            "/dir/index.html"
        ));
        let wrong = ha1("Mufasa", "testrealm@host.com", "circle of life");
        assert!(
            !response_matches(
                &p,
                &wrong,
                "Mufasa",
                "testrealm@host.com",
                "GET",
                "/dir/index.html"
            ),
            "another password must not match"
        );
        assert!(
            !response_matches(&p, &a1, "Mufasa", "testrealm@host.com", "GET", "/other"),
            "the response is bound to the request-URI"
        );
    }

    #[test]
    fn nonces_are_remembered_and_bounded() {
        let n = Nonces::default();
        let first = n.issue();
        assert!(n.known(&first) && !n.known("nope"));
        for _ in 0..MAX_NONCES {
            n.issue();
        }
        assert!(!n.known(&first), "the oldest nonce is forgotten");
        let last = n.issue();
        n.clear();
        assert!(!n.known(&last), "a reboot forgets every nonce");
    }
}
