//! Outside checks: what Temper proves about a device from the network, never trusting what the device says.
//!
//! - [`kind`]: the catalogue of checks ([`CheckKind`]) with stable ids and the guideline items each proves.
//! - [`scan`], [`udp`], [`ssdp`], [`surface`]: the device's attack surface (open TCP ports, UDP services, UPnP),
//!   taken before hardening as the baseline and again after, then compared.
//! - [`http`], [`rtsp`], [`telnet`]: one credential trial against one service, with the service's own login.
//!   HTTP and RTSP use Digest (a challenge-response: the password never crosses the network); Temper refuses to
//!   send any credential in cleartext, except that [`telnet`] tries *known factory defaults* (never a new one).
//! - [`https`]: the HTTP Digest login over TLS, sent only once the chain is proven against the station CA.
//! - [`tls`], [`tls_probe`]: TLS from outside: a verified rustls handshake against the station CA, a read
//!   of the certificate a device serves (factory certificates before hardening), and a hand-built TLS 1.0/1.1
//!   ClientHello to prove old protocols are refused.
//! - [`tls_client`]: a client-authenticating TLS endpoint Temper runs, which a TLS *client* device is made to
//!   connect to, proving the certificate and key it presents.
//! - [`defaults`]: the Mirai default-credential list and a bounded-concurrency runner for trials.
//!
//! Every function here reports what it saw; none prints, and none logs a secret.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

mod challenge;
pub mod defaults;
pub mod digest;
pub mod http;
pub mod https;
pub mod kind;
pub mod rtsp;
pub mod scan;
pub mod ssdp;
pub mod surface;
pub mod telnet;
pub mod tls;
pub mod tls_client;
pub mod tls_probe;
pub mod udp;
mod udp_proto;
mod wire;

pub use defaults::{mirai_credentials, try_all, TrialResult};
pub use http::http_digest_login;
pub use https::https_digest_login;
pub use kind::CheckKind;
pub use rtsp::rtsp_digest_login;
pub use rustls::pki_types::UnixTime;
pub use scan::tcp_connect_scan;
pub use ssdp::{ssdp_unicast_search, SsdpAnswer};
pub use surface::{attack_surface, compare, Surface};
pub use telnet::telnet_login;
pub use tls::{
    served_certificate, shared_certificates, tls_handshake, ServedCert, TlsError, TlsReport,
};
pub use tls_client::{ClientEndpoint, ClientProof, EndpointApplication};
pub use tls_probe::{old_protocol_probe, OldAnswer, OldTls};
pub use udp::{udp_probe, UdpState, STANDARD_UDP_PORTS};

/// The result of one outside check, as stored in the inventory and shown in reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRecord {
    /// Stable check id, e.g. `default-credential-refused` (see [`CheckKind`]).
    pub id: String,
    /// The guideline items this check proves, e.g. `CERT-MU 3.1`, `ETSI EN 303 645 5.1-1`.
    pub guideline: Vec<String>,
    /// What was checked, e.g. `telnet 127.0.0.5:23` or `web-admin`. Never a secret.
    pub subject: String,
    /// True when the device passed.
    pub passed: bool,
    /// What was seen, for people. Never a secret.
    pub detail: String,
    /// When the check ran, seconds since the Unix epoch.
    pub at: u64,
}

/// What a service answered to one credential, proven by the service's own login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthOutcome {
    /// The service let the user in with this credential.
    Accepted,
    /// The service refused the credential.
    Refused,
}

/// Why a credential trial could not decide: the service was unreachable, spoke garbage, or would need a
/// credential sent in cleartext. Every message names `host:port` and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// No connection could be made (refused, unreachable, or no answer to the connect).
    #[error("{addr}: cannot connect: {reason}. Is the device on and the service running?")]
    Unreachable {
        /// The service address.
        addr: SocketAddr,
        /// What the network stack said.
        reason: String,
    },
    /// The service went silent while Temper waited for something.
    #[error("{addr}: no {expected} within {waited_ms} ms")]
    Timeout {
        /// The service address.
        addr: SocketAddr,
        /// What Temper waited for, e.g. `HTTP response` or `login prompt`.
        expected: String,
        /// How long Temper waited.
        waited_ms: u64,
    },
    /// The service answered something that is not the protocol Temper expected (the device's fault).
    #[error("{addr}: expected {expected}, got {got}")]
    Protocol {
        /// The service address.
        addr: SocketAddr,
        /// What the protocol requires at this point.
        expected: String,
        /// What came instead (truncated, never a secret).
        got: String,
    },
    /// The service only offers a login that would send the password in cleartext; Temper did not send it.
    #[error(
        "{addr}: refusing to send a credential in cleartext ({scheme} auth); only Digest is used"
    )]
    Cleartext {
        /// The service address.
        addr: SocketAddr,
        /// The scheme the service offered, e.g. `Basic`.
        scheme: String,
    },
    /// The service let Temper in without asking for any credential: no credential can be proven here.
    #[error("{addr}: {what} is open without any credential (no authentication at all)")]
    Unauthenticated {
        /// The service address.
        addr: SocketAddr,
        /// What was open, e.g. `GET /` or `the telnet shell`.
        what: String,
    },
    /// The TLS connection was refused: the served chain does not lead to the station CA, names another
    /// host or is out of date, or the handshake failed. Nothing was sent over it.
    #[error("{addr}: TLS refused: {reason}; no credential was sent")]
    Tls {
        /// The service address.
        addr: SocketAddr,
        /// Why, e.g. `the device's certificate is refused: unknown issuer`.
        reason: String,
    },
    /// The caller passed something that cannot go on the wire (the operator's or the profile's fault).
    #[error("{addr}: cannot send {what}")]
    InvalidInput {
        /// The service address.
        addr: SocketAddr,
        /// What was wrong, e.g. `a path with a space in it`.
        what: String,
    },
}

/// Seconds since the Unix epoch (0 if the clock is before it).
/// Opens a TCP connection within `limit`; a refusal or silence is [`CheckError::Unreachable`] naming `addr`.
pub(crate) async fn connect_tcp(
    addr: std::net::SocketAddr,
    limit: std::time::Duration,
) -> Result<tokio::net::TcpStream, CheckError> {
    match tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(CheckError::Unreachable {
            addr,
            reason: e.to_string(),
        }),
        Err(_) => Err(CheckError::Unreachable {
            addr,
            reason: format!("no answer to the connect within {} ms", limit.as_millis()),
        }),
    }
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Shortens text seen on the wire for an error message: printable ASCII only, at most `max` characters.
pub(crate) fn shown(bytes: &[u8], max: usize) -> String {
    let text: String = String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if bytes.len() > max {
        format!("{:?}…", text.trim())
    } else {
        format!("{:?}", text.trim())
    }
}
