//! A PTY pair standing in for a UART, with both directions paced at the line speed.
//!
//! The host opens the slave path. The simulator keeps the slave fd open (otherwise the host sees
//! hang-ups), reads the master in small chunks at baud/10 bytes per second (so a fast host writer is
//! back-pressured through the PTY buffer) and writes its output at the same rate.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::termios::{self, SetArg};
use tokio::sync::mpsc;

use crate::timing;
use crate::SimError;

/// The two ends of an open PTY.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: Arc<OwnedFd>,
    pub path: String,
}

/// Open a PTY pair and put the slave in raw mode at `baud`.
pub fn open(baud: u32) -> Result<Pty, SimError> {
    let pair = nix::pty::openpty(None, None)?;
    let mut tio = termios::tcgetattr(&pair.slave)?;
    termios::cfmakeraw(&mut tio);
    if let Some(rate) = baud_rate(baud) {
        // Cosmetic: a PTY ignores the speed, but `stty -F` then shows what a host expects.
        let _ = termios::cfsetspeed(&mut tio, rate);
    }
    termios::tcsetattr(&pair.slave, SetArg::TCSANOW, &tio)?;
    let path = nix::unistd::ttyname(&pair.slave)?
        .to_string_lossy()
        .into_owned();
    Ok(Pty {
        master: pair.master,
        slave: Arc::new(pair.slave),
        path,
    })
}

fn baud_rate(baud: u32) -> Option<termios::BaudRate> {
    use termios::BaudRate as B;
    Some(match baud {
        9600 => B::B9600,
        19200 => B::B19200,
        38400 => B::B38400,
        57600 => B::B57600,
        115200 => B::B115200,
        230400 => B::B230400,
        460800 => B::B460800,
        921600 => B::B921600,
        _ => return None,
    })
}

/// Sender side of the paced console output.
#[derive(Clone)]
pub struct PacedWriter {
    tx: std_mpsc::Sender<Vec<u8>>,
}

impl PacedWriter {
    pub fn send(&self, bytes: &[u8]) {
        if !bytes.is_empty() {
            let _ = self.tx.send(bytes.to_vec());
        }
    }
}

/// Token bucket: `next` is when the line is free again.
struct Pacer {
    rate: f64,
    next: Instant,
}

impl Pacer {
    fn new(baud: u32) -> Self {
        Pacer {
            rate: timing::bytes_per_sec(baud),
            next: Instant::now(),
        }
    }

    /// Bytes per step: about 10 ms of line time, at least one byte.
    fn step(&self) -> usize {
        ((self.rate / 100.0) as usize).clamp(1, 256)
    }

    fn account(&mut self, bytes: usize) {
        let now = Instant::now();
        if self.next < now {
            self.next = now;
        }
        self.next += Duration::from_secs_f64(bytes as f64 / self.rate);
        let wait = self.next.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }
}

/// Start the paced reader and writer threads on the master side.
/// Returns the output sender and the input receiver (chunks as they come off the line).
pub fn spawn_paced_io(
    pty: &Pty,
    baud: u32,
) -> Result<(PacedWriter, mpsc::Receiver<Vec<u8>>), SimError> {
    let mut reader = File::from(
        pty.master
            .try_clone()
            .map_err(|e| SimError::io("pty master", e))?,
    );
    let mut writer = File::from(
        pty.master
            .try_clone()
            .map_err(|e| SimError::io("pty master", e))?,
    );
    let (in_tx, in_rx) = mpsc::channel::<Vec<u8>>(4);
    let (out_tx, out_rx) = std_mpsc::channel::<Vec<u8>>();
    let slave = pty.slave.clone();

    std::thread::Builder::new()
        .name("pty-reader".into())
        .spawn(move || {
            let mut pacer = Pacer::new(baud);
            let mut buf = vec![0u8; pacer.step()];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => std::thread::sleep(Duration::from_millis(50)),
                    Ok(n) => {
                        if in_tx.blocking_send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                        pacer.account(n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    // EIO: no slave open right now (cannot happen while we hold it; be tolerant).
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        })
        .map_err(|e| SimError::io("spawn pty reader", e))?;

    std::thread::Builder::new()
        .name("pty-writer".into())
        .spawn(move || {
            let mut pacer = Pacer::new(baud);
            let step = pacer.step();
            let mut last_write = Instant::now();
            loop {
                match out_rx.recv_timeout(Duration::from_millis(250)) {
                    Ok(chunk) => {
                        for piece in chunk.chunks(step) {
                            if writer.write_all(piece).is_err() {
                                break;
                            }
                            pacer.account(piece.len());
                        }
                        last_write = Instant::now();
                    }
                    Err(std_mpsc::RecvTimeoutError::Timeout) => {
                        if last_write.elapsed() >= timing::ms(timing::UNREAD_DISCARD_MS) {
                            discard_unread(&slave);
                        }
                    }
                    Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
                }
            }
        })
        .map_err(|e| SimError::io("spawn pty writer", e))?;

    Ok((PacedWriter { tx: out_tx }, in_rx))
}

/// Drop output nobody picked up, unless a host holds the port open exclusively (as serialport-based
/// hosts do): a real UART does not keep bytes for a host that connects later.
fn discard_unread(slave: &OwnedFd) {
    let fd = slave.as_raw_fd();
    let mut pending: nix::libc::c_int = 0;
    let mut excl: nix::libc::c_int = 0;
    // SAFETY: plain ioctls on an fd we own, with pointers to live c_ints.
    unsafe {
        if nix::libc::ioctl(fd, nix::libc::FIONREAD, &mut pending) != 0 || pending == 0 {
            return;
        }
        if nix::libc::ioctl(fd, nix::libc::TIOCGEXCL, &mut excl) == 0 && excl != 0 {
            return;
        }
    }
    let _ = termios::tcflush(slave, termios::FlushArg::TCIFLUSH);
}
