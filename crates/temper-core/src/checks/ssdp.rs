//! SSDP (UPnP discovery): a unicast `M-SEARCH` to the device and the parse of its `HTTP/1.1 200 OK` answer.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::udp::{exchange, Exchange};

/// The SSDP port.
pub const SSDP_PORT: u16 = 1900;

/// Header values longer than this are cut (an answer is one datagram; this only bounds what is stored).
const MAX_VALUE: usize = 256;

/// What a device said in answer to an M-SEARCH. Header names are matched case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsdpAnswer {
    /// `ST`: the search target the answer is for.
    pub st: Option<String>,
    /// `USN`: the unique service name, e.g. `uuid:…::upnp:rootdevice`.
    pub usn: Option<String>,
    /// `LOCATION`: the URL of the device description.
    pub location: Option<String>,
    /// `SERVER`: `OS/version UPnP/1.1 product/version` (often discloses model and firmware).
    pub server: Option<String>,
}

impl SsdpAnswer {
    /// One line for reports, e.g. `SERVER "Linux/4.9 UPnP/1.1 cam/2.1", ST upnp:rootdevice, LOCATION http://…`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = [
            ("SERVER", &self.server),
            ("ST", &self.st),
            ("USN", &self.usn),
            ("LOCATION", &self.location),
        ]
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name} {v:?}")))
        .collect();
        parts.join(", ")
    }
}

/// Sends an `M-SEARCH` (ST `ssdp:all`) unicast to `ip:1900` and returns the first answer that parses, or
/// `None` if the device refused the port or nothing parseable came within `timeout`.
pub async fn ssdp_unicast_search(ip: IpAddr, timeout: Duration) -> Option<SsdpAnswer> {
    let request = msearch_request(ip, 1);
    match exchange(ip, SSDP_PORT, request.as_bytes(), timeout, parse_answer).await {
        Exchange::Reply(answer) => {
            tracing::debug!(%ip, answer = %answer.describe(), "SSDP answer");
            Some(answer)
        }
        Exchange::Refused | Exchange::Silent => None,
    }
}

/// An `M-SEARCH` for `ssdp:all` addressed to `ip:1900` (UPnP Device Architecture 1.1 §1.3.2, unicast form).
/// `MX` is included because some stacks discard a search without it.
pub(crate) fn msearch_request(ip: IpAddr, mx: u8) -> String {
    let host = SocketAddr::new(ip, SSDP_PORT);
    format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: {host}\r\nMAN: \"ssdp:discover\"\r\nMX: {mx}\r\nST: ssdp:all\r\n\
         USER-AGENT: Temper/1 UPnP/1.1 Temper/1\r\n\r\n"
    )
}

/// Parses an SSDP search answer: an `HTTP/1.x 200` status line and at least an `ST` or `USN` header.
pub(crate) fn parse_answer(datagram: &[u8]) -> Option<SsdpAnswer> {
    let text = String::from_utf8_lossy(datagram);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let status = lines.next()?;
    let mut words = status.split_ascii_whitespace();
    let version = words.next()?;
    if !version.to_ascii_uppercase().starts_with("HTTP/1.") || words.next()? != "200" {
        return None;
    }
    let mut answer = SsdpAnswer {
        st: None,
        usn: None,
        location: None,
        server: None,
    };
    for line in lines.take_while(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value: String = value.trim().chars().take(MAX_VALUE).collect();
        let slot = match name.trim().to_ascii_lowercase().as_str() {
            "st" => &mut answer.st,
            "usn" => &mut answer.usn,
            "location" => &mut answer.location,
            "server" => &mut answer.server,
            _ => continue,
        };
        slot.get_or_insert(value);
    }
    (answer.st.is_some() || answer.usn.is_some()).then_some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_headers_are_case_insensitive() {
        let reply = b"HTTP/1.1 200 OK\r\nCache-Control: max-age=1800\r\nExt:\r\nlocation: http://10.0.0.2:49152/d.xml\r\n\
                      Server: Linux/4.9 UPnP/1.1 cam/2.1\r\nsT: upnp:rootdevice\r\nUsn: uuid:1::upnp:rootdevice\r\n\r\n";
        let a = parse_answer(reply).expect("a 200 with ST and USN is an SSDP answer");
        assert_eq!(a.st.as_deref(), Some("upnp:rootdevice"));
        assert_eq!(a.usn.as_deref(), Some("uuid:1::upnp:rootdevice"));
        assert_eq!(a.location.as_deref(), Some("http://10.0.0.2:49152/d.xml"));
        assert_eq!(a.server.as_deref(), Some("Linux/4.9 UPnP/1.1 cam/2.1"));
        assert!(
            parse_answer(b"HTTP/1.1 404 Not Found\r\nST: x\r\n\r\n").is_none(),
            "only 200 answers count"
        );
        assert!(
            parse_answer(b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n").is_none(),
            "ST or USN is required"
        );
    }

    #[test]
    fn search_has_the_required_headers() {
        let req = msearch_request("127.0.0.5".parse().unwrap(), 1);
        assert!(req.starts_with("M-SEARCH * HTTP/1.1\r\n"));
        for h in [
            "HOST: 127.0.0.5:1900\r\n",
            "MAN: \"ssdp:discover\"\r\n",
            "MX: 1\r\n",
            "ST: ssdp:all\r\n",
        ] {
            assert!(req.contains(h), "missing {h:?}");
        }
        assert!(req.ends_with("\r\n\r\n"));
    }
}
