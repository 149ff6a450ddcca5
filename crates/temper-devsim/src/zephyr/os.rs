//! OS management group (0) of the zephyr-sensor (Zephyr `os_mgmt.c`): echo (0/0), reset (0/5), MCUmgr
//! parameters (0/6) and bootloader info (0/8). Anything else in the group is left to the caller (`None`:
//! ENOTSUP).
//!
//! Reset answers `{}` (whatever `force`/`boot_mode` say) and asks the device to reboot; the device does so
//! [`super::RESET_DELAY`] later (`CONFIG_MCUMGR_GRP_OS_RESET_MS`). Bootloader info answers
//! `{"bootloader": "MCUboot"}`, `{"mode": 3}` (swap without scratch, i.e. swap-using-move) to the query
//! `mode`, and `{"rc": 3}` to any other query (os_mgmt returns its QUERY_YIELDS_NO_ANSWER code directly).

use serde_json::{json, Value};
use temper_core::proto::smp::header::{Header, Op, SmpVersion};
use temper_core::proto::smp::messages::{EchoResponse, McumgrParamsResponse};

use super::smp::{cbor, from_cbor, rc_body, Server, RC_EINVAL};

/// MCUboot mode reported by bootloader info: 3 = swap without scratch (swap-using-move).
pub const MCUBOOT_MODE_SWAP_USING_MOVE: u8 = 3;
/// `OS_MGMT_ERR_QUERY_YIELDS_NO_ANSWER`, returned as an SMP-level rc.
const OS_QUERY_YIELDS_NO_ANSWER: u64 = 3;

/// The reply body to an OS-group request, or `None` when the command is not supported.
pub(crate) fn handle(server: &mut Server, header: Header, payload: &[u8]) -> Option<Vec<u8>> {
    let version = version_number(header.version);
    let log = |server: &Server| {
        server.log_request(
            header.group,
            header.id,
            header.seq,
            json!({"version": version}),
        )
    };
    match (header.id, header.op) {
        (0, Op::Write) => {
            log(server);
            let text = from_cbor::<Value>(payload)
                .and_then(|v| v.get("d").and_then(Value::as_str).map(str::to_owned));
            Some(match text {
                Some(text) => cbor(&EchoResponse { text }),
                None => rc_body(RC_EINVAL),
            })
        }
        (5, Op::Write) => {
            log(server);
            server.events.log(
                "reset",
                json!({ "delay_ms": super::RESET_DELAY.as_millis() as u64 }),
            );
            server.request_reset();
            Some(cbor(&json!({})))
        }
        (8, Op::Read) => {
            log(server);
            let query = from_cbor::<Value>(payload)
                .and_then(|v| v.get("query").and_then(Value::as_str).map(str::to_owned));
            Some(match query.as_deref() {
                None => cbor(&json!({ "bootloader": "MCUboot" })),
                Some("mode") => cbor(&json!({ "mode": MCUBOOT_MODE_SWAP_USING_MOVE })),
                Some(_) => rc_body(OS_QUERY_YIELDS_NO_ANSWER),
            })
        }
        (6, Op::Read) => {
            log(server);
            Some(cbor(&McumgrParamsResponse {
                buf_size: server.buf_size(),
                buf_count: server.buf_count(),
            }))
        }
        _ => None,
    }
}

/// 1 for SMP v1, 2 for v2, as the event log writes it.
pub(crate) fn version_number(version: SmpVersion) -> u8 {
    match version {
        SmpVersion::V1 => 1,
        SmpVersion::V2 => 2,
    }
}
