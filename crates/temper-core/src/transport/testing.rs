//! In-memory links for tests: a [`TestLink`] the code under test drives, and a [`DeviceSide`] the test scripts.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use temper_core::transport::{testing, Link};
//!
//! let (mut link, mut device) = testing::pair(None);
//! link.send(b"root\r").await.unwrap();
//! assert_eq!(device.read_until(b"\r").await.unwrap(), b"root\r");
//! device.push("Password: ").await;
//! let mut buf = Vec::new();
//! link.recv(&mut buf).await.unwrap();
//! assert_eq!(buf, b"Password: ");
//! # });
//! ```
//!
//! Each [`DeviceSide::push`] arrives as one [`Link::recv`] (so a test controls how output is split: one byte at a
//! time for a slow device). The device-to-host queue is bounded, so a device that floods output is paced by the
//! reader, like a real port. With `max_send = Some(n)` the link behaves like a message link (BLE): a
//! [`Link::send`] over `n` bytes fails and each send reaches the device as one message.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::{Link, TransportError};

/// How many pushed chunks may wait for the host before [`DeviceSide::push`] waits.
const QUEUE_CHUNKS: usize = 64;

/// Creates a connected pair: the host end and the scripted device end.
///
/// `max_send` is `None` for a byte stream, `Some(n)` for a message link whose sends carry at most `n` bytes.
pub fn pair(max_send: Option<usize>) -> (TestLink, DeviceSide) {
    let (to_device, from_host) = mpsc::unbounded_channel();
    let (to_host, from_device) = mpsc::channel(QUEUE_CHUNKS);
    (
        TestLink {
            max_send,
            packets: false,
            to_device,
            from_device,
        },
        DeviceSide {
            from_host,
            to_host,
            pending: Vec::new(),
        },
    )
}

/// A connected pair whose link carries protocol packets (like BLE GATT): each send at most `mtu_payload`
/// bytes, [`Link::carries_packets`] true.
pub fn packet_pair(mtu_payload: usize) -> (TestLink, DeviceSide) {
    let (mut link, side) = pair(Some(mtu_payload));
    link.packets = true;
    (link, side)
}

/// The host end of an in-memory link; implements [`Link`].
pub struct TestLink {
    max_send: Option<usize>,
    packets: bool,
    to_device: mpsc::UnboundedSender<Vec<u8>>,
    from_device: mpsc::Receiver<Vec<u8>>,
}

#[async_trait]
impl Link for TestLink {
    fn max_send(&self) -> Option<usize> {
        self.max_send
    }

    fn carries_packets(&self) -> bool {
        self.packets
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        if let Some(max) = self.max_send {
            if bytes.len() > max {
                return Err(TransportError::Io(format!(
                    "a message of {} bytes exceeds this link's maximum of {max}; split the write",
                    bytes.len()
                )));
            }
        }
        self.to_device
            .send(bytes.to_vec())
            .map_err(|_| TransportError::Closed("the simulated device went away".to_string()))
    }

    async fn recv(&mut self, buf: &mut Vec<u8>) -> Result<usize, TransportError> {
        loop {
            match self.from_device.recv().await {
                Some(chunk) if chunk.is_empty() => continue,
                Some(chunk) => {
                    buf.extend_from_slice(&chunk);
                    return Ok(chunk.len());
                }
                None => {
                    return Err(TransportError::Closed(
                        "the simulated device closed the link".to_string(),
                    ))
                }
            }
        }
    }

    fn describe(&self) -> String {
        match self.max_send {
            None => "in-memory test link (byte stream)".to_string(),
            Some(n) => format!("in-memory test link (messages of at most {n} bytes)"),
        }
    }
}

/// The device end of an in-memory link: read what the host sent, push output, close.
pub struct DeviceSide {
    from_host: mpsc::UnboundedReceiver<Vec<u8>>,
    to_host: mpsc::Sender<Vec<u8>>,
    /// Bytes the host sent that [`DeviceSide::read_until`] has received but not returned yet.
    pending: Vec<u8>,
}

impl DeviceSide {
    /// Waits for the next write (one message on a message link) the host made. `None` once the host dropped its
    /// end and everything was read. Bytes buffered by [`DeviceSide::read_until`] come first.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        if !self.pending.is_empty() {
            return Some(std::mem::take(&mut self.pending));
        }
        self.from_host.recv().await
    }

    /// Reads the host's byte stream up to and including the first `delim`. `None` if the host went away first.
    pub async fn read_until(&mut self, delim: &[u8]) -> Option<Vec<u8>> {
        loop {
            if let Some(pos) = find(&self.pending, delim) {
                let rest = self.pending.split_off(pos + delim.len());
                return Some(std::mem::replace(&mut self.pending, rest));
            }
            let more = self.from_host.recv().await?;
            self.pending.extend_from_slice(&more);
        }
    }

    /// Everything the host sent so far that was not read yet, without waiting.
    pub fn take_sent(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.pending);
        while let Ok(more) = self.from_host.try_recv() {
            out.extend_from_slice(&more);
        }
        out
    }

    /// Sends output to the host as one chunk (one message); waits while the host's queue is full. Returns `false`
    /// if the host dropped its end.
    pub async fn push(&self, bytes: impl AsRef<[u8]>) -> bool {
        self.to_host.send(bytes.as_ref().to_vec()).await.is_ok()
    }

    /// Sends output one byte per chunk, as a slow device dribbles it.
    pub async fn dribble(&self, bytes: impl AsRef<[u8]>) -> bool {
        for &b in bytes.as_ref() {
            if !self.push([b]).await {
                return false;
            }
        }
        true
    }

    /// Closes the link: once the queued output is read, the host's [`Link::recv`] fails with
    /// [`TransportError::Closed`].
    pub fn close(self) {}
}

/// Position of the first occurrence of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_byte_stream_passes_bytes_both_ways() {
        let (mut link, mut device) = pair(None);
        assert_eq!(link.max_send(), None);
        link.send(b"ab").await.unwrap();
        link.send(b"c\rde").await.unwrap();
        assert_eq!(device.read_until(b"\r").await.unwrap(), b"abc\r");
        assert_eq!(device.take_sent(), b"de", "the rest stays readable");

        assert!(device.dribble("hi").await);
        let mut buf = Vec::new();
        assert_eq!(
            link.recv(&mut buf).await.unwrap(),
            1,
            "a dribbling device sends one byte per read"
        );
        assert_eq!(link.recv(&mut buf).await.unwrap(), 1);
        assert_eq!(buf, b"hi");
    }

    #[tokio::test]
    async fn a_message_link_rejects_oversized_sends() {
        let (mut link, mut device) = pair(Some(4));
        assert_eq!(link.max_send(), Some(4));
        link.send(b"1234").await.unwrap();
        let err = link.send(b"12345").await.unwrap_err();
        assert!(
            matches!(err, TransportError::Io(ref m) if m.contains("exceeds")),
            "{err:?}"
        );
        assert_eq!(
            device.recv().await.unwrap(),
            b"1234",
            "each send is one message"
        );
        assert!(
            device.take_sent().is_empty(),
            "the oversized send never reached the device"
        );
    }

    #[tokio::test]
    async fn closing_either_end_is_reported() {
        let (mut link, device) = pair(None);
        assert!(device.push("bye").await);
        device.close();
        let mut buf = Vec::new();
        link.recv(&mut buf).await.unwrap();
        assert_eq!(
            buf, b"bye",
            "output queued before the close is still delivered"
        );
        assert!(matches!(
            link.recv(&mut buf).await,
            Err(TransportError::Closed(_))
        ));

        let (mut link, device) = pair(None);
        drop(device);
        assert!(matches!(
            link.send(b"x").await,
            Err(TransportError::Closed(_))
        ));
    }
}
