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
mod tests {
    use super::*;

    fn params(buf_size: u32, buf_count: u32) -> McumgrParamsResponse {
        McumgrParamsResponse {
            buf_size,
            buf_count,
        }
    }

    fn plan(len: u64, buf_size: u32, buf_count: u32) -> UploadPlan {
        UploadPlan::new(
            len,
            params(buf_size, buf_count),
            Some(0),
            Some(vec![0xab; 32]),
        )
        .unwrap()
    }

    /// Sends and acks every chunk in order; returns the chunks sent.
    fn run_to_end(p: &mut UploadPlan) -> Vec<Chunk> {
        let mut sent = Vec::new();
        while !p.is_done() {
            while let Some(c) = p.next_chunk() {
                assert!(p.in_flight() <= p.window());
                sent.push(c);
            }
            let c = *p.in_flight.front().unwrap();
            p.on_response(c.id, c.end()).unwrap();
        }
        sent
    }

    #[test]
    fn smp_upload_chunks_fit_the_buffer() {
        for buf_size in [384u32, 2048] {
            for len in [1u64, 31, 32, 1000, 70_000, 5_000_000] {
                let mut p = plan(len, buf_size, 4);
                let image = vec![0x5a; len as usize];
                let sent = run_to_end(&mut p);
                let mut covered = 0;
                for c in &sent {
                    assert_eq!(c.off, covered, "contiguous");
                    covered = c.end();
                    let packet = encode_request(&p.request(c, &image), SmpVersion::V2, 0xff);
                    assert!(
                        packet.len() + SERIAL_FRAME_OVERHEAD <= buf_size as usize,
                        "buf {buf_size} len {len}: packet {} at off {}",
                        packet.len(),
                        c.off
                    );
                }
                assert_eq!(covered, len);
                assert_eq!(p.planned_bytes(), len, "nothing resent");
            }
            // The budget is used, not just respected: the largest middle chunk fills the buffer to the byte
            // or within the byte string's prefix growth.
            let p = plan(5_000_000, buf_size, 4);
            let (_, next) = p.chunk_limits();
            let full = encode_request(
                &ImageUpload::next(4_999_999, vec![0; next]),
                SmpVersion::V2,
                0,
            );
            assert!(full.len() + SERIAL_FRAME_OVERHEAD >= buf_size as usize - 2);
        }
    }

    #[test]
    fn smp_upload_window_never_exceeds_buf_count() {
        for buf_count in [1u32, 2, 4, 8] {
            let mut p = plan(100_000, 384, buf_count);
            assert!(p.window() <= buf_count as usize && p.window() >= 1);
            let mut n = 0;
            while p.next_chunk().is_some() {
                n += 1;
            }
            assert_eq!(n, p.window());
            let p = p.with_window(100);
            assert_eq!(p.window(), buf_count as usize);
            assert_eq!(plan(10, 384, buf_count).with_window(0).window(), 1);
        }
    }

    #[test]
    fn smp_upload_resumes_from_a_device_offset() {
        let len = 100_000;
        let mut p = plan(len, 384, 4);
        let first: Vec<_> = std::iter::from_fn(|| p.next_chunk()).collect();
        assert_eq!(first.len(), 3);
        // The device already holds 40_000 bytes of this image (sha matched): it answers the first chunk so,
        // then refuses the two chunks after it.
        assert_eq!(
            p.on_response(first[0].id, 40_000),
            Ok(Ack::Replanned { off: 40_000 })
        );
        let c = p.next_chunk().unwrap();
        assert_eq!(c.off, 40_000, "sending resumes at the device's offset");
        assert!(
            p.next_chunk().is_none(),
            "the refused chunks still hold buffers"
        );
        assert_eq!(
            p.on_response(first[1].id, 40_000),
            Ok(Ack::Rejected { off: 40_000 })
        );
        assert_eq!(
            p.on_response(first[2].id, 40_000),
            Ok(Ack::Rejected { off: 40_000 })
        );
        assert_eq!(
            p.on_response(c.id, c.end()),
            Ok(Ack::Advanced { off: c.end() })
        );
        let rest = run_to_end(&mut p);
        assert_eq!(rest.last().unwrap().end(), len);
        assert!(
            p.planned_bytes() < len,
            "resuming skips what the device has"
        );
    }

    #[test]
    fn smp_upload_keeps_in_flight_chunks_that_still_land() {
        let mut p = plan(100_000, 384, 4);
        let c: Vec<_> = std::iter::from_fn(|| p.next_chunk()).collect();
        // The device says it is at the start of chunk 2 (it held chunk 1 from an earlier attempt): chunk 1 is
        // refused, chunk 2 lands, and nothing needs resending.
        assert_eq!(
            p.on_response(c[0].id, c[2].off),
            Ok(Ack::Rejected { off: c[2].off })
        );
        let planned = p.planned_bytes();
        let next = p.next_chunk().unwrap();
        assert_eq!(next.off, c[2].end());
        assert_eq!(p.planned_bytes(), planned + next.len as u64);
    }

    #[test]
    fn smp_upload_restarts_from_zero() {
        let len = 50_000;
        let mut p = plan(len, 2048, 3);
        for _ in 0..5 {
            while p.next_chunk().is_some() {}
            let c = *p.in_flight.front().unwrap();
            p.on_response(c.id, c.end()).unwrap();
        }
        // The device rebooted and lost the upload: it answers the next chunk with 0.
        while p.next_chunk().is_some() {}
        let before = p.planned_bytes();
        let c = *p.in_flight.front().unwrap();
        assert_eq!(p.on_response(c.id, 0), Ok(Ack::Replanned { off: 0 }));
        let again = p.next_chunk().unwrap();
        assert_eq!(
            (again.off, again.len),
            (0, p.chunk_limits().0),
            "a first chunk again"
        );
        let image = vec![1; len as usize];
        assert_eq!(
            p.request(&again, &image).len,
            Some(len),
            "it carries len again"
        );
        // The chunk still in flight from before is refused.
        let old = *p.in_flight.front().unwrap();
        assert_ne!(old.id, again.id);
        assert_eq!(p.on_response(old.id, 0), Ok(Ack::Rejected { off: 0 }));
        run_to_end(&mut p);
        assert!(p.planned_bytes() > before);
    }

    #[test]
    fn smp_upload_one_resume_costs_under_ten_percent() {
        let len = 200_000u64;
        let mut p = plan(len, 384, 4);
        let mut replans = 0;
        while !p.is_done() {
            while p.next_chunk().is_some() {}
            let c = *p.in_flight.front().unwrap();
            // Once, halfway: the chunk is lost and the device answers the next one with its offset.
            let off = if replans == 0 && c.off >= len / 2 {
                replans += 1;
                p.in_flight.pop_front();
                let next = *p.in_flight.front().unwrap();
                assert_eq!(
                    p.on_response(next.id, c.off),
                    Ok(Ack::Replanned { off: c.off })
                );
                continue;
            } else {
                c.end()
            };
            p.on_response(c.id, off).unwrap();
        }
        assert_eq!(replans, 1);
        assert!(p.planned_bytes() > len);
        assert!((p.planned_bytes() as f64) < 1.1 * len as f64);
    }

    #[test]
    fn smp_upload_lost_reply_replans_from_last_ack() {
        let mut p = plan(10_000, 384, 4);
        let c: Vec<_> = std::iter::from_fn(|| p.next_chunk()).collect();
        p.on_response(c[0].id, c[0].end()).unwrap();
        // The replies to c[1] and c[2] never come.
        p.on_timeout();
        assert_eq!(p.in_flight(), 0);
        let again = p.next_chunk().unwrap();
        assert_eq!(again.off, c[1].off);
        assert_eq!(p.on_response(c[2].id, 0), Ok(Ack::Stale));
        // The device had written c[1] after all: its answer to the resend says so.
        assert_eq!(
            p.on_response(again.id, c[2].off),
            Ok(Ack::Advanced { off: c[2].off })
        );
    }

    #[test]
    fn smp_upload_errors() {
        assert_eq!(
            UploadPlan::new(0, params(384, 4), None, None).unwrap_err(),
            UploadError::EmptyImage
        );
        assert!(matches!(
            UploadPlan::new(1000, params(64, 4), None, Some(vec![0; 32])),
            Err(UploadError::BufferTooSmall { buf_size: 64, .. })
        ));
        let mut p = plan(1000, 384, 2);
        let c = p.next_chunk().unwrap();
        assert_eq!(
            p.on_response(c.id, 1001),
            Err(UploadError::OffsetBeyondImage {
                off: 1001,
                len: 1000
            })
        );
    }

    #[test]
    fn smp_upload_done_on_a_full_offset() {
        let mut p = plan(1000, 384, 4);
        let c = p.next_chunk().unwrap();
        // The device holds the whole image already.
        assert_eq!(p.on_response(c.id, 1000), Ok(Ack::Done));
        assert!(p.is_done());
        assert!(p.next_chunk().is_none());
    }
}
