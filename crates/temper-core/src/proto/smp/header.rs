//! The 8-byte SMP header and the errors of the SMP layer.
//!
//! Layout (big-endian, Zephyr `struct smp_hdr`, Python smp `!BBHHBB`):
//! byte 0 = `op` (bits 0-2) | `version` (bits 3-4) | reserved (bits 5-7); byte 1 flags; bytes 2-3 CBOR payload
//! length (header not counted); bytes 4-5 group; byte 6 sequence number; byte 7 command id.

use thiserror::Error;

use super::codes::{group_name, group_rc_name};

/// Length of the SMP header in bytes.
pub const HEADER_LEN: usize = 8;

/// `MGMT_ERR_UNSUPPORTED_TOO_NEW`: the device does not speak the requested SMP version.
pub const RC_TOO_NEW: u64 = 13;

/// SMP protocol version, bits 3-4 of byte 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmpVersion {
    /// Original protocol (version field 0): group errors come back as a bare `{"rc": N}`.
    V1,
    /// SMP version 2 (version field 1): group errors come back as `{"err": {"group", "rc"}}`.
    V2,
}

impl SmpVersion {
    fn bits(self) -> u8 {
        match self {
            SmpVersion::V1 => 0,
            SmpVersion::V2 => 1,
        }
    }
}

/// SMP operation, bits 0-2 of byte 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Read request (0).
    Read = 0,
    /// Reply to a read (1).
    ReadRsp = 1,
    /// Write request (2).
    Write = 2,
    /// Reply to a write (3).
    WriteRsp = 3,
}

impl Op {
    /// The op a device answers this request op with (itself for a response op).
    pub fn response(self) -> Op {
        match self {
            Op::Read | Op::ReadRsp => Op::ReadRsp,
            Op::Write | Op::WriteRsp => Op::WriteRsp,
        }
    }

    fn from_bits(bits: u8) -> Option<Op> {
        match bits {
            0 => Some(Op::Read),
            1 => Some(Op::ReadRsp),
            2 => Some(Op::Write),
            3 => Some(Op::WriteRsp),
            _ => None,
        }
    }
}

/// Everything that can go wrong encoding or decoding an SMP packet.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SmpError {
    /// Fewer than 8 bytes: no complete header.
    #[error("SMP packet shorter than its 8-byte header")]
    Short,
    /// The op field is not 0-3, or is not the response op the request expects.
    #[error("unexpected or unknown SMP op")]
    BadOp,
    /// The version field is 2 or 3, which no SMP revision defines.
    #[error("unknown SMP version field {0}")]
    BadVersion(u8),
    /// The header's `len` is not the number of payload bytes that followed it.
    #[error("SMP header length does not match the payload length")]
    LengthMismatch,
    /// The reply carries another request's sequence number.
    #[error("SMP reply sequence {got}, expected {expected}")]
    UnexpectedSeq {
        /// Sequence number of the request.
        expected: u8,
        /// Sequence number in the reply.
        got: u8,
    },
    /// The reply is for another group or command than the request.
    #[error("SMP reply for group {group} command {id}, not the one requested")]
    WrongCommand {
        /// Group in the reply.
        group: u16,
        /// Command id in the reply.
        id: u8,
    },
    /// The payload is not the CBOR the command expects.
    #[error("bad SMP CBOR payload: {0}")]
    Cbor(String),
    /// SMP-level error `{"rc": N}` (any version; group errors of v1 requests also arrive this way).
    #[error("device returned SMP rc {rc} ({name})")]
    DeviceRc {
        /// MGMT_ERR code.
        rc: u64,
        /// Zephyr's name for the code.
        name: &'static str,
    },
    /// SMP v2 group error `{"err": {"group": G, "rc": N}}`, shown with the group's and the code's names
    /// ("device returned settings error 3 (KEY_NOT_FOUND)"); see [`SmpError::group_rc_name`].
    #[error("device returned {} error {rc} ({})", group_name(*group), group_rc_name(*group, *rc))]
    GroupRc {
        /// Management group that failed.
        group: u64,
        /// Group-specific error code (e.g. IMG_MGMT_ERR for group 1).
        rc: u64,
    },
    /// rc 13 (UNSUPPORTED_TOO_NEW): the device does not speak SMP v2; retry in v1.
    #[error("device does not support SMP v2 (rc 13): retry with SMP v1")]
    TooNew,
}

impl SmpError {
    /// For a group error, the group's name and Zephyr's name for its code (`("settings", "KEY_NOT_FOUND")`).
    pub fn group_rc_name(&self) -> Option<(&'static str, &'static str)> {
        match self {
            SmpError::GroupRc { group, rc } => {
                Some((group_name(*group), group_rc_name(*group, *rc)))
            }
            _ => None,
        }
    }

    /// True when the device does not support the command (rc 8, ENOTSUP): the firmware lacks that group or
    /// command.
    pub fn is_not_supported(&self) -> bool {
        matches!(self, SmpError::DeviceRc { rc: 8, .. })
    }
}

/// Zephyr's name for an MGMT_ERR (SMP-level `rc`) code.
pub fn mgmt_err_name(rc: u64) -> &'static str {
    match rc {
        0 => "EOK",
        1 => "EUNKNOWN",
        2 => "ENOMEM",
        3 => "EINVAL",
        4 => "ETIMEOUT",
        5 => "ENOENT",
        6 => "EBADSTATE",
        7 => "EMSGSIZE",
        8 => "ENOTSUP",
        9 => "ECORRUPT",
        10 => "EBUSY",
        11 => "EACCESSDENIED",
        12 => "UNSUPPORTED_TOO_OLD",
        13 => "UNSUPPORTED_TOO_NEW",
        256.. => "EPERUSER",
        _ => "unknown",
    }
}

/// The 8-byte header in front of every SMP request and reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Protocol version.
    pub version: SmpVersion,
    /// Operation.
    pub op: Op,
    /// Flags byte (0 in every current use).
    pub flags: u8,
    /// Length of the CBOR payload that follows, header not counted.
    pub len: u16,
    /// Management group (0 OS, 1 image, ...).
    pub group: u16,
    /// Sequence number, echoed by the device.
    pub seq: u8,
    /// Command id within the group.
    pub id: u8,
}

impl Header {
    /// The header as sent on the wire.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let len = self.len.to_be_bytes();
        let group = self.group.to_be_bytes();
        [
            (self.version.bits() << 3) | self.op as u8,
            self.flags,
            len[0],
            len[1],
            group[0],
            group[1],
            self.seq,
            self.id,
        ]
    }

    /// Reads the header from the first 8 bytes of `bytes` (anything after is the payload and is not looked at).
    /// The reserved bits 5-7 are ignored, as Zephyr does.
    pub fn parse(bytes: &[u8]) -> Result<Header, SmpError> {
        let b: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(SmpError::Short)?;
        let op = Op::from_bits(b[0] & 0x07).ok_or(SmpError::BadOp)?;
        let version = match (b[0] >> 3) & 0x03 {
            0 => SmpVersion::V1,
            1 => SmpVersion::V2,
            other => return Err(SmpError::BadVersion(other)),
        };
        Ok(Header {
            version,
            op,
            flags: b[1],
            len: u16::from_be_bytes([b[2], b[3]]),
            group: u16::from_be_bytes([b[4], b[5]]),
            seq: b[6],
            id: b[7],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(version: SmpVersion, op: Op) -> Header {
        Header {
            version,
            op,
            flags: 0,
            len: 0x0102,
            group: 0x0304,
            seq: 0xfe,
            id: 7,
        }
    }

    #[test]
    fn smp_header_round_trips_every_version_and_op() {
        for version in [SmpVersion::V1, SmpVersion::V2] {
            for op in [Op::Read, Op::ReadRsp, Op::Write, Op::WriteRsp] {
                let h = sample(version, op);
                assert_eq!(Header::parse(&h.to_bytes()), Ok(h));
            }
        }
    }

    #[test]
    fn smp_header_known_bytes() {
        // v1 echo write, payload {"d": "hi"} (6 bytes), seq 1.
        let echo_v1 = Header {
            version: SmpVersion::V1,
            op: Op::Write,
            flags: 0,
            len: 6,
            group: 0,
            seq: 1,
            id: 0,
        };
        assert_eq!(echo_v1.to_bytes(), [0x02, 0, 0, 6, 0, 0, 1, 0]);
        // Test vectors of the notes: v2 write is 0x0a, v2 read 0x08.
        let echo_v2 = Header {
            version: SmpVersion::V2,
            ..echo_v1
        };
        assert_eq!(echo_v2.to_bytes(), [0x0a, 0, 0, 6, 0, 0, 1, 0]);
        let params = Header {
            version: SmpVersion::V2,
            op: Op::Read,
            flags: 0,
            len: 1,
            group: 0,
            seq: 2,
            id: 6,
        };
        assert_eq!(params.to_bytes(), [0x08, 0, 0, 1, 0, 0, 2, 6]);
        // Big-endian len and group.
        let h = sample(SmpVersion::V2, Op::WriteRsp);
        assert_eq!(h.to_bytes(), [0x0b, 0, 0x01, 0x02, 0x03, 0x04, 0xfe, 7]);
    }

    #[test]
    fn smp_header_parse_errors() {
        assert_eq!(Header::parse(&[]), Err(SmpError::Short));
        assert_eq!(
            Header::parse(&[0x08, 0, 0, 1, 0, 0, 2]),
            Err(SmpError::Short)
        );
        assert_eq!(
            Header::parse(&[0x04, 0, 0, 0, 0, 0, 0, 0]),
            Err(SmpError::BadOp)
        );
        assert_eq!(
            Header::parse(&[0x07, 0, 0, 0, 0, 0, 0, 0]),
            Err(SmpError::BadOp)
        );
        assert_eq!(
            Header::parse(&[0x10, 0, 0, 0, 0, 0, 0, 0]),
            Err(SmpError::BadVersion(2))
        );
        assert_eq!(
            Header::parse(&[0x18, 0, 0, 0, 0, 0, 0, 0]),
            Err(SmpError::BadVersion(3))
        );
        // Reserved bits are ignored; trailing payload bytes are not the header's business.
        let h = Header::parse(&[0xe9, 0, 0, 0, 0, 1, 9, 0, 0xa0]).unwrap();
        assert_eq!(
            (h.version, h.op, h.group, h.seq),
            (SmpVersion::V2, Op::ReadRsp, 1, 9)
        );
    }

    #[test]
    fn smp_mgmt_err_names() {
        assert_eq!(mgmt_err_name(8), "ENOTSUP");
        assert_eq!(mgmt_err_name(13), "UNSUPPORTED_TOO_NEW");
        assert_eq!(mgmt_err_name(300), "EPERUSER");
        assert_eq!(mgmt_err_name(99), "unknown");
    }
}
