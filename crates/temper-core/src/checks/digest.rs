//! HTTP/RTSP Digest authentication (RFC 2617, RFC 7616), client side, written here on `md-5` and `sha2`.
//!
//! The `digest_auth` crate (0.3.1) was evaluated and refused: its header parser indexes the string by *character*
//! count while slicing it by *byte*, so a challenge with a non-ASCII realm (`realm="Kamera-Büro"`) loses its nonce,
//! and some device-sent headers make it panic (`realm="€€", opaque="x", nonce="a", a€=1` does); it also matches
//! `Digest`, algorithm and qop names case-sensitively (RFC 7616 tokens are case-insensitive) and builds
//! `user:realm:password` in ordinary heap strings. Here the parser slices only at ASCII delimiters, every token is
//! compared case-insensitively, and A1 and HA1 (password-equivalent) live in zeroized buffers.

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};
use zeroize::Zeroizing;

pub use super::challenge::{parse_challenges, Challenge};
use crate::Secret;

/// The hash a Digest challenge names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// `MD5` (the RFC 2617 default).
    Md5,
    /// `SHA-256` (RFC 7616).
    Sha256,
    /// `SHA-512-256` (RFC 7616).
    Sha512_256,
}

impl DigestAlgorithm {
    fn hash(self, data: &[u8]) -> Zeroizing<String> {
        Zeroizing::new(match self {
            DigestAlgorithm::Md5 => hex::encode(Md5::digest(data)),
            DigestAlgorithm::Sha256 => hex::encode(Sha256::digest(data)),
            DigestAlgorithm::Sha512_256 => hex::encode(Sha512_256::digest(data)),
        })
    }
}

/// A Digest challenge Temper can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, echoed back unchanged.
    pub opaque: Option<String>,
    /// The hash.
    pub algorithm: DigestAlgorithm,
    /// A `-sess` variant (HA1 also covers the nonces).
    pub sess: bool,
    /// The `algorithm` token as received (echoed back), `None` if the challenge named none (MD5).
    pub algorithm_token: Option<String>,
    /// The qop Temper answers with: `auth` if offered, else `auth-int` (empty body); `None` for RFC 2069.
    pub qop: Option<&'static str>,
    /// `stale=true`: the nonce expired, the credential was not judged.
    pub stale: bool,
    /// `userhash=true`: the username is sent hashed with the realm.
    pub userhash: bool,
}

impl DigestChallenge {
    /// Reads a Digest [`Challenge`]; the error says what Temper cannot answer.
    pub fn from_challenge(challenge: &Challenge) -> Result<DigestChallenge, String> {
        if !challenge.scheme.eq_ignore_ascii_case("Digest") {
            return Err(format!("{} is not a Digest challenge", challenge.scheme));
        }
        let realm = challenge
            .param("realm")
            .ok_or("a Digest challenge without realm")?
            .to_string();
        let nonce = challenge
            .param("nonce")
            .ok_or("a Digest challenge without nonce")?
            .to_string();
        let algorithm_token = challenge.param("algorithm").map(str::to_string);
        let name = algorithm_token
            .as_deref()
            .unwrap_or("MD5")
            .to_ascii_uppercase();
        let (base, sess) = match name.strip_suffix("-SESS") {
            Some(base) => (base.to_string(), true),
            None => (name.clone(), false),
        };
        let algorithm = match base.as_str() {
            "MD5" => DigestAlgorithm::Md5,
            "SHA-256" => DigestAlgorithm::Sha256,
            "SHA-512-256" => DigestAlgorithm::Sha512_256,
            _ => return Err(format!("unsupported Digest algorithm {name}")),
        };
        let qop = match challenge.param("qop") {
            None => None,
            Some(list) => {
                let offered: Vec<String> = list
                    .split(',')
                    .map(|q| q.trim().to_ascii_lowercase())
                    .collect();
                if offered.iter().any(|q| q == "auth") {
                    Some("auth")
                } else if offered.iter().any(|q| q == "auth-int") {
                    Some("auth-int")
                } else {
                    return Err(format!("unsupported Digest qop {list:?}"));
                }
            }
        };
        if sess && qop.is_none() {
            return Err(format!("Digest {name} without qop"));
        }
        let flag = |n: &str| {
            challenge
                .param(n)
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        };
        Ok(DigestChallenge {
            realm,
            nonce,
            opaque: challenge.param("opaque").map(str::to_string),
            algorithm,
            sess,
            algorithm_token,
            qop,
            stale: flag("stale"),
            userhash: flag("userhash"),
        })
    }

    /// The lowercase-hex `response` for one request (RFC 7616 §3.4.1). The request has no body.
    pub fn response(
        &self,
        method: &str,
        uri: &str,
        user: &str,
        password: &Secret,
        nc: u32,
        cnonce: &str,
    ) -> String {
        let h = |data: &[u8]| self.algorithm.hash(data);
        let a1 = Zeroizing::new(format!("{user}:{}:{}", self.realm, password.expose()));
        let mut ha1 = h(a1.as_bytes());
        if self.sess {
            ha1 = h(Zeroizing::new(format!("{}:{}:{cnonce}", ha1.as_str(), self.nonce)).as_bytes());
        }
        let a2 = match self.qop {
            Some("auth-int") => format!("{method}:{uri}:{}", h(b"").as_str()),
            _ => format!("{method}:{uri}"),
        };
        let ha2 = h(a2.as_bytes());
        let last = match self.qop {
            Some(qop) => format!(
                "{}:{}:{nc:08x}:{cnonce}:{qop}:{}",
                ha1.as_str(),
                self.nonce,
                ha2.as_str()
            ),
            None => format!("{}:{}:{}", ha1.as_str(), self.nonce, ha2.as_str()),
        };
        h(Zeroizing::new(last).as_bytes()).to_string()
    }

    /// The `Authorization` header value for one request, e.g. `Digest username="admin", realm="…", …`.
    pub fn authorization(
        &self,
        method: &str,
        uri: &str,
        user: &str,
        password: &Secret,
        nc: u32,
        cnonce: &str,
    ) -> String {
        let response = self.response(method, uri, user, password, nc, cnonce);
        let username = if self.userhash {
            self.algorithm
                .hash(format!("{user}:{}", self.realm).as_bytes())
                .to_string()
        } else {
            user.to_string()
        };
        let mut out = format!(
            "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\"",
            quote(&username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(uri)
        );
        if let Some(token) = &self.algorithm_token {
            out.push_str(&format!(", algorithm={token}"));
        }
        out.push_str(&format!(", response=\"{response}\""));
        if let Some(qop) = self.qop {
            out.push_str(&format!(
                ", qop={qop}, nc={nc:08x}, cnonce=\"{}\"",
                quote(cnonce)
            ));
        }
        if let Some(opaque) = &self.opaque {
            out.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
        }
        if self.userhash {
            out.push_str(", userhash=true");
        }
        out
    }
}

/// Escapes `\` and `"` for a quoted-string.
fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A fresh client nonce: 16 random bytes in hex.
pub fn new_cnonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Why no Digest challenge could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoDigest {
    /// Only cleartext schemes were offered (e.g. `Basic`); the scheme names are listed.
    Cleartext(String),
    /// Digest was offered but in a form Temper cannot answer; the reason says which.
    Unsupported(String),
    /// No challenge at all.
    Missing,
}

/// Chooses the strongest answerable Digest challenge among all `WWW-Authenticate` values of a response
/// (SHA-512-256, then SHA-256, then MD5).
pub fn select_digest<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<DigestChallenge, NoDigest> {
    let challenges: Vec<Challenge> = values.into_iter().flat_map(parse_challenges).collect();
    let mut best: Option<DigestChallenge> = None;
    let mut problem = None;
    for c in challenges
        .iter()
        .filter(|c| c.scheme.eq_ignore_ascii_case("Digest"))
    {
        match DigestChallenge::from_challenge(c) {
            Ok(d)
                if best
                    .as_ref()
                    .is_none_or(|b| rank(d.algorithm) > rank(b.algorithm)) =>
            {
                best = Some(d)
            }
            Ok(_) => {}
            Err(reason) => problem = Some(reason),
        }
    }
    match (best, problem) {
        (Some(d), _) => Ok(d),
        (None, Some(reason)) => Err(NoDigest::Unsupported(reason)),
        (None, None) if challenges.is_empty() => Err(NoDigest::Missing),
        (None, None) => Err(NoDigest::Cleartext(
            challenges
                .iter()
                .map(|c| c.scheme.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

fn rank(a: DigestAlgorithm) -> u8 {
    match a {
        DigestAlgorithm::Md5 => 0,
        DigestAlgorithm::Sha256 => 1,
        DigestAlgorithm::Sha512_256 => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(header: &str) -> DigestChallenge {
        DigestChallenge::from_challenge(&parse_challenges(header)[0])
            .expect("an answerable challenge")
    }

    /// Guards the computation against RFC 2617 §3.5 (MD5, qop=auth, opaque).
    #[test]
    fn rfc_2617_worked_example() {
        let c = challenge(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        );
        let password = Secret::new("Circle Of Life");
        let response = c.response("GET", "/dir/index.html", "Mufasa", &password, 1, "0a4f113b");
        assert_eq!(
            response, "6629fae49393a05397450978507c4ef1",
            "RFC 2617 §3.5"
        );
        let auth = c.authorization("GET", "/dir/index.html", "Mufasa", &password, 1, "0a4f113b");
        for part in [
            "qop=auth,",
            "nc=00000001",
            r#"cnonce="0a4f113b""#,
            r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        ] {
            assert!(auth.contains(part), "{part} missing from {auth}");
        }
        assert!(
            !auth.contains("Circle"),
            "the password never appears in the header"
        );
    }

    /// Guards SHA-256 and case-insensitive tokens against RFC 7616 §3.9.1.
    #[test]
    fn rfc_7616_sha256_example() {
        let c = challenge(
            r#"digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=sha-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        );
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let response = c.response(
            "GET",
            "/dir/index.html",
            "Mufasa",
            &Secret::new("Circle of Life"),
            1,
            cnonce,
        );
        assert_eq!(
            response,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        assert!(c
            .authorization("GET", "/", "Mufasa", &Secret::new("x"), 1, cnonce)
            .contains("algorithm=sha-256"));
    }

    /// Guards: the strongest Digest wins, and a Basic-only header is reported as cleartext.
    #[test]
    fn selection_prefers_sha256_and_flags_basic() {
        let both = [
            r#"Digest realm="r", nonce="n", algorithm=MD5"#,
            r#"Digest realm="r", nonce="n", algorithm=SHA-256"#,
        ];
        assert_eq!(
            select_digest(both).unwrap().algorithm,
            DigestAlgorithm::Sha256
        );
        assert_eq!(
            select_digest([r#"Basic realm="cam""#]),
            Err(NoDigest::Cleartext("Basic".into()))
        );
        assert!(matches!(
            select_digest([r#"Digest realm="r", nonce="n", algorithm=MD5-sess"#]),
            Err(NoDigest::Unsupported(_))
        ));
    }
}
