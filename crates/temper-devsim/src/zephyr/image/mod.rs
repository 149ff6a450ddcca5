//! Image management of the zephyr-sensor (Zephyr `img_mgmt.c`, `img_mgmt_state.c`, single image, MCUboot in
//! swap mode): state read and write (1/0), upload (1/1, [`upload`]) into slot 1, erase (1/5).
//!
//! Slot 0 holds the running image: at first start the factory image [`sign::builtin_image`] (version 1.0.0,
//! signed with the bootloader's built-in key). A slot is listed by `state read` only when it holds an
//! MCUboot image with a hash TLV, and its `hash` is that TLV ([`tlv`]), not the file's SHA-256. The flags
//! come from the MCUboot trailers ([`slots`]); the bootloader (`zephyr::boot`) acts on them at each boot.
//!
//! State write `{"hash", "confirm"}` (IMG rc): no hash and no confirm → 24; hash not 32 bytes → 24; hash in
//! no slot → 8; test of the active slot → 33; a change while a test is pending, or a test while the
//! running image is under test → 28. Success is answered with the full state. Erase `{"slot"}` (default 1):
//! a slot in use (active, pending, or kept for revert) → 9; no such slot → 14. v1 requests get the mapped
//! MGMT_ERR as `{"rc"}` ([`v1_rc`]).

pub mod sign;
pub mod slots;
pub mod tlv;
pub mod upload;

use serde::Deserialize;
use serde_json::json;
use temper_core::proto::smp::header::{Header, Op, SmpVersion};
use temper_core::proto::smp::messages::{ImageSlot, ImageState, GROUP_IMAGE};

use super::smp::{cbor, from_cbor, group_err, rc_body, Server, RC_EINVAL};
use slots::{read_info, slot_path, Trailer};

pub use slots::{SLOT_FILES, SLOT_SIZE};
/// Where slot 1 lives in the state directory.
pub const SLOT1_FILE: &str = SLOT_FILES[1];

/// IMG_MGMT_ERR codes used by the simulator.
pub mod img {
    pub const INVALID_SLOT: u64 = 14;
    pub const FLASH_WRITE_FAILED: u64 = 12;
    pub const FLASH_ERASE_FAILED: u64 = 13;
    pub const HASH_NOT_FOUND: u64 = 8;
    pub const NO_FREE_SLOT: u64 = 9;
    pub const INVALID_LENGTH: u64 = 21;
    pub const INVALID_IMAGE_HEADER: u64 = 22;
    pub const INVALID_IMAGE_HEADER_MAGIC: u64 = 23;
    pub const INVALID_HASH: u64 = 24;
    pub const VERSION_GET_FAILED: u64 = 26;
    pub const CURRENT_VERSION_IS_NEWER: u64 = 27;
    pub const IMAGE_ALREADY_PENDING: u64 = 28;
    pub const IMAGE_TOO_LARGE: u64 = 30;
    pub const DATA_OVERRUN: u64 = 31;
    pub const SET_TEST_TO_ACTIVE_DENIED: u64 = 33;
}

/// The MGMT_ERR a v1 request gets for an image-group error (Zephyr's `img_mgmt_translate_error_code`).
pub(crate) fn v1_rc(img_rc: u64) -> u64 {
    match img_rc {
        3 | 4 => 5,
        9 | 27 | 28 => 6,
        15 => 2,
        14 | 19..=22 | 24 | 25 => RC_EINVAL,
        _ => 1,
    }
}

/// The reply body to an image-group request, or `None` when the command is not supported.
pub(crate) fn handle(server: &mut Server, header: Header, payload: &[u8]) -> Option<Vec<u8>> {
    let version = super::os::version_number(header.version);
    let log = |server: &Server, extra: serde_json::Value| {
        let mut fields = json!({ "version": version });
        if let (Some(obj), serde_json::Value::Object(more)) = (fields.as_object_mut(), extra) {
            obj.extend(more);
        }
        server.log_request(header.group, header.id, header.seq, fields)
    };
    let (fields, body) = match (header.id, header.op) {
        (0, Op::Read) => (json!({}), cbor(&server.image_state())),
        (0, Op::Write) => match from_cbor::<StateWrite>(payload) {
            Some(req) => match server.state_write(&req) {
                Ok(()) => (json!({}), cbor(&server.image_state())),
                Err(rc) => (json!({ "img_rc": rc }), img_err(header.version, rc)),
            },
            None => (json!({ "rc": RC_EINVAL }), rc_body(RC_EINVAL)),
        },
        (1, Op::Write) => return Some(server.upload(header.version, header.seq, payload)),
        (5, Op::Write) => match from_cbor::<Erase>(payload) {
            Some(req) => match server.erase(req.slot.unwrap_or(1)) {
                Ok(()) => (json!({}), cbor(&json!({}))),
                Err(rc) => (json!({ "img_rc": rc }), img_err(header.version, rc)),
            },
            None => (json!({ "rc": RC_EINVAL }), rc_body(RC_EINVAL)),
        },
        _ => return None,
    };
    log(server, fields);
    Some(body)
}

fn img_err(version: SmpVersion, rc: u64) -> Vec<u8> {
    group_err(version, GROUP_IMAGE, rc, v1_rc(rc))
}

/// Image state write request.
#[derive(Deserialize)]
struct StateWrite {
    #[serde(default, deserialize_with = "bstr_opt")]
    hash: Option<Vec<u8>>,
    #[serde(default)]
    confirm: bool,
}

/// Image erase request.
#[derive(Deserialize)]
struct Erase {
    slot: Option<u32>,
}

/// `hash` must be a CBOR byte string (zcbor refuses anything else, and so the request).
fn bstr_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    match ciborium::value::Value::deserialize(d)? {
        ciborium::value::Value::Bytes(b) => Ok(Some(b)),
        _ => Err(serde::de::Error::custom("hash must be a byte string")),
    }
}

impl Server {
    /// The image state read reply: each slot that holds an image, with Zephyr's flags.
    pub fn image_state(&self) -> ImageState {
        let flags = self.state.trailers.report_flags();
        let images = (0..2)
            .filter_map(|slot| {
                let info = read_info(self.dir(), slot).ok()?;
                let f = flags[slot];
                Some(ImageSlot {
                    image: None,
                    slot: slot as u32,
                    version: info.version.to_string(),
                    hash: info.hash.to_vec(),
                    bootable: info.bootable(),
                    pending: f.pending,
                    confirmed: f.confirmed,
                    active: f.active,
                    permanent: f.permanent,
                })
            })
            .collect();
        ImageState {
            images,
            split_status: Some(0),
        }
    }

    /// `img_mgmt_state_write` + `img_mgmt_set_next_boot_slot` + MCUboot's `boot_set_next`.
    fn state_write(&mut self, req: &StateWrite) -> Result<(), u64> {
        use slots::NextBoot;
        let slot = match &req.hash {
            None if req.confirm => 0,
            None => return Err(img::INVALID_HASH),
            Some(h) if h.len() != 32 => return Err(img::INVALID_HASH),
            Some(h) => (0..2)
                .find(|&s| read_info(self.dir(), s).is_ok_and(|i| i.hash[..] == h[..]))
                .ok_or(img::HASH_NOT_FOUND)?,
        };
        let (next, kind) = self.state.trailers.next_boot();
        if !req.confirm && slot == 0 {
            return Err(img::SET_TEST_TO_ACTIVE_DENIED);
        }
        match kind {
            NextBoot::Test if !req.confirm && slot == next => return Ok(()),
            NextBoot::Test => return Err(img::IMAGE_ALREADY_PENDING),
            NextBoot::Normal if req.confirm && slot == next => return Ok(()),
            NextBoot::Normal if (slot == 0 && next != 0) || (!req.confirm && slot == next) => {
                return Err(img::IMAGE_ALREADY_PENDING)
            }
            NextBoot::Revert if req.confirm && slot == next => return Ok(()),
            NextBoot::Revert if !req.confirm => return Err(img::IMAGE_ALREADY_PENDING),
            _ => {}
        }
        let t = &mut self.state.trailers;
        let before = *t;
        if slot == 0 {
            // Confirm the running image (only a swapped-in one has a trailer to write).
            if t.primary.magic {
                t.primary.image_ok = true;
            }
        } else if !t.secondary.magic {
            t.secondary = Trailer {
                magic: true,
                image_ok: req.confirm,
                copy_done: false,
            };
        }
        if *t != before {
            let f = self.state.trailers.report_flags()[slot];
            let info = read_info(self.dir(), slot).ok();
            self.events.log(
                "image_state",
                json!({
                    "slot": slot,
                    "version": info.map(|i| i.version.to_string()),
                    "hash": info.map(|i| hex::encode(i.hash)),
                    "pending": f.pending,
                    "permanent": f.permanent,
                    "confirmed": f.confirmed,
                    "swap": self.state.trailers.swap_type(),
                }),
            );
            self.save();
        }
        Ok(())
    }

    /// `img_mgmt_erase`: erases slot 1 (its trailer too) unless it is in use; forgets any upload.
    fn erase(&mut self, slot: u32) -> Result<(), u64> {
        let slot = usize::try_from(slot)
            .ok()
            .filter(|&s| s < 2)
            .ok_or(img::INVALID_SLOT)?;
        if read_info(self.dir(), slot).is_ok() && self.state.trailers.slot_in_use(slot) {
            return Err(img::NO_FREE_SLOT);
        }
        if slot == 0 {
            // Only reachable when slot 0 holds no valid image; the simulator keeps none to erase.
            return Err(img::NO_FREE_SLOT);
        }
        self.upload = None;
        match std::fs::remove_file(slot_path(self.dir(), slot)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return Err(img::FLASH_ERASE_FAILED),
        }
        self.state.trailers.secondary = Trailer::default();
        self.events.log("image_erased", json!({ "slot": slot }));
        self.save();
        Ok(())
    }
}
