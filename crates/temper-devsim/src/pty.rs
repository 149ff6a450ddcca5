//! A PTY pair standing in for a UART, with both directions paced at the line speed.
//!
//! The host opens the slave path. The simulator keeps the slave fd open (otherwise the host sees
//! hang-ups), reads the master in small chunks at baud/10 bytes per second (so a fast host writer is
//! back-pressured through the PTY buffer) and writes its output at the same rate.
//!
//! A device that resets (a USB CDC-ACM port disappears and comes back) uses [`spawn_closable_io`]: its
//! [`Hangup`] stops both threads once the output queued so far is written; when the [`Pty`] is dropped
//! too, no fd of the pair is left open and the host's port hangs up.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
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

/// What the writer thread is told.
enum Out {
    Bytes(Vec<u8>),
    /// Stop once everything queued before it is written.
    Close,
}

/// Sender side of the paced console output.
#[derive(Clone)]
pub struct PacedWriter {
    tx: std_mpsc::Sender<Out>,
}

impl PacedWriter {
    pub fn send(&self, bytes: &[u8]) {
        if !bytes.is_empty() {
            let _ = self.tx.send(Out::Bytes(bytes.to_vec()));
        }
    }
}

/// Stops the paced I/O threads of one PTY ([`spawn_closable_io`]).
pub struct Hangup {
    stop: Arc<AtomicBool>,
    tx: std_mpsc::Sender<Out>,
    slave: Arc<OwnedFd>,
    /// One message (or a disconnect) per thread that ended.
    ended: std_mpsc::Receiver<()>,
    threads: Vec<JoinHandle<()>>,
}

/// Tells [`Hangup::close`] that a thread ended, however it ended.
struct EndSignal(std_mpsc::Sender<()>);

impl Drop for EndSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

impl Hangup {
    /// Blocks until the output queued so far is on the line and both threads have let go of the master.
    /// If the host does not read and the PTY buffer stays full for `patience`, the unread bytes are
    /// discarded (as a UART that loses power loses them) and the threads get `patience` once more. Drop
    /// the [`Pty`] afterwards to hang up.
    pub fn close(mut self, patience: Duration) {
        let _ = self.tx.send(Out::Close);
        let mut flushed = false;
        let mut left = self.threads.len();
        while left > 0 {
            match self.ended.recv_timeout(patience) {
                Ok(()) => left -= 1,
                Err(std_mpsc::RecvTimeoutError::Timeout) if !flushed => {
                    let _ = termios::tcflush(&*self.slave, termios::FlushArg::TCIOFLUSH);
                    flushed = true;
                }
                Err(_) => break,
            }
        }
        for thread in std::mem::take(&mut self.threads) {
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Hangup {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.tx.send(Out::Close);
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

/// Start the paced reader and writer threads on the master side, for the life of the process.
/// Returns the output sender and the input receiver (chunks as they come off the line).
pub fn spawn_paced_io(
    pty: &Pty,
    baud: u32,
) -> Result<(PacedWriter, mpsc::Receiver<Vec<u8>>), SimError> {
    let (writer, input, hangup) = spawn_closable_io(pty, baud)?;
    // Never closed: the threads run until the process exits.
    std::mem::forget(hangup);
    Ok((writer, input))
}

/// Like [`spawn_paced_io`], with a [`Hangup`] that stops both threads (for a device that resets).
pub fn spawn_closable_io(
    pty: &Pty,
    baud: u32,
) -> Result<(PacedWriter, mpsc::Receiver<Vec<u8>>, Hangup), SimError> {
    let reader = File::from(
        pty.master
            .try_clone()
            .map_err(|e| SimError::io("pty master", e))?,
    );
    let writer = File::from(
        pty.master
            .try_clone()
            .map_err(|e| SimError::io("pty master", e))?,
    );
    let (in_tx, in_rx) = mpsc::channel::<Vec<u8>>(4);
    let (out_tx, out_rx) = std_mpsc::channel::<Out>();
    let stop = Arc::new(AtomicBool::new(false));
    let slave = pty.slave.clone();
    let (ended_tx, ended) = std_mpsc::channel();
    let reader_end = EndSignal(ended_tx.clone());
    let writer_end = EndSignal(ended_tx);

    let reader_stop = stop.clone();
    let reader_thread = std::thread::Builder::new()
        .name("pty-reader".into())
        .spawn(move || {
            // Locals drop in reverse order: the master fd is closed before the end is signalled.
            let _end = reader_end;
            let mut reader = reader;
            let mut pacer = Pacer::new(baud);
            let mut buf = vec![0u8; pacer.step()];
            while !reader_stop.load(Ordering::Relaxed) {
                // Wait for input at most 50 ms at a time, so a hang-up is noticed.
                if !readable_within(&reader, 50) {
                    continue;
                }
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

    let writer_stop = stop.clone();
    let writer_slave = slave.clone();
    let writer_thread = std::thread::Builder::new()
        .name("pty-writer".into())
        .spawn(move || {
            let _end = writer_end;
            let (mut writer, writer_slave) = (writer, writer_slave);
            let mut pacer = Pacer::new(baud);
            let step = pacer.step();
            let mut last_write = Instant::now();
            loop {
                match out_rx.recv_timeout(Duration::from_millis(250)) {
                    Ok(Out::Bytes(chunk)) => {
                        for piece in chunk.chunks(step) {
                            if writer.write_all(piece).is_err() {
                                break;
                            }
                            pacer.account(piece.len());
                        }
                        last_write = Instant::now();
                    }
                    Ok(Out::Close) | Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                        writer_stop.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(std_mpsc::RecvTimeoutError::Timeout) => {
                        if last_write.elapsed() >= timing::ms(timing::UNREAD_DISCARD_MS) {
                            discard_unread(&writer_slave);
                        }
                    }
                }
            }
        })
        .map_err(|e| SimError::io("spawn pty writer", e))?;

    let hangup = Hangup {
        stop,
        tx: out_tx.clone(),
        slave,
        ended,
        threads: vec![writer_thread, reader_thread],
    };
    Ok((PacedWriter { tx: out_tx }, in_rx, hangup))
}

/// Whether `file` has something to read (or an error or hang-up to report) within `ms` milliseconds.
fn readable_within(file: &File, ms: i32) -> bool {
    let mut pfd = nix::libc::pollfd {
        fd: file.as_raw_fd(),
        events: nix::libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one pollfd that lives on the stack, for an fd this thread owns.
    unsafe { nix::libc::poll(&mut pfd, 1, ms) > 0 }
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
