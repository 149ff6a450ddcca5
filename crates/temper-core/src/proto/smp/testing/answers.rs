//! The fake device's answers, one function per management group, built with the crate's message types.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{FakeConfig, FakeDevice, HeldUpload};
use crate::proto::smp::header::{Header, Op, SmpVersion, HEADER_LEN};
use crate::proto::smp::messages::*;

/// What the device does after sending the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    Nothing,
    Reset,
}

/// SHA-256 the fake reports for its built-in slot-0 image.
pub const SLOT0_HASH: [u8; 32] = [0x11; 32];

#[derive(Serialize)]
struct Rc {
    rc: u64,
}

#[derive(Serialize)]
struct ErrBody {
    err: GroupErr,
}

#[derive(Serialize)]
struct GroupErr {
    group: u16,
    rc: u64,
}

/// A body: the reply data, or a group error (sent as v2 `err` or v1 `rc` by the request's version), or a
/// bare SMP rc.
enum Body {
    Ok(Vec<u8>),
    Group(u64),
    Rc(u64),
}

fn ok<T: Serialize>(value: &T) -> Body {
    Body::Ok(to_cbor(value))
}

fn parse<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, Body> {
    from_cbor(payload).map_err(|_| Body::Rc(3))
}

/// The reply packet to one request packet (header + CBOR), or `None` when it is dropped unanswered.
pub(super) async fn answer(
    device: &mut FakeDevice,
    config: &FakeConfig,
    packet: &[u8],
) -> Option<(Header, Vec<u8>, After)> {
    let header = Header::parse(packet).ok()?;
    if !matches!(header.op, Op::Read | Op::Write) {
        return None;
    }
    let payload = packet.get(HEADER_LEN..HEADER_LEN + usize::from(header.len))?;
    let mut after = After::Nothing;
    let body = if config.v1_only && header.version == SmpVersion::V2 {
        Body::Rc(13)
    } else {
        let result = match header.group {
            GROUP_OS => os(device, &header, payload, config, &mut after),
            GROUP_IMAGE => image(device, &header, payload, config),
            GROUP_SETTINGS => settings(device, &header, payload),
            GROUP_SHELL => shell(device, &header, payload, config).await,
            GROUP_ENUM => enumeration(&header, payload),
            _ => Err(Body::Rc(8)),
        };
        result.unwrap_or_else(|body| body)
    };
    let payload = match body {
        Body::Ok(bytes) => bytes,
        Body::Rc(rc) => to_cbor(&Rc { rc }),
        Body::Group(rc) if header.version == SmpVersion::V2 => to_cbor(&ErrBody {
            err: GroupErr {
                group: header.group,
                rc,
            },
        }),
        Body::Group(rc) => to_cbor(&Rc {
            rc: v1_rc(header.group, rc),
        }),
    };
    let reply = Header {
        op: header.op.response(),
        len: payload.len() as u16,
        ..header
    };
    let mut out = reply.to_bytes().to_vec();
    out.extend_from_slice(&payload);
    Some((header, out, after))
}

/// Zephyr's translation of a group error for an SMP v1 request (roughly: not found → ENOENT, bad input →
/// EINVAL, the rest EUNKNOWN).
fn v1_rc(group: u16, rc: u64) -> u64 {
    match (group, rc) {
        (GROUP_SETTINGS, 3 | 4) | (GROUP_OS, 3 | 4) | (GROUP_IMAGE, 3 | 4) => 5,
        (GROUP_SETTINGS, 2) | (GROUP_SHELL, 2 | 3) | (GROUP_IMAGE, 20..=24) => 3,
        (GROUP_IMAGE, 9 | 27 | 28) => 6,
        _ => 1,
    }
}

fn os(
    device: &mut FakeDevice,
    header: &Header,
    payload: &[u8],
    config: &FakeConfig,
    after: &mut After,
) -> Result<Body, Body> {
    Ok(match (header.id, header.op) {
        (0, Op::Write) => ok(&EchoResponse {
            text: parse::<Echo>(payload)?.text,
        }),
        (4, Op::Read) => match &device.datetime {
            Some(datetime) => ok(&DateTimeResponse {
                datetime: datetime.clone(),
            }),
            None => Body::Group(4),
        },
        (4, Op::Write) => {
            let req: DateTimeWrite = parse(payload)?;
            if !(19..26).contains(&req.datetime.len()) || parse_datetime(&req.datetime).is_none() {
                return Err(Body::Rc(3));
            }
            device.datetime = Some(req.datetime);
            ok(&EmptyResponse {})
        }
        (5, Op::Write) => {
            let _: Reset = parse(payload)?;
            device.resets += 1;
            device.held = HeldUpload::default();
            *after = After::Reset;
            ok(&EmptyResponse {})
        }
        (6, Op::Read) => ok(&McumgrParamsResponse {
            buf_size: config.buf_size,
            buf_count: config.buf_count,
        }),
        (7, Op::Read) => {
            let req: AppInfo = parse(payload)?;
            match req.format.as_deref().unwrap_or("s") {
                "s" => ok(&AppInfoResponse {
                    output: "Zephyr".into(),
                }),
                "a" => ok(&AppInfoResponse {
                    output: "Zephyr fake 3.7.0 fake-board Zephyr".into(),
                }),
                _ => Body::Group(2),
            }
        }
        (8, Op::Read) => match parse::<BootloaderInfo>(payload)?.query.as_deref() {
            None => ok(&BootloaderInfoResponse {
                bootloader: Some("MCUboot".into()),
                ..BootloaderInfoResponse::default()
            }),
            Some("mode") => ok(&BootloaderInfoResponse {
                mode: Some(3),
                ..BootloaderInfoResponse::default()
            }),
            Some(_) => Body::Rc(3),
        },
        _ => Body::Rc(8),
    })
}

fn image(
    device: &mut FakeDevice,
    header: &Header,
    payload: &[u8],
    config: &FakeConfig,
) -> Result<Body, Body> {
    Ok(match (header.id, header.op) {
        (0, Op::Read) => ok(&state(device)),
        (0, Op::Write) => {
            let req: ImageStateWrite = parse(payload)?;
            let slot1_hash = device
                .slot1
                .as_ref()
                .map(|img| Sha256::digest(img).to_vec());
            match (&req.hash, req.confirm) {
                (None, false) => return Err(Body::Group(24)),
                (None, true) => {}
                (Some(h), _) if h.len() != 32 => return Err(Body::Group(24)),
                (Some(h), _) if h[..] == SLOT0_HASH => {
                    if !req.confirm {
                        return Err(Body::Group(33));
                    }
                }
                (Some(h), confirm) if slot1_hash.as_ref() == Some(h) => {
                    device.slot1_pending = true;
                    device.slot1_confirmed = confirm;
                }
                (Some(_), _) => return Err(Body::Group(8)),
            }
            ok(&state(device))
        }
        (1, Op::Write) => upload(device, parse(payload)?, config)?,
        (5, Op::Write) => {
            let req: ImageErase = parse(payload)?;
            match req.slot.unwrap_or(1) {
                1 if device.slot1_pending => Body::Group(9),
                1 => {
                    device.slot1 = None;
                    ok(&EmptyResponse {})
                }
                0 => Body::Group(9),
                _ => Body::Group(14),
            }
        }
        _ => Body::Rc(8),
    })
}

fn state(device: &FakeDevice) -> ImageState {
    let mut images = vec![ImageSlot {
        image: None,
        slot: 0,
        version: "1.0.0".into(),
        hash: SLOT0_HASH.to_vec(),
        bootable: true,
        pending: false,
        confirmed: true,
        active: true,
        permanent: false,
    }];
    if let Some(img) = &device.slot1 {
        images.push(ImageSlot {
            image: None,
            slot: 1,
            version: "1.1.0".into(),
            hash: Sha256::digest(img).to_vec(),
            bootable: true,
            pending: device.slot1_pending,
            confirmed: false,
            active: false,
            permanent: device.slot1_confirmed,
        });
    }
    ImageState {
        images,
        split_status: Some(0),
    }
}

fn upload(device: &mut FakeDevice, req: ImageUpload, config: &FakeConfig) -> Result<Body, Body> {
    device.upload_chunks += 1;
    device.upload_bytes += req.data.len();
    if config.restart_after_chunks == Some(device.upload_chunks) {
        device.held = HeldUpload::default();
    }
    let held = &mut device.held;
    if req.off == 0 {
        let resuming = !held.data.is_empty()
            && held.sha.is_some()
            && held.sha == req.sha
            && Some(held.len) == req.len;
        if !resuming {
            let len = req.len.ok_or(Body::Group(21))?;
            if req.data.len() < 32.min(len as usize) {
                return Err(Body::Group(22));
            }
            *held = HeldUpload {
                len,
                sha: req.sha,
                data: req.data,
            };
        }
    } else if req.off == held.data.len() as u64 && held.len > 0 {
        if req.off + req.data.len() as u64 > held.len {
            return Err(Body::Group(31));
        }
        held.data.extend_from_slice(&req.data);
    }
    let off = held.data.len() as u64;
    let complete = held.len > 0 && off == held.len;
    let matched = complete.then(|| held.sha.as_deref() == Some(&Sha256::digest(&held.data)[..]));
    if complete {
        device.slot1 = Some(held.data.clone());
        device.slot1_pending = false;
    }
    Ok(ok(&ImageUploadResponse { off, matched }))
}

fn settings(device: &mut FakeDevice, header: &Header, payload: &[u8]) -> Result<Body, Body> {
    Ok(match (header.id, header.op) {
        (0, Op::Read) => {
            let req: SettingsRead = parse(payload)?;
            match device.settings.get(&req.name) {
                Some(val) => ok(&SettingsReadResponse {
                    val: zeroize::Zeroizing::new(val.clone()),
                    max_size: None,
                }),
                None => Body::Group(3),
            }
        }
        (0, Op::Write) => {
            let req: SettingsWrite = parse(payload)?;
            if req.name.is_empty() {
                return Err(Body::Rc(3));
            }
            device.settings.insert(req.name.clone(), req.val.to_vec());
            ok(&EmptyResponse {})
        }
        (1, Op::Write) => {
            let req: SettingsDelete = parse(payload)?;
            match device.settings.remove(&req.name) {
                Some(_) => ok(&EmptyResponse {}),
                None => Body::Group(3),
            }
        }
        (2, Op::Write) => {
            device.commits += 1;
            ok(&EmptyResponse {})
        }
        (3, Op::Read) => {
            device.loads += 1;
            ok(&EmptyResponse {})
        }
        (3, Op::Write) => {
            device.saves += 1;
            ok(&EmptyResponse {})
        }
        _ => Body::Rc(8),
    })
}

async fn shell(
    device: &mut FakeDevice,
    header: &Header,
    payload: &[u8],
    config: &FakeConfig,
) -> Result<Body, Body> {
    if (header.id, header.op) != (0, Op::Write) {
        return Err(Body::Rc(8));
    }
    let req: ShellExec = parse(payload)?;
    if req.argv.is_empty() {
        return Err(Body::Group(3));
    }
    device.shell.push(req.argv.clone());
    let (output, ret) = match req.argv[0].as_str() {
        "echo" => (format!("{}\r\n", req.argv[1..].join(" ")), 0),
        "fail" => ("error: it failed\r\n".to_string(), -22),
        "slow" => {
            tokio::time::sleep(config.slow_command).await;
            ("done\r\n".to_string(), 0)
        }
        other => (format!("{other}: command not found\r\n"), -8),
    };
    Ok(ok(&ShellExecResponse { output, ret }))
}

/// The groups the fake supports, in registration order.
pub const GROUPS: [u16; 5] = [
    GROUP_OS,
    GROUP_IMAGE,
    GROUP_SETTINGS,
    GROUP_SHELL,
    GROUP_ENUM,
];

fn enumeration(header: &Header, payload: &[u8]) -> Result<Body, Body> {
    Ok(match (header.id, header.op) {
        (0, Op::Read) => ok(&GroupCountResponse {
            count: GROUPS.len() as u32,
        }),
        (1, Op::Read) => ok(&GroupListResponse {
            groups: GROUPS.to_vec(),
        }),
        (2, Op::Read) => {
            let index = parse::<GroupSingle>(payload)?.index.unwrap_or(0) as usize;
            match GROUPS.get(index) {
                Some(&group) => ok(&GroupSingleResponse {
                    group,
                    end: index + 1 == GROUPS.len(),
                }),
                None => Body::Group(4),
            }
        }
        (3, Op::Read) => {
            let wanted = parse::<GroupDetails>(payload)?.groups;
            let groups = GROUPS
                .iter()
                .filter(|g| wanted.as_ref().is_none_or(|w| w.contains(g)))
                .map(|&group| GroupDetail {
                    group,
                    name: Some(crate::proto::smp::codes::group_name(group.into()).to_string()),
                    handlers: None,
                })
                .collect();
            ok(&GroupDetailsResponse { groups })
        }
        _ => Body::Rc(8),
    })
}
