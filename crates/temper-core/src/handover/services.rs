//! What hardening changed on the network, from the two scans the plan stores: `baseline` (before) and
//! `verify-surface` (after). Both are [`Surface`]s; the baseline also notes which factory defaults worked.

use serde::{Deserialize, Serialize};

use crate::checks::Surface;
use crate::profile::{Profile, Protocol};

/// Ports closed and left open by hardening, and the factory defaults that worked before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceChanges {
    /// TCP ports open before and closed after.
    pub tcp_closed: Vec<PortNote>,
    /// UDP ports that answered before and not after.
    pub udp_closed: Vec<PortNote>,
    /// True when the device answered UPnP discovery (SSDP) before and is silent after.
    pub upnp_silenced: bool,
    /// TCP ports still open after hardening (the profile allows them, or a check failed).
    pub tcp_open_after: Vec<PortNote>,
    /// Factory default credentials that opened a service before hardening.
    pub factory_defaults_accepted_before: Vec<FactoryDefault>,
}

/// A port and, when the profile names it, its service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortNote {
    /// Port number.
    pub port: u16,
    /// The profile's service id and description, e.g. `telnet: telnet remote shell (cleartext)`.
    pub service: Option<String>,
}

impl PortNote {
    fn new(port: u16) -> Self {
        PortNote {
            port,
            service: None,
        }
    }
}

/// A factory default that opened a service in the baseline (the store and service, never the password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactoryDefault {
    /// Credential store id.
    pub store: String,
    /// Service id.
    pub service: String,
    /// Port.
    pub port: u16,
}

impl ServiceChanges {
    /// The changes between the two stored scans; `None` unless both parse.
    pub fn from_scans(
        baseline: Option<&serde_json::Value>,
        after: Option<&serde_json::Value>,
    ) -> Option<ServiceChanges> {
        let before: Surface = serde_json::from_value(baseline?.clone()).ok()?;
        let after: Surface = serde_json::from_value(after?.clone()).ok()?;
        let tcp_closed = before
            .tcp_open
            .iter()
            .filter(|p| !after.tcp_open.contains(p))
            .map(|&p| PortNote::new(p))
            .collect();
        let udp_closed = before
            .udp
            .iter()
            .filter(|(port, state)| {
                state.is_open() && !after.udp_state(*port).is_some_and(|s| s.is_open())
            })
            .map(|(port, _)| PortNote::new(*port))
            .collect();
        let factory_defaults_accepted_before = baseline?["factory_defaults"]
            .as_array()
            .map(|all| {
                all.iter()
                    .filter(|d| d["accepted"] == true)
                    .filter_map(|d| {
                        Some(FactoryDefault {
                            store: d["store"].as_str()?.to_string(),
                            service: d["service"].as_str()?.to_string(),
                            port: u16::try_from(d["port"].as_u64()?).ok()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(ServiceChanges {
            tcp_closed,
            udp_closed,
            upnp_silenced: before.ssdp.is_some() && after.ssdp.is_none(),
            tcp_open_after: after.tcp_open.iter().map(|&p| PortNote::new(p)).collect(),
            factory_defaults_accepted_before,
        })
    }

    /// Names each port after the profile's service on it.
    pub(super) fn name_ports(&mut self, profile: &Profile) {
        let name = |port: u16, protocol: Protocol| {
            profile
                .services
                .iter()
                .find(|s| s.port == port && s.protocol == protocol)
                .map(|s| format!("{}: {}", s.id, s.description))
        };
        for note in self.tcp_closed.iter_mut().chain(&mut self.tcp_open_after) {
            note.service = name(note.port, Protocol::Tcp);
        }
        for note in &mut self.udp_closed {
            note.service = name(note.port, Protocol::Udp);
        }
    }
}
