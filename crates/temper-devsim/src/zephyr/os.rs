//! OS management group (0) of the zephyr-sensor (Zephyr `os_mgmt.c`): echo (0/0), datetime (0/4, the device
//! clock of [`super::clock`]: read → `{"datetime"}`, write `{"datetime"}` → `{}`, a string of another form →
//! `{"rc": 3}`), reset (0/5), MCUmgr parameters (0/6), application info (0/7, [`app_info`]) and bootloader
//! info (0/8). Anything else in the group is left to the caller (`None`: ENOTSUP).
//!
//! Reset answers `{}` (whatever `force`/`boot_mode` say) and asks the device to reboot; the device does so
//! [`super::RESET_DELAY`] later (`CONFIG_MCUMGR_GRP_OS_RESET_MS`). Bootloader info answers
//! `{"bootloader": "MCUboot"}`, `{"mode": 3}` (swap without scratch, i.e. swap-using-move) to the query
//! `mode`, and `{"rc": 3}` to any other query (os_mgmt returns its QUERY_YIELDS_NO_ANSWER code directly).

use ciborium::Value as Cbor;
use serde_json::{json, Value};
use temper_core::proto::smp::header::{Header, Op, SmpVersion};
use temper_core::proto::smp::messages::{EchoResponse, McumgrParamsResponse, GROUP_OS};

use super::cbor::{encode, Map};
use super::smp::{cbor, from_cbor, group_err, rc_body, Server, RC_EINVAL};

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
        (4, Op::Read) => {
            log(server);
            let now = server.app.clock.datetime();
            Some(encode(vec![("datetime", Cbor::Text(now))]))
        }
        (4, Op::Write) => {
            let map = Map::decode(payload).unwrap_or_default();
            let set = match map.text("datetime") {
                Ok(Some(text)) => super::clock::parse_datetime(text),
                _ => None,
            };
            let fields =
                json!({"version": version, "datetime": map.text("datetime").ok().flatten()});
            server.log_request(header.group, header.id, header.seq, fields);
            Some(match set {
                Some(us) => {
                    server.app.clock.set_us(us);
                    server.events.log(
                        "clock_set",
                        json!({"datetime": server.app.clock.datetime()}),
                    );
                    encode(vec![])
                }
                None => rc_body(RC_EINVAL),
            })
        }
        (7, Op::Read) => {
            log(server);
            let map = Map::decode(payload).unwrap_or_default();
            Some(match map.text("format") {
                Ok(format) => match app_info(format.unwrap_or(""), server.app.variant) {
                    Some(output) => encode(vec![("output", Cbor::Text(output))]),
                    None => group_err(header.version, GROUP_OS, OS_ERR_INVALID_FORMAT, RC_EINVAL),
                },
                Err(_) => rc_body(RC_EINVAL),
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

/// OS_MGMT_ERR_INVALID_FORMAT.
const OS_ERR_INVALID_FORMAT: u64 = 2;

/// Application info (0/7) as Zephyr's uname-like `os_mgmt_info`: the fields the `format` letters ask for, in
/// their natural order, separated by spaces: `s` kernel name "Zephyr", `n` node name "NS-ENV1" (the model
/// name), `r` kernel release "v3.7.0", `v` kernel version "3.7.0", `m` machine "arm", `p` processor "cortex-m33"
/// (the plug's "cortex-m4"), `i` board "ns_env1" (the plug's "pm1_nrf52840"), `o` operating system "Zephyr", `a` all of them. No letter: `s`. Another letter (`b` too: no build
/// date in this build): `None`, OS group error INVALID_FORMAT (2, v1 `{"rc": 3}`).
pub(crate) fn app_info(format: &str, variant: super::variant::Variant) -> Option<String> {
    let fields: [(char, &str); 8] = [
        ('s', "Zephyr"),
        ('n', variant.model_name()),
        ('r', "v3.7.0"),
        ('v', "3.7.0"),
        ('m', "arm"),
        ('p', variant.processor()),
        ('i', variant.board()),
        ('o', "Zephyr"),
    ];
    if format
        .chars()
        .any(|c| c != 'a' && !fields.iter().any(|f| f.0 == c))
    {
        return None;
    }
    let all = format.contains('a');
    let picked: Vec<&str> = fields
        .iter()
        .filter(|(c, _)| all || format.contains(*c) || (format.is_empty() && *c == 's'))
        .map(|(_, v)| *v)
        .collect();
    Some(picked.join(" "))
}

/// 1 for SMP v1, 2 for v2, as the event log writes it.
pub(crate) fn version_number(version: SmpVersion) -> u8 {
    match version {
        SmpVersion::V1 => 1,
        SmpVersion::V2 => 2,
    }
}
