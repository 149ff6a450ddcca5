//! RTSP Digest login: `DESCRIBE` a stream and answer the Digest challenge, as video clients do.
//!
//! Same rules as [`super::http`]: only Digest is answered, never a cleartext scheme.

use std::net::SocketAddr;

use super::http::{check_request_target, digest_login, Dialect};
use super::{AuthOutcome, CheckError};
use crate::Secret;

/// Logs in to `rtsp://addr{path}` as `user`: `DESCRIBE` without credentials must be answered `401` with a Digest
/// challenge; the answered `DESCRIBE` (Digest method `DESCRIBE`, `uri` = the full request-URI) then decides:
/// 2xx/3xx is [`AuthOutcome::Accepted`], 401/403 is [`AuthOutcome::Refused`]. Every request carries `CSeq`,
/// and an answer with another `CSeq` is a protocol error. Time limits are [`super::http::RESPONSE_TIMEOUT`].
pub async fn rtsp_digest_login(
    addr: SocketAddr,
    path: &str,
    user: &str,
    password: &Secret,
) -> Result<AuthOutcome, CheckError> {
    check_request_target(addr, path)?;
    let dialect = Dialect {
        protocol: "RTSP",
        method: "DESCRIBE",
        uri: format!("rtsp://{addr}{path}"),
        request_line_suffix: "RTSP/1.0",
        headers: "Accept: application/sdp\r\nUser-Agent: Temper\r\n".to_string(),
        cseq: true,
    };
    digest_login(addr, &dialect, user, password).await
}
