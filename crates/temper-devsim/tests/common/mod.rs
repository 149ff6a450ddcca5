//! Test helpers: spawn the simulator binary, talk to its port like a host, telnet, events.
#![allow(dead_code)]

pub mod certs;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::SerialPortBuilderExt;

pub const BIN: &str = env!("CARGO_BIN_EXE_temper-devsim");

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Info {
    pub port: String,
    pub model: String,
    pub serial: String,
    pub ip: String,
}

/// A running simulator process, killed on drop.
pub struct Sim {
    pub child: Child,
    pub info: Info,
    pub dir: PathBuf,
}

impl Sim {
    pub fn spawn(dir: &Path, ip: &str, extra: &[&str]) -> Sim {
        Sim::spawn_model("ipcam", dir, ip, extra)
    }

    /// Like [`Sim::spawn`] for another `--model` (e.g. `ipcam-pro`).
    pub fn spawn_model(model: &str, dir: &Path, ip: &str, extra: &[&str]) -> Sim {
        let mut child = Command::new(BIN)
            .args(["run", "--model", model, "--state"])
            .arg(dir)
            .args(["--ip", ip])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn simulator");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read JSON line");
        let info: Info = serde_json::from_str(line.trim()).expect("JSON line");
        Sim {
            child,
            info,
            dir: dir.to_path_buf(),
        }
    }

    /// Power cut.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        temper_devsim::read_events(&self.dir)
    }

    pub async fn console(&self) -> Console {
        Console::open(&self.info.port, 115_200)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The host side of the serial port.
pub struct Console {
    port: tokio_serial::SerialStream,
    pending: Vec<u8>,
}

impl Console {
    pub fn open(path: &str, baud: u32) -> Console {
        let port = tokio_serial::new(path, baud)
            .open_native_async()
            .expect("open serial port");
        Console {
            port,
            pending: Vec::new(),
        }
    }

    pub async fn send(&mut self, s: &str) {
        AsyncWriteExt::write_all(&mut self.port, s.as_bytes())
            .await
            .expect("write");
        AsyncWriteExt::flush(&mut self.port).await.expect("flush");
    }

    /// Read until `needle` appears; returns everything up to and including it.
    pub async fn expect(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = find(&self.pending, needle.as_bytes()) {
                let rest = self.pending.split_off(i + needle.len());
                let got = std::mem::replace(&mut self.pending, rest);
                return String::from_utf8_lossy(&got).into_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {needle:?}; got so far: {:?}",
                String::from_utf8_lossy(&self.pending)
            );
            let mut buf = [0u8; 512];
            if let Ok(Ok(n)) =
                tokio::time::timeout(left, AsyncReadExt::read(&mut self.port, &mut buf)).await
            {
                self.pending.extend_from_slice(&buf[..n]);
            }
        }
    }

    /// Everything that arrives within `dur`.
    pub async fn read_for(&mut self, dur: Duration) -> String {
        let deadline = Instant::now() + dur;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let mut buf = [0u8; 512];
            if let Ok(Ok(n)) =
                tokio::time::timeout(left, AsyncReadExt::read(&mut self.port, &mut buf)).await
            {
                self.pending.extend_from_slice(&buf[..n]);
            }
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned()
    }

    /// From a login prompt: log in; returns true at a shell prompt, false on `Login incorrect`.
    pub async fn login(&mut self, user: &str, pw: &str) -> bool {
        self.send(&format!("{user}\r")).await;
        self.expect("Password: ", secs(5)).await;
        self.send(&format!("{pw}\r")).await;
        let got = self
            .expect_any(&["~# ", "~$ ", "Login incorrect"], secs(8))
            .await;
        if got.contains("Login incorrect") {
            self.expect("login: ", secs(5)).await;
            false
        } else {
            true
        }
    }

    /// Read until any of `needles`; returns the text read.
    pub async fn expect_any(&mut self, needles: &[&str], timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let hit = needles
                .iter()
                .filter_map(|n| find(&self.pending, n.as_bytes()).map(|i| i + n.len()))
                .min();
            if let Some(end) = hit {
                let rest = self.pending.split_off(end);
                let got = std::mem::replace(&mut self.pending, rest);
                return String::from_utf8_lossy(&got).into_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {needles:?}; got: {:?}",
                String::from_utf8_lossy(&self.pending)
            );
            let mut buf = [0u8; 512];
            if let Ok(Ok(n)) =
                tokio::time::timeout(left, AsyncReadExt::read(&mut self.port, &mut buf)).await
            {
                self.pending.extend_from_slice(&buf[..n]);
            }
        }
    }

    /// Run a shell command; returns its output up to the next prompt.
    pub async fn run(&mut self, cmd: &str) -> String {
        self.send(&format!("{cmd}\r")).await;
        self.expect_any(&["~# ", "~$ "], secs(10)).await
    }

    /// Wait for the end of the boot sequence.
    pub async fn wait_boot(&mut self) -> String {
        self.expect("ipcam login: ", secs(15)).await
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Minimal telnet client: strips IAC sequences, reads until one of the needles.
pub struct Telnet {
    stream: TcpStream,
    pending: Vec<u8>,
}

impl Telnet {
    pub fn connect(ip: &str) -> std::io::Result<Telnet> {
        let stream = TcpStream::connect_timeout(&format!("{ip}:23").parse().unwrap(), secs(3))?;
        stream.set_read_timeout(Some(Duration::from_millis(200)))?;
        Ok(Telnet {
            stream,
            pending: Vec::new(),
        })
    }

    pub fn send(&mut self, s: &str) {
        self.stream.write_all(s.as_bytes()).expect("telnet write");
    }

    /// Returns the text up to the first needle found, or None on EOF/timeout.
    pub fn expect_any(&mut self, needles: &[&str], timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = String::from_utf8_lossy(&self.pending).into_owned();
            if let Some(end) = needles
                .iter()
                .filter_map(|n| text.find(n).map(|i| i + n.len()))
                .min()
            {
                self.pending.clear();
                return Some(text[..end].to_string());
            }
            if Instant::now() > deadline {
                return None;
            }
            let mut buf = [0u8; 512];
            match self.stream.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => self.pending.extend(strip_iac(&buf[..n])),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return None,
            }
        }
    }

    /// Log in; Some(true) at a shell prompt, Some(false) on Login incorrect.
    pub fn login(&mut self, user: &str, pw: &str) -> Option<bool> {
        self.expect_any(&["login: "], secs(5))?;
        self.send(&format!("{user}\r\n"));
        self.expect_any(&["Password: "], secs(5))?;
        self.send(&format!("{pw}\r\n"));
        let got = self.expect_any(&["# ", "$ ", "Login incorrect"], secs(5))?;
        Some(!got.contains("Login incorrect"))
    }

    /// True when the server closed the connection (EOF or reset) within `timeout`.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let mut buf = [0u8; 512];
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
            }
        }
        false
    }
}

fn strip_iac(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == 255 {
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}
