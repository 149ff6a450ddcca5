//! Image upload planning, sans-I/O: which [`ImageUpload`] chunks to send, how big, how many at once, and what
//! to do with each `{off}` reply.
//!
//! [`UploadPlan`] sizes chunks from the device's `buf_size` by encoding probe requests (so the budget is the real
//! encoded size, not an estimate), keeps a pipelining window of requests in flight, and re-plans from the
//! device's offset whenever a reply shows the device is somewhere else than expected: it resumed an earlier
//! upload, it restarted (offset 0), or a request was lost. The caller does the I/O:
//!
//! 1. send every [`UploadPlan::next_chunk`] (built with [`UploadPlan::request`]) until it returns `None`;
//! 2. read one reply and hand its `off` to [`UploadPlan::on_response`];
//! 3. repeat until [`UploadPlan::is_done`]. When a reply never comes, call [`UploadPlan::on_timeout`].
//!
//! The device answers in request order, so a reply to a later request means the earlier ones were lost.

use std::collections::VecDeque;

use super::header::SmpVersion;
use super::messages::{encode_request, ImageUpload, McumgrParamsResponse};
use super::serial::MAX_ENCODABLE;

/// Bytes of a device buffer the serial framing takes besides the SMP packet: Zephyr reassembles the 2-byte
/// length and the 2-byte CRC into the same net_buf before stripping them.
pub const SERIAL_FRAME_OVERHEAD: usize = 4;

/// Smallest first chunk Zephyr accepts: it must hold the 32-byte MCUboot image header.
pub const MIN_FIRST_CHUNK: usize = 32;

/// Why an upload cannot be planned or continued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// The image is empty; the device refuses a zero-length upload.
    #[error("the image is empty; nothing to upload")]
    EmptyImage,
    /// The device's buffer cannot hold a request carrying the minimum chunk.
    #[error("the device's SMP buffer of {buf_size} bytes cannot hold an upload request with a {min_chunk}-byte chunk; raise CONFIG_MCUMGR_TRANSPORT_NETBUF_SIZE in the firmware")]
    BufferTooSmall {
        /// The device's `buf_size`.
        buf_size: u32,
        /// The smallest chunk that had to fit.
        min_chunk: usize,
    },
    /// The device claims an offset past the end of the image.
    #[error("the device reports upload offset {off}, past the end of the {len}-byte image; it is uploading another image: run the upload again to restart it")]
    OffsetBeyondImage {
        /// Offset the device reported.
        off: u64,
        /// Image length.
        len: u64,
    },
    /// The device checked the finished image against the SHA-256 sent with the first chunk and it differs.
    #[error("the device reports the uploaded image does not match its SHA-256; bytes were corrupted on the way: run the upload again")]
    HashMismatch,
}

/// What an upload reports as it goes, through the caller's callback (the CLI turns these into a progress
/// bar or JSON lines; `event` in JSON is the variant's name, kebab-case with an `upload-` prefix).
///
/// Order: one [`Started`](Self::Started) (after the device's buffers are read); then, as replies come,
/// [`Progress`](Self::Progress) after each reply, with [`Resumed`](Self::Resumed) before the first progress
/// when the device already held part of this image and [`Restarted`](Self::Restarted) whenever the device
/// reports it lost the upload; last, [`Finished`](Self::Finished), only when the device holds the whole
/// image. An upload that fails ends without `Finished`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all_fields = "kebab-case")]
pub enum UploadEvent {
    /// The upload is planned from the device's buffers.
    #[serde(rename = "upload-started")]
    Started {
        /// Image length in bytes.
        len: u64,
        /// SHA-256 of the image file, lowercase hex (sent with the first chunk: the device resumes by it).
        sha256: String,
        /// The device's SMP buffer size.
        buf_size: u32,
        /// The device's SMP buffer count.
        buf_count: u32,
        /// Image bytes per request after the first.
        chunk: usize,
        /// Requests kept in flight.
        window: usize,
    },
    /// The device already held the first `off` bytes of this image (an interrupted upload, same SHA-256):
    /// sending continues from there.
    #[serde(rename = "upload-resumed")]
    Resumed {
        /// Where the device resumes.
        off: u64,
    },
    /// The device lost the upload in progress (it reset) and takes it again from offset 0.
    #[serde(rename = "upload-restarted")]
    Restarted {
        /// The offset the device had reached before.
        from: u64,
    },
    /// The device holds `off` of `len` bytes.
    #[serde(rename = "upload-progress")]
    Progress {
        /// Bytes the device holds.
        off: u64,
        /// Image length.
        len: u64,
    },
    /// The device holds the whole image.
    #[serde(rename = "upload-finished")]
    Finished {
        /// Image length.
        len: u64,
        /// Image bytes sent in this run, resent ones included.
        sent: u64,
        /// The device's check of the image against its SHA-256, when it made one.
        matched: Option<bool>,
    },
}

/// Identifies one planned chunk for [`UploadPlan::on_response`]; increasing in send order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChunkId(u64);

/// One chunk to send: `len` bytes of the image from `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Hand back to [`UploadPlan::on_response`] with the reply.
    pub id: ChunkId,
    /// Offset in the image.
    pub off: u64,
    /// Length in bytes.
    pub len: usize,
}

impl Chunk {
    /// Offset right after this chunk: what the device answers when it accepts it.
    pub fn end(&self) -> u64 {
        self.off + self.len as u64
    }
}

/// What a reply did to the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// The chunk was written; the device is at `off`.
    Advanced {
        /// The device's offset.
        off: u64,
    },
    /// The device is somewhere the plan did not expect (resumed, restarted, or a request was lost): chunks are
    /// now planned from `off`, and in-flight chunks that cannot land are written off.
    Replanned {
        /// The device's offset.
        off: u64,
    },
    /// The chunk did not move the device as sent, but the chunks in flight already continue from the device's
    /// offset, so the plan stands (the chunk was sent before an earlier re-plan, or the device held it already).
    Rejected {
        /// The device's offset.
        off: u64,
    },
    /// The device has the whole image.
    Done,
    /// The reply is for a chunk the plan no longer tracks (sent before [`UploadPlan::on_timeout`]); ignored.
    Stale,
}

/// The sans-I/O upload planner; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct UploadPlan {
    len: u64,
    image: Option<u32>,
    sha: Option<Vec<u8>>,
    max_packet: usize,
    first_max: usize,
    next_max: usize,
    window: usize,
    buf_count: usize,
    /// Next offset to send.
    cursor: u64,
    /// Last offset the device reported.
    device_off: u64,
    in_flight: VecDeque<Chunk>,
    next_id: u64,
    planned: u64,
    done: bool,
}

impl UploadPlan {
    /// Plans the upload of a `len`-byte image to a device with the given buffers. `image` is the image number
    /// (`None`: the device's default) and `sha` the SHA-256 of the whole file, which lets the device resume an
    /// interrupted upload of the same file and check the result.
    ///
    /// Each request (SMP header + CBOR) plus [`SERIAL_FRAME_OVERHEAD`] fits in `buf_size`. The window is
    /// `buf_count - 1` (at least 1): Zephyr takes the reply buffer from the same pool as the requests, so
    /// filling every buffer with requests would leave none for the reply.
    pub fn new(
        len: u64,
        params: McumgrParamsResponse,
        image: Option<u32>,
        sha: Option<Vec<u8>>,
    ) -> Result<Self, UploadError> {
        if len == 0 {
            return Err(UploadError::EmptyImage);
        }
        let buf_size = params.buf_size;
        let max_packet = (buf_size as usize)
            .saturating_sub(SERIAL_FRAME_OVERHEAD)
            .min(MAX_ENCODABLE);
        let min_first = MIN_FIRST_CHUNK.min(len as usize);
        let too_small = |min_chunk| UploadError::BufferTooSmall {
            buf_size,
            min_chunk,
        };
        // Probes: the first chunk carries len/sha/image at off 0; later ones the largest offset they can hold.
        let first_max = max_data(max_packet, |data| {
            ImageUpload::first(image, len, sha.clone(), data)
        })
        .filter(|&n| n >= min_first)
        .ok_or(too_small(min_first))?;
        let next_max = max_data(max_packet, |data| ImageUpload::next(len, data))
            .filter(|&n| n >= 1)
            .ok_or(too_small(1))?;
        let buf_count = (params.buf_count as usize).max(1);
        Ok(UploadPlan {
            len,
            image,
            sha,
            max_packet,
            first_max,
            next_max,
            window: buf_count.saturating_sub(1).max(1),
            buf_count,
            cursor: 0,
            device_off: 0,
            in_flight: VecDeque::new(),
            next_id: 0,
            planned: 0,
            done: false,
        })
    }

    /// Sets the pipelining window, clamped to 1..=`buf_count`.
    pub fn with_window(mut self, window: usize) -> Self {
        self.window = window.clamp(1, self.buf_count);
        self
    }

    /// Image length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always false: an empty image cannot be planned.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Largest request packet (SMP header + CBOR) a chunk may produce.
    pub fn max_packet(&self) -> usize {
        self.max_packet
    }

    /// Largest data length of the first chunk (off 0) and of the later ones.
    pub fn chunk_limits(&self) -> (usize, usize) {
        (self.first_max, self.next_max)
    }

    /// Most requests kept in flight.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Requests sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Last offset the device reported (0 before any reply): how much of the image it holds.
    pub fn device_off(&self) -> u64 {
        self.device_off
    }

    /// Image bytes handed out in chunks so far, resent ones included.
    pub fn planned_bytes(&self) -> u64 {
        self.planned
    }

    /// The device reported the whole image.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The next chunk to send, or `None` when the window is full, everything is in flight, or the upload is
    /// done.
    pub fn next_chunk(&mut self) -> Option<Chunk> {
        if self.done || self.in_flight.len() >= self.window || self.cursor >= self.len {
            return None;
        }
        // The first chunk goes alone: its reply says whether the device resumes an earlier upload (chunks sent
        // behind it would then be refused and wasted), and Zephyr may erase the slot before answering it.
        if self.in_flight.iter().any(|c| c.off == 0) {
            return None;
        }
        let max = if self.cursor == 0 {
            self.first_max
        } else {
            self.next_max
        };
        let len = (max as u64).min(self.len - self.cursor) as usize;
        let chunk = Chunk {
            id: ChunkId(self.next_id),
            off: self.cursor,
            len,
        };
        self.next_id += 1;
        self.cursor += len as u64;
        self.planned += len as u64;
        self.in_flight.push_back(chunk);
        Some(chunk)
    }

    /// The request for `chunk`, its data cut from `image` (the whole image, [`len`](Self::len) bytes).
    ///
    /// # Panics
    /// If `image` is not the planned length.
    pub fn request(&self, chunk: &Chunk, image: &[u8]) -> ImageUpload {
        assert_eq!(
            image.len() as u64,
            self.len,
            "image length differs from the plan"
        );
        let data = image[chunk.off as usize..chunk.end() as usize].to_vec();
        if chunk.off == 0 {
            ImageUpload::first(self.image, self.len, self.sha.clone(), data)
        } else {
            ImageUpload::next(chunk.off, data)
        }
    }

    /// Takes the device's reply `{off}` to chunk `id`.
    pub fn on_response(&mut self, id: ChunkId, off: u64) -> Result<Ack, UploadError> {
        // 1. Find the chunk; everything sent before it got no reply and is lost.
        let Some(pos) = self.in_flight.iter().position(|c| c.id == id) else {
            return Ok(Ack::Stale);
        };
        let chunk = self
            .in_flight
            .drain(..=pos)
            .next_back()
            .expect("pos is in range");

        // 2. The device's offset is the truth.
        if off > self.len {
            return Err(UploadError::OffsetBeyondImage { off, len: self.len });
        }
        self.device_off = off;
        if off == self.len {
            self.done = true;
            return Ok(Ack::Done);
        }

        // 3. Replay the chunks still in flight from the device's offset: those that start where the device will
        //    be land, the others will be refused. Sending resumes after the last one that lands.
        let mut at = off;
        for c in &self.in_flight {
            if c.off == at {
                at = c.end();
            }
        }
        let replanned = at != self.cursor;
        self.cursor = at;
        Ok(if replanned {
            Ack::Replanned { off }
        } else if off == chunk.end() {
            Ack::Advanced { off }
        } else {
            Ack::Rejected { off }
        })
    }

    /// A reply did not come in time: forget every request in flight and plan again from the last offset the
    /// device reported. If the device did write a forgotten chunk, its reply to the resent one says so and
    /// the plan catches up.
    pub fn on_timeout(&mut self) {
        self.in_flight.clear();
        self.cursor = self.device_off;
    }
}

/// The largest data length whose request, built by `make`, encodes to at most `max_packet` bytes.
fn max_data(max_packet: usize, make: impl Fn(Vec<u8>) -> ImageUpload) -> Option<usize> {
    let size = |n: usize| encode_request(&make(vec![0; n]), SmpVersion::V2, 0).len();
    let mut n = max_packet.checked_sub(size(0))?;
    // The byte string's length prefix grows with n (by at most 4 bytes), so step down to fit.
    while n > 0 && size(n) > max_packet {
        n -= 1;
    }
    Some(n)
}

#[cfg(test)]
#[path = "upload_tests.rs"]
mod tests;
