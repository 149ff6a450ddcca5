//! The attack surface of a device as seen from outside, and the before/after comparison that proves hardening.
//!
//! A simulated device on a loopback address shares that address family with the host: a host service bound to
//! `0.0.0.0` shows up on *every* `127.x.y.z`. So every port found open on the device is tried on a *control*
//! address too (a loopback address no simulator uses, e.g. `127.254.254.254`); a port open on both belongs to
//! the host, is moved to [`Surface::excluded_tcp`] / [`Surface::excluded_udp`], and is never blamed on the device.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use super::scan::{port_open, tcp_connect_scan};
use super::ssdp::{ssdp_unicast_search, SsdpAnswer, SSDP_PORT};
use super::udp::{udp_probe, UdpState, STANDARD_UDP_PORTS};
use super::{unix_now, CheckKind, CheckRecord};

/// Connects in flight during the full TCP scan.
const TCP_CONCURRENCY: usize = 256;
/// How long each UDP probe waits for an answer (the request is re-sent once halfway).
const UDP_TIMEOUT: Duration = Duration::from_millis(1200);
/// How long the SSDP search waits (a unicast search is answered within 1 s).
const SSDP_TIMEOUT: Duration = Duration::from_millis(1500);
/// TCP ports of cleartext remote shells (telnet, and the alternate port Mirai also scans).
const CLEARTEXT_SHELL_PORTS: [u16; 2] = [23, 2323];

/// What a device exposes, seen from outside. Stored as the baseline before hardening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Surface {
    /// The device's address.
    pub ip: IpAddr,
    /// Open TCP ports of the device, ascending (host ports excluded).
    pub tcp_open: Vec<u16>,
    /// Each UDP port probed and what it showed, ascending by port (host ports excluded).
    pub udp: Vec<(u16, UdpState)>,
    /// The device's answer to a unicast SSDP search, if any.
    pub ssdp: Option<SsdpAnswer>,
    /// TCP ports open on the control address too: the host's, not the device's.
    pub excluded_tcp: Vec<u16>,
    /// UDP ports that answered on the control address too: the host's, not the device's.
    #[serde(default)]
    pub excluded_udp: Vec<u16>,
    /// The control address the exclusions were tested on.
    #[serde(default)]
    pub control_ip: Option<IpAddr>,
    /// When the scan finished, seconds since the Unix epoch.
    pub scanned_at: u64,
}

impl Surface {
    /// What a UDP port showed, if it was probed.
    pub fn udp_state(&self, port: u16) -> Option<&UdpState> {
        self.udp.iter().find(|(p, _)| *p == port).map(|(_, s)| s)
    }

    /// For reports: which ports were left out and why, or `None` if none were.
    pub fn exclusion_note(&self) -> Option<String> {
        if self.excluded_tcp.is_empty() && self.excluded_udp.is_empty() {
            return None;
        }
        let control = self
            .control_ip
            .map_or_else(|| "the control address".to_string(), |c| c.to_string());
        Some(format!(
            "not counted against {}: TCP {:?} and UDP {:?} are also open on {control}, so they are the host's",
            self.ip, self.excluded_tcp, self.excluded_udp
        ))
    }
}

/// Scans `ip` from outside: every TCP port (1–65535), the [`STANDARD_UDP_PORTS`] plus `extra_udp`, and SSDP.
///
/// Ports also open on `control_ip` are excluded (see the module docs); pass a loopback address no simulator
/// uses when `ip` is a loopback address, and any silent address otherwise. If `control_ip == ip` nothing is
/// excluded. `progress(done, total)` counts TCP ports then UDP probes.
pub async fn attack_surface(
    ip: IpAddr,
    control_ip: IpAddr,
    extra_udp: &[u16],
    progress: &mut (dyn FnMut(u64, u64) + Send),
) -> Surface {
    let udp_ports: BTreeSet<u16> = STANDARD_UDP_PORTS
        .iter()
        .chain(extra_udp)
        .copied()
        .collect();
    let total = 65535 + udp_ports.len() as u64;
    let found = tcp_connect_scan(ip, 1..=65535, TCP_CONCURRENCY, &mut |done, _| {
        progress(done, total)
    })
    .await;

    let ssdp = tokio::spawn(ssdp_unicast_search(ip, SSDP_TIMEOUT));
    let mut probes = JoinSet::new();
    for &port in &udp_ports {
        probes.spawn(async move { (port, udp_probe(ip, port, UDP_TIMEOUT).await) });
    }
    let mut udp = Vec::new();
    while let Some(joined) = probes.join_next().await {
        match joined {
            Ok(pair) => udp.push(pair),
            Err(e) => tracing::warn!(%ip, "a UDP probe task failed: {e}"),
        }
    }
    udp.sort_by_key(|(port, _)| *port);
    let mut ssdp = ssdp.await.unwrap_or_else(|e| {
        tracing::warn!(%ip, "the SSDP search task failed: {e}");
        None
    });

    let mut excluded_tcp = Vec::new();
    let mut excluded_udp = Vec::new();
    let mut tcp_open = Vec::new();
    for port in found {
        if control_ip != ip && port_open(SocketAddr::new(control_ip, port)).await {
            excluded_tcp.push(port);
        } else {
            tcp_open.push(port);
        }
    }
    if control_ip != ip {
        for (port, state) in &udp {
            if state.is_open() && udp_probe(control_ip, *port, UDP_TIMEOUT).await.is_open() {
                excluded_udp.push(*port);
            }
        }
    }
    udp.retain(|(port, _)| !excluded_udp.contains(port));
    if excluded_udp.contains(&SSDP_PORT) {
        ssdp = None;
    }
    if !excluded_tcp.is_empty() || !excluded_udp.is_empty() {
        tracing::info!(%ip, %control_ip, ?excluded_tcp, ?excluded_udp, "ports also open on the control address excluded");
    }
    progress(total, total);
    Surface {
        ip,
        tcp_open,
        udp,
        ssdp,
        excluded_tcp,
        excluded_udp,
        control_ip: Some(control_ip),
        scanned_at: unix_now(),
    }
}

/// Compares the baseline with the scan after hardening: one record per relevant port, then the UPnP check.
///
/// A TCP port open before or after gets: if allowed, [`CheckKind::OnlyAllowedPortsOpen`] (passed); if not,
/// [`CheckKind::CleartextShellClosed`] for telnet ports and [`CheckKind::PortClosed`] for others, passed only if
/// closed now. A UDP port that answered before or after gets the same treatment with
/// [`CheckKind::UdpPortClosed`] (a port that no longer answers its protocol passes). Last comes
/// [`CheckKind::UpnpSilent`]: passed if nothing answers SSDP now, or if the profile allows UDP 1900.
pub fn compare(
    before: &Surface,
    after: &Surface,
    allowed_tcp: &[u16],
    allowed_udp: &[u16],
) -> Vec<CheckRecord> {
    let mut records = Vec::new();
    let tcp: BTreeSet<u16> = before
        .tcp_open
        .iter()
        .chain(&after.tcp_open)
        .copied()
        .collect();
    for port in tcp {
        let subject = format!("tcp {}", SocketAddr::new(after.ip, port));
        let was = before.tcp_open.contains(&port);
        let now = after.tcp_open.contains(&port);
        let history = match (was, now) {
            (true, true) => "open before hardening and open now",
            (true, false) => "open before hardening, closed now",
            (false, true) => "closed before hardening, open now",
            (false, false) => "closed before and after",
        };
        records.push(if allowed_tcp.contains(&port) {
            CheckKind::OnlyAllowedPortsOpen.record(
                subject,
                true,
                format!("{history}; allowed by the profile"),
            )
        } else {
            let kind = if CLEARTEXT_SHELL_PORTS.contains(&port) {
                CheckKind::CleartextShellClosed
            } else {
                CheckKind::PortClosed
            };
            let verdict = if now {
                "; the profile does not allow it"
            } else {
                ""
            };
            kind.record(subject, !now, format!("{history}{verdict}"))
        });
    }

    let udp: BTreeSet<u16> = before
        .udp
        .iter()
        .chain(&after.udp)
        .filter(|(_, s)| s.is_open())
        .map(|(p, _)| *p)
        .collect();
    for port in udp {
        let subject = format!("udp {}", SocketAddr::new(after.ip, port));
        let now_open = after.udp_state(port).is_some_and(UdpState::is_open);
        let history = format!(
            "before hardening: {}; now: {}",
            describe(before.udp_state(port)),
            describe(after.udp_state(port))
        );
        records.push(if allowed_udp.contains(&port) {
            CheckKind::OnlyAllowedPortsOpen.record(
                subject,
                true,
                format!("{history}; allowed by the profile"),
            )
        } else {
            let verdict = if now_open {
                "; the profile does not allow it"
            } else {
                ""
            };
            CheckKind::UdpPortClosed.record(subject, !now_open, format!("{history}{verdict}"))
        });
    }

    records.push(upnp_record(before, after, allowed_udp.contains(&SSDP_PORT)));
    records
}

fn upnp_record(before: &Surface, after: &Surface, allowed: bool) -> CheckRecord {
    let seen = |s: &Surface| match (&s.ssdp, s.udp_state(SSDP_PORT)) {
        (Some(answer), _) => Some(format!("answered M-SEARCH ({})", answer.describe())),
        (None, Some(UdpState::Open { detail, .. })) => {
            Some(format!("answered M-SEARCH ({detail})"))
        }
        _ => None,
    };
    let now = seen(after);
    let detail = format!(
        "before hardening: {}; now: {}{}",
        seen(before).unwrap_or_else(|| "silent".into()),
        now.clone().unwrap_or_else(|| "silent".into()),
        if now.is_some() && allowed {
            "; allowed by the profile"
        } else {
            ""
        }
    );
    CheckKind::UpnpSilent.record(
        format!("ssdp {}", SocketAddr::new(after.ip, SSDP_PORT)),
        now.is_none() || allowed,
        detail,
    )
}

fn describe(state: Option<&UdpState>) -> String {
    match state {
        Some(UdpState::Open { protocol, detail }) => format!("answers as {protocol} ({detail})"),
        Some(UdpState::Closed) => "closed (ICMP port unreachable)".into(),
        Some(UdpState::NoReply) => "no reply (filtered, or silent to the probe)".into(),
        None => "not probed".into(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 88, last))
    }

    const CONTROL: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 254, 254, 254));

    /// Guards: the before/after comparison gives one verdict per port and the UPnP check.
    #[test]
    fn compare_gives_one_record_per_port_and_the_upnp_check() {
        let ssdp = SsdpAnswer {
            st: Some("upnp:rootdevice".into()),
            usn: None,
            location: None,
            server: Some("cam".into()),
        };
        let open = UdpState::Open {
            protocol: "ssdp".into(),
            detail: "SERVER cam".into(),
        };
        let surface = |tcp: Vec<u16>, udp: UdpState, ssdp| Surface {
            ip: ip(9),
            tcp_open: tcp,
            udp: vec![(1900, udp)],
            ssdp,
            excluded_tcp: vec![2024],
            excluded_udp: vec![],
            control_ip: Some(CONTROL),
            scanned_at: 0,
        };
        let before = surface(vec![23, 80, 554, 8080], open, Some(ssdp));
        let after = surface(vec![80, 554, 9999], UdpState::Closed, None);
        let records = compare(&before, &after, &[80, 554], &[]);
        let verdicts: Vec<(&str, &str, bool)> = records
            .iter()
            .map(|r| (r.id.as_str(), r.subject.as_str(), r.passed))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("cleartext-shell-closed", "tcp 127.0.88.9:23", true),
                ("only-allowed-ports-open", "tcp 127.0.88.9:80", true),
                ("only-allowed-ports-open", "tcp 127.0.88.9:554", true),
                ("tcp-port-closed", "tcp 127.0.88.9:8080", true),
                ("tcp-port-closed", "tcp 127.0.88.9:9999", false),
                ("udp-port-closed", "udp 127.0.88.9:1900", true),
                ("upnp-ssdp-silent", "ssdp 127.0.88.9:1900", true),
            ]
        );
        assert!(
            records[4]
                .detail
                .contains("closed before hardening, open now"),
            "{}",
            records[4].detail
        );
        assert!(
            records[6]
                .detail
                .contains("before hardening: answered M-SEARCH"),
            "{}",
            records[6].detail
        );
    }
}
