//! Image management of the zephyr-sensor (Zephyr `img_mgmt.c`, simplified): state read (1/0) and upload
//! (1/1) into slot 1, stored as `DIR/slot1.bin`.
//!
//! Slot 0 holds a fake built-in image ([`builtin_image`]), active and confirmed. The `hash` of a slot is
//! the SHA-256 of its whole file (Zephyr reports the image's SHA256 TLV instead; these fake images have
//! no TLVs). Upload checks on the first chunk (IMG rc): no `len` → 21, data < 32 bytes → 22, no MCUboot
//! magic → 23, `sha` > 32 bytes → 24, `len` > [`SLOT_SIZE`] → 30; later: `off + data > len` → 31; a
//! wrong offset is answered `{"off": expected}`. When complete the file's SHA-256 shows in slot 1.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};

use serde_json::json;
use sha2::{Digest, Sha256};
use temper_core::proto::smp::header::{Header, Op, SmpVersion};
use temper_core::proto::smp::messages::{
    ImageSlot, ImageState, ImageUpload, ImageUploadResponse, GROUP_IMAGE,
};

use super::smp::{cbor, from_cbor, group_err, rc_body, Server, RC_EINVAL};
use super::StoredImage;

/// Where slot 1 lives in the state directory.
pub const SLOT1_FILE: &str = "slot1.bin";
/// Size of each image slot (bytes).
pub const SLOT_SIZE: u64 = 0x60000;
/// MCUboot image header magic (little-endian at offset 0).
pub const MCUBOOT_MAGIC: u32 = 0x96f3_b83d;

/// IMG_MGMT_ERR codes used here.
pub const IMG_INVALID_OFFSET: u64 = 20;
pub const IMG_INVALID_LENGTH: u64 = 21;
pub const IMG_INVALID_IMAGE_HEADER: u64 = 22;
pub const IMG_INVALID_IMAGE_HEADER_MAGIC: u64 = 23;
pub const IMG_INVALID_HASH: u64 = 24;
pub const IMG_FLASH_WRITE_FAILED: u64 = 12;
pub const IMG_IMAGE_TOO_LARGE: u64 = 30;
pub const IMG_DATA_OVERRUN: u64 = 31;

/// The MGMT_ERR a v1 request gets for an image-group error (Zephyr's translator).
fn v1_rc(img_rc: u64) -> u64 {
    match img_rc {
        3 | 4 => 5,
        9 | 27 | 28 => 6,
        15 => 2,
        14 | 19..=22 | 24 | 25 => RC_EINVAL,
        _ => 1,
    }
}

/// The firmware in slot 0: a 32-byte MCUboot header (version 1.0.0) and a small body.
pub fn builtin_image() -> Vec<u8> {
    let body = b"zephyr-sensor application 1.0.0\0".repeat(8);
    let mut img = Vec::with_capacity(32 + body.len());
    img.extend_from_slice(&MCUBOOT_MAGIC.to_le_bytes());
    img.extend_from_slice(&0u32.to_le_bytes()); // load_addr
    img.extend_from_slice(&32u16.to_le_bytes()); // hdr_size
    img.extend_from_slice(&0u16.to_le_bytes()); // protect_tlv_size
    img.extend_from_slice(&(body.len() as u32).to_le_bytes());
    img.extend_from_slice(&0u32.to_le_bytes()); // flags
    img.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]); // 1.0.0 build 0
    img.extend_from_slice(&0u32.to_le_bytes());
    img.extend_from_slice(&body);
    img
}

/// "maj.min.rev[.build]" from an MCUboot header, "0.0.0" without one.
pub fn header_version(img: &[u8]) -> String {
    let Some(v) = img.get(20..28) else {
        return "0.0.0".into();
    };
    let rev = u16::from_le_bytes([v[2], v[3]]);
    let build = u32::from_le_bytes([v[4], v[5], v[6], v[7]]);
    match build {
        0 => format!("{}.{}.{rev}", v[0], v[1]),
        b => format!("{}.{}.{rev}.{b}", v[0], v[1]),
    }
}

/// An upload in progress.
pub struct Upload {
    len: u64,
    off: u64,
    sha: Option<Vec<u8>>,
    file: File,
}

/// The reply body to an image-group request, or `None` when the command is not supported.
pub(crate) fn handle(server: &mut Server, header: Header, payload: &[u8]) -> Option<Vec<u8>> {
    match (header.id, header.op) {
        (0, Op::Read) => {
            let version = super::os::version_number(header.version);
            server.log_request(
                header.group,
                header.id,
                header.seq,
                json!({"version": version}),
            );
            Some(cbor(&server.image_state()))
        }
        (1, Op::Write) => Some(server.upload(header.version, header.seq, payload)),
        _ => None,
    }
}

impl Server {
    /// The image state read reply: slot 0 (built-in, active, confirmed), slot 1 when it holds an image.
    pub fn image_state(&self) -> ImageState {
        let builtin = builtin_image();
        let mut images = vec![ImageSlot {
            image: None,
            slot: 0,
            version: header_version(&builtin),
            hash: Sha256::digest(&builtin).to_vec(),
            bootable: true,
            pending: false,
            confirmed: true,
            active: true,
            permanent: false,
        }];
        if let Some(s1) = &self.state.slot1 {
            images.push(ImageSlot {
                image: None,
                slot: 1,
                version: s1.version.clone(),
                hash: hex::decode(&s1.sha256).unwrap_or_default(),
                bootable: true,
                pending: false,
                confirmed: false,
                active: false,
                permanent: false,
            });
        }
        ImageState {
            images,
            split_status: Some(0),
        }
    }

    /// Image upload (1/1): the reply body.
    pub fn upload(&mut self, version: SmpVersion, seq: u8, payload: &[u8]) -> Vec<u8> {
        let Some(req) = from_cbor::<ImageUpload>(payload) else {
            self.log_request(GROUP_IMAGE, 1, seq, json!({"rc": RC_EINVAL}));
            return rc_body(RC_EINVAL);
        };
        let result = self.upload_chunk(&req);
        let fields = match &result {
            Ok((next, _)) => json!({"off": req.off, "len": req.data.len(), "next": next}),
            Err(rc) => json!({"off": req.off, "len": req.data.len(), "img_rc": rc}),
        };
        self.log_request(GROUP_IMAGE, 1, seq, fields);
        match result {
            Ok((off, matched)) => cbor(&ImageUploadResponse { off, matched }),
            Err(rc) => {
                self.upload = None;
                group_err(version, GROUP_IMAGE, rc, v1_rc(rc))
            }
        }
    }

    /// Applies one chunk: the next expected offset (and, when the image is complete and the request
    /// carried a `sha`, whether it matched), or an IMG_MGMT_ERR.
    fn upload_chunk(&mut self, req: &ImageUpload) -> Result<(u64, Option<bool>), u64> {
        if req.off == 0 {
            return self.upload_first(req);
        }
        let Some(up) = self.upload.as_mut() else {
            // Nothing in progress (e.g. after a restart): the device expects offset 0.
            return Ok((0, None));
        };
        if req.off != up.off {
            return Ok((up.off, None));
        }
        if req.off + req.data.len() as u64 > up.len {
            return Err(IMG_DATA_OVERRUN);
        }
        self.write_chunk(&req.data)
    }

    fn upload_first(&mut self, req: &ImageUpload) -> Result<(u64, Option<bool>), u64> {
        if let (Some(up), Some(sha)) = (&self.upload, &req.sha) {
            if up.sha.as_ref() == Some(sha) && Some(up.len) == req.len {
                return Ok((up.off, None)); // resume
            }
        }
        let len = req.len.ok_or(IMG_INVALID_LENGTH)?;
        if req.data.len() < 32 {
            return Err(IMG_INVALID_IMAGE_HEADER);
        }
        if req.data[..4] != MCUBOOT_MAGIC.to_le_bytes() {
            return Err(IMG_INVALID_IMAGE_HEADER_MAGIC);
        }
        if req.sha.as_ref().is_some_and(|s| s.len() > 32) {
            return Err(IMG_INVALID_HASH);
        }
        if len > SLOT_SIZE {
            return Err(IMG_IMAGE_TOO_LARGE);
        }
        if req.data.len() as u64 > len {
            return Err(IMG_DATA_OVERRUN);
        }
        // Starting an upload erases slot 1.
        let path = self.dir().join(SLOT1_FILE);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .read(true)
            .truncate(true)
            .open(&path)
            .map_err(|_| IMG_FLASH_WRITE_FAILED)?;
        if self.state.slot1.take().is_some() {
            self.save();
        }
        self.upload = Some(Upload {
            len,
            off: 0,
            sha: req.sha.clone(),
            file,
        });
        self.write_chunk(&req.data)
    }

    /// Writes `data` at the current offset; completes the upload when the image is whole.
    fn write_chunk(&mut self, data: &[u8]) -> Result<(u64, Option<bool>), u64> {
        let up = self.upload.as_mut().expect("upload in progress");
        up.file
            .seek(SeekFrom::Start(up.off))
            .and_then(|_| up.file.write_all(data))
            .map_err(|_| IMG_FLASH_WRITE_FAILED)?;
        up.off += data.len() as u64;
        let off = up.off;
        if off < up.len {
            return Ok((off, None));
        }
        let up = self.upload.take().expect("upload in progress");
        up.file.sync_all().map_err(|_| IMG_FLASH_WRITE_FAILED)?;
        let img = std::fs::read(self.dir().join(SLOT1_FILE)).map_err(|_| IMG_FLASH_WRITE_FAILED)?;
        let sha = Sha256::digest(&img).to_vec();
        self.state.slot1 = Some(StoredImage {
            len: up.len,
            sha256: hex::encode(&sha),
            version: header_version(&img),
        });
        let matched = up.sha.as_ref().map(|s| *s == sha);
        self.events.log(
            "image_uploaded",
            json!({"slot": 1, "len": up.len, "sha256": hex::encode(&sha), "match": matched}),
        );
        self.save();
        Ok((off, matched))
    }
}
