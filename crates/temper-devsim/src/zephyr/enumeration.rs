//! Enumeration management group (10) of the sensor, as Zephyr's `enum_mgmt` answers it: count (10/0 →
//! `{"count"}`), list (10/1 → `{"groups": [..]}`), single (10/2 `{"index"?}` → `{"group", "end"?: true}`; an
//! index past the last group → group error INDEX_TOO_LARGE, 4, v1 `{"rc": 1}`) and details (10/3
//! `{"groups"?: [..]}` → `{"groups": [{"group", "name", "handlers"}]}`, every group or the ones asked for).
//!
//! Groups are listed in Zephyr's registration order: handlers register sorted by name (enum_mgmt, img_mgmt,
//! os_mgmt, settings_mgmt, shell_mgmt).

use ciborium::Value;
use serde_json::json;
use temper_core::proto::smp::header::{Header, Op};

use super::cbor::{encode, Map};
use super::smp::{group_err, rc_body, Server, RC_EINVAL};

/// The enumeration management group.
pub const GROUP_ENUM: u16 = 10;
/// ENUM_MGMT_ERR_INDEX_TOO_LARGE.
const ERR_INDEX_TOO_LARGE: u64 = 4;

/// (group id, name, number of command handlers), in registration order.
pub const GROUPS: [(u16, &str, u32); 5] = [
    (10, "enum mgmt", 4),
    (1, "img mgmt", 6),
    (0, "os mgmt", 9),
    (3, "settings mgmt", 4),
    (9, "shell mgmt", 1),
];

/// The reply body to an enumeration request, or `None` when the command is not supported.
pub(crate) fn handle(server: &mut Server, header: Header, payload: &[u8]) -> Option<Vec<u8>> {
    if header.op != Op::Read || header.id > 3 {
        return None;
    }
    let version = super::os::version_number(header.version);
    let map = Map::decode(payload).unwrap_or_default();
    let uint = |v: u16| Value::Integer(v.into());
    let body = match header.id {
        0 => encode(vec![("count", Value::Integer(GROUPS.len().into()))]),
        1 => encode(vec![(
            "groups",
            Value::Array(GROUPS.iter().map(|g| uint(g.0)).collect()),
        )]),
        2 => match map.u32("index") {
            Err(_) => rc_body(RC_EINVAL),
            Ok(index) => match GROUPS.get(index.unwrap_or(0) as usize) {
                Some(g) => {
                    let mut entries = vec![("group", uint(g.0))];
                    if index.unwrap_or(0) as usize == GROUPS.len() - 1 {
                        entries.push(("end", Value::Bool(true)));
                    }
                    encode(entries)
                }
                None => group_err(header.version, GROUP_ENUM, ERR_INDEX_TOO_LARGE, 1),
            },
        },
        _ => {
            let wanted: Option<Vec<u64>> = match map.get("groups") {
                None => Some(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_integer().and_then(|i| u64::try_from(i).ok()))
                    .collect(),
                Some(_) => None,
            };
            match wanted {
                None => rc_body(RC_EINVAL),
                Some(wanted) => {
                    let details = GROUPS
                        .iter()
                        .filter(|g| wanted.is_empty() || wanted.contains(&u64::from(g.0)))
                        .map(|&(id, name, handlers)| {
                            Value::Map(vec![
                                (Value::Text("group".into()), uint(id)),
                                (Value::Text("name".into()), Value::Text(name.into())),
                                (
                                    Value::Text("handlers".into()),
                                    Value::Integer(handlers.into()),
                                ),
                            ])
                        })
                        .collect();
                    encode(vec![("groups", Value::Array(details))])
                }
            }
        }
    };
    server.log_request(
        header.group,
        header.id,
        header.seq,
        json!({ "version": version }),
    );
    Some(body)
}
