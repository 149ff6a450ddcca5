//! SMP commands as types (probe-rs style): each implements [`Request`] with its group, id and op, and names
//! its reply type. [`encode_request`] puts header and CBOR payload together; [`decode_response`] checks a
//! reply's header against the request and turns the device's error bodies into [`SmpError`]s. Sans-I/O:
//! bytes in, bytes out.
//!
//! One file per management group: [`os`], [`image`], [`settings`], [`shell`], [`enumeration`]. Every type is
//! re-exported here. Requests and replies are `Serialize + Deserialize` both ways, so a device simulator
//! decodes requests and encodes replies with the same types. Key names and types follow Zephyr's server
//! (`subsys/mgmt/mcumgr/grp/*`) and the Python `smp` package's models.
//!
//! Decoding is lenient about keys it does not know (a newer Zephyr may add some), strict about the types
//! of the keys it reads, and refuses CBOR nested deeper than [`MAX_CBOR_DEPTH`] (no SMP reply comes close),
//! so a hostile reply cannot exhaust the stack.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::header::{mgmt_err_name, Header, Op, SmpError, SmpVersion, HEADER_LEN, RC_TOO_NEW};

pub mod enumeration;
pub mod image;
pub mod os;
pub mod settings;
pub mod shell;

pub use enumeration::*;
pub use image::*;
pub use os::*;
pub use settings::*;
pub use shell::*;

/// OS management group.
pub const GROUP_OS: u16 = 0;
/// Image management group.
pub const GROUP_IMAGE: u16 = 1;
/// Statistics management group.
pub const GROUP_STAT: u16 = 2;
/// Settings management group (Zephyr's `settings_mgmt`; "config" in older MCUmgr).
pub const GROUP_SETTINGS: u16 = 3;
/// Log management group.
pub const GROUP_LOG: u16 = 4;
/// File system management group.
pub const GROUP_FS: u16 = 8;
/// Shell management group.
pub const GROUP_SHELL: u16 = 9;
/// Enumeration management group.
pub const GROUP_ENUM: u16 = 10;
/// Zephyr basic management group.
pub const GROUP_ZEPHYR_BASIC: u16 = 63;

/// Deepest CBOR nesting a reply may have. The deepest SMP reply (image state: map, array, map, value) has 4
/// levels; ciborium's own default (256) can exhaust a small stack on hostile input.
pub const MAX_CBOR_DEPTH: usize = 16;

/// One SMP command: where it goes, how its request is encoded and how its reply is read.
pub trait Request: Serialize {
    /// Management group.
    const GROUP: u16;
    /// Command id within the group.
    const ID: u8;
    /// Request op ([`Op::Read`] or [`Op::Write`]).
    const OP: Op;
    /// The successful reply.
    type Response: DeserializeOwned;

    /// The CBOR payload of the request (one map).
    fn payload(&self) -> Vec<u8> {
        to_cbor(self)
    }

    /// Reads a successful reply's CBOR payload (errors are mapped by [`decode_response`] first).
    fn parse(payload: &[u8]) -> Result<Self::Response, SmpError> {
        from_cbor(payload)
    }

    /// How long this command may take on the device before its reply is given up: `None` for the client's
    /// default (a few seconds). Commands that erase flash or run arbitrary shell commands say more.
    fn timeout(&self) -> Option<Duration> {
        None
    }
}

/// A whole request packet: header + CBOR payload.
///
/// # Panics
/// If the payload is longer than 65535 bytes, which the 16-bit `len` cannot carry (callers size upload chunks
/// from the device's `buf_size`, far below that).
pub fn encode_request<R: Request>(req: &R, version: SmpVersion, seq: u8) -> Vec<u8> {
    let payload = req.payload();
    let header = Header {
        version,
        op: R::OP,
        flags: 0,
        len: u16::try_from(payload.len()).expect("SMP payload longer than 65535 bytes"),
        group: R::GROUP,
        seq,
        id: R::ID,
    };
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Whether `header` is a reply to request `R` sent with sequence number `seq` (op, group, id and seq agree).
pub fn answers<R: Request>(header: &Header, seq: u8) -> bool {
    header.seq == seq
        && header.op == R::OP.response()
        && header.group == R::GROUP
        && header.id == R::ID
}

/// Reads one reply packet to request `R` sent with sequence number `expected_seq`.
///
/// Checks, in order: a full header; `len` equal to the payload length; the sequence number; the response op
/// for `R::OP`; `R::GROUP` and `R::ID`. Then error bodies: `{"rc": N}` with N ≠ 0 gives
/// [`SmpError::DeviceRc`] (v1 group errors and SMP-level errors), except rc 13, which only a request newer
/// than the device's SMP can get, and gives [`SmpError::TooNew`]; `{"err": {"group": G, "rc": N}}` with
/// N ≠ 0 gives [`SmpError::GroupRc`] (v2). `"rc": 0` (Zephyr's legacy rc behaviour) is a success.
pub fn decode_response<R: Request>(
    bytes: &[u8],
    expected_seq: u8,
) -> Result<R::Response, SmpError> {
    let header = Header::parse(bytes)?;
    let payload = &bytes[HEADER_LEN..];
    if usize::from(header.len) != payload.len() {
        return Err(SmpError::LengthMismatch);
    }
    if header.seq != expected_seq {
        return Err(SmpError::UnexpectedSeq {
            expected: expected_seq,
            got: header.seq,
        });
    }
    if header.op != R::OP.response() {
        return Err(SmpError::BadOp);
    }
    if header.group != R::GROUP || header.id != R::ID {
        return Err(SmpError::WrongCommand {
            group: header.group,
            id: header.id,
        });
    }
    check_error_body(payload)?;
    R::parse(payload)
}

/// Maps the `rc` / `err` keys of a reply payload to errors; `Ok` when there are none (or they say 0).
fn check_error_body(payload: &[u8]) -> Result<(), SmpError> {
    #[derive(Deserialize)]
    struct Body {
        rc: Option<u64>,
        err: Option<GroupErr>,
    }
    #[derive(Deserialize)]
    struct GroupErr {
        group: u64,
        rc: u64,
    }
    let body: Body = from_cbor(payload)?;
    match (body.rc, body.err) {
        (Some(RC_TOO_NEW), _) => Err(SmpError::TooNew),
        (Some(rc), _) if rc != 0 => Err(SmpError::DeviceRc {
            rc,
            name: mgmt_err_name(rc),
        }),
        (_, Some(GroupErr { group, rc })) if rc != 0 => Err(SmpError::GroupRc { group, rc }),
        _ => Ok(()),
    }
}

/// The CBOR encoding of `value` (for payloads built outside a [`Request`], e.g. a simulator's replies).
pub fn to_cbor<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec has no I/O error, and these types hold nothing CBOR cannot express.
    ciborium::into_writer(value, &mut out).expect("CBOR encoding into a Vec");
    out
}

/// Decodes exactly one CBOR item filling all of `payload`, nested at most [`MAX_CBOR_DEPTH`] deep.
pub fn from_cbor<T: DeserializeOwned>(payload: &[u8]) -> Result<T, SmpError> {
    let mut rest = payload;
    let value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_CBOR_DEPTH)
        .map_err(|e| SmpError::Cbor(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SmpError::Cbor(format!(
            "{} bytes after the CBOR item",
            rest.len()
        )));
    }
    Ok(value)
}

/// A reply with no data (`{}`); keys a device adds anyway are ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyResponse {}

/// serde helpers for CBOR byte strings (`bstr`, major type 2), not arrays of integers.
pub(crate) mod bstr {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl Visitor<'_> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a CBOR byte string")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(Bytes)
    }

    /// For `Option<Vec<u8>>` fields with `default` and `skip_serializing_if = "Option::is_none"`.
    pub mod opt {
        use serde::{Deserializer, Serializer};

        pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
            match bytes {
                Some(b) => s.serialize_bytes(b),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
            super::deserialize(d).map(Some)
        }
    }

    /// For secret values held in `Zeroizing<Vec<u8>>` (wiped when dropped).
    pub mod secret {
        use serde::{Deserializer, Serializer};
        use zeroize::Zeroizing;

        pub fn serialize<S: Serializer>(
            bytes: &Zeroizing<Vec<u8>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(bytes)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Zeroizing<Vec<u8>>, D::Error> {
            super::deserialize(d).map(Zeroizing::new)
        }
    }
}

/// serde helper for a flag Zephyr decodes as a CBOR bool but the Python `smp` package sends as 0/1:
/// written as a bool, read from either.
pub(crate) mod flag {
    use serde::de::{Error, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(b) => s.serialize_bool(*b),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        struct Flag;
        impl Visitor<'_> for Flag {
            type Value = Option<bool>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a bool or 0/1")
            }
            fn visit_bool<E: Error>(self, v: bool) -> Result<Option<bool>, E> {
                Ok(Some(v))
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<Option<bool>, E> {
                match v {
                    0 => Ok(Some(false)),
                    1 => Ok(Some(true)),
                    _ => Err(E::custom("a flag must be 0 or 1")),
                }
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<Option<bool>, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("a flag must be 0 or 1"))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        d.deserialize_any(Flag)
    }
}

#[cfg(test)]
mod tests;
