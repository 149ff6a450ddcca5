//! HTTP Digest login: proves from outside whether a web service accepts a credential.
//!
//! The password never crosses the network: Temper only answers a Digest challenge. A service that offers only
//! a cleartext scheme (Basic) gets no credential at all; the trial fails with [`CheckError::Cleartext`].

use std::net::SocketAddr;
use std::time::Duration;

use super::digest::{new_cnonce, select_digest, DigestChallenge, NoDigest};
use super::wire::{Conn, Response, Transport};
use super::{AuthOutcome, CheckError};
use crate::Secret;

/// Time allowed for a TCP connect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for each response. Devices check passwords slowly on purpose (the ipcam profile allows 8 s).
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Logs in to `http://addr{path}` as `user` with HTTP Digest (MD5, SHA-256 or SHA-512-256, qop=auth, opaque).
///
/// `GET path` without credentials must be answered `401` with a Digest challenge; the answered `GET` then
/// decides: 2xx/3xx is [`AuthOutcome::Accepted`], 401/403 is [`AuthOutcome::Refused`] (after one retry if the
/// server only said the nonce was stale). A page served without any credential is
/// [`CheckError::Unauthenticated`]; a Basic-only challenge is [`CheckError::Cleartext`] and nothing is sent.
pub async fn http_digest_login(
    addr: SocketAddr,
    path: &str,
    user: &str,
    password: &Secret,
) -> Result<AuthOutcome, CheckError> {
    check_request_target(addr, path)?;
    digest_login(addr, &http_dialect(addr, path), user, password).await
}

/// The `GET path HTTP/1.1` request both [`http_digest_login`] and HTTPS send.
pub(crate) fn http_dialect(addr: SocketAddr, path: &str) -> Dialect {
    Dialect {
        protocol: "HTTP",
        method: "GET",
        uri: path.to_string(),
        request_line_suffix: "HTTP/1.1",
        headers: format!("Host: {addr}\r\nUser-Agent: Temper\r\nAccept: */*\r\n"),
        cseq: false,
    }
}

/// How one protocol phrases the request Temper sends.
pub(crate) struct Dialect {
    /// `HTTP` or `RTSP`.
    pub(crate) protocol: &'static str,
    /// The request method; also the Digest method.
    pub(crate) method: &'static str,
    /// The request-target; also the Digest `uri`.
    pub(crate) uri: String,
    /// The protocol version at the end of the request line.
    pub(crate) request_line_suffix: &'static str,
    /// Header lines sent with every request, each ending in CRLF.
    pub(crate) headers: String,
    /// True for RTSP: every request carries `CSeq`, and an answer's `CSeq` must match.
    pub(crate) cseq: bool,
}

impl Dialect {
    fn request(&self, cseq: u32, authorization: Option<&str>) -> String {
        let mut out = format!(
            "{} {} {}\r\n{}",
            self.method, self.uri, self.request_line_suffix, self.headers
        );
        if self.cseq {
            out.push_str(&format!("CSeq: {cseq}\r\n"));
        }
        if let Some(value) = authorization {
            out.push_str(&format!("Authorization: {value}\r\n"));
        }
        out.push_str("\r\n");
        out
    }
}

/// The Digest dialogue shared by HTTP and RTSP, over plain TCP.
pub(crate) async fn digest_login(
    addr: SocketAddr,
    dialect: &Dialect,
    user: &str,
    password: &Secret,
) -> Result<AuthOutcome, CheckError> {
    digest_login_over(&Transport::Tcp, addr, dialect, user, password).await
}

/// The Digest dialogue over `transport`; a reconnect (the server closed the connection) goes the same way.
pub(crate) async fn digest_login_over(
    transport: &Transport,
    addr: SocketAddr,
    dialect: &Dialect,
    user: &str,
    password: &Secret,
) -> Result<AuthOutcome, CheckError> {
    if user.chars().any(char::is_control) {
        return Err(CheckError::InvalidInput {
            addr,
            what: "a user name with control characters".into(),
        });
    }
    let mut cseq = 1;
    let mut conn = Conn::connect_over(transport, addr, dialect.protocol, CONNECT_TIMEOUT).await?;
    let first = exchange(&mut conn, dialect, cseq, None).await?;
    let what = format!("{} {}", dialect.method, dialect.uri);
    if (200..400).contains(&first.status) {
        return Err(CheckError::Unauthenticated { addr, what });
    }
    if first.status != 401 {
        return Err(unexpected(
            addr,
            dialect,
            "401 with a Digest challenge",
            &first,
        ));
    }
    let mut challenge = choose(addr, dialect, &first)?;
    for attempt in 0..2 {
        cseq += 1;
        let authorization = challenge.authorization(
            dialect.method,
            &dialect.uri,
            user,
            password,
            1,
            &new_cnonce(),
        );
        if !conn.reusable {
            conn = Conn::connect_over(transport, addr, dialect.protocol, CONNECT_TIMEOUT).await?;
        }
        let answer = exchange(&mut conn, dialect, cseq, Some(&authorization)).await?;
        match answer.status {
            200..=399 => {
                tracing::debug!(%addr, user, "{} Digest login accepted", dialect.protocol);
                return Ok(AuthOutcome::Accepted);
            }
            401 => match choose(addr, dialect, &answer) {
                Ok(fresh) if fresh.stale && attempt == 0 => challenge = fresh,
                _ => break,
            },
            403 => break,
            _ => {
                return Err(unexpected(
                    addr,
                    dialect,
                    "200 or 401 to the Digest answer",
                    &answer,
                ))
            }
        }
    }
    tracing::debug!(%addr, user, "{} Digest login refused", dialect.protocol);
    Ok(AuthOutcome::Refused)
}

async fn exchange(
    conn: &mut Conn,
    dialect: &Dialect,
    cseq: u32,
    authorization: Option<&str>,
) -> Result<Response, CheckError> {
    conn.send(&dialect.request(cseq, authorization), RESPONSE_TIMEOUT)
        .await?;
    let response = conn.read_response(RESPONSE_TIMEOUT).await?;
    if dialect.cseq {
        if let Some(got) = response.header("cseq").map(str::trim) {
            if got != cseq.to_string() {
                return Err(CheckError::Protocol {
                    addr: conn.addr(),
                    expected: format!("RTSP answer with CSeq {cseq}"),
                    got: format!("CSeq {got:?}"),
                });
            }
        }
    }
    Ok(response)
}

/// Picks the Digest challenge of a 401; cleartext-only challenges are refused here, before anything is sent.
fn choose(
    addr: SocketAddr,
    dialect: &Dialect,
    response: &Response,
) -> Result<DigestChallenge, CheckError> {
    match select_digest(response.all("www-authenticate")) {
        Ok(challenge) => Ok(challenge),
        Err(NoDigest::Cleartext(scheme)) => {
            tracing::warn!(%addr, %scheme, "service offers only cleartext authentication; no credential sent");
            Err(CheckError::Cleartext { addr, scheme })
        }
        Err(NoDigest::Unsupported(reason)) => Err(CheckError::Protocol {
            addr,
            expected: format!("a {} Digest challenge Temper can answer", dialect.protocol),
            got: reason,
        }),
        Err(NoDigest::Missing) => Err(unexpected(
            addr,
            dialect,
            "a WWW-Authenticate challenge on the 401",
            response,
        )),
    }
}

fn unexpected(
    addr: SocketAddr,
    dialect: &Dialect,
    expected: &str,
    response: &Response,
) -> CheckError {
    CheckError::Protocol {
        addr,
        expected: format!("{} {expected}", dialect.protocol),
        got: format!(
            "{:?}",
            response.status_line.chars().take(80).collect::<String>()
        ),
    }
}

/// A request-target must be an absolute path without spaces, quotes or control characters.
pub(crate) fn check_request_target(addr: SocketAddr, path: &str) -> Result<(), CheckError> {
    let bad = |c: char| c.is_whitespace() || c.is_control() || c == '"';
    if !path.starts_with('/') || path.chars().any(bad) {
        return Err(CheckError::InvalidInput {
            addr,
            what: format!("the path {path:?} (it must start with '/' and have no spaces, quotes or control characters)"),
        });
    }
    Ok(())
}
