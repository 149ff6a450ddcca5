//! The SMP server of the zephyr-sensor: one request packet in, at most one reply packet out, in the SMP
//! version the request used (Zephyr `smp.c`), dispatched by group to a module each ([`super::os`],
//! [`super::image`]); a command no module handles gets `{"rc": 8}` (ENOTSUP).
//!
//! Only the first request of a packet is answered (Zephyr answers each of several); a payload shorter
//! than the header's `len` gets `{"rc": 9}` (ECORRUPT); version field ≥ 2 gets `{"rc": 13}` (TOO_NEW).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{json, Value};
use temper_core::proto::smp::header::{Header, Op, SmpError, SmpVersion, HEADER_LEN, RC_TOO_NEW};
use temper_core::proto::smp::messages::{GROUP_IMAGE, GROUP_OS};

use super::image::Upload;
use super::ZephyrState;
use crate::eventlog::EventLog;

/// MGMT_ERR_EINVAL.
pub const RC_EINVAL: u64 = 3;
/// MGMT_ERR_ENOTSUP.
pub const RC_ENOTSUP: u64 = 8;
/// MGMT_ERR_ECORRUPT.
pub const RC_ECORRUPT: u64 = 9;

/// SMP-level error body `{"rc": N}`.
#[derive(Serialize)]
struct RcBody {
    rc: u64,
}

/// SMP v2 group error body `{"err": {"group": G, "rc": N}}`.
#[derive(Serialize)]
struct GroupErrBody {
    err: GroupErr,
}

#[derive(Serialize)]
struct GroupErr {
    group: u16,
    rc: u64,
}

pub(crate) fn cbor<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("CBOR encoding into a Vec");
    out
}

pub(crate) fn rc_body(rc: u64) -> Vec<u8> {
    cbor(&RcBody { rc })
}

/// A group error as Zephyr sends it: the `err` map for v2, the mapped MGMT_ERR as `{"rc"}` for v1.
pub(crate) fn group_err(version: SmpVersion, group: u16, rc: u64, v1_rc: u64) -> Vec<u8> {
    match version {
        SmpVersion::V2 => cbor(&GroupErrBody {
            err: GroupErr { group, rc },
        }),
        SmpVersion::V1 => rc_body(v1_rc),
    }
}

/// Decodes one CBOR map into `T` (extra keys ignored, as zcbor does).
pub(crate) fn from_cbor<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Option<T> {
    ciborium::from_reader(payload).ok()
}

/// The sensor's SMP server and everything it keeps.
pub struct Server {
    pub(crate) dir: PathBuf,
    pub(crate) state: ZephyrState,
    pub(crate) events: EventLog,
    buf_size: u32,
    buf_count: u32,
    /// Upload in progress (RAM only: lost at a restart, as on the device).
    pub(crate) upload: Option<Upload>,
    /// The application: settings, credentials, clock, network services ([`super::app`]).
    pub(crate) app: super::app::App,
}

impl Server {
    pub fn new(
        dir: PathBuf,
        state: ZephyrState,
        events: EventLog,
        buf_size: u32,
        buf_count: u32,
    ) -> Server {
        Server {
            dir,
            state,
            events,
            buf_size,
            buf_count,
            upload: None,
            app: super::app::App::default(),
        }
    }

    pub fn buf_size(&self) -> u32 {
        self.buf_size
    }

    pub fn buf_count(&self) -> u32 {
        self.buf_count
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A frame the decoder refused: dropped with no reply, as Zephyr does.
    pub fn log_drop(&self, reason: &str) {
        self.events.log("smp_drop", json!({ "reason": reason }));
    }

    /// Persists the state (with the event numbering) after a change.
    pub(crate) fn save(&mut self) {
        self.state.event_seq = self.events.seq();
        if let Err(e) = super::save_state(&self.dir, &self.state) {
            tracing::error!("zephyr-sensor state not saved: {e}");
        }
    }

    /// Answers one SMP packet; `None`: dropped with no reply.
    pub fn handle(&mut self, packet: &[u8]) -> Option<Vec<u8>> {
        let header = match Header::parse(packet) {
            Ok(h) => h,
            Err(SmpError::BadVersion(v)) => {
                let op = match packet[0] & 0x07 {
                    0 => Op::Read,
                    2 => Op::Write,
                    _ => return None,
                };
                // BadVersion implies a whole header.
                let header = Header {
                    version: SmpVersion::V2,
                    op,
                    flags: 0,
                    len: 0,
                    group: u16::from_be_bytes([packet[4], packet[5]]),
                    seq: packet[6],
                    id: packet[7],
                };
                let fields = json!({"rc": RC_TOO_NEW, "version_field": v});
                self.log_request(header.group, header.id, header.seq, fields);
                return Some(reply(header, rc_body(RC_TOO_NEW)));
            }
            Err(e) => {
                self.log_drop(&e.to_string());
                return None;
            }
        };
        if !matches!(header.op, Op::Read | Op::Write) {
            self.log_drop("SMP response op sent to the device");
            return None;
        }
        let payload = &packet[HEADER_LEN..];
        let Some(payload) = payload.get(..usize::from(header.len)) else {
            self.log_request(
                header.group,
                header.id,
                header.seq,
                json!({"rc": RC_ECORRUPT}),
            );
            return Some(reply(header, rc_body(RC_ECORRUPT)));
        };
        let version = super::os::version_number(header.version);
        let body = self.dispatch(header, version, payload);
        Some(reply(header, body))
    }

    /// The reply body to one well-formed request, by group (each group in its own module).
    fn dispatch(&mut self, header: Header, version: u8, payload: &[u8]) -> Vec<u8> {
        let handled = match header.group {
            GROUP_OS => super::os::handle(self, header, payload),
            GROUP_IMAGE => super::image::handle(self, header, payload),
            super::settings::GROUP_SETTINGS => super::settings::handle(self, header, payload),
            super::shell::GROUP_SHELL => super::shell::handle(self, header, payload),
            super::enumeration::GROUP_ENUM => super::enumeration::handle(self, header, payload),
            _ => None,
        };
        handled.unwrap_or_else(|| {
            self.log_request(
                header.group,
                header.id,
                header.seq,
                json!({"version": version, "rc": RC_ENOTSUP}),
            );
            rc_body(RC_ENOTSUP)
        })
    }

    /// `{"event":"smp","group":G,"id":I,"seq":S, ...extra}`.
    pub(crate) fn log_request(&self, group: u16, id: u8, seq: u8, extra: Value) {
        let mut fields = json!({"group": group, "id": id, "seq": seq});
        if let (Some(obj), Value::Object(more)) = (fields.as_object_mut(), extra) {
            obj.extend(more);
        }
        self.events.log("smp", fields);
    }
}

/// The reply packet to `request`: response op, same version, group, id and seq.
pub(crate) fn reply(request: Header, body: Vec<u8>) -> Vec<u8> {
    let header = Header {
        version: request.version,
        op: request.op.response(),
        flags: 0,
        len: u16::try_from(body.len()).expect("SMP reply fits 64 KiB"),
        group: request.group,
        seq: request.seq,
        id: request.id,
    };
    let mut out = header.to_bytes().to_vec();
    out.extend_from_slice(&body);
    out
}
