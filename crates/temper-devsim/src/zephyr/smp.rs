//! The SMP server of the zephyr-sensor (Zephyr `smp.c`): a packet holds one or more requests; each is
//! answered in its own reply packet, in order, in the SMP version it used, dispatched by group to a module
//! each ([`super::os`], [`super::image`]); a command no module handles gets `{"rc": 8}` (ENOTSUP).
//!
//! The first request answered with an SMP-level error (`{"rc": N}`, N ≠ 0, which includes v1 group errors)
//! stops the rest of the packet; a v2 group error (`{"err": ...}`) does not. A payload shorter than the
//! header's `len` gets `{"rc": 9}` (ECORRUPT), a version field ≥ 2 `{"rc": 13}` (TOO_NEW), a response op
//! `{"rc": 8}`; fewer than 8 bytes left after a request are dropped with no reply.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Value};
use temper_core::proto::smp::header::{Header, Op, SmpError, SmpVersion, HEADER_LEN, RC_TOO_NEW};
use temper_core::proto::smp::messages::{GROUP_IMAGE, GROUP_OS};
use tokio::sync::Notify;

use super::image::sign::{BootKey, BootKeyKind};
use super::image::upload::Upload;
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
    /// Upload in progress (RAM only: lost at a reboot, as on the device).
    pub(crate) upload: Option<Upload>,
    /// The application: settings, credentials, clock, network services ([`super::app`]).
    pub(crate) app: super::app::App,
    /// The bootloader's built-in key.
    pub(crate) boot_key: BootKey,
    /// Notified by OS reset (0/5); a fresh one for each boot ([`Server::begin_boot`]).
    reset: Arc<Notify>,
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
            boot_key: BootKey::builtin(BootKeyKind::default()),
            reset: Arc::new(Notify::new()),
        }
    }

    /// The firmware of `variant` (default: the sensor's).
    pub fn with_variant(mut self, variant: super::variant::Variant) -> Server {
        self.app = super::app::App::new(variant);
        self
    }

    /// The bootloader's built-in key (default: the ECDSA P-256 test key).
    pub fn with_boot_key(mut self, kind: BootKeyKind) -> Server {
        self.boot_key = BootKey::builtin(kind);
        self
    }

    /// A boot starts: RAM state (the upload in progress) is gone; returns the reset signal of this boot.
    pub(crate) fn begin_boot(&mut self) -> Arc<Notify> {
        self.upload = None;
        self.reset = Arc::new(Notify::new());
        self.reset.clone()
    }

    /// OS reset (0/5) was answered: the device reboots after Zephyr's reset delay.
    pub(crate) fn request_reset(&self) {
        self.reset.notify_one();
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

    /// Answers the requests of one SMP packet: the reply packets, in order (empty: dropped with no reply).
    pub fn handle(&mut self, packet: &[u8]) -> Vec<Vec<u8>> {
        let mut replies = Vec::new();
        let mut rest = packet;
        while !rest.is_empty() {
            let Some((reply, used)) = self.handle_one(rest) else {
                break;
            };
            let failed = is_smp_error(&reply);
            replies.push(reply);
            if failed {
                break;
            }
            rest = &rest[used..];
        }
        replies
    }

    /// The first request of `packet`: the reply and the bytes the request took (all of them when its
    /// header cannot be trusted); `None` when it cannot be answered (shorter than a header).
    fn handle_one(&mut self, packet: &[u8]) -> Option<(Vec<u8>, usize)> {
        let header = match Header::parse(packet) {
            Ok(h) => h,
            Err(e @ (SmpError::BadVersion(_) | SmpError::BadOp)) => {
                // A whole header with a version or an op Zephyr does not serve: an error reply.
                let (rc, fields) = match e {
                    SmpError::BadVersion(v) => {
                        (RC_TOO_NEW, json!({"rc": RC_TOO_NEW, "version_field": v}))
                    }
                    _ => (
                        RC_ENOTSUP,
                        json!({"rc": RC_ENOTSUP, "op": packet[0] & 0x07}),
                    ),
                };
                let header = untrusted_header(packet);
                self.log_request(header.group, header.id, header.seq, fields);
                return Some((reply(header, rc_body(rc)), packet.len()));
            }
            Err(e) => {
                self.log_drop(&e.to_string());
                return None;
            }
        };
        let used = HEADER_LEN + usize::from(header.len);
        let Some(payload) = packet.get(HEADER_LEN..used) else {
            let fields = json!({"rc": RC_ECORRUPT});
            self.log_request(header.group, header.id, header.seq, fields);
            return Some((reply(header, rc_body(RC_ECORRUPT)), packet.len()));
        };
        if !matches!(header.op, Op::Read | Op::Write) {
            let fields = json!({"rc": RC_ENOTSUP, "op": "response"});
            self.log_request(header.group, header.id, header.seq, fields);
            return Some((reply(header, rc_body(RC_ENOTSUP)), used));
        }
        let version = super::os::version_number(header.version);
        let body = self.dispatch(header, version, payload);
        Some((reply(header, body), used))
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

    /// `{"event":"smp","group":G,"id":I,"smp_seq":S, ...extra}` (`seq` is the event log's own number).
    pub(crate) fn log_request(&self, group: u16, id: u8, seq: u8, extra: Value) {
        let mut fields = json!({"group": group, "id": id, "smp_seq": seq});
        if let (Some(obj), Value::Object(more)) = (fields.as_object_mut(), extra) {
            obj.extend(more);
        }
        self.events.log("smp", fields);
    }
}

/// The header of a request whose version or op field is not served (at least 8 bytes): what a reply
/// needs, with the op read as a write unless it is a read and the version as v2 unless it is v1.
fn untrusted_header(packet: &[u8]) -> Header {
    Header {
        version: match (packet[0] >> 3) & 0x03 {
            0 => SmpVersion::V1,
            _ => SmpVersion::V2,
        },
        op: if packet[0] & 0x07 == 0 {
            Op::Read
        } else {
            Op::Write
        },
        flags: 0,
        len: u16::from_be_bytes([packet[2], packet[3]]),
        group: u16::from_be_bytes([packet[4], packet[5]]),
        seq: packet[6],
        id: packet[7],
    }
}

/// Whether a reply packet carries an SMP-level error (`{"rc": N}` with N ≠ 0), which ends the packet.
fn is_smp_error(reply: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Rc {
        rc: Option<i64>,
    }
    from_cbor::<Rc>(&reply[HEADER_LEN..]).is_some_and(|b| b.rc.is_some_and(|rc| rc != 0))
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
