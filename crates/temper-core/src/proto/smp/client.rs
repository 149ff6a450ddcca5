//! The SMP client: the codec of this module driven over a [`Link`] (serial console framing).
//!
//! [`SmpClient::request`] sends one command and waits for the reply with its sequence number: console output
//! and frames that fail to decode are logged and skipped, replies to other requests are skipped with a
//! warning, and a reply that does not come within the timeout is [`SmpClientError::Timeout`]. The client speaks
//! SMP v2 first; a device answering rc 13 gets the same request again in v1, and v1 for the rest of the
//! session. [`SmpClient::upload`] sends an image with pipelined requests planned by [`UploadPlan`].

use std::collections::VecDeque;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::header::{Header, SmpError, SmpVersion};
use super::messages::{
    decode_response, encode_request, ImageUpload, McumgrParams, McumgrParamsResponse, Request,
};
use super::serial::{self, Decoder};
use super::upload::{Ack, ChunkId, UploadError, UploadPlan};
use crate::transport::{Link, TransportError};

/// Default wait for a reply.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Default wait for the reply to an upload's first chunk, which erases the image slot on many devices.
pub const DEFAULT_ERASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Times a lost upload reply is retried (from the device's last offset) before the upload fails.
pub const UPLOAD_RETRIES: usize = 3;

/// What went wrong talking SMP to a device.
#[derive(Debug, thiserror::Error)]
pub enum SmpClientError {
    /// The link failed (closed, I/O error).
    #[error(transparent)]
    Link(#[from] TransportError),
    /// No reply came in time.
    #[error("no SMP reply to group {group} command {id} within {ms} ms; check that the firmware enables MCUmgr over this console (CONFIG_MCUMGR_TRANSPORT_UART) and that nothing else holds the port")]
    Timeout {
        /// Management group of the request.
        group: u16,
        /// Command id of the request.
        id: u8,
        /// The timeout that ran out, in milliseconds.
        ms: u64,
    },
    /// The device's reply was an error or could not be read.
    #[error(transparent)]
    Smp(#[from] SmpError),
    /// The upload could not be planned or continued.
    #[error(transparent)]
    Upload(#[from] UploadError),
}

/// An SMP client over one link; see the [module documentation](self).
pub struct SmpClient<L: Link> {
    link: L,
    decoder: Decoder,
    seq: u8,
    version: SmpVersion,
    timeout: Duration,
    erase_timeout: Duration,
    buf: Vec<u8>,
}

impl<L: Link> SmpClient<L> {
    /// A client speaking SMP v2 first, with [`DEFAULT_TIMEOUT`] and [`DEFAULT_ERASE_TIMEOUT`].
    pub fn new(link: L) -> Self {
        SmpClient {
            link,
            decoder: Decoder::new(),
            seq: 0,
            version: SmpVersion::V2,
            timeout: DEFAULT_TIMEOUT,
            erase_timeout: DEFAULT_ERASE_TIMEOUT,
            buf: Vec::new(),
        }
    }

    /// Sets the wait for each reply.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the wait for the reply to an upload's first chunk (the device may erase the slot first).
    pub fn with_erase_timeout(mut self, timeout: Duration) -> Self {
        self.erase_timeout = timeout;
        self
    }

    /// The SMP version requests are sent in: v2 until the device answered rc 13.
    pub fn version(&self) -> SmpVersion {
        self.version
    }

    /// The link, back.
    pub fn into_link(self) -> L {
        self.link
    }

    /// Sends `req` and returns the device's reply. On rc 13 (the device does not speak v2) the request is
    /// sent again in v1, and later requests go in v1 too.
    pub async fn request<R: Request>(&mut self, req: &R) -> Result<R::Response, SmpClientError> {
        let timeout = self.timeout;
        match self.request_once(req, timeout).await {
            Err(SmpClientError::Smp(SmpError::TooNew)) if self.version == SmpVersion::V2 => {
                tracing::info!(
                    "device does not speak SMP v2 (rc 13); using SMP v1 for this session"
                );
                self.version = SmpVersion::V1;
                self.request_once(req, timeout).await
            }
            other => other,
        }
    }

    /// The device's SMP buffers (`buf_size`, `buf_count`).
    pub async fn params(&mut self) -> Result<McumgrParamsResponse, SmpClientError> {
        self.request(&McumgrParams {}).await
    }

    /// Uploads `image` to image number 0's secondary slot, reading the device's buffers first and sending the
    /// file's SHA-256 so an interrupted upload resumes. `progress(device_off, len)` is called after each reply.
    /// A lost reply is retried from the device's last offset up to [`UPLOAD_RETRIES`] times in a row.
    pub async fn upload(
        &mut self,
        image: &[u8],
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(), SmpClientError> {
        // 1. Plan from the device's buffers (this also settles the SMP version).
        let params = self.params().await?;
        let sha = Sha256::digest(image).to_vec();
        let mut plan = UploadPlan::new(image.len() as u64, params, None, Some(sha))?;
        let mut in_flight: VecDeque<(u8, ChunkId, Duration)> = VecDeque::new();
        let mut retries = 0;

        while !plan.is_done() {
            // 2. Fill the window.
            while let Some(chunk) = plan.next_chunk() {
                let seq = self.next_seq();
                let wait = if chunk.off == 0 {
                    self.erase_timeout
                } else {
                    self.timeout
                };
                self.send(&encode_request(
                    &plan.request(&chunk, image),
                    self.version,
                    seq,
                ))
                .await?;
                in_flight.push_back((seq, chunk.id, wait));
            }

            // 3. Read one reply to any request in flight; earlier ones without a reply are lost.
            let wait = in_flight.front().map_or(self.timeout, |f| f.2);
            let seqs: Vec<u8> = in_flight.iter().map(|f| f.0).collect();
            let packet = match self.read_reply(&seqs, wait).await {
                Ok(packet) => packet,
                Err(ReadError::Link(e)) => return Err(e.into()),
                Err(ReadError::Timeout) if retries < UPLOAD_RETRIES => {
                    retries += 1;
                    tracing::warn!(
                        device_off = plan.device_off(),
                        "no reply to an upload chunk in time; resending from the device's last offset"
                    );
                    plan.on_timeout();
                    in_flight.clear();
                    continue;
                }
                Err(ReadError::Timeout) => return Err(timeout_error::<ImageUpload>(wait)),
            };
            retries = 0;
            let seq = Header::parse(&packet)?.seq;
            let pos = in_flight
                .iter()
                .position(|f| f.0 == seq)
                .expect("read_reply returns a packet with a sequence number in flight");
            let (_, id, _) = in_flight
                .drain(..=pos)
                .next_back()
                .expect("pos is in range");

            // 4. Feed the device's offset to the plan.
            let reply = match decode_response::<ImageUpload>(&packet, seq) {
                Err(SmpError::TooNew) if self.version == SmpVersion::V2 => {
                    tracing::info!("device does not speak SMP v2 (rc 13); using SMP v1");
                    self.version = SmpVersion::V1;
                    plan.on_timeout();
                    in_flight.clear();
                    continue;
                }
                other => other?,
            };
            let ack = plan.on_response(id, reply.off)?;
            if let Ack::Replanned { off } = ack {
                tracing::info!(off, "the device is at another offset; continuing from it");
            }
            if ack == Ack::Done && reply.matched == Some(false) {
                return Err(UploadError::HashMismatch.into());
            }
            progress(plan.device_off(), plan.len());
        }

        // 5. Replies to requests the device refused may still be on their way: take them off the link.
        for (seq, _, _) in in_flight {
            let _ = self.read_reply(&[seq], self.timeout).await;
        }
        Ok(())
    }

    fn next_seq(&mut self) -> u8 {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        seq
    }

    async fn request_once<R: Request>(
        &mut self,
        req: &R,
        timeout: Duration,
    ) -> Result<R::Response, SmpClientError> {
        let seq = self.next_seq();
        self.send(&encode_request(req, self.version, seq)).await?;
        match self.read_reply(&[seq], timeout).await {
            Ok(packet) => Ok(decode_response::<R>(&packet, seq)?),
            Err(ReadError::Link(e)) => Err(e.into()),
            Err(ReadError::Timeout) => Err(timeout_error::<R>(timeout)),
        }
    }

    /// Frames `packet` and writes it, split to the link's `max_send`.
    async fn send(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        let bytes = serial::encode(packet, serial::MAX_LINE);
        let max = self.link.max_send().unwrap_or(bytes.len()).max(1);
        for part in bytes.chunks(max) {
            self.link.send(part).await?;
        }
        Ok(())
    }

    /// Reads until a packet whose sequence number is in `seqs` arrives, or `timeout` passes. Frame errors and
    /// packets with other sequence numbers are logged and skipped; the deadline bounds the loop.
    async fn read_reply(&mut self, seqs: &[u8], timeout: Duration) -> Result<Vec<u8>, ReadError> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(result) = self.decoder.next_packet() {
                match result {
                    Err(e) => tracing::warn!(error = %e, "skipping an SMP frame"),
                    Ok(packet) => match Header::parse(&packet) {
                        Ok(h) if seqs.contains(&h.seq) => return Ok(packet),
                        Ok(h) => tracing::warn!(
                            seq = h.seq,
                            expected = ?seqs,
                            "skipping an SMP reply to another request"
                        ),
                        Err(e) => tracing::warn!(error = %e, "skipping an SMP packet"),
                    },
                }
            }
            self.buf.clear();
            match tokio::time::timeout_at(deadline, self.link.recv(&mut self.buf)).await {
                Err(_) => return Err(ReadError::Timeout),
                Ok(Err(e)) => return Err(ReadError::Link(e)),
                Ok(Ok(_)) => self.decoder.push(&self.buf),
            }
        }
    }
}

enum ReadError {
    Timeout,
    Link(TransportError),
}

fn timeout_error<R: Request>(timeout: Duration) -> SmpClientError {
    SmpClientError::Timeout {
        group: R::GROUP,
        id: R::ID,
        ms: timeout.as_millis() as u64,
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
