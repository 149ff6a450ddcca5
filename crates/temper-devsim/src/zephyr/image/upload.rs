//! Image upload (1/1) into slot 1, as Zephyr's `img_mgmt_upload` / `img_mgmt_upload_inspect` do it.
//!
//! Checks on the first chunk (IMG rc): data under 32 bytes → 22, no `len` → 21, no MCUboot magic → 23, a
//! `sha` over 32 bytes → 24, slot 1 in use (an image pending or kept for revert) → 9, `len` over
//! [`SLOT_SIZE`] → 30, `upgrade` and a version not newer than the running one → 27. Later chunks: data past
//! `len` → 31; a wrong offset is answered `{"off": expected}`. An off-0 chunk whose `sha` matches the upload
//! in progress resumes it. The upload state lives in RAM ([`Upload`]), so a reboot forgets it, as on the
//! device. The `image` number is ignored, as by a single-image Zephyr without
//! `CONFIG_MCUMGR_GRP_IMG_DIRECT_UPLOAD`.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};

use serde_json::json;
use sha2::{Digest, Sha256};
use temper_core::proto::smp::header::SmpVersion;
use temper_core::proto::smp::messages::{ImageUpload, ImageUploadResponse, GROUP_IMAGE};

use super::slots::{info_of, read_info, slot_path, Trailer, SLOT_SIZE};
use super::tlv::Header;
use super::{img, v1_rc};
use crate::zephyr::smp::{cbor, from_cbor, group_err, rc_body, Server, RC_EINVAL};

/// An upload in progress.
pub struct Upload {
    len: u64,
    off: u64,
    sha: Option<Vec<u8>>,
    file: File,
}

impl Server {
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
            // Nothing in progress (e.g. after a reboot): the device expects offset 0.
            return Ok((0, None));
        };
        if req.off != up.off {
            return Ok((up.off, None));
        }
        if req.off + req.data.len() as u64 > up.len {
            return Err(img::DATA_OVERRUN);
        }
        self.write_chunk(&req.data)
    }

    fn upload_first(&mut self, req: &ImageUpload) -> Result<(u64, Option<bool>), u64> {
        if req.data.len() < 32 {
            return Err(img::INVALID_IMAGE_HEADER);
        }
        let len = req.len.ok_or(img::INVALID_LENGTH)?;
        let header = Header::parse(&req.data).map_err(|_| img::INVALID_IMAGE_HEADER_MAGIC)?; // magic only
        if req.sha.as_ref().is_some_and(|s| s.len() > 32) {
            return Err(img::INVALID_HASH);
        }
        if let (Some(up), Some(sha)) = (&self.upload, &req.sha) {
            if up.sha.as_ref() == Some(sha) {
                return Ok((up.off, None)); // resume
            }
        }
        if self.state.trailers.slot_in_use(1) {
            return Err(img::NO_FREE_SLOT);
        }
        if len > SLOT_SIZE {
            return Err(img::IMAGE_TOO_LARGE);
        }
        if req.upgrade == Some(true) {
            let running = read_info(self.dir(), 0).map_err(|_| img::VERSION_GET_FAILED)?;
            if running.version >= header.version {
                return Err(img::CURRENT_VERSION_IS_NEWER);
            }
        }
        if req.data.len() as u64 > len {
            return Err(img::DATA_OVERRUN);
        }
        // Starting an upload erases slot 1, its trailer included.
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .read(true)
            .truncate(true)
            .open(slot_path(self.dir(), 1))
            .map_err(|_| img::FLASH_WRITE_FAILED)?;
        if self.state.trailers.secondary != Trailer::default() {
            self.state.trailers.secondary = Trailer::default();
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
            .map_err(|_| img::FLASH_WRITE_FAILED)?;
        up.off += data.len() as u64;
        let off = up.off;
        if off < up.len {
            return Ok((off, None));
        }
        let up = self.upload.take().expect("upload in progress");
        up.file.sync_all().map_err(|_| img::FLASH_WRITE_FAILED)?;
        let bytes = std::fs::read(slot_path(self.dir(), 1)).map_err(|_| img::FLASH_WRITE_FAILED)?;
        let sha = Sha256::digest(&bytes).to_vec();
        let matched = up.sha.as_ref().map(|s| *s == sha);
        let info = info_of(&bytes).ok();
        self.events.log(
            "image_uploaded",
            json!({
                "slot": 1,
                "len": up.len,
                "sha256": hex::encode(&sha),
                "match": matched,
                "version": info.map(|i| i.version.to_string()),
                "hash": info.map(|i| hex::encode(i.hash)),
            }),
        );
        self.save();
        Ok((off, matched))
    }
}
