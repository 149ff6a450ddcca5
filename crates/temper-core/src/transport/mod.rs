//! Byte links to a device: the bottom layer.
//!
//! A [`Link`] carries bytes both ways. A serial port is a byte stream (`max_send` is `None`); a BLE GATT
//! characteristic is a message link bounded by its MTU (`max_send` is `Some(n)`). Drivers above only see this trait.

use async_trait::async_trait;

pub mod ble;
pub mod serial;
pub mod testing;

/// What went wrong on the link itself (not in what the device said).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransportError {
    /// The port could not be opened.
    #[error("cannot open {port}: {reason}. Check the path (`ls /dev/tty*`), that no other program holds the port, and your permissions")]
    Open {
        /// The port path.
        port: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The device went away (unplugged, powered off, or the link closed).
    #[error("the link to the device closed ({0}); reconnect it and run the command again: Temper resumes where it stopped")]
    Closed(String),
    /// A read or write failed.
    #[error("I/O error on the link: {0}")]
    Io(String),
    /// Bluetooth could not reach or pair with the device.
    #[error(transparent)]
    Ble(#[from] ble::BleError),
}

/// A bidirectional byte link to one device.
#[async_trait]
pub trait Link: Send {
    /// The largest payload one [`Link::send`] may carry: `None` for byte streams, `Some(mtu_payload)` for
    /// message links. Callers split their writes to fit.
    fn max_send(&self) -> Option<usize>;

    /// Sends bytes (all of them, or an error).
    async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError>;

    /// Waits for the next bytes from the device (a stream read or one message) and appends them to `buf`.
    /// Returns how many were appended; never returns `Ok(0)` (a closed link is [`TransportError::Closed`]).
    async fn recv(&mut self, buf: &mut Vec<u8>) -> Result<usize, TransportError>;

    /// A human-readable name of the link, such as the port path.
    fn describe(&self) -> String;

    /// True when the link carries protocol packets as they are (BLE GATT, UDP), false for a console byte
    /// stream (serial). SMP frames its packets for a console (base64 lines, length, CRC), not for a packet
    /// link.
    fn carries_packets(&self) -> bool {
        false
    }
}

#[async_trait]
impl<L: Link + ?Sized> Link for Box<L> {
    fn max_send(&self) -> Option<usize> {
        (**self).max_send()
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        (**self).send(bytes).await
    }

    async fn recv(&mut self, buf: &mut Vec<u8>) -> Result<usize, TransportError> {
        (**self).recv(buf).await
    }

    fn describe(&self) -> String {
        (**self).describe()
    }

    fn carries_packets(&self) -> bool {
        (**self).carries_packets()
    }
}
