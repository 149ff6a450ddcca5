//! Old-protocol probe: does the device still accept a client that offers only TLS 1.0 or TLS 1.1?
//!
//! rustls cannot speak either version, so the probe writes one ClientHello by hand and reads only as
//! far as the device's first answer; no handshake is completed and no application data is sent.
//!
//! The ClientHello, per RFC 2246 (TLS 1.0) and RFC 4346 (TLS 1.1), which share these formats:
//!
//! ```text
//! TLSPlaintext (RFC 2246 6.2.1)   type u8 = 22 (handshake) | version u16 = 0x0301 | length u16 | fragment
//! Handshake    (RFC 2246 7.4)     msg_type u8 = 1 (client_hello) | length u24 | body
//! ClientHello  (RFC 2246 7.4.1.2) client_version u16 (0x0301 = TLS 1.0, 0x0302 = TLS 1.1)
//!                                 random [32] (gmt_unix_time u32 + 28 random bytes)
//!                                 session_id <0..32> (u8 length; empty here)
//!                                 cipher_suites <2..2^16-2> (u16 length, u16 each)
//!                                 compression_methods <1..2^8-1> (u8 length; only 0 = null)
//!                                 extensions <0..2^16-1> (u16 length; RFC 4366 allows them in TLS 1.0)
//! Extension    (RFC 4366 2.3)     extension_type u16 | extension_data <0..2^16-1>
//! ```
//!
//! Extensions sent: `supported_groups` (10, RFC 4492 5.1.1: x25519, secp256r1, secp384r1) and
//! `ec_point_formats` (11, RFC 4492 5.1.2: uncompressed), so a server can pick an ECDHE suite. The
//! cipher list holds the suites old devices commonly offer, plus the renegotiation SCSV (RFC 5746 3.3).
//! The record layer says 0x0301 for both probes, as clients do for compatibility (RFC 5246 E.1).
//!
//! The answer: a handshake record whose first message is a ServerHello (type 2) carries the chosen
//! `server_version` right after its 4-byte header; an alert record (type 21) is a refusal, as is a
//! closed connection. A modern server refuses with alert `protocol_version` (70).

use std::net::SocketAddr;
use std::time::Duration;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{shown, CheckError};

/// TLS 1.0 on the wire.
pub const TLS10: u16 = 0x0301;
/// TLS 1.1 on the wire.
pub const TLS11: u16 = 0x0302;
/// Time allowed for the connect and for the device's first answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The suites offered: ECDHE/DHE/RSA with AES-CBC, 3DES and RC4 (RFC 4492, RFC 3268, RFC 2246),
/// then TLS_EMPTY_RENEGOTIATION_INFO_SCSV.
const OLD_SUITES: [u16; 12] = [
    0xC013, 0xC014, 0xC009, 0xC00A, 0x0033, 0x0039, 0x002F, 0x0035, 0x000A, 0x0005, 0x0004, 0x00FF,
];
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const SERVER_HELLO: u8 = 2;
/// Largest record fragment a TLS 1.0/1.1 peer may send (2^14 plus compression and MAC expansion).
const MAX_FRAGMENT: usize = 16_384 + 2048;
/// The most bytes read while looking for the answer.
const MAX_READ: usize = 32 * 1024;

/// The device's first answer to an old-protocol ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OldAnswer {
    /// A ServerHello: the device goes on with `version` (0x0301 = TLS 1.0) and `cipher_suite`.
    ServerHello {
        /// The chosen protocol version.
        version: u16,
        /// The chosen cipher suite.
        cipher_suite: u16,
    },
    /// An alert: the device refused (70 = protocol_version, 40 = handshake_failure).
    Alert {
        /// 1 = warning, 2 = fatal.
        level: u8,
        /// The alert description.
        description: u8,
    },
    /// The device closed or reset the connection without answering.
    Closed,
}

impl OldAnswer {
    /// True when the device went on with `offered` or an even older version.
    pub fn accepts(&self, offered: u16) -> bool {
        matches!(self, OldAnswer::ServerHello { version, .. } if *version <= offered)
    }

    /// The answer in words.
    pub fn describe(&self) -> String {
        match self {
            OldAnswer::ServerHello {
                version,
                cipher_suite,
            } => format!(
                "ServerHello {} with cipher suite 0x{cipher_suite:04X}",
                version_name(*version)
            ),
            OldAnswer::Alert { level, description } => {
                let level = if *level == 2 { "fatal" } else { "warning" };
                let what = match description {
                    70 => " (protocol_version)",
                    40 => " (handshake_failure)",
                    47 => " (illegal_parameter)",
                    80 => " (internal_error)",
                    _ => "",
                };
                format!("{level} alert {description}{what}")
            }
            OldAnswer::Closed => "connection closed without an answer".to_string(),
        }
    }
}

/// What the device answered to a client offering only TLS 1.0, and to one offering only TLS 1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldTls {
    /// The device answered the TLS 1.0 ClientHello with a TLS 1.0 ServerHello.
    pub accepted_tls10: bool,
    /// The device answered the TLS 1.1 ClientHello with a TLS 1.1 ServerHello.
    pub accepted_tls11: bool,
    /// The answer to the TLS 1.0 ClientHello.
    pub tls10: OldAnswer,
    /// The answer to the TLS 1.1 ClientHello.
    pub tls11: OldAnswer,
}

impl OldTls {
    /// True when both clients were refused: no ServerHello of the offered or any older version (a
    /// TLS 1.1 client answered in TLS 1.0 was not refused either).
    pub fn refused_all(&self) -> bool {
        !self.tls10.accepts(TLS10) && !self.tls11.accepts(TLS11)
    }

    /// One line for a [`super::CheckRecord`] detail.
    pub fn summary(&self) -> String {
        format!(
            "TLS 1.0 client: {}; TLS 1.1 client: {}",
            self.tls10.describe(),
            self.tls11.describe()
        )
    }
}

/// Offers `addr` a TLS 1.0 ClientHello, then (on a new connection) a TLS 1.1 one, and reports whether
/// each was accepted. A device that is unreachable, silent, or answers something that is not TLS is
/// an error: the probe could not decide.
pub async fn old_protocol_probe(addr: SocketAddr) -> Result<OldTls, CheckError> {
    let tls10 = probe_one(addr, TLS10).await?;
    let tls11 = probe_one(addr, TLS11).await?;
    Ok(OldTls {
        accepted_tls10: matches!(tls10, OldAnswer::ServerHello { version, .. } if version == TLS10),
        accepted_tls11: matches!(tls11, OldAnswer::ServerHello { version, .. } if version == TLS11),
        tls10,
        tls11,
    })
}

async fn probe_one(addr: SocketAddr, version: u16) -> Result<OldAnswer, CheckError> {
    let waited_ms = u64::try_from(PROBE_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
    let timeout = |expected: &str| CheckError::Timeout {
        addr,
        expected: expected.to_string(),
        waited_ms,
    };
    let mut stream = super::connect_tcp(addr, PROBE_TIMEOUT).await?;
    let mut random = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let unix = u32::try_from(super::unix_now()).unwrap_or(u32::MAX);
    random[..4].copy_from_slice(&unix.to_be_bytes());
    let hello = client_hello(version, &random);
    let read = async {
        if stream.write_all(&hello).await.is_err() {
            return Ok(OldAnswer::Closed);
        }
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return Ok(OldAnswer::Closed),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            match parse_answer(&buf) {
                Parsed::Answer(answer) => return Ok(answer),
                Parsed::NotTls(got) => {
                    return Err(CheckError::Protocol {
                        addr,
                        expected: "a TLS ServerHello or alert".into(),
                        got,
                    })
                }
                Parsed::NeedMore if buf.len() < MAX_READ => {}
                Parsed::NeedMore => {
                    return Err(CheckError::Protocol {
                        addr,
                        expected: "a ServerHello within 32 KiB".into(),
                        got: format!("{} bytes of handshake without one", buf.len()),
                    })
                }
            }
        }
    };
    let version_name = version_name(version);
    tokio::time::timeout(PROBE_TIMEOUT, read)
        .await
        .map_err(|_| timeout(&format!("answer to a {version_name} ClientHello")))?
}

/// The TLS record carrying a ClientHello for `version` (see the module docs for the layout).
pub fn client_hello(version: u16, random: &[u8; 32]) -> Vec<u8> {
    let mut extensions = Vec::new();
    // supported_groups: u16 list length, then x25519 (29), secp256r1 (23), secp384r1 (24).
    push_extension(&mut extensions, 10, &[0, 6, 0, 29, 0, 23, 0, 24]);
    // ec_point_formats: u8 list length, then uncompressed (0).
    push_extension(&mut extensions, 11, &[1, 0]);

    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(random);
    body.push(0); // empty session_id
    push_u16(&mut body, OLD_SUITES.len() * 2);
    for suite in OLD_SUITES {
        body.extend_from_slice(&suite.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // one compression method: null
    push_u16(&mut body, extensions.len());
    body.extend_from_slice(&extensions);

    let mut handshake = vec![1]; // client_hello
    handshake.extend_from_slice(&u32_to_u24(body.len()));
    handshake.extend_from_slice(&body);

    let mut record = vec![CONTENT_HANDSHAKE];
    record.extend_from_slice(&TLS10.to_be_bytes());
    push_u16(&mut record, handshake.len());
    record.extend_from_slice(&handshake);
    record
}

fn push_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    push_u16(out, data.len());
    out.extend_from_slice(data);
}

/// Appends a length that is known to fit in 16 bits (every length here is a few hundred bytes).
fn push_u16(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
}

fn u32_to_u24(len: usize) -> [u8; 3] {
    let len = u32::try_from(len).unwrap_or(u32::MAX).min(0x00FF_FFFF);
    let b = len.to_be_bytes();
    [b[1], b[2], b[3]]
}

fn version_name(version: u16) -> String {
    match version {
        0x0300 => "SSL 3.0".to_string(),
        0x0301..=0x0304 => format!("TLS 1.{}", version - 0x0301),
        other => format!("version 0x{other:04X}"),
    }
}

/// How far the bytes read so far go.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// The first answer is complete.
    Answer(OldAnswer),
    /// More bytes are needed.
    NeedMore,
    /// The bytes are not a TLS answer (shown, truncated).
    NotTls(String),
}

/// Reads the first answer from the records in `buf`: an alert, or the version and cipher suite of a
/// ServerHello (which may span several handshake records).
pub(crate) fn parse_answer(buf: &[u8]) -> Parsed {
    let mut handshake = Vec::new();
    let mut rest = buf;
    while rest.len() >= 5 {
        let (kind, major, len) = (
            rest[0],
            rest[1],
            usize::from(u16::from_be_bytes([rest[3], rest[4]])),
        );
        if major != 3 || !(20..=24).contains(&kind) || len > MAX_FRAGMENT {
            return Parsed::NotTls(shown(buf, 40));
        }
        let Some(fragment) = rest.get(5..5 + len) else {
            break;
        };
        match kind {
            CONTENT_ALERT if fragment.len() >= 2 && handshake.is_empty() => {
                return Parsed::Answer(OldAnswer::Alert {
                    level: fragment[0],
                    description: fragment[1],
                })
            }
            CONTENT_HANDSHAKE => handshake.extend_from_slice(fragment),
            _ => return Parsed::NotTls(format!("TLS record type {kind} before a ServerHello")),
        }
        if let Some(answer) = server_hello(&handshake) {
            return answer;
        }
        rest = &rest[5 + len..];
    }
    if let Some(answer) = server_hello(&handshake) {
        return answer;
    }
    Parsed::NeedMore
}

/// The ServerHello's version and suite once enough handshake bytes are in: type u8, length u24,
/// server_version u16, random [32], session_id (u8 length), cipher_suite u16 (RFC 2246 7.4.1.3).
fn server_hello(handshake: &[u8]) -> Option<Parsed> {
    let kind = *handshake.first()?;
    if kind != SERVER_HELLO {
        return Some(Parsed::NotTls(format!(
            "handshake message type {kind} instead of ServerHello"
        )));
    }
    let version = u16::from_be_bytes([*handshake.get(4)?, *handshake.get(5)?]);
    let sid = usize::from(*handshake.get(38)?);
    let at = 39 + sid;
    let cipher_suite = u16::from_be_bytes([*handshake.get(at)?, *handshake.get(at + 1)?]);
    Some(Parsed::Answer(OldAnswer::ServerHello {
        version,
        cipher_suite,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards: the ClientHello's length fields agree with its bytes and the offered version is placed
    /// where RFC 2246 puts it.
    #[test]
    fn client_hello_lengths_and_versions_are_consistent() {
        let random = [7u8; 32];
        for version in [TLS10, TLS11] {
            let rec = client_hello(version, &random);
            assert_eq!(rec[0], 22);
            assert_eq!(u16::from_be_bytes([rec[1], rec[2]]), TLS10);
            let rec_len = usize::from(u16::from_be_bytes([rec[3], rec[4]]));
            assert_eq!(rec_len, rec.len() - 5);
            assert_eq!(rec[5], 1);
            let hs_len = usize::from(rec[6]) << 16 | usize::from(rec[7]) << 8 | usize::from(rec[8]);
            assert_eq!(hs_len, rec.len() - 9);
            assert_eq!(u16::from_be_bytes([rec[9], rec[10]]), version);
            assert_eq!(&rec[11..43], &random);
            assert_eq!(rec[43], 0);
            let suites = usize::from(u16::from_be_bytes([rec[44], rec[45]]));
            assert_eq!(suites, OLD_SUITES.len() * 2);
            let ext_at = 46 + suites + 2;
            assert_eq!(&rec[46 + suites..ext_at], &[1, 0]);
            let ext_len = usize::from(u16::from_be_bytes([rec[ext_at], rec[ext_at + 1]]));
            assert_eq!(ext_at + 2 + ext_len, rec.len());
        }
    }

    /// Guards: answers are read across record boundaries, and garbage is not mistaken for TLS.
    #[test]
    fn answers_are_parsed_from_records() {
        let alert = [21, 3, 3, 0, 2, 2, 70];
        assert_eq!(
            parse_answer(&alert),
            Parsed::Answer(OldAnswer::Alert {
                level: 2,
                description: 70
            })
        );
        assert_eq!(parse_answer(&alert[..6]), Parsed::NeedMore);
        let mut hello = vec![2, 0, 0, 42, 3, 1];
        hello.extend_from_slice(&[9; 32]);
        hello.extend_from_slice(&[0, 0xC0, 0x14, 0]);
        let mut split = vec![22, 3, 1, 0, 20];
        split.extend_from_slice(&hello[..20]);
        split.extend_from_slice(&[22, 3, 1, 0, u8::try_from(hello.len() - 20).unwrap()]);
        split.extend_from_slice(&hello[20..]);
        let want = OldAnswer::ServerHello {
            version: TLS10,
            cipher_suite: 0xC014,
        };
        assert_eq!(parse_answer(&split), Parsed::Answer(want));
        assert!(want.accepts(TLS10) && want.accepts(TLS11) && !want.accepts(0x0300));
        assert_eq!(parse_answer(&split[..30]), Parsed::NeedMore);
        assert!(matches!(
            parse_answer(b"HTTP/1.1 400 Bad"),
            Parsed::NotTls(_)
        ));
    }
}
