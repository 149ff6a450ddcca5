//! OS management group (0) of the zephyr-sensor (Zephyr `os_mgmt.c`): echo (0/0) and MCUmgr parameters
//! (0/6). Anything else in the group is left to the caller (`None`: ENOTSUP).

use serde_json::{json, Value};
use temper_core::proto::smp::header::{Header, Op, SmpVersion};
use temper_core::proto::smp::messages::{EchoResponse, McumgrParamsResponse};

use super::smp::{cbor, from_cbor, rc_body, Server, RC_EINVAL};

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
