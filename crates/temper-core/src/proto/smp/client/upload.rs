//! The pipelined, resumable image upload over an [`SmpClient`]: [`UploadPlan`] decides, this drives the I/O.
//!
//! The device's buffers are read first; the file's SHA-256 goes with the first chunk, which is sent alone,
//! so a device still holding part of this image (an earlier run was killed, the link dropped) answers with
//! its offset and the upload continues from there. A device that lost its upload state (it reset) answers
//! 0 at some point and the upload starts over. A lost reply is retried from the device's last offset, up to
//! [`UPLOAD_RETRIES`] times in a row. A closed link ends the upload with
//! [`SmpClientError::Link`]; running it again resumes.

use std::collections::VecDeque;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{timeout_error, ReadError, SmpClient, SmpClientError, UPLOAD_RETRIES};
use crate::proto::smp::header::{Header, SmpError, SmpVersion};
use crate::proto::smp::messages::{decode_response, encode_request, ImageUpload};
use crate::proto::smp::upload::{Ack, Chunk, UploadError, UploadEvent, UploadPlan};
use crate::transport::Link;

/// What a finished upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadSummary {
    /// Image length in bytes.
    pub len: u64,
    /// Where the device resumed an earlier upload of the same image (it held that many bytes), if it did.
    pub resumed_at: Option<u64>,
    /// Image bytes sent, resent ones included.
    pub sent: u64,
    /// Times the device reported it had lost the upload (it reset) and took it again from 0.
    pub restarts: u32,
    /// The device's check against the SHA-256, when it made one.
    pub matched: Option<bool>,
}

/// A request in flight: its sequence number, its chunk and how long its reply may take.
struct InFlight {
    seq: u8,
    chunk: Chunk,
    wait: Duration,
}

impl<L: Link> SmpClient<L> {
    /// Uploads `image` to image number 0's secondary slot; `progress(device_off, len)` after each reply.
    /// See [`Self::upload_with`].
    pub async fn upload(
        &mut self,
        image: &[u8],
        mut progress: impl FnMut(u64, u64),
    ) -> Result<UploadSummary, SmpClientError> {
        self.upload_with(image, None, |event| {
            if let UploadEvent::Progress { off, len } = event {
                progress(*off, *len);
            }
        })
        .await
    }

    /// Uploads `image` to the secondary slot of image number `image_number` (`None`: the device's default,
    /// 0), reporting [`UploadEvent`]s in the order that type documents. See the [module docs](self).
    pub async fn upload_with(
        &mut self,
        image: &[u8],
        image_number: Option<u32>,
        mut on_event: impl FnMut(&UploadEvent),
    ) -> Result<UploadSummary, SmpClientError> {
        // 1. Plan from the device's buffers (this also settles the SMP version).
        let params = self.params().await?;
        let sha = Sha256::digest(image).to_vec();
        let mut plan =
            UploadPlan::new(image.len() as u64, params, image_number, Some(sha.clone()))?;
        on_event(&UploadEvent::Started {
            len: plan.len(),
            sha256: hex::encode(&sha),
            buf_size: params.buf_size,
            buf_count: params.buf_count,
            chunk: plan.chunk_limits().1,
            window: plan.window(),
        });
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        let mut retries = 0;
        let mut first_reply = true;
        let mut resumed_at = None;
        let mut restarts = 0;

        let matched = loop {
            // 2. Fill the window.
            while let Some(chunk) = plan.next_chunk() {
                let seq = self.next_seq();
                let wait = if chunk.off == 0 {
                    self.erase_timeout
                } else {
                    self.timeout
                };
                let packet = encode_request(&plan.request(&chunk, image), self.version, seq);
                self.send(&packet).await?;
                in_flight.push_back(InFlight { seq, chunk, wait });
            }

            // 3. Read one reply to any request in flight; earlier ones without a reply are lost.
            let wait = in_flight.front().map_or(self.timeout, |f| f.wait);
            let seqs: Vec<u8> = in_flight.iter().map(|f| f.seq).collect();
            let packet = match self.read_reply::<ImageUpload>(&seqs, wait).await {
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
                .position(|f| f.seq == seq)
                .expect("read_reply returns a packet with a sequence number in flight");
            let answered = in_flight
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
            let before = plan.device_off();
            let ack = plan.on_response(answered.chunk.id, reply.off)?;
            if ack == Ack::Stale {
                continue;
            }

            // 5. Report: resumed (the first reply is past the first chunk), restarted (back to 0), progress.
            if first_reply {
                first_reply = false;
                if answered.chunk.off == 0 && reply.off > answered.chunk.end() {
                    resumed_at = Some(reply.off);
                    on_event(&UploadEvent::Resumed { off: reply.off });
                }
            } else if reply.off == 0 && before > 0 {
                restarts += 1;
                tracing::info!(from = before, "the device lost the upload; starting again");
                on_event(&UploadEvent::Restarted { from: before });
            }
            if let Ack::Replanned { off } = ack {
                tracing::debug!(off, "the device is at another offset; continuing from it");
            }
            on_event(&UploadEvent::Progress {
                off: plan.device_off(),
                len: plan.len(),
            });
            if ack == Ack::Done && reply.matched == Some(false) {
                return Err(UploadError::HashMismatch.into());
            }
            if ack == Ack::Done {
                break reply.matched;
            }
        };
        on_event(&UploadEvent::Finished {
            len: plan.len(),
            sent: plan.planned_bytes(),
            matched,
        });
        self.finish(in_flight, plan, resumed_at, restarts, matched)
            .await
    }

    /// Takes replies still on their way (to requests the device refused) off the link, briefly.
    async fn finish(
        &mut self,
        in_flight: VecDeque<InFlight>,
        plan: UploadPlan,
        resumed_at: Option<u64>,
        restarts: u32,
        matched: Option<bool>,
    ) -> Result<UploadSummary, SmpClientError> {
        let seqs: Vec<u8> = in_flight.iter().map(|f| f.seq).collect();
        for _ in &seqs {
            match self.read_reply::<ImageUpload>(&seqs, self.timeout).await {
                Ok(_) => {}
                Err(ReadError::Timeout) => break,
                Err(ReadError::Link(e)) => return Err(e.into()),
            }
        }
        Ok(UploadSummary {
            len: plan.len(),
            resumed_at,
            sent: plan.planned_bytes(),
            restarts,
            matched,
        })
    }
}
