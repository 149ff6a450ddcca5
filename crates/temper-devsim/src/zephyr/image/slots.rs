//! The two image slots of the sensor's flash and MCUboot's image trailers.
//!
//! Slot contents are files in the state directory (`slot0.bin` primary, `slot1.bin` secondary; a missing file
//! is an erased slot). The image trailer MCUboot keeps at the end of each slot (magic, image_ok, copy_done) is
//! kept in `state.json` instead ([`Trailers`]). From the trailers follow MCUboot's swap type
//! (`boot_swap_type_multi`) and Zephyr's view of the slots (`img_mgmt_state.c`): the next boot slot, the
//! flags `state read` reports, and which slot is "in use". The running image is always slot 0 (swap mode).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::tlv::{McubootImage, Version, IMAGE_F_NON_BOOTABLE};

/// Size of each image slot (bytes).
pub const SLOT_SIZE: u64 = 0x60000;
/// File of each slot, by slot number.
pub const SLOT_FILES: [&str; 2] = ["slot0.bin", "slot1.bin"];
/// Where the primary image waits while the bootloader swaps the slots.
pub const SCRATCH_FILE: &str = "swap-scratch.bin";

/// The path of `slot`'s file.
pub fn slot_path(dir: &Path, slot: usize) -> PathBuf {
    dir.join(SLOT_FILES[slot])
}

/// The trailer at the end of one slot: each field is "set" (true) or erased (false).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    /// The boot magic: a swap was requested for this slot's image (secondary) or done (primary).
    pub magic: bool,
    /// The image is confirmed (permanent).
    pub image_ok: bool,
    /// The swap that brought this image here finished.
    pub copy_done: bool,
}

/// Both slots' trailers, as remembered in `state.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailers {
    pub primary: Trailer,
    pub secondary: Trailer,
}

/// What MCUboot will do at the next boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SwapType {
    /// Boot slot 0 as it is.
    None,
    /// Swap slot 1 in for one boot; revert unless it is confirmed.
    Test,
    /// Swap slot 1 in for good.
    Perm,
    /// The running test image was not confirmed: swap the previous image back.
    Revert,
}

/// Zephyr's `enum img_mgmt_next_boot_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextBoot {
    Normal,
    Test,
    Revert,
}

/// The flags `image state read` reports for a slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotFlags {
    pub active: bool,
    pub pending: bool,
    pub confirmed: bool,
    pub permanent: bool,
}

impl Trailers {
    /// MCUboot's swap table: the secondary's trailer first, then a primary that was tested and not confirmed.
    pub fn swap_type(&self) -> SwapType {
        let (p, s) = (self.primary, self.secondary);
        match (s.magic, s.image_ok) {
            (true, false) => SwapType::Test,
            (true, true) => SwapType::Perm,
            (false, _) if p.magic && !p.image_ok && p.copy_done => SwapType::Revert,
            _ => SwapType::None,
        }
    }

    /// `img_mgmt_get_next_boot_slot`: the slot booted next and how.
    pub fn next_boot(&self) -> (usize, NextBoot) {
        match self.swap_type() {
            SwapType::None => (0, NextBoot::Normal),
            SwapType::Perm => (1, NextBoot::Normal),
            SwapType::Test => (1, NextBoot::Test),
            SwapType::Revert => (1, NextBoot::Revert),
        }
    }

    /// `img_mgmt_state_read`'s flags for slot 0 (active) and slot 1.
    pub fn report_flags(&self) -> [SlotFlags; 2] {
        let (next, kind) = self.next_boot();
        let active = SlotFlags {
            active: true,
            confirmed: kind != NextBoot::Revert,
            ..SlotFlags::default()
        };
        let other = match (next, kind) {
            (0, _) => SlotFlags::default(),
            (_, NextBoot::Normal) => SlotFlags {
                pending: true,
                permanent: true,
                ..SlotFlags::default()
            },
            (_, NextBoot::Revert) => SlotFlags {
                confirmed: true,
                ..SlotFlags::default()
            },
            (_, NextBoot::Test) => SlotFlags {
                pending: true,
                ..SlotFlags::default()
            },
        };
        [active, other]
    }

    /// `img_mgmt_slot_in_use` (erasing or uploading over a pending image is refused).
    pub fn slot_in_use(&self, slot: usize) -> bool {
        let (next, kind) = self.next_boot();
        if slot == next && matches!(kind, NextBoot::Revert | NextBoot::Test) {
            return true;
        }
        if next != 0 && kind == NextBoot::Normal {
            return true;
        }
        slot == 0
    }
}

/// What Zephyr's `img_mgmt_read_info` reads from a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotInfo {
    pub version: Version,
    /// The SHA256 TLV.
    pub hash: [u8; 32],
    /// The header's flags.
    pub flags: u32,
}

impl SlotInfo {
    pub fn bootable(&self) -> bool {
        self.flags & IMAGE_F_NON_BOOTABLE == 0
    }
}

/// IMG_MGMT_ERR_NO_IMAGE.
const IMG_NO_IMAGE: u64 = 3;
/// IMG_MGMT_ERR_NO_TLVS.
const IMG_NO_TLVS: u64 = 4;
/// IMG_MGMT_ERR_INVALID_IMAGE_HEADER_MAGIC.
const IMG_BAD_MAGIC: u64 = 23;

/// Reads the image in `slot`; `Err` with Zephyr's IMG_MGMT_ERR when there is no valid one (an erased or
/// half-written slot, no TLVs, no hash).
pub fn read_info(dir: &Path, slot: usize) -> Result<SlotInfo, u64> {
    let bytes = std::fs::read(slot_path(dir, slot)).map_err(|_| IMG_NO_IMAGE)?;
    info_of(&bytes)
}

/// [`read_info`] on bytes in memory.
pub fn info_of(bytes: &[u8]) -> Result<SlotInfo, u64> {
    use super::tlv::FormatError as F;
    let image = McubootImage::parse(bytes).map_err(|e| match e {
        F::Short => IMG_NO_IMAGE,
        F::BadMagic(_) | F::HeaderSize(_) => IMG_BAD_MAGIC,
        F::Truncated { .. } | F::NoTlvs | F::TlvOverrun => IMG_NO_TLVS,
    })?;
    Ok(SlotInfo {
        version: image.header.version,
        hash: image.hash_tlv()?,
        flags: image.header.flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: Trailer = Trailer {
        magic: true,
        image_ok: true,
        copy_done: true,
    };
    const TESTED: Trailer = Trailer {
        magic: true,
        image_ok: false,
        copy_done: true,
    };
    const TEST_REQUEST: Trailer = Trailer {
        magic: true,
        image_ok: false,
        copy_done: false,
    };

    /// The life of a test upgrade as `state read` shows it (flags per Zephyr's `img_mgmt_state_read`).
    #[test]
    fn flags_through_a_test_upgrade() {
        let f = |a, p, c, perm| SlotFlags {
            active: a,
            pending: p,
            confirmed: c,
            permanent: perm,
        };
        let idle = Trailers::default();
        assert_eq!(idle.swap_type(), SwapType::None);
        assert_eq!(
            idle.report_flags(),
            [f(true, false, true, false), f(false, false, false, false)]
        );
        assert!(!idle.slot_in_use(1), "an idle slot 1 can be uploaded to");

        let pending = Trailers {
            secondary: TEST_REQUEST,
            ..idle
        };
        assert_eq!(pending.swap_type(), SwapType::Test);
        assert_eq!(pending.report_flags()[1], f(false, true, false, false));
        assert!(pending.slot_in_use(1), "a pending image is in use");

        let running_test = Trailers {
            primary: TESTED,
            secondary: Trailer::default(),
        };
        assert_eq!(running_test.swap_type(), SwapType::Revert);
        assert_eq!(
            running_test.report_flags(),
            [f(true, false, false, false), f(false, false, true, false)],
            "unconfirmed: slot 0 active only, slot 1 (the old image) confirmed"
        );
        assert!(running_test.slot_in_use(1), "the revert image is kept");

        let confirmed = Trailers {
            primary: SET,
            secondary: Trailer::default(),
        };
        assert_eq!(confirmed.swap_type(), SwapType::None);
        assert_eq!(confirmed.report_flags()[0], f(true, false, true, false));

        let permanent = Trailers {
            secondary: SET,
            ..idle
        };
        assert_eq!(permanent.swap_type(), SwapType::Perm);
        assert_eq!(permanent.report_flags()[1], f(false, true, false, true));
        assert!(permanent.slot_in_use(1));
    }
}
