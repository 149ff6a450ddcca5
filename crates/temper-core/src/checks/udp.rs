//! UDP probes: a valid request of the port's protocol, and "open" only for a reply that parses as that protocol.
//!
//! Each probe uses two sockets: a *connected* one, on which the kernel reports an ICMP port unreachable as
//! `ECONNREFUSED` (that is how a closed port is told from a silent one), and an unconnected one that accepts a
//! reply from any port of the device (TFTP, and some SSDP stacks, answer from another port than the one asked).
//! The request goes out from both, and once more from both halfway through the timeout if nothing came back.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::UdpSocket;
use tokio::time::{sleep_until, Instant};

use super::udp_proto::UdpProbe;

/// The UDP ports Temper probes on every device: TFTP, SNMP, SSDP, mDNS, CoAP.
pub const STANDARD_UDP_PORTS: [u16; 5] = [69, 161, 1900, 5353, 5683];

/// Largest datagram read; longer replies are truncated (every reply parsed here is far smaller).
const MAX_DATAGRAM: usize = 9000;

/// What a UDP port showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum UdpState {
    /// A reply that parses as the port's protocol came back.
    Open {
        /// The protocol that answered, e.g. `ssdp`, `snmp`, `tftp`, `mdns`, `coap`, or `unknown` for a port
        /// without a protocol probe (any reply counts there).
        protocol: String,
        /// What the reply said, for people (e.g. the SSDP `SERVER` header).
        detail: String,
    },
    /// The device answered with ICMP port unreachable (`ECONNREFUSED` on a connected UDP socket).
    Closed,
    /// Nothing that parses came back before the timeout: closed behind a firewall, or open but silent.
    NoReply,
}

impl UdpState {
    /// True for [`UdpState::Open`].
    pub fn is_open(&self) -> bool {
        matches!(self, UdpState::Open { .. })
    }
}

/// Probes UDP `port` on `ip` with that port's protocol request (see [`STANDARD_UDP_PORTS`]; any other port gets
/// an empty datagram) and waits at most `timeout` for an answer.
pub async fn udp_probe(ip: IpAddr, port: u16, timeout: Duration) -> UdpState {
    let probe = UdpProbe::for_port(port);
    let request = probe.request(ip);
    let state = match exchange(ip, port, &request, timeout, |reply| probe.parse(reply)).await {
        Exchange::Reply(detail) => UdpState::Open {
            protocol: probe.name().to_string(),
            detail,
        },
        Exchange::Refused => UdpState::Closed,
        Exchange::Silent => UdpState::NoReply,
    };
    tracing::debug!(%ip, port, ?state, "UDP probe");
    state
}

/// The outcome of one request over UDP.
#[derive(Debug)]
pub(crate) enum Exchange<T> {
    /// A reply that `accept` took.
    Reply(T),
    /// ICMP port unreachable.
    Refused,
    /// Nothing acceptable within the timeout (or no socket could be opened: logged as a warning).
    Silent,
}

/// Sends `request` to `ip:port` and waits up to `timeout` for a datagram from `ip` that `accept` takes;
/// datagrams it does not take are ignored. Re-sends once halfway through.
pub(crate) async fn exchange<T>(
    ip: IpAddr,
    port: u16,
    request: &[u8],
    timeout: Duration,
    mut accept: impl FnMut(&[u8]) -> Option<T>,
) -> Exchange<T> {
    let target = SocketAddr::new(ip, port);
    let (connected, unconnected) = match open_sockets(target).await {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(%target, "cannot open a UDP socket for the probe: {e}");
            return Exchange::Silent;
        }
    };
    let start = Instant::now();
    let deadline = start + timeout;
    let mut resend_at = Some(start + timeout / 2);
    let mut connected_ok = true;
    let mut buf_connected = vec![0u8; MAX_DATAGRAM];
    let mut buf_unconnected = vec![0u8; MAX_DATAGRAM];
    if send_both(&connected, &unconnected, target, request).await {
        return Exchange::Refused;
    }
    loop {
        let wake = resend_at.unwrap_or(deadline);
        tokio::select! {
            got = connected.recv(&mut buf_connected), if connected_ok => match got {
                Ok(n) => {
                    if let Some(value) = accept(&buf_connected[..n]) {
                        return Exchange::Reply(value);
                    }
                    tracing::debug!(%target, bytes = n, "ignored a reply that is not the probed protocol");
                }
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Exchange::Refused,
                Err(e) => {
                    tracing::debug!(%target, "connected UDP socket failed: {e}");
                    connected_ok = false;
                }
            },
            got = unconnected.recv_from(&mut buf_unconnected) => match got {
                Ok((n, from)) if from.ip() == ip => {
                    if let Some(value) = accept(&buf_unconnected[..n]) {
                        return Exchange::Reply(value);
                    }
                    tracing::debug!(%target, %from, bytes = n, "ignored a reply that is not the probed protocol");
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(%target, "UDP receive failed: {e}"),
            },
            _ = sleep_until(wake) => {
                if resend_at.take().is_none() {
                    return Exchange::Silent;
                }
                if send_both(&connected, &unconnected, target, request).await {
                    return Exchange::Refused;
                }
            }
        }
    }
}

async fn open_sockets(target: SocketAddr) -> std::io::Result<(UdpSocket, UdpSocket)> {
    let any: SocketAddr = match target {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let connected = UdpSocket::bind(any).await?;
    connected.connect(target).await?;
    let unconnected = UdpSocket::bind(any).await?;
    Ok((connected, unconnected))
}

/// Sends the request from both sockets; true if the connected one already reports the port refused.
async fn send_both(
    connected: &UdpSocket,
    unconnected: &UdpSocket,
    target: SocketAddr,
    request: &[u8],
) -> bool {
    if let Err(e) = connected.send(request).await {
        if e.kind() == ErrorKind::ConnectionRefused {
            return true;
        }
        tracing::debug!(%target, "UDP send failed: {e}");
    }
    if let Err(e) = unconnected.send_to(request, target).await {
        tracing::debug!(%target, "UDP send failed: {e}");
    }
    false
}
