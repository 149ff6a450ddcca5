//! Line discipline and login of a BusyBox session, shared by the UART console and telnet.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use tokio::time::sleep;

use super::{Device, HOSTNAME};
use crate::state::sha256_hex;
use crate::timing::{self, ms};
use crate::transcript::{in_cfgcli_value, Transcript};

/// Where a session's output goes.
pub type Out = Arc<dyn Fn(&[u8]) + Send + Sync>;

pub const LOGIN_PROMPT: &str = "ipcam login: ";
pub const MOTD: &str = "BusyBox v1.24.1 (2019-03-12 10:21:33 CST) built-in shell (ash)";

/// Which door the session came in through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Console,
    Telnet,
}

impl Channel {
    pub fn id(self) -> &'static str {
        match self {
            Channel::Console => "console",
            Channel::Telnet => "telnet",
        }
    }
}

/// What the owner of a session must do after feeding it a byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    Close,
    Reboot,
}

#[derive(Debug, Clone)]
pub(crate) enum Mode {
    Login,
    Password {
        user: String,
    },
    Shell {
        user: String,
    },
    NewPassword {
        user: String,
        target: String,
    },
    RetypePassword {
        user: String,
        target: String,
        first: String,
    },
    /// `certtool install`: collecting PEM lines until a line `EOF`.
    CertInstall {
        user: String,
        /// The lines so far (bounded by [`super::certtool::MAX_INSTALL_BYTES`]).
        pem: String,
        /// More than the bound was typed; refused at `EOF`.
        overflow: bool,
        /// `--slot N` of a two-slot model; `None` on the one-slot model (or none given).
        slot: Option<u8>,
    },
}

pub struct Session {
    pub(crate) dev: Arc<Device>,
    pub(crate) chan: Channel,
    out: Out,
    pub(crate) mode: Mode,
    line: Vec<u8>,
    last_cr: bool,
    at_bol: bool,
    failures: u32,
    pub(crate) rng: StdRng,
}

/// The shell prompt: an OSC window title, a coloured user@host, `# ` for root and `$ ` otherwise.
pub fn shell_prompt(user: &str) -> String {
    let sigil = if user == "root" { '#' } else { '$' };
    format!("\x1b]0;{user}@{HOSTNAME}: ~\x07\x1b[1;32m{user}@{HOSTNAME}\x1b[0m:~{sigil} ")
}

const KERNEL_MESSAGES: &[&str] = &[
    "eth0: link up, 100Mbps, full-duplex, lpa 0x45E1",
    "eth0: rx fifo overflow, resetting rx ring",
    "eth0: tx timeout, restarting queue",
    "eth0: link down",
    "eth0: link up, 100Mbps, full-duplex, lpa 0x45E1",
];

impl Session {
    pub fn new(dev: Arc<Device>, chan: Channel, out: Out) -> Session {
        Session {
            dev,
            chan,
            out,
            mode: Mode::Login,
            line: Vec::new(),
            last_cr: false,
            at_bol: true,
            failures: 0,
            rng: StdRng::from_entropy(),
        }
    }

    pub fn logged_in(&self) -> bool {
        !matches!(self.mode, Mode::Login | Mode::Password { .. })
    }

    /// Print text as is (callers use CRLF).
    pub fn emit(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        (self.out)(s.as_bytes());
        if let Some(t) = self.transcript() {
            t.device(s.as_bytes());
        }
        self.at_bol = s.ends_with('\n');
    }

    /// The console transcript, if one is being written (never for telnet sessions).
    pub fn transcript(&self) -> Option<&Transcript> {
        match self.chan {
            Channel::Console => self.dev.transcript.as_ref(),
            Channel::Telnet => None,
        }
    }

    /// A modelled delay of `millis` ms, noted in the console transcript as `name`.
    pub async fn pause(&self, millis: u64, name: &str) {
        if let Some(t) = self.transcript() {
            t.delay(millis, name);
        }
        sleep(ms(millis)).await;
    }

    pub fn emit_line(&mut self, s: &str) {
        self.emit(&format!("{s}\r\n"));
    }

    /// Command output; on the console a kernel line sometimes lands between two lines of it.
    pub fn emit_output(&mut self, lines: &[String]) {
        let inject = if self.chan == Channel::Console
            && !self.dev.opts.quiet_kernel
            && lines.len() >= 2
            && self.rng.gen_ratio(1, 4)
        {
            Some(self.rng.gen_range(1..lines.len()))
        } else {
            None
        };
        let mut text = String::new();
        for (i, l) in lines.iter().enumerate() {
            if inject == Some(i) {
                text.push_str(&self.random_kernel_line());
                text.push_str("\r\n");
            }
            text.push_str(l);
            text.push_str("\r\n");
        }
        self.emit(&text);
    }

    pub fn random_kernel_line(&mut self) -> String {
        let msg = KERNEL_MESSAGES[self.rng.gen_range(0..KERNEL_MESSAGES.len())];
        self.dev.kernel_line(msg)
    }

    /// An unsolicited kernel line (starts on a fresh line, leaves the cursor at column 0).
    pub fn emit_kernel_line(&mut self) {
        let mut text = String::new();
        if !self.at_bol {
            text.push_str("\r\n");
        }
        text.push_str(&self.random_kernel_line());
        text.push_str("\r\n");
        self.emit(&text);
    }

    pub fn prompt(&mut self) {
        match &self.mode {
            Mode::Login => self.emit(LOGIN_PROMPT),
            Mode::Password { .. } => self.emit("Password: "),
            Mode::Shell { user } => {
                let p = shell_prompt(user);
                self.emit(&p)
            }
            Mode::NewPassword { .. } => self.emit("New password: "),
            Mode::RetypePassword { .. } => self.emit("Retype password: "),
            // Lines of a PEM chain: no prompt.
            Mode::CertInstall { .. } => {}
        }
    }

    /// Back to the login prompt (logout, reboot).
    pub fn reset(&mut self) {
        self.mode = Mode::Login;
        self.line.clear();
        self.last_cr = false;
    }

    fn echoing(&self) -> bool {
        matches!(
            self.mode,
            Mode::Login | Mode::Shell { .. } | Mode::CertInstall { .. }
        )
    }

    /// Feed one received byte.
    pub async fn feed(&mut self, b: u8) -> Action {
        // Bytes typed at a prompt that does not echo, and a `cfgcli -s` value, are secrets: `*` in the transcript.
        let masked = self.transcript().is_some()
            && (0x20..=0x7e).contains(&b)
            && (!self.echoing()
                || (matches!(self.mode, Mode::Shell { .. }) && in_cfgcli_value(&self.line, b)));
        if let Some(t) = self.transcript() {
            t.host_byte(if masked { b'*' } else { b });
        }
        let was_cr = self.last_cr;
        self.last_cr = b == b'\r';
        match b {
            b'\n' if was_cr => Action::None,
            b'\r' | b'\n' => {
                self.emit("\r\n");
                let line = String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
                self.enter(line).await
            }
            0x03 => {
                self.line.clear();
                self.emit("^C\r\n");
                self.mode = match std::mem::replace(&mut self.mode, Mode::Login) {
                    Mode::Shell { user }
                    | Mode::NewPassword { user, .. }
                    | Mode::RetypePassword { user, .. }
                    | Mode::CertInstall { user, .. } => Mode::Shell { user },
                    Mode::Login | Mode::Password { .. } => Mode::Login,
                };
                self.prompt();
                Action::None
            }
            0x7f | 0x08 => {
                if self.line.pop().is_some() && self.echoing() {
                    self.emit("\x08 \x08");
                }
                Action::None
            }
            0x20..=0x7e => {
                self.note_secret_begin();
                if self.line.len() < 1024 {
                    self.line.push(b);
                    if self.echoing() {
                        (self.out)(&[b]);
                        if let Some(t) = self.transcript() {
                            t.device(if masked {
                                b"*"
                            } else {
                                std::slice::from_ref(&b)
                            });
                        }
                        self.at_bol = false;
                    }
                }
                Action::None
            }
            _ => Action::None,
        }
    }

    /// `secret-input-begin`: the first byte of a new secret is arriving right now.
    fn note_secret_begin(&self) {
        let store = match &self.mode {
            Mode::NewPassword { target, .. } if self.line.is_empty() => {
                Some(format!("shell-{target}"))
            }
            Mode::Shell { .. } => {
                let cur = String::from_utf8_lossy(&self.line);
                let words: Vec<&str> = cur.split_whitespace().collect();
                let key_done = words.len() == 3 && cur.ends_with(char::is_whitespace);
                let quote_done = words.len() == 4 && words[3] == "'" && cur.ends_with('\'');
                if words.first() == Some(&"cfgcli")
                    && words.get(1) == Some(&"-s")
                    && (key_done || quote_done)
                {
                    match words[2] {
                        "web.admin.password" => Some("web-admin".to_string()),
                        "rtsp.admin.password" => Some("rtsp-admin".to_string()),
                        _ => None,
                    }
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(store) = store {
            self.dev.events.log(
                "secret-input-begin",
                json!({"store": store, "channel": self.chan.id()}),
            );
        }
    }

    async fn enter(&mut self, line: String) -> Action {
        match std::mem::replace(&mut self.mode, Mode::Login) {
            Mode::Login => {
                let user = line.trim().to_string();
                self.mode = if user.is_empty() {
                    Mode::Login
                } else {
                    Mode::Password { user }
                };
                self.prompt();
                Action::None
            }
            Mode::Password { user } => self.check_login(user, line).await,
            Mode::Shell { user } => {
                self.mode = Mode::Shell { user: user.clone() };
                super::shell::run_line(self, &user, &line).await
            }
            Mode::NewPassword { user, target } => {
                self.mode = Mode::RetypePassword {
                    user,
                    target,
                    first: line,
                };
                self.prompt();
                Action::None
            }
            Mode::RetypePassword {
                user,
                target,
                first,
            } => {
                self.mode = Mode::Shell { user };
                super::shell::finish_passwd(self, &target, &first, &line).await;
                self.prompt();
                Action::None
            }
            Mode::CertInstall {
                user,
                mut pem,
                mut overflow,
                slot,
            } => {
                if line.trim() == "EOF" {
                    self.mode = Mode::Shell { user };
                    super::certtool::finish_install(self, &pem, overflow, slot).await;
                    self.prompt();
                } else {
                    if pem.len() + line.len() + 1 > super::certtool::MAX_INSTALL_BYTES {
                        overflow = true;
                    } else {
                        pem.push_str(&line);
                        pem.push('\n');
                    }
                    self.mode = Mode::CertInstall {
                        user,
                        pem,
                        overflow,
                        slot,
                    };
                }
                Action::None
            }
        }
    }

    async fn check_login(&mut self, user: String, password: String) -> Action {
        let ok = self.dev.check_shell_login(&user, &password);
        let pw_hash = sha256_hex(&password);
        match self.chan {
            Channel::Console => {
                self.pause(timing::LOGIN_CHECK_MS, "login-check").await;
                self.dev.events.log(
                    "console-login",
                    json!({"user": user, "ok": ok, "password_sha256": pw_hash}),
                );
            }
            Channel::Telnet => {
                let store = format!("shell-{user}");
                self.dev.events.log(
                    "auth",
                    json!({"service": "telnet", "store": store, "user": user,
                           "password_sha256": pw_hash, "ok": ok}),
                );
            }
        }
        if ok {
            self.failures = 0;
            self.emit_line(MOTD);
            self.emit("\r\n");
            self.mode = Mode::Shell { user };
            self.prompt();
            return Action::None;
        }
        self.failures += 1;
        match self.chan {
            Channel::Console => self.pause(timing::LOGIN_FAIL_MS, "login-fail").await,
            Channel::Telnet => sleep(ms(timing::TELNET_FAIL_MS)).await,
        }
        self.emit_line("Login incorrect");
        if self.chan == Channel::Telnet && self.failures >= timing::TELNET_MAX_TRIES {
            return Action::Close;
        }
        self.mode = Mode::Login;
        self.prompt();
        Action::None
    }
}
