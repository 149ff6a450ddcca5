//! The SMP client: the codec of this module driven over a [`Link`] (serial console framing).
//!
//! [`SmpClient::request`] sends one command and waits for its reply: the packet with the request's sequence
//! number, group, command id and response op. Console output, frames that fail to decode and packets that
//! answer something else (a stale reply from an earlier session, a reply with the right sequence number but
//! the wrong command) are logged and skipped; a reply that does not come before the command's timeout is
//! [`SmpClientError::Timeout`], however much else arrives meanwhile. The timeout is the command's own
//! ([`Request::timeout`]) or the client's default. A link that closes (the device reset or was unplugged) is
//! [`SmpClientError::Link`] with [`TransportError::Closed`].
//!
//! The client speaks SMP v2 first; a device answering rc 13 gets the same request again in v1, and v1 for
//! the rest of the session. Sequence numbers start at a random value, so replies still on their way from an
//! earlier session rarely look like answers.
//!
//! Memory is bounded whatever the device sends: the frame decoder holds at most one line and one packet
//! ([`SmpClient::buffered_len`]), and the CBOR decoder refuses deep nesting
//! ([`super::messages::MAX_CBOR_DEPTH`]).
//!
//! The typed commands are in [`commands`]; the pipelined, resumable image upload in [`upload`].

use std::time::Duration;

use tokio::time::Instant;

use super::header::{Header, SmpError, SmpVersion};
use super::messages::{answers, decode_response, encode_request, Request, SplitError};
use super::packets::Unframer;
use super::serial;
use super::upload::UploadError;
use crate::transport::{Link, TransportError};

pub mod commands;
pub mod upload;

pub use commands::ShellOutput;
pub use upload::UploadSummary;

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
    /// A shell command line could not be split into arguments.
    #[error(transparent)]
    CommandLine(#[from] SplitError),
}

impl SmpClientError {
    /// A stable code for front ends to branch on.
    pub fn code(&self) -> &'static str {
        match self {
            SmpClientError::Link(TransportError::Closed(_)) => "smp-link-closed",
            SmpClientError::Link(_) => "smp-link",
            SmpClientError::Timeout { .. } => "smp-timeout",
            SmpClientError::Smp(SmpError::GroupRc { .. } | SmpError::DeviceRc { .. }) => {
                "smp-device-error"
            }
            SmpClientError::Smp(_) => "smp-bad-reply",
            SmpClientError::Upload(_) => "smp-upload",
            SmpClientError::CommandLine(_) => "smp-command-line",
        }
    }

    /// True when the link closed: the device reset, lost power or was unplugged.
    pub fn is_link_closed(&self) -> bool {
        matches!(self, SmpClientError::Link(TransportError::Closed(_)))
    }
}

/// An SMP client over one link; see the [module documentation](self).
pub struct SmpClient<L: Link> {
    link: L,
    decoder: Unframer,
    seq: u8,
    version: SmpVersion,
    timeout: Duration,
    erase_timeout: Duration,
    buf: Vec<u8>,
}

impl<L: Link> std::fmt::Debug for SmpClient<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmpClient")
            .field("link", &self.link.describe())
            .field("version", &self.version)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<L: Link> SmpClient<L> {
    /// A client speaking SMP v2 first, with [`DEFAULT_TIMEOUT`] and [`DEFAULT_ERASE_TIMEOUT`].
    pub fn new(link: L) -> Self {
        SmpClient {
            decoder: Unframer::for_link(&link),
            link,
            seq: rand::random(),
            version: SmpVersion::V2,
            timeout: DEFAULT_TIMEOUT,
            erase_timeout: DEFAULT_ERASE_TIMEOUT,
            buf: Vec::new(),
        }
    }

    /// Sets the wait for each reply of a command that names no timeout of its own.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the wait for the reply to an upload's first chunk (the device may erase the slot first).
    pub fn with_erase_timeout(mut self, timeout: Duration) -> Self {
        self.erase_timeout = timeout;
        self
    }

    /// The default reply timeout and the first upload chunk's timeout.
    pub fn timeouts(&self) -> (Duration, Duration) {
        (self.timeout, self.erase_timeout)
    }

    /// The SMP version requests are sent in: v2 until the device answered rc 13.
    pub fn version(&self) -> SmpVersion {
        self.version
    }

    /// The link, e.g. for [`Link::describe`].
    pub fn link(&self) -> &L {
        &self.link
    }

    /// The link, back.
    pub fn into_link(self) -> L {
        self.link
    }

    /// Bytes held for frames not complete yet (never more than one line and one packet, whatever arrives).
    pub fn buffered_len(&self) -> usize {
        self.decoder.buffered_len()
    }

    /// Sends `req` and returns the device's reply, waiting [`Request::timeout`] (or the client's default).
    /// On rc 13 (the device does not speak v2) the request is sent again in v1, and later requests go in v1
    /// too.
    pub async fn request<R: Request>(&mut self, req: &R) -> Result<R::Response, SmpClientError> {
        let timeout = req.timeout().unwrap_or(self.timeout);
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
        match self.read_reply::<R>(&[seq], timeout).await {
            Ok(packet) => Ok(decode_response::<R>(&packet, seq)?),
            Err(ReadError::Link(e)) => Err(e.into()),
            Err(ReadError::Timeout) => Err(timeout_error::<R>(timeout)),
        }
    }

    /// Frames `packet` for a console (as is for a packet link) and writes it, split to the link's
    /// `max_send`.
    async fn send(&mut self, packet: &[u8]) -> Result<(), TransportError> {
        let bytes = if self.link.carries_packets() {
            packet.to_vec()
        } else {
            serial::encode(packet, serial::MAX_LINE)
        };
        let max = self.link.max_send().unwrap_or(bytes.len()).max(1);
        for part in bytes.chunks(max) {
            self.link.send(part).await?;
        }
        Ok(())
    }

    /// Reads until a reply to request type `R` with a sequence number in `seqs` arrives, or `timeout` passes.
    /// Frame errors and packets that answer anything else are logged and skipped; the deadline is checked
    /// before every read, so a device that never stops sending cannot hold the loop.
    async fn read_reply<R: Request>(
        &mut self,
        seqs: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, ReadError> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(result) = self.decoder.next_packet() {
                match result {
                    Err(e) => tracing::warn!(error = %e, "skipping an SMP frame"),
                    Ok(packet) => match Header::parse(&packet) {
                        Ok(h) if is_reply_to::<R>(&h, seqs) => return Ok(packet),
                        Ok(h) => tracing::warn!(
                            seq = h.seq,
                            group = h.group,
                            id = h.id,
                            expected = ?seqs,
                            "skipping an SMP packet that answers another request"
                        ),
                        Err(e) => tracing::warn!(error = %e, "skipping an SMP packet"),
                    },
                }
            }
            if Instant::now() >= deadline {
                return Err(ReadError::Timeout);
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

/// The packet with header `h` answers a request of type `R` sent with one of `seqs`.
fn is_reply_to<R: Request>(h: &Header, seqs: &[u8]) -> bool {
    seqs.iter().any(|&seq| answers::<R>(h, seq))
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
mod tests;
