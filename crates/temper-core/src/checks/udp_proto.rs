//! The request each UDP probe sends and the parser that decides whether a reply is that protocol.

use std::net::IpAddr;

use super::{shown, ssdp};
use crate::proto::smp::header::{Header, SmpVersion};
use crate::proto::smp::messages::{answers, decode_response, encode_request, Echo};

/// TFTP read request for a file that should not exist; any DATA, ERROR or OACK proves a TFTP server.
const TFTP_FILE: &[u8] = b"temper-probe";
/// SNMP sysDescr.0 (1.3.6.1.2.1.1.1.0), BER-encoded.
const SYS_DESCR_OID: [u8; 8] = [0x2b, 6, 1, 2, 1, 1, 1, 0];
/// DNS-SD service enumeration name, asked over mDNS.
const MDNS_NAME: [&str; 4] = ["_services", "_dns-sd", "_udp", "local"];

/// One UDP protocol probe. Request ids are random per probe; a reply must echo them.
pub(crate) enum UdpProbe {
    Tftp,
    Snmp {
        request_id: [u8; 4],
    },
    Ssdp,
    Mdns {
        id: u16,
    },
    Coap {
        message_id: u16,
        token: [u8; 2],
    },
    /// MCUmgr SMP over UDP (Zephyr's port 1337): an OS echo; any SMP reply to it (an error too) proves it.
    Smp {
        seq: u8,
    },
    Generic,
}

impl UdpProbe {
    /// The probe for a port: its protocol for the standard ports, an empty datagram otherwise.
    pub(crate) fn for_port(port: u16) -> UdpProbe {
        match port {
            69 => UdpProbe::Tftp,
            161 => UdpProbe::Snmp {
                request_id: rand::random::<u32>().to_be_bytes(),
            },
            1900 => UdpProbe::Ssdp,
            5353 => UdpProbe::Mdns { id: rand::random() },
            5683 => UdpProbe::Coap {
                message_id: rand::random(),
                token: rand::random(),
            },
            SMP_UDP_PORT => UdpProbe::Smp {
                seq: rand::random(),
            },
            _ => UdpProbe::Generic,
        }
    }

    /// The protocol name reported in [`super::UdpState::Open`].
    pub(crate) fn name(&self) -> &'static str {
        match self {
            UdpProbe::Tftp => "tftp",
            UdpProbe::Snmp { .. } => "snmp",
            UdpProbe::Ssdp => "ssdp",
            UdpProbe::Mdns { .. } => "mdns",
            UdpProbe::Coap { .. } => "coap",
            UdpProbe::Smp { .. } => "smp",
            UdpProbe::Generic => "unknown",
        }
    }

    /// The datagram to send to `ip`.
    pub(crate) fn request(&self, ip: IpAddr) -> Vec<u8> {
        match self {
            UdpProbe::Tftp => [&[0, 1][..], TFTP_FILE, b"\0octet\0"].concat(),
            UdpProbe::Snmp { request_id } => snmp_get_request(request_id),
            UdpProbe::Ssdp => ssdp::msearch_request(ip, 1).into_bytes(),
            UdpProbe::Mdns { id } => mdns_query(*id),
            UdpProbe::Coap { message_id, token } => coap_get_core(*message_id, *token),
            UdpProbe::Smp { seq } => encode_request(
                &Echo {
                    text: SMP_ECHO.into(),
                },
                SmpVersion::V1,
                *seq,
            ),
            UdpProbe::Generic => Vec::new(),
        }
    }

    /// A description of `reply` if it is this protocol's answer to the request, else `None`.
    pub(crate) fn parse(&self, reply: &[u8]) -> Option<String> {
        match self {
            UdpProbe::Tftp => parse_tftp(reply),
            UdpProbe::Snmp { request_id } => parse_snmp(reply, request_id),
            UdpProbe::Ssdp => ssdp::parse_answer(reply).map(|a| a.describe()),
            UdpProbe::Mdns { id } => parse_mdns(reply, *id),
            UdpProbe::Coap { message_id, token } => parse_coap(reply, *message_id, *token),
            UdpProbe::Smp { seq } => parse_smp_echo(reply, *seq),
            UdpProbe::Generic => Some(format!("{}-byte reply to an empty datagram", reply.len())),
        }
    }
}

/// Zephyr's MCUmgr UDP port (CONFIG_MCUMGR_TRANSPORT_UDP_PORT).
const SMP_UDP_PORT: u16 = 1337;
/// What the SMP probe asks the device to echo.
const SMP_ECHO: &str = "temper-probe";

/// An SMP reply to our OS echo: the echoed text, or the error the device answered (unauthenticated either way).
fn parse_smp_echo(reply: &[u8], seq: u8) -> Option<String> {
    let header = Header::parse(reply).ok()?;
    if !answers::<Echo>(&header, seq) {
        return None;
    }
    Some(match decode_response::<Echo>(reply, seq) {
        Ok(echo) => format!(
            "MCUmgr SMP answered an OS echo ({}) with no authentication",
            shown(echo.text.as_bytes(), 40)
        ),
        Err(e) => format!("MCUmgr SMP answered an OS echo with an error ({e})"),
    })
}

fn parse_tftp(reply: &[u8]) -> Option<String> {
    let opcode = u16::from_be_bytes([*reply.first()?, *reply.get(1)?]);
    match opcode {
        3 if reply.len() >= 4 => Some(format!(
            "DATA block {} (file served)",
            u16::from_be_bytes([reply[2], reply[3]])
        )),
        5 if reply.len() >= 5 && reply.last() == Some(&0) => {
            let code = u16::from_be_bytes([reply[2], reply[3]]);
            Some(format!(
                "ERROR {code} {}",
                shown(&reply[4..reply.len() - 1], 80)
            ))
        }
        6 => Some("OACK (option acknowledgement)".into()),
        _ => None,
    }
}

/// A BER TLV with a short-form length (every part of this request is under 128 bytes).
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag, content.len() as u8];
    out.extend_from_slice(content);
    out
}

/// SNMPv1 GetRequest for sysDescr.0 with community `public`.
fn snmp_get_request(request_id: &[u8; 4]) -> Vec<u8> {
    let varbind = tlv(
        0x30,
        &[tlv(0x06, &SYS_DESCR_OID), vec![0x05, 0x00]].concat(),
    );
    let pdu = [
        tlv(0x02, request_id),
        tlv(0x02, &[0]),
        tlv(0x02, &[0]),
        tlv(0x30, &varbind),
    ]
    .concat();
    tlv(
        0x30,
        &[tlv(0x02, &[0]), tlv(0x04, b"public"), tlv(0xa0, &pdu)].concat(),
    )
}

/// Reads one BER TLV from the front of `input`: (tag, content, rest).
fn read_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let count = (first & 0x7f) as usize;
        if count == 0 || count > 2 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |acc, b| acc << 8 | *b as usize);
        rest = &rest[count..];
        len
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// An SNMP GetResponse (v1 or v2c) that echoes our request id.
fn parse_snmp(reply: &[u8], request_id: &[u8; 4]) -> Option<String> {
    let (0x30, message, _) = read_tlv(reply)? else {
        return None;
    };
    let (0x02, version, rest) = read_tlv(message)? else {
        return None;
    };
    let (0x04, community, rest) = read_tlv(rest)? else {
        return None;
    };
    let (0xa2, pdu, _) = read_tlv(rest)? else {
        return None;
    };
    let (0x02, id, rest) = read_tlv(pdu)? else {
        return None;
    };
    let echoed = id
        .iter()
        .skip_while(|b| **b == 0)
        .eq(request_id.iter().skip_while(|b| **b == 0));
    if !echoed {
        return None;
    }
    let (0x02, status, rest) = read_tlv(rest)? else {
        return None;
    };
    let version = match version {
        [0] => "SNMPv1",
        [1] => "SNMPv2c",
        _ => "SNMP",
    };
    let mut detail = format!(
        "{version} GetResponse to community {}",
        shown(community, 40)
    );
    if status.iter().any(|b| *b != 0) {
        detail.push_str(&format!(
            ", error-status {}",
            status.last().copied().unwrap_or(0)
        ));
    } else if let Some(descr) = first_octet_string_value(rest) {
        detail.push_str(&format!(", sysDescr {}", shown(descr, 80)));
    }
    Some(detail)
}

/// The value of the first varbind if it is an OCTET STRING (error-index, then the varbind list).
fn first_octet_string_value(after_status: &[u8]) -> Option<&[u8]> {
    let (_, _, rest) = read_tlv(after_status)?;
    let (0x30, list, _) = read_tlv(rest)? else {
        return None;
    };
    let (0x30, varbind, _) = read_tlv(list)? else {
        return None;
    };
    let (0x06, _, value) = read_tlv(varbind)? else {
        return None;
    };
    let (0x04, text, _) = read_tlv(value)? else {
        return None;
    };
    Some(text)
}

/// A one-question DNS query for the DNS-SD service list (PTR, class IN), sent from a non-5353 port so the
/// responder answers by unicast with the same id (RFC 6762 §6.7, legacy unicast).
fn mdns_query(id: u16) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in MDNS_NAME {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.extend_from_slice(&[0, 0, 12, 0, 1]);
    out
}

fn parse_mdns(reply: &[u8], id: u16) -> Option<String> {
    if reply.len() < 12 || u16::from_be_bytes([reply[0], reply[1]]) != id || reply[2] & 0x80 == 0 {
        return None;
    }
    let answers = u16::from_be_bytes([reply[6], reply[7]]);
    let rcode = reply[3] & 0x0f;
    Some(format!(
        "DNS response (rcode {rcode}) with {answers} answer(s)"
    ))
}

/// CoAP confirmable GET /.well-known/core (RFC 7252, RFC 6690).
fn coap_get_core(message_id: u16, token: [u8; 2]) -> Vec<u8> {
    let mut out = vec![0x42, 0x01];
    out.extend_from_slice(&message_id.to_be_bytes());
    out.extend_from_slice(&token);
    out.push(0xbb); // Uri-Path (11), length 11
    out.extend_from_slice(b".well-known");
    out.push(0x04); // Uri-Path again (delta 0), length 4
    out.extend_from_slice(b"core");
    out
}

fn parse_coap(reply: &[u8], message_id: u16, token: [u8; 2]) -> Option<String> {
    if reply.len() < 4 || reply[0] >> 6 != 1 {
        return None;
    }
    let kind = (reply[0] >> 4) & 3;
    let tkl = (reply[0] & 0x0f) as usize;
    let same_id = u16::from_be_bytes([reply[2], reply[3]]) == message_id;
    let same_token = tkl == 2 && reply.get(4..6) == Some(&token[..]);
    let code = format!("{}.{:02}", reply[1] >> 5, reply[1] & 0x1f);
    match kind {
        3 if same_id => Some("RST (a CoAP endpoint that rejected the request)".into()),
        2 if same_id && (same_token || reply[1] == 0) => Some(format!("ACK {code}")),
        0 | 1 if same_token && reply[1] >> 5 >= 2 => Some(format!("separate response {code}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OS echo reply packet with sequence number `seq`.
    fn smp_echo_reply(seq: u8, body: &serde_json::Value) -> Vec<u8> {
        let payload = crate::proto::smp::messages::to_cbor(body);
        let header = Header {
            version: SmpVersion::V1,
            op: crate::proto::smp::header::Op::Write.response(),
            flags: 0,
            len: payload.len() as u16,
            group: 0,
            seq,
            id: 0,
        };
        [&header.to_bytes()[..], &payload].concat()
    }

    #[test]
    fn smp_probe_is_an_echo_and_needs_its_sequence_number() {
        let probe = UdpProbe::for_port(1337);
        let UdpProbe::Smp { seq } = probe else {
            panic!("port 1337 gets the SMP probe");
        };
        let request = probe.request("127.0.0.1".parse().unwrap());
        let header = Header::parse(&request).unwrap();
        assert_eq!((header.group, header.id, header.seq), (0, 0, seq));
        let ok = smp_echo_reply(seq, &serde_json::json!({"r": SMP_ECHO}));
        assert!(probe.parse(&ok).unwrap().contains("no authentication"));
        let refused = smp_echo_reply(seq, &serde_json::json!({"rc": 8}));
        assert!(probe.parse(&refused).unwrap().contains("error"));
        let stale = smp_echo_reply(seq.wrapping_add(1), &serde_json::json!({"r": SMP_ECHO}));
        assert_eq!(probe.parse(&stale), None);
        assert_eq!(probe.parse(b"\x01garbage"), None);
    }

    #[test]
    fn snmp_request_is_the_textbook_encoding() {
        let req = snmp_get_request(&[0, 0, 0, 1]);
        assert_eq!(
            req.len(),
            43,
            "an SNMPv1 sysDescr.0 get with community public is 43 bytes"
        );
        assert_eq!(
            &req[..7],
            &[0x30, 41, 0x02, 1, 0, 0x04, 6],
            "SEQUENCE, version 0, community"
        );
    }

    #[test]
    fn snmp_reply_needs_our_request_id() {
        let id = [0, 0, 0x12, 0x34];
        let varbind = tlv(
            0x30,
            &[tlv(0x06, &SYS_DESCR_OID), tlv(0x04, b"Linux cam")].concat(),
        );
        let pdu = [
            tlv(0x02, &[0x12, 0x34]),
            tlv(0x02, &[0]),
            tlv(0x02, &[0]),
            tlv(0x30, &varbind),
        ]
        .concat();
        let reply = tlv(
            0x30,
            &[tlv(0x02, &[0]), tlv(0x04, b"public"), tlv(0xa2, &pdu)].concat(),
        );
        let detail = parse_snmp(&reply, &id).expect("a GetResponse with our id is SNMP");
        assert!(detail.contains("Linux cam"), "{detail}");
        assert!(
            parse_snmp(&reply, &[0, 0, 0, 9]).is_none(),
            "another request id is not our answer"
        );
    }

    #[test]
    fn coap_ack_and_tftp_error_parse() {
        let ack = [0x62, 0x45, 0x12, 0x34, 0xaa, 0xbb];
        assert_eq!(
            parse_coap(&ack, 0x1234, [0xaa, 0xbb]).as_deref(),
            Some("ACK 2.05")
        );
        assert!(
            parse_coap(&ack, 0x9999, [0xaa, 0xbb]).is_none(),
            "a foreign message id is ignored"
        );
        let err = [0, 5, 0, 1, b'n', b'o', 0];
        assert_eq!(parse_tftp(&err).as_deref(), Some("ERROR 1 \"no\""));
        assert!(parse_tftp(b"HTTP/1.1 200 OK").is_none());
    }
}
