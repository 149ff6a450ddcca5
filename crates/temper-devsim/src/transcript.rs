//! Optional text transcript of the console UART (`temper-devsim run --transcript FILE`), for benchmarks.
//!
//! Format, one record per line, appended to the file:
//!
//! - `> BYTES`: host→device bytes, one line per logical line the host typed (a line ends after its `\r` or
//!   `\n`; a line split over several reads of the UART stays one record);
//! - `< BYTES`: device→host bytes, one line per output line (split after each `\n`; a prompt without a line
//!   end is one record). The device's answer to a host line (its echo, then what it printed before the next
//!   modelled delay) follows that host line;
//! - `= MS NAME`: a modelled delay of the console (`timing.rs`): `command`, `cfgcli`, `passwd-ok`,
//!   `login-check`, `login-fail`, `reboot-shutdown`, `boot`. Telnet and the network services are not recorded.
//!
//! BYTES are escaped: `\r`, `\n`, `\t`, `\\`, and `\xNN` for any other byte outside 0x20..=0x7e, so every
//! unescaped character and every escape stands for exactly one byte on the line.
//!
//! Secrets never reach the file: bytes typed at a prompt that does not echo (`Password:`, `New password:`,
//! `Retype password:`) and the value of `cfgcli -s KEY VALUE` (in the input and in its echo) are written as `*`,
//! one per byte, so lengths (and the line-time they cost) are kept. Line ends stay visible.
//!
//! Bytes the device throws away unread (typed while it boots or reboots) are not recorded.
//!
//! When no transcript is asked for, the simulator holds `None` and does nothing extra.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use crate::SimError;

/// The transcript writer of one simulator (console channel only).
pub struct Transcript {
    inner: Mutex<Inner>,
}

struct Inner {
    file: File,
    /// Host bytes of the current logical line, already masked.
    host: Vec<u8>,
    /// Device bytes not written yet (a partial line, or the answer to the pending host line).
    device: Vec<u8>,
}

impl Transcript {
    /// Open `path` for appending (created if missing).
    pub fn open(path: &Path) -> Result<Transcript, SimError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| SimError::io(path.display().to_string(), e))?;
        Ok(Transcript {
            inner: Mutex::new(Inner {
                file,
                host: Vec::new(),
                device: Vec::new(),
            }),
        })
    }

    /// One byte from the host, already masked by the caller when it is secret.
    pub fn host_byte(&self, b: u8) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        // A finished host line (CR LF counts as one end) is written with its answer before the next one starts.
        let ended = match inner.host.last() {
            Some(b'\n') => true,
            Some(b'\r') => b != b'\n',
            _ => false,
        };
        if ended {
            inner.flush_all();
        }
        if inner.host.is_empty() && !inner.device.is_empty() {
            // Output that came before this host line (a prompt) goes first.
            inner.flush_all();
        }
        inner.host.push(b);
    }

    /// Bytes from the device, as sent (the caller masks a secret echo).
    pub fn device(&self, bytes: &[u8]) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.device.extend_from_slice(bytes);
        if inner.host.is_empty() {
            inner.write_device(false);
        }
    }

    /// A modelled delay of `ms` milliseconds named `name`; what happened before it is written first.
    pub fn delay(&self, ms: u64, name: &str) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.flush_all();
        let line = format!("= {ms} {name}\n");
        inner.write(line.as_bytes());
    }

    /// The console finished with one read of the UART: write everything unless a host line is still open.
    pub fn chunk_done(&self) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if matches!(inner.host.last(), None | Some(b'\r' | b'\n')) {
            inner.flush_all();
        }
    }
}

impl Inner {
    fn write(&mut self, bytes: &[u8]) {
        if let Err(e) = self.file.write_all(bytes) {
            tracing::error!("transcript write failed: {e}");
        }
    }

    /// Host line first, then all device bytes including a partial line.
    fn flush_all(&mut self) {
        if !self.host.is_empty() {
            let host = std::mem::take(&mut self.host);
            let line = format!("> {}\n", escape(&host));
            self.write(line.as_bytes());
        }
        self.write_device(true);
    }

    /// Write complete device lines; with `partial`, also the unfinished rest.
    fn write_device(&mut self, partial: bool) {
        let mut out = String::new();
        let mut start = 0;
        for (i, &b) in self.device.iter().enumerate() {
            if b == b'\n' {
                out.push_str(&format!("< {}\n", escape(&self.device[start..=i])));
                start = i + 1;
            }
        }
        if partial && start < self.device.len() {
            out.push_str(&format!("< {}\n", escape(&self.device[start..])));
            start = self.device.len();
        }
        self.device.drain(..start);
        if !out.is_empty() {
            self.write(out.as_bytes());
        }
    }
}

/// Escape bytes for a transcript line (see the module docs).
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Whether the next byte typed on a shell line that holds `line` so far is part of the value of
/// `cfgcli -s KEY VALUE` (everything after the blank that follows KEY, quotes excepted).
pub fn in_cfgcli_value(line: &[u8], next: u8) -> bool {
    if !(0x20..=0x7e).contains(&next) {
        return false;
    }
    let text = String::from_utf8_lossy(line);
    let mut rest = text.trim_start();
    for word in ["cfgcli", "-s"] {
        let Some(r) = rest.strip_prefix(word) else {
            return false;
        };
        if !r.starts_with(char::is_whitespace) {
            return false;
        }
        rest = r.trim_start();
    }
    // KEY, then at least one blank: the value area starts after them.
    let Some(key_end) = rest.find(char::is_whitespace) else {
        return false;
    };
    let value = rest[key_end..].trim_start();
    let next = next as char;
    match value.chars().next() {
        // Still blanks before the value, or its opening quote: visible.
        None => !(next.is_whitespace() || next == '\'' || next == '"'),
        // The quote that closes the opening one stays visible; anything after it is masked.
        Some(q @ ('\'' | '"')) => next != q || value[1..].contains(q),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(line: &str) -> String {
        let mut typed = Vec::new();
        let mut out = String::new();
        for &b in line.as_bytes() {
            out.push(if in_cfgcli_value(&typed, b) {
                '*'
            } else {
                b as char
            });
            typed.push(b);
        }
        out
    }

    #[test]
    fn escapes_every_byte_once() {
        assert_eq!(
            escape(b"a\r\n\t\\\x1b]0;x\x07~"),
            "a\\r\\n\\t\\\\\\x1b]0;x\\x07~"
        );
        assert_eq!(escape(&[0x00, 0x7f, 0xff]), "\\x00\\x7f\\xff");
    }

    #[test]
    fn masks_cfgcli_values_only() {
        assert_eq!(
            masked("cfgcli -s web.admin.password 'Kq7-vXp2.Mz'"),
            "cfgcli -s web.admin.password '***********'"
        );
        assert_eq!(
            masked("cfgcli  -s  rtsp.admin.password  abc\"d"),
            "cfgcli  -s  rtsp.admin.password  *****"
        );
        assert_eq!(
            masked("cfgcli -g web.admin.user"),
            "cfgcli -g web.admin.user"
        );
        assert_eq!(masked("echo cfgcli -s a b"), "echo cfgcli -s a b");
        assert_eq!(masked("cfgcli -s k"), "cfgcli -s k");
    }

    /// A real console session (simulator in this process, host on the PTY): passwords typed at no-echo
    /// prompts and a `cfgcli -s` value never reach the file; the modelled delays do.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_real_session_writes_no_secret() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio_serial::SerialPortBuilderExt;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.transcript");
        let mut opts = crate::SimOptions::new(crate::Model::Ipcam, dir.path().join("state"));
        opts.ip = Some(std::net::Ipv4Addr::new(127, 0, 96, 77));
        opts.quiet_kernel = true;
        opts.transcript = Some(path.clone());
        let sim = crate::Simulator::start(opts).await.unwrap();
        let mut port = tokio_serial::new(sim.info().port.as_str(), 115_200)
            .open_native_async()
            .unwrap();
        let mut seen = Vec::new();
        let mut talk = async |send: &str, until: &str| {
            AsyncWriteExt::write_all(&mut port, send.as_bytes())
                .await
                .unwrap();
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
            while !String::from_utf8_lossy(&seen).contains(until) {
                let mut buf = [0u8; 512];
                let n = tokio::time::timeout_at(deadline, AsyncReadExt::read(&mut port, &mut buf))
                    .await
                    .unwrap_or_else(|_| {
                        panic!("no {until:?} in {:?}", String::from_utf8_lossy(&seen))
                    })
                    .unwrap();
                seen.extend_from_slice(&buf[..n]);
            }
            seen.clear();
        };
        talk("", "ipcam login: ").await;
        talk("root\r", "Password: ").await;
        talk("xmhdipc\r", "~# ").await;
        talk("passwd root\r", "New password: ").await;
        talk("Shell-Secret-1234\r", "Retype password: ").await;
        talk("Shell-Secret-1234\r", "~# ").await;
        talk("cfgcli -s web.admin.password 'Web-Secret-987'\r", "~# ").await;
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in ["xmhdipc", "Shell-Secret", "Web-Secret"] {
            assert!(!text.contains(secret), "{secret} in transcript:\n{text}");
        }
        assert!(
            text.contains("> *******\\r\n< \\r\\n\n= 300 login-check\n"),
            "{text}"
        );
        assert_eq!(
            text.matches("> *****************\\r\n").count(),
            2,
            "{text}"
        );
        let cfg = "cfgcli -s web.admin.password '**************'\\r";
        assert!(
            text.contains(&format!("> {cfg}\n< {cfg}\\n\n= 150 cfgcli\n")),
            "{text}"
        );
        assert!(text.contains("= 200 passwd-ok\n"), "{text}");
    }

    #[test]
    fn orders_lines_and_masks_nothing_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let t = Transcript::open(&path).unwrap();
        t.device(b"boot line\r\nipcam login: ");
        for &b in b"root\r" {
            t.host_byte(b);
            t.device(&[b]);
        }
        t.device(b"\nPassword: ");
        t.chunk_done();
        for &b in b"****\r" {
            t.host_byte(b);
        }
        t.delay(300, "login-check");
        t.device(b"motd\r\n# ");
        t.host_byte(b'e');
        t.chunk_done();
        t.host_byte(b'\r');
        t.chunk_done();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "< boot line\\r\\n\n< ipcam login: \n> root\\r\n< root\\r\\n\n< Password: \n> ****\\r\n\
             = 300 login-check\n< motd\\r\\n\n< # \n> e\\r\n"
        );
    }
}
