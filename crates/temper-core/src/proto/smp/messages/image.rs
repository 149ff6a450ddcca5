//! Image management group (1): slot state read and write, upload, erase (Zephyr `grp/img_mgmt/src/*.c`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{bstr, EmptyResponse, Request, GROUP_IMAGE};
use crate::proto::smp::header::Op;

/// How long an erase or a state write (which may rewrite the image trailer) can take on a slow flash.
pub const FLASH_TIMEOUT: Duration = Duration::from_secs(30);

/// Image state read (1/0, read): `{}` → `{"images": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageStateRead {}

/// Reply to [`ImageStateRead`] and [`ImageStateWrite`].
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

impl ImageState {
    /// The entry for `slot` of image number `image` (a device with one image leaves `image` out: 0).
    pub fn slot(&self, image: u32, slot: u32) -> Option<&ImageSlot> {
        self.images
            .iter()
            .find(|s| s.slot == slot && s.image.unwrap_or(0) == image)
    }
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
    /// SHA-256 TLV of the image trailer (not the SHA-256 of the file). Empty when the device sends none
    /// (MCUboot serial recovery without `CONFIG_BOOT_SERIAL_IMG_GRP_HASH`).
    #[serde(with = "bstr", default, skip_serializing_if = "Vec::is_empty")]
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

impl ImageSlot {
    /// The names of the flags that are set, in Zephyr's order: bootable, pending, confirmed, active,
    /// permanent.
    pub fn flags(&self) -> Vec<&'static str> {
        [
            (self.bootable, "bootable"),
            (self.pending, "pending"),
            (self.confirmed, "confirmed"),
            (self.active, "active"),
            (self.permanent, "permanent"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }
}

impl Request for ImageStateRead {
    const GROUP: u16 = GROUP_IMAGE;
    const ID: u8 = 0;
    const OP: Op = Op::Read;
    type Response = ImageState;
}

/// Image state write (1/0, write): `{"hash": bstr32, "confirm": bool}` → the state-read body.
///
/// `confirm: false` marks the image with `hash` for a test boot (reverted at the next reset unless the
/// running image confirms itself); `confirm: true` makes it permanent, or, without a hash, confirms the
/// running image. IMG errors: test without hash or a hash not 32 bytes → 24; hash not found → 8; test of the
/// active slot → 33; already pending → 28.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageStateWrite {
    /// The image's SHA-256 TLV (as [`ImageSlot::hash`] shows it).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "bstr::opt")]
    pub hash: Option<Vec<u8>>,
    /// Make it permanent (or confirm the running image) instead of a test boot.
    #[serde(default)]
    pub confirm: bool,
}

impl ImageStateWrite {
    /// Boot the image with `hash` once, as a test.
    pub fn test(hash: &[u8]) -> Self {
        ImageStateWrite {
            hash: Some(hash.to_vec()),
            confirm: false,
        }
    }

    /// Make the image with `hash` permanent, or confirm the running image (`None`).
    pub fn confirm(hash: Option<&[u8]>) -> Self {
        ImageStateWrite {
            hash: hash.map(<[u8]>::to_vec),
            confirm: true,
        }
    }
}

impl Request for ImageStateWrite {
    const GROUP: u16 = GROUP_IMAGE;
    const ID: u8 = 0;
    const OP: Op = Op::Write;
    type Response = ImageState;

    fn timeout(&self) -> Option<Duration> {
        Some(FLASH_TIMEOUT)
    }
}

/// One image upload chunk (1/1, write). The first chunk (off 0) carries `len` and usually `image` and
/// `sha`; later ones only `off` and `data`. Reply: [`ImageUploadResponse`].
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

/// Image erase (1/5, write): `{"slot": n}` → `{}`; without `slot`, the secondary slot of image 0. A slot in
/// use (running, or pending for the next boot) gets IMG error 9 (NO_FREE_SLOT).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageErase {
    /// The slot to erase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<u32>,
}

impl Request for ImageErase {
    const GROUP: u16 = GROUP_IMAGE;
    const ID: u8 = 5;
    const OP: Op = Op::Write;
    type Response = EmptyResponse;

    fn timeout(&self) -> Option<Duration> {
        Some(FLASH_TIMEOUT)
    }
}
