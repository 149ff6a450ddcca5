//! Serial ports: a [`Link`] over a UART, a USB-serial bridge or a pseudo-terminal.
//!
//! Contracts:
//! - The port is opened exclusively, 8N1, no flow control, raw mode. A port that another program holds is reported
//!   as [`TransportError::Open`] with a message that says so (the underlying "Unable to acquire exclusive lock" text
//!   misleads).
//! - DTR and RTS are asserted on open, best effort: a pseudo-terminal has no modem lines (ENOTTY) and that is fine.
//! - End of file, EIO and similar hang-ups are [`TransportError::Closed`].
//! - [`Link::recv`] is cancel-safe (it may sit inside a timeout): no byte is lost when it is dropped before completion.

use std::io;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPort, SerialPortBuilderExt, SerialStream};

use super::{Link, TransportError};

/// How many bytes one [`Link::recv`] reads at most.
const READ_CHUNK: usize = 4096;

/// Raw OS error numbers that mean the other end hung up (same values on Linux and macOS).
const HANG_UP_ERRNOS: [i32; 4] = [
    5,  // EIO: the PTY master closed, or a USB bridge was unplugged
    6,  // ENXIO: the device is gone
    19, // ENODEV: the device is gone
    32, // EPIPE
];

/// A serial port opened for one device.
pub struct SerialLink {
    port: SerialStream,
    path: String,
    baud: u32,
}

impl SerialLink {
    /// Opens `path` (e.g. `/dev/ttyUSB0`) at `baud`, exclusively, and asserts DTR/RTS where the port has them.
    ///
    /// Errors: [`TransportError::Open`] with an actionable reason (missing device, permissions, port in use).
    pub fn open(path: &str, baud: u32) -> Result<SerialLink, TransportError> {
        let mut port = tokio_serial::new(path, baud)
            .open_native_async()
            .map_err(|e| open_error(path, &e))?;
        assert_modem_lines(&mut port, path);
        tracing::debug!(port = path, baud, "serial port open");
        Ok(SerialLink {
            port,
            path: path.to_string(),
            baud,
        })
    }
}

/// Raises DTR and RTS (many USB bridges gate the device's RX or reset lines on them); tolerates ports without
/// modem-control lines such as pseudo-terminals.
fn assert_modem_lines(port: &mut SerialStream, path: &str) {
    let results = [
        ("DTR", port.write_data_terminal_ready(true)),
        ("RTS", port.write_request_to_send(true)),
    ];
    for (line, result) in results {
        if let Err(e) = result {
            // ENOTTY ("Inappropriate ioctl for device") on a PTY; anything else is unusual but not fatal either.
            tracing::debug!(port = path, line, error = %e, "modem-control line not set (no such line on this port)");
        }
    }
}

/// Maps an open failure to a message that says what to do.
fn open_error(path: &str, e: &tokio_serial::Error) -> TransportError {
    let reason = match e.kind() {
        // EBUSY from TIOCEXCL or a held flock: serialport words the latter "Unable to acquire exclusive lock".
        tokio_serial::ErrorKind::NoDevice => {
            "the port is already open in another program (screen, minicom, picocom, another Temper run); \
             close it and retry"
                .to_string()
        }
        tokio_serial::ErrorKind::Io(io::ErrorKind::NotFound) => {
            "no such device; is the adapter plugged in?".to_string()
        }
        tokio_serial::ErrorKind::Io(io::ErrorKind::PermissionDenied) => {
            "permission denied; add your user to the group owning the port (often `dialout`) and log in again"
                .to_string()
        }
        _ => e.description.clone(),
    };
    TransportError::Open {
        port: path.to_string(),
        reason,
    }
}

/// Maps a read or write failure: hang-ups become [`TransportError::Closed`].
fn io_error(e: &io::Error) -> TransportError {
    let hung_up = matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
    ) || e
        .raw_os_error()
        .is_some_and(|n| HANG_UP_ERRNOS.contains(&n));
    if hung_up {
        TransportError::Closed(format!("the port hung up: {e}"))
    } else {
        TransportError::Io(e.to_string())
    }
}

#[async_trait]
impl Link for SerialLink {
    fn max_send(&self) -> Option<usize> {
        None
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.port.write_all(bytes).await.map_err(|e| io_error(&e))?;
        self.port.flush().await.map_err(|e| io_error(&e))
    }

    async fn recv(&mut self, buf: &mut Vec<u8>) -> Result<usize, TransportError> {
        let mut chunk = [0u8; READ_CHUNK];
        let n = self.port.read(&mut chunk).await.map_err(|e| io_error(&e))?;
        if n == 0 {
            return Err(TransportError::Closed(
                "end of file on the port".to_string(),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    fn describe(&self) -> String {
        format!("{} at {} baud", self.path, self.baud)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PTY pair: the master plays the device; the slave's path is what Temper opens.
    fn pty() -> (SerialStream, String) {
        let (master, slave) = SerialStream::pair().expect("this machine should provide PTYs");
        let path = slave.name().expect("the slave side of a PTY has a path");
        // The path stays valid while the master is open; the slave fd itself is not needed.
        drop(slave);
        (master, path)
    }

    #[tokio::test]
    async fn bytes_flow_both_ways_over_a_pty() {
        let (mut master, path) = pty();
        let mut link =
            SerialLink::open(&path, 115_200).expect("a PTY opens despite having no DTR/RTS lines");
        assert_eq!(link.max_send(), None, "a serial port is a byte stream");
        assert!(link.describe().contains(&path));

        master.write_all(b"login: ").await.unwrap();
        let mut buf = Vec::new();
        while buf.len() < 7 {
            link.recv(&mut buf).await.unwrap();
        }
        assert_eq!(buf, b"login: ");

        link.send(b"root\r").await.unwrap();
        let mut got = vec![0u8; 5];
        master.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"root\r", "raw mode must pass bytes unchanged");
    }

    #[tokio::test]
    async fn a_second_open_says_the_port_is_in_use() {
        let (_master, path) = pty();
        let _first = SerialLink::open(&path, 115_200).unwrap();
        let err = SerialLink::open(&path, 115_200)
            .err()
            .expect("ports open exclusively");
        match &err {
            TransportError::Open { port, reason } => {
                assert_eq!(port, &path);
                assert!(
                    reason.contains("already open in another program"),
                    "{reason}"
                );
            }
            other => panic!("expected Open, got {other:?}"),
        }
        assert!(
            !err.to_string().contains("exclusive lock"),
            "the misleading text must not leak: {err}"
        );
    }

    #[tokio::test]
    async fn a_missing_device_is_an_open_error() {
        let err = SerialLink::open("/dev/temper-no-such-port", 9600)
            .err()
            .unwrap();
        assert!(
            matches!(&err, TransportError::Open { reason, .. } if reason.contains("no such device")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_hang_up_is_closed() {
        let (master, path) = pty();
        let mut link = SerialLink::open(&path, 115_200).unwrap();
        drop(master);
        let mut buf = Vec::new();
        let err = link.recv(&mut buf).await.unwrap_err();
        assert!(
            matches!(err, TransportError::Closed(_)),
            "EIO after the master closed: {err:?}"
        );
    }
}
