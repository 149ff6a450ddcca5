//! SMP commands as types (probe-rs style): each implements [`Request`] with its group, id and op, and names
//! its reply type. [`encode_request`] puts header and CBOR payload together; [`decode_response`] checks a
//! reply's header against the request and turns the device's error bodies into [`SmpError`]s. Sans-I/O:
//! bytes in, bytes out.
//!
//! Decoding is lenient about keys it does not know (a newer Zephyr may add some), strict about the types
//! of the keys it reads.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::header::{mgmt_err_name, Header, Op, SmpError, SmpVersion, HEADER_LEN, RC_TOO_NEW};

/// OS management group.
pub const GROUP_OS: u16 = 0;
/// Image management group.
pub const GROUP_IMAGE: u16 = 1;

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

fn to_cbor<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec has no I/O error, and these types hold nothing CBOR cannot express.
    ciborium::into_writer(value, &mut out).expect("CBOR encoding into a Vec");
    out
}

/// Decodes exactly one CBOR item filling all of `payload`.
fn from_cbor<T: DeserializeOwned>(payload: &[u8]) -> Result<T, SmpError> {
    let mut rest = payload;
    let value = ciborium::from_reader(&mut rest).map_err(|e| SmpError::Cbor(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SmpError::Cbor(format!(
            "{} bytes after the CBOR item",
            rest.len()
        )));
    }
    Ok(value)
}

/// serde helpers for CBOR byte strings (`bstr`, major type 2), not arrays of integers.
mod bstr {
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
}

// ---- OS group ----

/// OS echo (group 0, id 0, write): `{"d": text}` → `{"r": text}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo {
    /// Text to echo.
    #[serde(rename = "d")]
    pub text: String,
}

/// Reply to [`Echo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoResponse {
    /// The echoed text.
    #[serde(rename = "r")]
    pub text: String,
}

impl Request for Echo {
    const GROUP: u16 = GROUP_OS;
    const ID: u8 = 0;
    const OP: Op = Op::Write;
    type Response = EchoResponse;
}

/// OS MCUmgr parameters (group 0, id 6, read): `{}` → `{"buf_size", "buf_count"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct McumgrParams {}

/// Reply to [`McumgrParams`]: the device's SMP receive buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct McumgrParamsResponse {
    /// Size of one buffer (`CONFIG_MCUMGR_TRANSPORT_NETBUF_SIZE`): the largest request the device takes.
    pub buf_size: u32,
    /// Number of buffers (`CONFIG_MCUMGR_TRANSPORT_NETBUF_COUNT`).
    pub buf_count: u32,
}

impl Request for McumgrParams {
    const GROUP: u16 = GROUP_OS;
    const ID: u8 = 6;
    const OP: Op = Op::Read;
    type Response = McumgrParamsResponse;
}

// ---- Image group ----

/// Image state read (group 1, id 0, read): `{}` → `{"images": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageStateRead {}

/// Reply to [`ImageStateRead`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageState {
    /// Slots holding a valid image (empty slots are left out by the device).
    pub images: Vec<ImageSlot>,
    /// `splitStatus` (absent under `CONFIG_MCUMGR_GRP_IMG_FRUGAL_LIST`).
    #[serde(
        rename = "splitStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub split_status: Option<i64>,
}

/// One entry of [`ImageState::images`]. The flags default to false: under FRUGAL_LIST only true ones are sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSlot {
    /// Image number, sent only when the device has more than one updatable image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<u32>,
    /// Slot, 0 (primary) or 1 (secondary).
    pub slot: u32,
    /// "major.minor.revision[.build]".
    pub version: String,
    /// SHA-256 TLV of the image trailer (not the SHA-256 of the file).
    #[serde(with = "bstr")]
    pub hash: Vec<u8>,
    /// The image is marked bootable.
    #[serde(default)]
    pub bootable: bool,
    /// The image will be tried (or made permanent) at the next boot.
    #[serde(default)]
    pub pending: bool,
    /// The image is confirmed.
    #[serde(default)]
    pub confirmed: bool,
    /// The image is running.
    #[serde(default)]
    pub active: bool,
    /// The pending state is permanent (no revert).
    #[serde(default)]
    pub permanent: bool,
}

impl Request for ImageStateRead {
    const GROUP: u16 = GROUP_IMAGE;
    const ID: u8 = 0;
    const OP: Op = Op::Read;
    type Response = ImageState;
}

/// One image upload chunk (group 1, id 1, write). The first chunk (off 0) carries `len` and usually `image`
/// and `sha`; later ones only `off` and `data`. Reply: [`ImageUploadResponse`].
///
/// Resuming: an off-0 chunk whose `sha` matches the upload in progress writes nothing and is answered with
/// the device's current offset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageUpload {
    /// Image number (device default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<u32>,
    /// Total image size in bytes; required on the first chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<u64>,
    /// Offset of `data` in the image.
    pub off: u64,
    /// SHA-256 of the whole file (≤ 32 bytes), used by the device to recognise a resumed upload.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "bstr::opt")]
    pub sha: Option<Vec<u8>>,
    /// Refuse an image whose version is not newer than the running one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<bool>,
    /// The chunk (the first one must be ≥ 32 bytes: it holds the MCUboot header).
    #[serde(with = "bstr")]
    pub data: Vec<u8>,
}

impl ImageUpload {
    /// The first chunk: offset 0, with the total length and the optional image number and file SHA-256.
    pub fn first(image: Option<u32>, len: u64, sha: Option<Vec<u8>>, data: Vec<u8>) -> Self {
        ImageUpload {
            image,
            len: Some(len),
            off: 0,
            sha,
            upgrade: None,
            data,
        }
    }

    /// A later chunk at `off` (the offset the device asked for in its last reply).
    pub fn next(off: u64, data: Vec<u8>) -> Self {
        ImageUpload {
            image: None,
            len: None,
            off,
            sha: None,
            upgrade: None,
            data,
        }
    }
}

/// Reply to [`ImageUpload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageUploadResponse {
    /// The next offset the device expects (after a wrong offset: the one it still expects).
    pub off: u64,
    /// On the last chunk with `CONFIG_IMG_ENABLE_IMAGE_CHECK`: whether the image matched `sha`.
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub matched: Option<bool>,
}

impl Request for ImageUpload {
    const GROUP: u16 = GROUP_IMAGE;
    const ID: u8 = 1;
    const OP: Op = Op::Write;
    type Response = ImageUploadResponse;
}

#[cfg(test)]
#[path = "messages_tests.rs"]
mod tests;
